#!/usr/bin/python3
"""repl_throughput.py — the throughput cost of safety: redis-benchmark SET against a
3-node halo group (synchronous replication, ZooKeeper-arbitrated), a standalone halo
kv, and Debian's redis-server with 2 asynchronous replicas, in the same run.

All three use appendonly yes with the same appendfsync (--fsync). Each system is
started once; every run begins with FLUSHALL (on the primary) and waits until the
system is quiet (no AOF rewrite running, replicas caught up). The three systems
alternate within each round and the order rotates round by round. After each run
on the halo group the three nodes' DEBUG DIGESTs must agree (a warning otherwise).

Per-round req/s and p50 latency and the medians go to stdout as a markdown table,
with the ratios halo group / standalone halo and halo group / Redis with async
replicas, followed by any warnings; progress (and warnings as they happen) go to
stderr.

Usage: bench/repl_throughput.py [--rounds 3] [--fsync everysec|always]
                                [-n|--requests 200000] [-N|--pipelined-requests 2000000]
                                [--halo build-release/halo] [--halo-arg=--DIRECTIVE ...]
                                [--quick] [--keep]
"""
import argparse
import atexit
import csv
import ctypes
import io
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

import ha  # noqa: E402  (tests/e2e/ha.py: ZooKeeper ensemble, halo group, RESP helpers)
from ha import wait_until  # noqa: E402

GID = "g1"
PIPELINES = (1, 16)
SYSTEMS = ("group", "halo", "redis")
TITLES = {"group": "halo group (sync)", "halo": "halo standalone",
          "redis": "redis + 2 async replicas"}
QUIET_TIMEOUT_S = 120  # longest wait for rewrites to end and replicas to catch up


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def info(addr, section):
    """INFO section of the server at addr as {field: str} ({} if it does not answer)."""
    r = ha.ask(addr, "INFO", section, timeout=2)
    return ha.parse_info(r) if r is not None else {}


def error_replies(addr):
    """INFO stats total_error_replies, or None when the server does not say."""
    v = info(addr, "stats").get("total_error_replies")
    return int(v) if v is not None and v.isdigit() else None


def flushall(addr):
    r = ha.ask(addr, "FLUSHALL", timeout=30)
    if r != "OK":
        raise RuntimeError("FLUSHALL on %s:%d answered %r" % (addr + (r,)))


def rewrite_idle(addrs):
    """True when no node at addrs runs or has scheduled an AOF rewrite."""
    for a in addrs:
        p = info(a, "persistence")
        if not p or p.get("aof_rewrite_in_progress", "0") != "0" \
                or p.get("aof_rewrite_scheduled", "0") != "0":
            return False
    return True


_libc = ctypes.CDLL(None, use_errno=True)
PR_SET_PDEATHSIG = 1


def _die_with_parent():
    # A child of a SIGKILLed benchmark must not live on: the kernel sends it
    # SIGTERM when this process exits, however it exits.
    _libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def dying_with_us(command):
    """Wraps a HaNode.command so that the node, too, gets SIGTERM when this process
    dies; setpriv execs the node, so the PID stays the node's."""
    if not shutil.which("setpriv"):
        return command
    return lambda: ["setpriv", "--pdeathsig", "TERM", "--"] + command()


class Proc:
    """A server process of ours, stopped by its own PID (TERM, then KILL)."""

    def __init__(self, argv, logpath):
        self.argv = argv
        self.logpath = logpath
        self.proc = None

    def start(self):
        with open(self.logpath, "ab") as out:
            self.proc = subprocess.Popen(self.argv, stdout=out, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, preexec_fn=_die_with_parent)
        return self

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout=30):
        if self.alive():
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def log_tail(self, n=2000):
        try:
            with open(self.logpath, "rb") as f:
                return f.read().decode(errors="replace")[-n:]
        except OSError:
            return ""


