#!/usr/bin/env bash
# zk-ensemble.sh — start, stop and injure a local Apache ZooKeeper ensemble on loopback (tests, demos).
#
#   zk-ensemble.sh start DIR [N=3] [BASEPORT]   start N members (1..9); reuses DIR's layout if present
#   zk-ensemble.sh stop DIR                     stop every member (TERM, then KILL after 5 s)
#   zk-ensemble.sh kill DIR I                   kill -9 member I (1-based)
#   zk-ensemble.sh pause DIR I | resume DIR I   SIGSTOP / SIGCONT member I
#   zk-ensemble.sh restart DIR I                start member I again (after kill)
#   zk-ensemble.sh status DIR                   one line per member: I PORT PID MODE
#   zk-ensemble.sh connstr DIR                  "ADDR:P1,ADDR:P2,..." (ADDR: ZK_BIND, 127.0.0.1)
#
# Ports: member I listens for clients on BASEPORT+I-1, for followers on
# BASEPORT+N+I-1 and for leader election on BASEPORT+2N+I-1 (3N consecutive
# ports). Without BASEPORT a free range in 20000-39999 is picked.
# Everything a member owns lives in DIR/zkI/ (zoo.cfg, data/, zk.log, pid).
# Timing is fast for tests: tickTime 200 ms, so sessions may last 400 ms-10 s.
#
# Environment: ZK_START_WAIT_S (default 30) bounds the wait for a quorum;
# ZK_LOGLEVEL (default info) the servers' log level; HALO_ZK_OWNER_PID, when
# set, starts a watchdog that stops the ensemble once that process is gone,
# so a crashed or killed test never leaves JVMs behind; ZK_BIND (default
# 127.0.0.1) the IPv4 address every member listens on, for clients and for
# its peers (say, a test bridge's address, so that nodes in network
# namespaces reach the ensemble). ZK_BIND is read when DIR is first laid out
# and kept in DIR/ensemble.conf; later commands use the stored address.
set -euo pipefail

ZK_JARS="/usr/share/java/zookeeper.jar:/usr/share/java/slf4j-simple.jar"
JAVA="${JAVA:-/usr/bin/java}"
START_WAIT_S="${ZK_START_WAIT_S:-30}"
STOP_WAIT_S=5
SELF="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/$(basename "${BASH_SOURCE[0]}")"

die() { echo "zk-ensemble: $*" >&2; exit 1; }
usage() { sed -n '2,11p' "$SELF" | sed 's/^# \{0,1\}//' >&2; exit 2; }

# Close every inherited descriptor above stderr: a caller's sockets (say, a
# ZooKeeper client's) must not live on inside a JVM we start, or closing them
# in the caller would not close the connection.
close_inherited_fds() {
  local fd n
  for fd in /proc/$BASHPID/fd/*; do
    n=${fd##*/}
    [[ $n =~ ^[0-9]+$ ]] && ((n > 2)) && eval "exec $n>&-" 2>/dev/null || true
  done
}

