#!/usr/bin/env bash
# Checks deploy/systemd's units with systemd-analyze verify, the check systemd itself applies.
# Usage: verify_systemd_units.sh DERPD_BINARY DERPCTL_BINARY UNIT_FOLDER
# The units name /usr/local/bin/derpd and derpctl; verify insists that ExecStart exists, so a copy
# of each names the binaries just built. verify exits 0 on most findings (an unknown Type=, a bad time), so
# any output at all fails the test.
set -euo pipefail
derpd=$1
derpctl=$2
units=$3
if ! command -v systemd-analyze >/dev/null; then
  echo "systemd-analyze not found: install Debian's systemd package (scripts/install-deps.sh does)" >&2
  exit 1
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
checked=0
for unit in "$units"/*.service "$units"/*.socket; do
  [[ -e $unit ]] || continue
  sed -e "s|/usr/local/bin/derpd|$derpd|g" -e "s|/usr/local/bin/derpctl|$derpctl|g" "$unit" \
    > "$work/$(basename "$unit")"
done
cd "$work"
for unit in *.service *.socket; do
  [[ -e $unit ]] || continue
  out=$(SYSTEMD_LOG_COLOR=0 systemd-analyze verify "./$unit" 2>&1) || {
    echo "$unit: systemd-analyze verify failed:" >&2
    echo "$out" >&2
    exit 1
  }
  if [[ -n $out ]]; then
    echo "$unit: systemd-analyze verify reported:" >&2
    echo "$out" >&2
    exit 1
  fi
  echo "$unit: verified"
  checked=$((checked + 1))
done
if ((checked == 0)); then
  echo "no unit found in $units" >&2
  exit 1
fi