def start_server(argv, workdir, port, what):
    """Starts argv (logging to workdir/server.log); returns the Proc once it answers PING."""
    os.makedirs(workdir, exist_ok=True)
    p = Proc(argv, os.path.join(workdir, "server.log")).start()
    addr = ("127.0.0.1", port)

    def up():
        if not p.alive():
            raise RuntimeError("%s exited at start:\n%s" % (what, p.log_tail()))
        return ha.ask(addr, "PING") is not None
    wait_until(up, 30, "%s answering PING" % what)
    return p


# ----------------------------------------------------------------- the three systems

class HaloStandalone:
    """One `halo kv` with appendonly yes."""

    name = "halo"

    def __init__(self, args, workdir):
        self.args = args
        self.dir = os.path.join(workdir, "halo")
        self.port = ha.free_port()
        self.addr = ("127.0.0.1", self.port)
        self.proc = None

    def start(self):
        argv = [self.args.halo, "kv", "--port", str(self.port), "--bind", "127.0.0.1",
                "--dir", self.dir, "--appendonly", "yes", "--appendfsync", self.args.fsync]
        self.proc = start_server(argv, self.dir, self.port, "halo kv")

    def stop(self):
        if self.proc:
            self.proc.stop()

    def prepare(self):
        """Empties the keyspace and waits until quiet; returns the address to load."""
        flushall(self.addr)
        wait_until(lambda: rewrite_idle([self.addr]), QUIET_TIMEOUT_S, "halo rewrite done", 0.2)
        return self.addr

    def check(self):
        if not self.proc.alive():
            raise RuntimeError("halo kv exited:\n%s" % self.proc.log_tail())
        return []


class RedisAsync:
    """Debian's redis-server with 2 replicas (replicaof: asynchronous), all appendonly yes."""

    name = "redis"

    def __init__(self, args, workdir):
        self.args = args
        self.dir = os.path.join(workdir, "redis")
        self.ports = [ha.free_port() for _ in range(3)]
        self.addrs = [("127.0.0.1", p) for p in self.ports]
        self.addr = self.addrs[0]
        self.procs = []

    def argv(self, i):
        # Diskless sync without delay only shortens the replicas' initial sync.
        a = [self.args.redis, "--port", str(self.ports[i]), "--bind", "127.0.0.1",
             "--dir", os.path.join(self.dir, "r%d" % (i + 1)), "--daemonize", "no",
             "--save", "", "--appendonly", "yes", "--appendfsync", self.args.fsync,
             "--databases", "1", "--repl-diskless-sync", "yes",
             "--repl-diskless-sync-delay", "0"]
        if i > 0:
            a += ["--replicaof", "127.0.0.1", str(self.ports[0])]
        return a

    def start(self):
        for i in range(3):
            d = os.path.join(self.dir, "r%d" % (i + 1))
            self.procs.append(start_server(self.argv(i), d, self.ports[i], "redis r%d" % (i + 1)))
        wait_until(self.replicas_synced, 60, "redis replicas online and caught up", 0.1)

    def stop(self):
        for p in reversed(self.procs):
            p.stop()

    def replicas_synced(self):
        """True when both replicas are online and hold the primary's whole stream."""
        r = info(self.addr, "replication")
        if r.get("connected_slaves") != "2":
            return False
        end = r.get("master_repl_offset")
        for k in ("slave0", "slave1"):
            fields = dict(kv.split("=", 1) for kv in r.get(k, "").split(",") if "=" in kv)
            if fields.get("state") != "online" or fields.get("offset") != end:
                return False
        return True

    def prepare(self):
        flushall(self.addr)
        wait_until(lambda: self.replicas_synced() and rewrite_idle(self.addrs),
                   QUIET_TIMEOUT_S, "redis quiet (replicas caught up, no rewrite)", 0.2)
        return self.addr

    def check(self):
        dead = [i + 1 for i, p in enumerate(self.procs) if not p.alive()]
        if dead:
            raise RuntimeError("redis node(s) %s exited" % dead)
        return []


