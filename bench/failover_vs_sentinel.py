#!/usr/bin/python3
"""failover_vs_sentinel.py — failover time under a write load: a 3-node halo group
(synchronous replication, ZooKeeper-arbitrated) against Debian's Redis with 2
replicas and 3 Sentinels, in the same run, on loopback.

Each round, for each system (the order alternates round by round): one client
writes sequential keys to the primary, following it through Sentinel-style
discovery (SENTINEL get-master-addr-by-name asked of the 3 Sentinels for Redis,
of the surviving nodes for halo); the primary is killed with SIGKILL; the
failover time is from the kill to the first write acknowledged by another node.
The client goes on for --after seconds, then the acknowledged writes missing
from the new primary are counted as lost. The killed node is restarted as a
replica of the new primary and the round ends when the group is whole again
(the group is rebuilt from scratch if it does not become whole).

Usage: bench/failover_vs_sentinel.py [--rounds 10] [--halo-bin build-release/halo]
                                     [--skip-halo] [--skip-redis] [--keep]
"""
import argparse
import atexit
import math
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tests", "e2e"))

import ha  # noqa: E402  (tests/e2e/ha.py: ZooKeeper, halo group, recorder)
from ha import wait_until  # noqa: E402

GID = "g1"


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def free_port():
    return ha.free_port()


def ping(addr):
    return ha.ask(addr, "PING", timeout=0.5) is not None


class Proc:
    """A child process stopped by its own PID (TERM, then KILL), also at exit."""

    live = []

    def __init__(self, argv, logpath):
        self.argv = argv
        self.logpath = logpath
        self.proc = None

    def start(self):
        with open(self.logpath, "ab") as out:
            self.proc = subprocess.Popen(self.argv, stdout=out, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL)
        Proc.live.append(self)
        return self

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def kill9(self):
        if self.alive():
            self.proc.kill()
        if self.proc:
            self.proc.wait()

    def stop(self, timeout=10):
        if self.alive():
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    @classmethod
    def stop_all(cls):
        for p in cls.live:
            try:
                p.stop(5)
            except Exception:  # noqa: BLE001 - best effort at exit
                pass


# ----------------------------------------------------------------- Redis + Sentinel

class RedisNode:
    def __init__(self, binary, workdir, name):
        self.binary = binary
        self.name = name
        self.port = free_port()
        self.dir = os.path.join(workdir, name)
        os.makedirs(self.dir, exist_ok=True)
        self.p = None

    @property
    def addr(self):
        return ("127.0.0.1", self.port)

    def start(self, replicaof=None):
        # Same durability as the halo nodes: AOF with fsync per write. Diskless
        # sync without delay only shortens the resync of a restarted node.
        argv = [self.binary, "--port", str(self.port), "--bind", "127.0.0.1",
                "--dir", self.dir, "--daemonize", "no", "--save", "",
                "--appendonly", "yes", "--appendfsync", "always",
                "--repl-diskless-sync", "yes", "--repl-diskless-sync-delay", "0",
                "--loglevel", "notice"]
        if replicaof:
            argv += ["--replicaof", replicaof[0], str(replicaof[1])]
        self.p = Proc(argv, os.path.join(self.dir, "redis.log")).start()
        wait_until(lambda: ping(self.addr), 20, "redis %s up" % self.name)
        return self

    def alive(self):
        return self.p is not None and self.p.alive()

    def pid(self):
        return self.p.proc.pid


