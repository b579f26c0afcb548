#!/usr/bin/env bash
# deps.sh — install the Debian 12 packages halo needs to build, test and benchmark
# (only those missing; needs root or sudo). Safe to run again.
set -euo pipefail

# Why each: compilers and clang (libFuzzer targets); libuv (event loop), zlib
# (AOF checksums), libyaml (gateway config), node-llhttp (the C sources of
# Node's HTTP parser, compiled by our build), ZooKeeper's server and C client
# (the arbiter of replica groups); Redis's server and tools, nginx,
# haproxy and wrk (benchmark peers, real clients and backends in tests);
# valgrind and linux-perf (instruction and syscall counts in bench/*_instructions.py);
# Python with redis-py and pytest (end-to-end tests); procps, iproute2 and curl.
PACKAGES=(
  build-essential cmake pkg-config clang libclang-rt-14-dev
  libuv1-dev zlib1g-dev libyaml-dev node-llhttp libzookeeper-mt-dev zookeeper
  redis-server redis-tools nginx haproxy wrk valgrind linux-perf
  python3 python3-redis python3-pytest
  procps iproute2 curl
)

missing=()
for p in "${PACKAGES[@]}"; do
  [[ "$p" == \#* ]] && continue
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if ((${#missing[@]})); then
  echo "deps: installing ${missing[*]}"
  SUDO=""
  [[ $(id -u) -ne 0 ]] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# Debian's redis-server package may start a system instance; halo's tests and
# benchmarks start their own on other ports, so it can keep running.
echo "deps: all present"