class HaloGroup:
    """A 3-member ZooKeeper ensemble (scripts/zk-ensemble.sh) and 3 `halo kv` nodes in
    replicated mode; clients find the primary with SENTINEL get-master-addr-by-name."""

    name = "group"

    def __init__(self, args, workdir):
        self.args = args
        self.dir = os.path.join(workdir, "group")
        os.makedirs(self.dir, exist_ok=True)
        self.ens = None
        self.group = None

    def start(self):
        self.ens = ha.Ensemble(self.dir, 3).start()
        # ha.Group passes appendonly yes, appendfsync always; a later directive wins.
        extra = ["--appendfsync", self.args.fsync] + self.args.halo_arg
        self.group = ha.Group(self.dir, self.ens.connstr, halo_bin=self.args.halo, gid=GID,
                              extra=extra)
        for nd in self.group.nodes:
            nd.command = dying_with_us(nd.command)
        self.group.start(timeout=60)
        self.group.wait_healthy(60)

    def stop(self):
        if self.group:
            self.group.stop()
        if self.ens:
            self.ens.stop()

    def addrs(self):
        return [nd.addr for nd in self.group.nodes]

    def primary_addr(self):
        """The primary as the nodes name it (SENTINEL get-master-addr-by-name g1),
        once that node also says ROLE master."""
        nd = self.group.wait_primary(30)
        return nd.addr

    def state(self, addr):
        r = info(addr, "replication")
        return r.get("halo_epoch"), r.get("halo_isr_size")

    def prepare(self):
        addr = self.primary_addr()
        flushall(addr)
        wait_until(lambda: rewrite_idle(self.addrs()), QUIET_TIMEOUT_S,
                   "group rewrites done", 0.2)
        self.group.wait_healthy(60)
        addr = self.primary_addr()
        self.before = (addr,) + self.state(addr)
        return addr

    def check(self):
        """Warnings: a changed primary or epoch (a failover or an in-sync set change
        during the run), a short in-sync set, nodes whose digests differ."""
        warnings = []
        dead = [nd.id for nd in self.group.nodes if not nd.alive()]
        if dead:
            raise RuntimeError("halo node(s) %s exited:\n%s" % (dead, self.group.describe()))
        addr = self.primary_addr()
        now = (addr,) + self.state(addr)
        if now[0] != self.before[0]:
            warnings.append("primary moved from %s:%d to %s:%d during the run"
                            % (self.before[0] + now[0]))
        elif now[1] != self.before[1]:
            warnings.append("epoch went from %s to %s during the run (in-sync set changed)"
                            % (self.before[1], now[1]))
        if now[2] != "3":
            warnings.append("in-sync set has %s members after the run" % now[2])
        digests = self.settled_digests()
        if len(set(digests.values())) != 1 or None in digests.values():
            warnings.append("DEBUG DIGEST differs across nodes: %s" % digests)
        return warnings

    def settled_digests(self, timeout=10):
        """The nodes' digests once they agree, or their last values after timeout
        (replicas apply what they acknowledged a moment later)."""
        deadline = time.monotonic() + timeout
        while True:
            d = self.group.digests()
            if (len(set(d.values())) == 1 and None not in d.values()) \
                    or time.monotonic() > deadline:
                return d
            time.sleep(0.1)


# ----------------------------------------------------------------- measuring

def run_benchmark(args, addr, pipeline, requests):
    """One redis-benchmark SET run at addr; returns (req/s, p50 ms, error text or None).
    redis-benchmark stops at the first error reply and prints "Error from server"."""
    cmd = ["redis-benchmark", "-h", addr[0], "-p", str(addr[1]), "-t", "set",
           "-n", str(requests), "-c", str(args.clients), "-P", str(pipeline),
           "-r", str(args.keyspace), "-d", str(args.value_size), "--csv", "-q"]
    r = subprocess.run(cmd, capture_output=True, timeout=args.run_timeout,
                       preexec_fn=_die_with_parent)
    lines = (r.stdout + r.stderr).decode(errors="replace").splitlines()
    errors = "; ".join([ln.strip() for ln in lines if "Error" in ln][:3]) or None
    for row in csv.DictReader(io.StringIO("\n".join(ln for ln in lines if ln.startswith('"')))):
        if row.get("test") == "SET":
            return float(row["rps"]), float(row["p50_latency_ms"]), errors
    return None, None, "no result (exit %d): %s" % (r.returncode,
                                                     errors or " / ".join(lines[-3:]))