class Sentinel:
    def __init__(self, binary, workdir, name, primary, down_after_ms, failover_timeout_ms):
        self.port = free_port()
        self.dir = os.path.join(workdir, name)
        os.makedirs(self.dir, exist_ok=True)
        conf = os.path.join(self.dir, "sentinel.conf")
        with open(conf, "w") as f:
            f.write("port %d\nbind 127.0.0.1\ndaemonize no\ndir %s\n" % (self.port, self.dir))
            f.write("sentinel monitor %s %s %d 2\n" % (GID, primary[0], primary[1]))
            f.write("sentinel down-after-milliseconds %s %d\n" % (GID, down_after_ms))
            f.write("sentinel failover-timeout %s %d\n" % (GID, failover_timeout_ms))
            f.write("sentinel parallel-syncs %s 1\n" % GID)
        self.p = Proc([binary, conf, "--sentinel"], os.path.join(self.dir, "sentinel.log"))

    @property
    def addr(self):
        return ("127.0.0.1", self.port)

    def start(self):
        self.p.start()
        wait_until(lambda: ping(self.addr), 20, "sentinel up")
        return self

    def master(self):
        """SENTINEL master g1 as a dict, or {}."""
        r = ha.ask(self.addr, "SENTINEL", "master", GID)
        if not isinstance(r, list):
            return {}
        return {ha.text(r[i]): ha.text(r[i + 1]) for i in range(0, len(r) - 1, 2)}

    def replicas(self):
        r = ha.ask(self.addr, "SENTINEL", "replicas", GID)
        if not isinstance(r, list):
            return []
        return [{ha.text(x[i]): ha.text(x[i + 1]) for i in range(0, len(x) - 1, 2)} for x in r]


class RedisSystem:
    name = "redis"

    def __init__(self, args, workdir):
        self.args = args
        self.workdir = workdir
        self.generation = 0

    def start(self):
        self.generation += 1
        d = os.path.join(self.workdir, "redis%d" % self.generation)
        self.nodes = [RedisNode(self.args.redis_server, d, "r%d" % i) for i in (1, 2, 3)]
        self.nodes[0].start()
        for nd in self.nodes[1:]:
            nd.start(replicaof=self.nodes[0].addr)
        self.sentinels = [Sentinel(self.args.redis_server, d, "s%d" % i, self.nodes[0].addr,
                                   self.args.down_after_ms, self.args.failover_timeout_ms)
                          for i in (1, 2, 3)]
        for s in self.sentinels:
            s.start()
        self.wait_healthy(60)

    def stop(self):
        for x in getattr(self, "sentinels", []) + getattr(self, "nodes", []):
            x.p.stop()

    def discover(self):
        return ha.sentinel_candidates([s.addr for s in self.sentinels], GID)

    def node_at(self, addr):
        for nd in self.nodes:
            if nd.addr == tuple(addr):
                return nd
        return None

    def primary(self):
        for addr in self.discover():
            nd = self.node_at(addr)
            if nd and nd.alive():
                info = ha.parse_info(ha.ask(addr, "INFO", "replication") or b"")
                if info.get("role") == "master":
                    return nd
        return None

    def kill9(self, nd):
        nd.p.kill9()

    def restart_as_replica(self, nd, primary):
        nd.start(replicaof=primary.addr)

    def client(self, nd):
        return ha.Resp(*nd.addr, timeout=10)

    def healthy(self):
        p = self.primary()
        if p is None:
            return False
        info = ha.parse_info(ha.ask(p.addr, "INFO", "replication") or b"")
        online = [k for k, v in info.items() if k.startswith("slave") and "state=online" in v]
        if info.get("connected_slaves") != "2" or len(online) != 2:
            return False
        for s in self.sentinels:
            m = s.master()
            if (m.get("ip"), m.get("port")) != (p.addr[0], str(p.port)):
                return False
            if m.get("flags") != "master" or m.get("num-other-sentinels") != "2":
                return False
            reps = s.replicas()
            if len(reps) != 2 or any(r.get("flags") != "slave" or
                                     r.get("master-link-status") != "ok" for r in reps):
                return False
        return True

    def wait_healthy(self, timeout):
        wait_until(self.healthy, timeout, "redis group whole (primary, 2 replicas, 3 sentinels)",
                   interval=0.2)


# ----------------------------------------------------------------- halo

