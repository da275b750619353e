#!/usr/bin/env bash
# Builds derpd and runs a development node: plain HTTP DERP on 127.0.0.1:3340, STUN on
# 127.0.0.1:3478, a fresh server key on every start. Extra arguments go to derpd.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
export CCACHE_BASEDIR="$PWD" CCACHE_NOHASHDIR=true
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DDERP_BENCH=OFF >/dev/null
cmake --build build --target derpd
echo "starting derpd --dev (Ctrl-C stops it)"
exec build/bin/derpd --dev "$@"