def measure(args, system, pipeline, requests, warnings):
    """FLUSHALL, quiet, one run, checks; returns (req/s, p50) or (None, None) and
    appends what looks wrong to warnings."""
    addr = system.prepare()
    errs_before = error_replies(addr)
    rps, p50, err = run_benchmark(args, addr, pipeline, requests)
    found = system.check()
    errs_after = error_replies(addr)
    if errs_before is not None and errs_after is not None and errs_after > errs_before:
        found.append("%d error replies during the run" % (errs_after - errs_before))
    if err:
        found.append("redis-benchmark: " + err)
    for w in found:
        line = "WARNING: %s -P %d: %s" % (TITLES[system.name], pipeline, w)
        log(line)
        warnings.append(line)
    return rps, p50


def rotate(rnd):
    k = rnd % len(SYSTEMS)
    return SYSTEMS[k:] + SYSTEMS[:k]


# ----------------------------------------------------------------- report

def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def cell(v, spec):
    return "—" if v is None else spec % v


def ratio(a, b):
    return "—" if a is None or not b else "%.2f" % (a / b)


def report(results, args, rounds_done, warnings, complete):
    print("\n| -P | round | " + " | ".join("%s req/s | p50 ms" % TITLES[s] for s in SYSTEMS) + " |")
    print("|---|---|" + "---:|" * (2 * len(SYSTEMS)))
    medians = {}
    for p in PIPELINES:
        for rnd in range(rounds_done):
            if all(rnd >= len(results[(s, p)]) for s in SYSTEMS):
                continue  # interrupted before this pipeline depth's runs
            cells = []
            for s in SYSTEMS:
                runs = results[(s, p)]
                rps, p50 = runs[rnd] if rnd < len(runs) else (None, None)
                cells += [cell(rps, "%.0f"), cell(p50, "%.3f")]
            print("| %d | %d | %s |" % (p, rnd + 1, " | ".join(cells)))
        cells = []
        for s in SYSTEMS:
            m = (med(r for r, _ in results[(s, p)]), med(l for _, l in results[(s, p)]))
            medians[(s, p)] = m
            cells += [cell(m[0], "**%.0f**"), cell(m[1], "**%.3f**")]
        print("| %d | median | %s |" % (p, " | ".join(cells)))
    print("\n| -P | group / standalone halo (req/s) | group / redis async (req/s) "
          "| group / standalone halo (p50) | group / redis async (p50) |")
    print("|---|---:|---:|---:|---:|")
    for p in PIPELINES:
        g, h, r = (medians[(s, p)] for s in SYSTEMS)
        print("| %d | %s | %s | %s | %s |" % (p, ratio(g[0], h[0]), ratio(g[0], r[0]),
                                              ratio(g[1], h[1]), ratio(g[1], r[1])))
    print("\nSET, -c %d, -r %d, -d %d; -P 1 runs %d requests, -P 16 runs %d requests; "
          "appendonly yes, appendfsync %s on every node; %d round(s), order rotated per "
          "round; medians" % (args.clients, args.keyspace, args.value_size, args.requests,
                              args.pipelined_requests, args.fsync, rounds_done))
    if not complete:
        print("INCOMPLETE: the run stopped early (see stderr); partial results above")
    for w in warnings:
        print(w)
    if complete and not warnings:
        print("no warnings: after every halo group run the 3 DEBUG DIGESTs agreed, "
              "with the same primary, epoch and a full in-sync set")


# ----------------------------------------------------------------- main

