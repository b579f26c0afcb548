#!/usr/bin/env bash
# setup.sh — on a fresh Debian 12 machine: install what is needed, build, and
# start a data node in the foreground (port 6379 or $HALO_PORT, data in ./data).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
scripts/build.sh
mkdir -p data
PORT="${HALO_PORT:-6379}"
echo "starting halo kv on 127.0.0.1:$PORT (data in ./data, metrics on :$((PORT + 10000))); Ctrl-C stops it"
exec build-release/halo kv --port "$PORT" --dir ./data --appendonly yes --appendfsync everysec \
  --metrics-port "$((PORT + 10000))" "$@"
