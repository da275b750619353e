#!/usr/bin/env bash
# Installs what is missing, then builds and runs the whole test suite twice: a normal gcc build
# and a clang build with AddressSanitizer + UndefinedBehaviorSanitizer whose fuzz targets link
# libFuzzer (their seed corpora run as tests in both); then the threaded core's tests once more
# under ThreadSanitizer. Exits non-zero if anything fails.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh

jobs=$(nproc)
export CCACHE_DIR="${CCACHE_DIR:-$HOME/.cache/ccache}"
# Paths relative to the checkout, so a fresh clone elsewhere (as CI makes) still hits the cache.
export CCACHE_BASEDIR="$PWD" CCACHE_NOHASHDIR=true
export CTEST_OUTPUT_ON_FAILURE=1

echo "== normal build (gcc, RelWithDebInfo)"
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DDERP_BENCH=ON >/dev/null
cmake --build build -j "$jobs"
(cd build && ctest -j "$jobs" --timeout 300)

echo "== sanitizer build (clang, ASan + UBSan, libFuzzer)"
CC=clang CXX=clang++ cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug \
  -DDERP_SANITIZE=ON -DDERP_LIBFUZZER=ON -DDERP_BENCH=OFF >/dev/null
cmake --build build-asan -j "$jobs"
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:strict_string_checks=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
(cd build-asan && ctest -j "$jobs" --timeout 600)
echo "== thread sanitizer build of the threaded core (clang, TSan)"
# The relay core is what runs on several threads: the no-socket core tests plus real derpd
# processes built with TSan, relaying between clients and meshing a region. A race makes the
# derpd abort, and the test that owns it fails.
CC=clang CXX=clang++ cmake -S . -B build-tsan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DDERP_TSAN=ON -DDERP_BENCH=OFF >/dev/null
cmake --build build-tsan -j "$jobs" --target derpd server_test relay_integration_test \
  mesh_integration_test
export TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1"
(cd build-tsan && ctest -j "$jobs" --timeout 600 -R '^(server_test|relay_integration_test|mesh_integration_test)$')
echo "== all tests passed (normal, ASan+UBSan and TSan builds)"