# True when $1 is a dotted-quad IPv4 address.
valid_ipv4() {
  local IFS=. part parts
  [[ $1 =~ ^[0-9]{1,3}(\.[0-9]{1,3}){3}$ ]] || return 1
  read -ra parts <<<"$1"
  for part in "${parts[@]}"; do ((10#$part <= 255)) || return 1; done
}

load_conf() {
  local dir=$1
  [[ -f "$dir/ensemble.conf" ]] || die "$dir/ensemble.conf not found (was the ensemble started there?)"
  BIND=""
  # shellcheck source=/dev/null
  source "$dir/ensemble.conf"
  [[ ${N:-} =~ ^[1-9]$ && ${BASEPORT:-} =~ ^[0-9]+$ ]] || die "$dir/ensemble.conf is corrupt"
  BIND=${BIND:-127.0.0.1} # layouts from before ZK_BIND listened on loopback
  valid_ipv4 "$BIND" || die "$dir/ensemble.conf is corrupt (BIND)"
}

client_port() { echo $((BASEPORT + $1 - 1)); }

check_member() {
  [[ $1 =~ ^[1-9]$ ]] && (($1 <= N)) || die "member must be 1..$N, got '$1'"
}

# True when nothing listens on $BIND:$1 and we may bind it.
port_free() {
  /usr/bin/python3 -c 'import socket,sys
s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
try: s.bind((sys.argv[2], int(sys.argv[1])))
except OSError: sys.exit(1)' "$1" "$BIND"
}

range_free() {
  local base=$1 count=$2 p
  for ((p = base; p < base + count; p++)); do port_free "$p" || return 1; done
}

pick_baseport() {
  local n=$1 try base
  for ((try = 0; try < 50; try++)); do
    base=$((20000 + (RANDOM * 32768 + RANDOM) % 20000))
    base=$((base - base % 10))
    range_free "$base" $((3 * n)) && { echo "$base"; return 0; }
  done
  die "no free range of $((3 * n)) ports found in 20000-39999"
}

write_member_conf() {
  local dir=$1 i=$2 m=$1/zk$2 j
  mkdir -p "$m/data"
  echo "$i" >"$m/data/myid"
  {
    echo "tickTime=200"
    echo "initLimit=20"
    echo "syncLimit=10"
    echo "minSessionTimeout=400"
    echo "maxSessionTimeout=10000"
    echo "dataDir=$m/data"
    echo "clientPort=$(client_port "$i")"
    echo "clientPortAddress=$BIND"
    echo "maxClientCnxns=0"
    echo "admin.enableServer=false"
    echo "4lw.commands.whitelist=ruok,stat,mntr,srvr"
    # Test ensembles trade fsync for speed: kill -9 keeps the page cache, so
    # only a machine crash could lose a transaction. 1 MiB log preallocation
    # instead of 64 MiB per member.
    echo "forceSync=no"
    echo "preAllocSize=1024"
    echo "standaloneEnabled=true"
    if ((N > 1)); then
      for ((j = 1; j <= N; j++)); do
        echo "server.$j=$BIND:$((BASEPORT + N + j - 1)):$((BASEPORT + 2 * N + j - 1))"
      done
    fi
  } >"$m/zoo.cfg"
}

member_pid() { # prints the live PID of member $2, or nothing
  local f=$1/zk$2/pid pid
  [[ -f $f ]] || return 0
  pid=$(<"$f")
  [[ $pid =~ ^[0-9]+$ ]] || return 0
  # Guard against PID reuse: only a JVM started with this member's zoo.cfg counts.
  local cmd
  cmd=$(tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline") || return 0
  [[ $cmd == *"$1/zk$2/zoo.cfg"* ]] && echo "$pid"
  return 0
}

start_member() {
  local dir=$1 i=$2 m=$1/zk$2 pid
  pid=$(member_pid "$dir" "$i")
  [[ -n $pid ]] && return 0
  (
    close_inherited_fds
    exec "$JAVA" -Xmx128m -Xms16m -Xss512k -XX:+UseSerialGC -XX:TieredStopAtLevel=1 \
      -Dzookeeper.admin.enableServer=false \
      -Dzookeeper.4lw.commands.whitelist=ruok,stat,mntr,srvr \
      -Dzookeeper.jmx.log4j.disable=true \
      -Dzookeeper.cnxTimeout=1000 \
      -Dorg.slf4j.simpleLogger.defaultLogLevel="${ZK_LOGLEVEL:-info}" \
      -Dorg.slf4j.simpleLogger.showDateTime=true \
      -cp "$ZK_JARS" org.apache.zookeeper.server.quorum.QuorumPeerMain "$m/zoo.cfg" \
      >>"$m/zk.log" 2>&1 </dev/null
  ) &
  echo $! >"$m/pid"
}

# Prints the "Mode:" a member reports to the srvr command (leader, follower,
# standalone), or nothing when it does not serve. Bounded to 1 s.
member_mode() {
  local port
  port=$(client_port "$2")
  timeout 1 bash -c 'exec 3<>"/dev/tcp/$2/$1" && printf srvr >&3 && cat <&3' _ "$port" "$BIND" \
    2>/dev/null | sed -n 's/^Mode: //p' || true
}

serving_count() {
  local dir=$1 i count=0 mode
  for ((i = 1; i <= N; i++)); do
    mode=$(member_mode "$dir" "$i")
    [[ -n $mode ]] && count=$((count + 1))
  done
  echo "$count"
}

alive_count() {
  local dir=$1 i count=0
  for ((i = 1; i <= N; i++)); do [[ -n $(member_pid "$dir" "$i") ]] && count=$((count + 1)); done
  echo "$count"
}

# Waits until every member serves; settles for a quorum at the deadline.
# Gives up early once too few JVMs are left alive to ever form a quorum.
wait_serving() {
  local dir=$1 quorum=$((N / 2 + 1)) deadline count
  deadline=$((SECONDS + START_WAIT_S))
  while ((SECONDS < deadline)); do
    count=$(serving_count "$dir")
    ((count == N)) && return 0
    (($(alive_count "$dir") < quorum)) && { echo "zk-ensemble: members exited" >&2; return 1; }
    sleep 0.2
  done
  count=$(serving_count "$dir")
  ((count >= quorum)) && { echo "zk-ensemble: only $count of $N members serve" >&2; return 0; }
  return 1
}

start_watchdog() {
  local dir=$1 owner=$2
  [[ $owner =~ ^[0-9]+$ ]] || die "HALO_ZK_OWNER_PID must be a PID"
  (
    close_inherited_fds
    exec >/dev/null 2>&1 </dev/null
    while kill -0 "$owner" 2>/dev/null && [[ -f $dir/ensemble.conf ]]; do sleep 1; done
    [[ -f $dir/ensemble.conf ]] && ZK_WATCHDOG=1 exec "$SELF" stop "$dir"
  ) &
  echo $! >"$dir/watchdog.pid"
}

cmd_start() {
  local dir=${1:?DIR} n=${2:-3} base=${3:-} i
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  command -v "$JAVA" >/dev/null || die "java not found ($JAVA): install Debian's zookeeper package"
  [[ -f /usr/share/java/zookeeper.jar ]] || die "/usr/share/java/zookeeper.jar missing: install Debian's zookeeper"
  if [[ -f $dir/ensemble.conf ]]; then
    load_conf "$dir"
    [[ -z ${ZK_BIND:-} || $ZK_BIND == "$BIND" ]] ||
      die "$dir was laid out for $BIND, not ZK_BIND=$ZK_BIND (use a new DIR)"
  else
    [[ $n =~ ^[1-9]$ ]] || die "N must be 1..9, got '$n'"
    N=$n
    BIND=${ZK_BIND:-127.0.0.1}
    valid_ipv4 "$BIND" || die "ZK_BIND must be an IPv4 address, got '$BIND'"
    if [[ -n $base ]]; then
      [[ $base =~ ^[0-9]+$ ]] && ((base >= 1024 && base + 3 * N <= 65535)) || die "bad BASEPORT '$base'"
      range_free "$base" $((3 * N)) || die "ports $base..$((base + 3 * N - 1)) are not all free"
      BASEPORT=$base
    else
      BASEPORT=$(pick_baseport "$N")
    fi
    for ((i = 1; i <= N; i++)); do write_member_conf "$dir" "$i"; done
    printf 'N=%s\nBASEPORT=%s\nBIND=%s\n' "$N" "$BASEPORT" "$BIND" >"$dir/ensemble.conf"
  fi
  for ((i = 1; i <= N; i++)); do start_member "$dir" "$i"; done
  if [[ -n ${HALO_ZK_OWNER_PID:-} && ! -f $dir/watchdog.pid ]]; then
    start_watchdog "$dir" "$HALO_ZK_OWNER_PID"
  fi
  if ! wait_serving "$dir"; then
    echo "zk-ensemble: no quorum (waited at most ${START_WAIT_S}s); last log lines:" >&2
    for ((i = 1; i <= N; i++)); do tail -5 "$dir/zk$i/zk.log" 2>/dev/null | sed "s/^/  zk$i: /" >&2; done
    cmd_stop "$dir" >/dev/null 2>&1 || true
    exit 1
  fi
  cmd_connstr "$dir"
}

# TERM every member at once (after CONT, in case one is paused), then KILL
# whoever is still alive after STOP_WAIT_S.
cmd_stop() {
  local dir=${1:?DIR} i pid w t alive=0 pids=()
  load_conf "$dir"
  if [[ -z ${ZK_WATCHDOG:-} && -f $dir/watchdog.pid ]]; then
    w=$(<"$dir/watchdog.pid")
    [[ $w =~ ^[0-9]+$ ]] && kill "$w" 2>/dev/null || true
  fi
  rm -f "$dir/watchdog.pid"
  for ((i = 1; i <= N; i++)); do
    pid=$(member_pid "$dir" "$i")
    [[ -n $pid ]] && pids+=("$pid")
  done
  if ((${#pids[@]})); then
    kill -CONT "${pids[@]}" 2>/dev/null || true
    kill -TERM "${pids[@]}" 2>/dev/null || true
    for ((t = 0; t < STOP_WAIT_S * 10; t++)); do
      alive=0
      for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
      ((alive)) || break
      sleep 0.1
    done
    ((alive)) && kill -KILL "${pids[@]}" 2>/dev/null || true
  fi
  for ((i = 1; i <= N; i++)); do rm -f "$dir/zk$i/pid"; done
}

signal_member() {
  local dir=${1:?DIR} i=${2:?member} sig=$3 pid
  load_conf "$dir"
  check_member "$i"
  pid=$(member_pid "$dir" "$i")
  [[ -n $pid ]] || die "member $i is not running"
  kill "-$sig" "$pid"
  if [[ $sig == KILL ]]; then
    for ((t = 0; t < 50; t++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    rm -f "$dir/zk$i/pid"
  fi
}

cmd_restart() {
  local dir=${1:?DIR} i=${2:?member} deadline
  load_conf "$dir"
  check_member "$i"
  start_member "$dir" "$i"
  deadline=$((SECONDS + START_WAIT_S))
  while ((SECONDS < deadline)); do
    [[ -n $(member_mode "$dir" "$i") ]] && return 0
    sleep 0.2
  done
  die "member $i does not serve after ${START_WAIT_S}s (see $dir/zk$i/zk.log)"
}

cmd_status() {
  local dir=${1:?DIR} i pid mode
  load_conf "$dir"
  for ((i = 1; i <= N; i++)); do
    pid=$(member_pid "$dir" "$i")
    mode=$(member_mode "$dir" "$i")
    echo "$i $(client_port "$i") ${pid:--} ${mode:-down}"
  done
}

cmd_connstr() {
  local dir=${1:?DIR} i out=""
  load_conf "$dir"
  for ((i = 1; i <= N; i++)); do out+="${out:+,}$BIND:$(client_port "$i")"; done
  echo "$out"
}

main() {
  local cmd=${1:-}
  (($#)) && shift
  case $cmd in
  start) (($# >= 1)) || usage; cmd_start "$@" ;;
  stop) (($# == 1)) || usage; cmd_stop "$1" ;;
  kill) (($# == 2)) || usage; signal_member "$1" "$2" KILL ;;
  pause) (($# == 2)) || usage; signal_member "$1" "$2" STOP ;;
  resume) (($# == 2)) || usage; signal_member "$1" "$2" CONT ;;
  restart) (($# == 2)) || usage; cmd_restart "$1" "$2" ;;
  status) (($# == 1)) || usage; cmd_status "$1" ;;
  connstr) (($# == 1)) || usage; cmd_connstr "$1" ;;
  *) usage ;;
  esac
}

main "$@"
