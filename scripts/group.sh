#!/usr/bin/env bash
# group.sh — a replicated halo kv group on this machine, in one command: a local
# 3-member ZooKeeper ensemble and 3 data nodes with synchronous replication.
#
#   scripts/group.sh start [DIR]   install + build if needed, start everything (default DIR ./group)
#   scripts/group.sh status [DIR]  roles, epoch and in-sync set of each node
#   scripts/group.sh stop [DIR]    stop the nodes and the ensemble
#
# Nodes n1, n2, n3 listen on 127.0.0.1:7001-7003 (HALO_GROUP_BASEPORT=7000 to
# move them); data and logs in DIR/n1..n3, ZooKeeper in DIR/zk. Clients find
# the primary with SENTINEL get-master-addr-by-name g1 on any node.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
CMD=${1:-start}
DIR=$(realpath -m "${2:-group}")
BASE=${HALO_GROUP_BASEPORT:-7000}
BIN=$ROOT/build-release/halo

node_port() { echo $((BASE + $1)); }

start() {
  if [[ ! -x $BIN ]] || ! command -v redis-cli >/dev/null || [[ ! -x /usr/share/zookeeper/bin/zkServer.sh ]]; then
    scripts/deps.sh
    scripts/build.sh
  fi
  mkdir -p "$DIR"
  if [[ ! -f $DIR/zk/ensemble.conf ]] || ! scripts/zk-ensemble.sh status "$DIR/zk" >/dev/null 2>&1; then
    scripts/zk-ensemble.sh start "$DIR/zk" 3
  fi
  local zk
  zk=$(scripts/zk-ensemble.sh connstr "$DIR/zk")
  for i in 1 2 3; do
    local pidf=$DIR/n$i/halo.pid
    if [[ -f $pidf ]] && kill -0 "$(cat "$pidf")" 2>/dev/null; then continue; fi
    mkdir -p "$DIR/n$i"
    setsid "$BIN" kv --port "$(node_port $i)" --dir "$DIR/n$i" --appendonly yes --appendfsync always \
      --repl-zk "$zk" --repl-node-id "n$i" --repl-members n1,n2,n3 --pidfile "$pidf" \
      --logfile "$DIR/n$i/halo.log" </dev/null >/dev/null 2>&1 &
  done
  for _ in $(seq 1 100); do
    local p
    p=$(redis-cli -p "$(node_port 1)" sentinel get-master-addr-by-name g1 2>/dev/null | tail -1 || true)
    if [[ $p =~ ^[0-9]+$ ]] && [[ $(redis-cli -p "$p" info replication | grep -c 'halo_writes:ok') == 1 ]]; then
      echo "group g1 is up: primary on 127.0.0.1:$p (ZooKeeper $zk)"
      status
      echo "try: redis-cli -p \$(redis-cli -p $(node_port 1) sentinel get-master-addr-by-name g1 | tail -1) set hello world"
      return 0
    fi
    sleep 0.1
  done
  echo "the group did not elect a primary within 10 s; see $DIR/n*/halo.log" >&2
  return 1
}

status() {
  for i in 1 2 3; do
    local info
    info=$(redis-cli -p "$(node_port $i)" info replication 2>/dev/null | tr -d '\r' || true)
    if [[ -z $info ]]; then echo "n$i :$(node_port $i)  down"; continue; fi
    echo "n$i :$(node_port $i)  $(grep -E '^halo_(role|epoch|isr|writes):' <<<"$info" | tr '\n' ' ')"
  done
}

stop() {
  for i in 1 2 3; do
    local pidf=$DIR/n$i/halo.pid
    [[ -f $pidf ]] && kill "$(cat "$pidf")" 2>/dev/null || true
  done
  sleep 1
  [[ -f $DIR/zk/ensemble.conf ]] && scripts/zk-ensemble.sh stop "$DIR/zk" || true
}

case $CMD in
start) start ;;
status) status ;;
stop) stop ;;
*) sed -n '2,12p' "$0" >&2; exit 2 ;;
esac
