#!/usr/bin/env bash
# test.sh — build with -Werror under AddressSanitizer + UndefinedBehaviorSanitizer,
# run every unit and end-to-end test (ctest), then every fuzz target for a
# bounded time. Exits nonzero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
FUZZ_SECONDS="${FUZZ_SECONDS:-30}"

echo "== build (ASan + UBSan, -Werror)"
cmake -S . -B build-test -DCMAKE_BUILD_TYPE=Debug -DHALO_SANITIZE=ON >/dev/null
cmake --build build-test -j"$(nproc)"

echo "== unit and end-to-end tests"
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
(cd build-test && ctest --output-on-failure --timeout 1500)

echo "== fuzz targets (${FUZZ_SECONDS}s each)"
cmake -S . -B build-fuzz -DHALO_FUZZ=ON -DHALO_TESTS=OFF -DCMAKE_C_COMPILER=clang \
  -DCMAKE_BUILD_TYPE=Debug >/dev/null
cmake --build build-fuzz -j"$(nproc)"
for f in build-fuzz/fuzz_*; do
  [[ -x "$f" ]] || continue
  name=$(basename "$f")
  corpus="tests/fuzz/corpus/${name#fuzz_}"
  mkdir -p "build-fuzz/corpus-$name"
  args=("build-fuzz/corpus-$name")
  [[ -d "$corpus" ]] && args+=("$corpus")
  echo "-- $name"
  "$f" -max_total_time="$FUZZ_SECONDS" -rss_limit_mb=2048 -print_final_stats=0 "${args[@]}" \
    2> "build-fuzz/$name.log" || { tail -50 "build-fuzz/$name.log"; exit 1; }
  tail -1 "build-fuzz/$name.log"
done
echo "== all tests passed"