class HaloSystem:
    name = "halo"

    def __init__(self, args, workdir):
        self.args = args
        self.workdir = workdir
        self.generation = 0
        self.ens = None
        self.group = None

    def start(self):
        self.generation += 1
        d = os.path.join(self.workdir, "halo%d" % self.generation)
        os.makedirs(d)
        self.ens = ha.Ensemble(d, 3).start()
        self.group = ha.Group(d, self.ens.connstr, halo_bin=self.args.halo_bin,
                              extra=self.args.halo_arg)
        self.group.start(timeout=60)
        self.wait_healthy(60)

    def stop(self):
        if self.group:
            self.group.stop()
        if self.ens:
            self.ens.stop()

    def discover(self):
        return self.group.candidates()

    def primary(self):
        return self.group.primary()

    def node_at(self, addr):
        return self.group.by_addr.get(tuple(addr))

    def kill9(self, nd):
        nd.kill9()

    def restart_as_replica(self, nd, primary):
        nd.start()  # a member rejoins as a replica of whoever is primary now

    def client(self, nd):
        return nd.resp(timeout=10)

    def wait_healthy(self, timeout):
        self.group.wait_healthy(timeout)


# ----------------------------------------------------------------- one round

def one_round(system, rnd, args):
    """Kill the primary under load; returns (failover seconds or None, lost
    acknowledged writes, details)."""
    old = system.primary()
    if old is None:
        raise RuntimeError("%s: no primary at the start of round %d" % (system.name, rnd))
    w = ha.Writers(system.discover, n_threads=1, duration=args.round_timeout + 30,
                   prefix="%s:r%d" % (system.name, rnd), op_timeout=1.0, connect_timeout=0.3,
                   error_pause=0.0, retry_pause=0.005)
    w.start()
    try:
        w.wait_acked(1, timeout=10)
        time.sleep(args.warmup)
        t_kill = time.monotonic()
        system.kill9(old)
        try:
            first = wait_until(lambda: w.first_ack_after(t_kill, exclude_addr=old.addr),
                               args.round_timeout, "first write acknowledged by a new primary",
                               interval=0.002)
        except TimeoutError:
            first = None
        if first:
            time.sleep(args.after)
    finally:
        w.stop()
    detail = w.summary()
    if first is None:
        return None, None, detail, old
    new = system.node_at(first.addr)
    time.sleep(0.5)  # let the new primary settle before reading it
    conn = system.client(new)
    try:
        lost = len(ha.missing_acked(w.acked, conn))
    finally:
        conn.close()
    return first.t_complete - t_kill, lost, detail, old


def run_round(system, rnd, args, results):
    try:
        secs, lost, detail, old = one_round(system, rnd, args)
    except (RuntimeError, TimeoutError, AssertionError, OSError) as e:
        log("%s round %d: failed: %s; rebuilding" % (system.name, rnd, e))
        results.append((None, None))
        rebuild(system)
        return
    results.append((secs, lost))
    log("%s round %d: failover %s s, lost %s acknowledged writes (%s)"
        % (system.name, rnd, "timeout" if secs is None else "%.3f" % secs, lost, detail))
    if secs is None:
        rebuild(system)
        return
    try:
        new = system.primary() or wait_until(system.primary, 30, "new primary")
        system.restart_as_replica(old, new)
        system.wait_healthy(args.heal_timeout)
    except (RuntimeError, TimeoutError, AssertionError, OSError) as e:
        log("%s round %d: group not whole again (%s); rebuilding" % (system.name, rnd, e))
        rebuild(system)


def rebuild(system):
    system.stop()
    system.start()


# ----------------------------------------------------------------- report

def p90(xs):
    xs = sorted(xs)
    return xs[max(0, math.ceil(0.9 * len(xs)) - 1)]


def fmt(x, spec="%.3f"):
    return "—" if x is None else spec % x