def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--fsync", choices=("always", "everysec"), default="everysec",
                    help="appendfsync of every node (appendonly yes everywhere)")
    ap.add_argument("-n", "--requests", type=int, default=200000, help="requests per -P 1 run")
    ap.add_argument("-N", "--pipelined-requests", type=int, default=2000000,
                    help="requests per -P 16 run")
    ap.add_argument("--clients", type=int, default=50, help="redis-benchmark -c")
    ap.add_argument("--keyspace", type=int, default=100000, help="redis-benchmark -r")
    ap.add_argument("--value-size", type=int, default=3, help="redis-benchmark -d")
    ap.add_argument("--halo", default=os.path.join(ROOT, "build-release", "halo"))
    ap.add_argument("--halo-arg", action="append", default=[],
                    help="extra directive for every group node, repeatable "
                         "(e.g. --halo-arg=--repl-timeout --halo-arg=2000)")
    ap.add_argument("--redis", default=shutil.which("redis-server") or "/usr/bin/redis-server")
    ap.add_argument("--run-timeout", type=float, default=900,
                    help="longest redis-benchmark run (s)")
    ap.add_argument("--quick", action="store_true",
                    help="1 round, 20 000 / 200 000 requests (a smoke run)")
    ap.add_argument("--keep", action="store_true", help="keep the temp dir (data, logs)")
    args = ap.parse_args()
    if args.quick:
        args.rounds, args.requests, args.pipelined_requests = 1, 20000, 200000
    if args.rounds < 1 or args.requests < 1 or args.pipelined_requests < 1:
        ap.error("--rounds and the request counts must be positive")
    default_halo = os.path.join(ROOT, "build-release", "halo")
    if not os.path.exists(args.halo) and os.path.abspath(args.halo) == default_halo:
        log("%s missing: building it with scripts/build.sh" % args.halo)
        subprocess.run([os.path.join(ROOT, "scripts", "build.sh")], check=True, timeout=1800)
    if not os.access(args.halo, os.X_OK):
        ap.error("%s is not an executable" % args.halo)
    if not ha.has_replication(args.halo):
        ap.error("%s has no replicated mode (repl-zk): rebuild it with scripts/build.sh "
                 "or point --halo at a newer binary" % args.halo)
    return args


def on_signal(signum, frame):
    raise SystemExit(128 + signum)


def run_rounds(args, systems, results, warnings):
    for rnd in range(args.rounds):
        order = rotate(rnd)
        for p in PIPELINES:
            n = args.requests if p == 1 else args.pipelined_requests
            for name in order:
                rps, p50 = measure(args, systems[name], p, n, warnings)
                results[(name, p)].append((rps, p50))
                log("round %d  -P %-2d %-26s %10s req/s  p50 %s ms"
                    % (rnd + 1, p, TITLES[name], cell(rps, "%.0f"), cell(p50, "%.3f")))


def stop_all(systems):
    for name in reversed(SYSTEMS):
        try:
            systems[name].stop()
        except Exception as e:  # noqa: BLE001 - keep stopping the others
            log("stopping %s: %s" % (TITLES[name], e))


def main():
    args = parse_args()
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even if started ignoring it
    workdir = tempfile.mkdtemp(prefix="halo-repl-bench-")
    systems = {"group": HaloGroup(args, workdir), "halo": HaloStandalone(args, workdir),
               "redis": RedisAsync(args, workdir)}
    atexit.register(stop_all, systems)
    results = {(s, p): [] for s in SYSTEMS for p in PIPELINES}
    warnings = []
    rc = 1  # until every round ran
    try:
        for name in SYSTEMS:
            log("starting %s" % TITLES[name])
            systems[name].start()
        run_rounds(args, systems, results, warnings)
        rc = 0
    except KeyboardInterrupt:
        log("interrupted; partial results follow")
        rc = 130
    except (RuntimeError, TimeoutError, AssertionError, OSError,
            subprocess.SubprocessError) as e:
        log("failed: %s; partial results follow" % e)
    finally:
        for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
            signal.signal(sig, signal.SIG_IGN)  # a second Ctrl-C must not cut the cleanup short
        stop_all(systems)
        if args.keep:
            log("kept %s" % workdir)
        else:
            shutil.rmtree(workdir, ignore_errors=True)
        report(results, args, max(len(v) for v in results.values()), warnings, rc == 0)
    return rc


if __name__ == "__main__":
    sys.exit(main())
