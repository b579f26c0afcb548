#!/usr/bin/env bash
# build.sh — optimised build of the halo binary into build-release/.
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build-release -DCMAKE_BUILD_TYPE=RelWithDebInfo -DHALO_TESTS=OFF >/dev/null
cmake --build build-release -j"$(nproc)"
echo "built: $(pwd)/build-release/halo"