def report(systems, results, rounds):
    names = [s.name for s in systems]
    head = "| round | " + " | ".join("%s failover (s) | %s lost" % (n, n) for n in names) + " |"
    print(head)
    print("|" + "---|" * (1 + 2 * len(names)))
    for i in range(rounds):
        cells = []
        for n in names:
            secs, lost = results[n][i] if i < len(results[n]) else (None, None)
            cells += [fmt(secs), fmt(lost, "%d")]
        print("| %d | %s |" % (i + 1, " | ".join(cells)))
    medians = {}
    for label, fn in (("median", statistics.median), ("p90", p90)):
        cells = []
        for n in names:
            xs = [s for s, _ in results[n] if s is not None]
            v = fn(xs) if xs else None
            if label == "median":
                medians[n] = v
            cells += [fmt(v), ""]
        print("| %s | %s |" % (label, " | ".join(cells)))
    cells = []
    for n in names:
        fails = sum(1 for s, _ in results[n] if s is None)
        lost = sum(l for _, l in results[n] if l is not None)
        cells += ["%d rounds without failover" % fails, "%d total" % lost]
    print("| total | %s |" % " | ".join(cells))
    if medians.get("halo") and medians.get("redis"):
        print("\nhalo/redis median failover time: %.2f" % (medians["halo"] / medians["redis"]))


# ----------------------------------------------------------------- main

def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=10)
    ap.add_argument("--halo-bin", default=os.path.join(ROOT, "build-release", "halo"))
    ap.add_argument("--halo-arg", action="append", default=[],
                    help="extra directive for every halo node, repeatable "
                         "(e.g. --halo-arg=--repl-session-timeout --halo-arg=600)")
    ap.add_argument("--redis-server", default=shutil.which("redis-server") or "redis-server")
    ap.add_argument("--skip-halo", action="store_true")
    ap.add_argument("--skip-redis", action="store_true")
    ap.add_argument("--down-after-ms", type=int, default=1000,
                    help="Sentinel down-after-milliseconds")
    ap.add_argument("--failover-timeout-ms", type=int, default=10000,
                    help="Sentinel failover-timeout")
    ap.add_argument("--warmup", type=float, default=1.0, help="seconds of writes before the kill")
    ap.add_argument("--after", type=float, default=1.0,
                    help="seconds of writes after the first acknowledgement by the new primary")
    ap.add_argument("--round-timeout", type=float, default=60.0,
                    help="longest wait for a failover (s)")
    ap.add_argument("--heal-timeout", type=float, default=60.0,
                    help="longest wait for the restarted node to rejoin (s)")
    ap.add_argument("--keep", action="store_true", help="keep the temp dir (configs, logs)")
    args = ap.parse_args()
    if args.skip_halo and args.skip_redis:
        ap.error("nothing to measure")
    if not args.skip_halo and not ha.has_replication(args.halo_bin):
        ap.error("%s has no replicated mode (repl-zk): build it, point --halo-bin at "
                 "another binary, or use --skip-halo" % args.halo_bin)
    return args


def on_signal(signum, frame):
    raise SystemExit(128 + signum)


def run_alternating(make_systems, run_round, args, prefix):
    """The driver both failover benchmarks share: start every system that
    make_systems(workdir) returns, run args.rounds rounds alternating their
    order, always stop them and remove the temp dir (unless args.keep), and
    return (systems, {name: [round results]}) — partial after Ctrl-C."""
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even if started ignoring it
    workdir = tempfile.mkdtemp(prefix=prefix)
    atexit.register(Proc.stop_all)
    systems = make_systems(workdir)
    results = {s.name: [] for s in systems}
    try:
        for s in systems:
            log("starting %s" % s.name)
            s.start()
        for rnd in range(1, args.rounds + 1):
            order = systems if rnd % 2 else list(reversed(systems))
            for s in order:
                run_round(s, rnd, args, results[s.name])
    except KeyboardInterrupt:
        log("interrupted; partial results:")
    finally:
        for s in systems:
            try:
                s.stop()
            except Exception as e:  # noqa: BLE001 - keep stopping the others
                log("stopping %s: %s" % (s.name, e))
        Proc.stop_all()
        if args.keep:
            log("kept %s" % workdir)
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    return systems, results


def main():
    args = parse_args()

    def make_systems(workdir):
        systems = []
        if not args.skip_redis:
            systems.append(RedisSystem(args, workdir))
        if not args.skip_halo:
            systems.append(HaloSystem(args, workdir))
        return systems
    systems, results = run_alternating(make_systems, run_round, args, "halo-failover-")
    report(systems, results, args.rounds)


if __name__ == "__main__":
    main()
