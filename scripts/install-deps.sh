#!/usr/bin/env bash
# Installs the Debian 12 packages derpd needs to build, run and test. Idempotent: when everything
# is present it does not touch apt at all.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config ccache git
  clang libclang-rt-14-dev                       # sanitizer and libFuzzer builds
  libboost-dev libssl-dev libsodium-dev libcli11-dev nlohmann-json3-dev libspdlog-dev libfmt-dev
  libsystemd-dev                                 # sd_notify: Type=notify, watchdog, status
  systemd                                        # systemd-analyze verify of deploy/systemd in tests
  yamllint python3-yaml                          # checks of deploy/kubernetes in tests
  prometheus                                     # promtool and a real scraper, deploy/monitoring
  python3                                        # admission controller and LocalAPI stand-ins in tests
  libgtest-dev libgmock-dev libbenchmark-dev
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler  # admin API, derpctl
  grpc-proto                                     # reflection/health protos for the admin tests
  coturn                                         # turnutils_stunclient, a real STUN client for tests
  curl iproute2 procps
  openssl                                        # its CLI checks the CSRs relay/tls builds (tests)
  pebble                                         # a real ACME server (and its DNS) for the ACME tests
  gdb                                            # stacks of a derpd that hangs on stop, in test logs
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]} == 0)); then
  exit 0
fi
if [[ $(id -u) -ne 0 ]]; then
  echo "install-deps: missing packages: ${missing[*]}" >&2
  echo "install-deps: run as root (or: sudo apt-get install ${missing[*]})" >&2
  exit 1
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# coturn's package starts a TURN server on install on some systems; tests only need its client.
systemctl disable --now coturn >/dev/null 2>&1 || true
# Likewise Prometheus's: the tests start their own on a free port.
systemctl disable --now prometheus >/dev/null 2>&1 || true
