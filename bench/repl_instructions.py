#!/usr/bin/python3
"""repl_instructions.py — where the throughput of a replicated write goes: CPU work
(user-space instructions, valgrind's callgrind) or system calls (perf stat on the
syscall tracepoints) per SET, for every process of

  halo        a standalone halo kv
  group       a 3-node halo group (synchronous replication, ZooKeeper-arbitrated):
              the primary and each replica
  redis       a standalone redis-server
  redis-repl  redis-server with 2 asynchronous replicas: primary and each replica

appendonly yes and the same appendfsync (--fsync, everysec by default) everywhere,
as bench/repl_throughput.py runs them. Each system is started once and loaded with
redis-benchmark SET (-c 50, -r 100000, -d 3) at -P 1 and at -P 16, N requests
each. Per run: FLUSHALL, wait until quiet, open the window (callgrind: dump and
zero every process's counters; syscalls: attach `perf stat -p`), run the load,
wait until every replica holds the primary's whole stream (INFO offsets, cheap),
close the window (dump / stop perf), then check that the DEBUG DIGESTs agree and
that the group kept its primary, epoch and full in-sync set. Start-up and the
checks are outside the windows.

Under callgrind a node runs ~50x slower while its timers (cron, ZooKeeper pings,
replication ticks) keep wall-clock time, so a window of T seconds also holds T
seconds of idle work that a native run spreads over 50x more requests. Each
process's idle rate is measured first (a quiet window of --idle seconds) and the
table shows the count with that idle work subtracted ("net"), beside the raw one.

The group's nodes run with --repl-timeout and --repl-session-timeout raised
(--vg-repl-timeout, --vg-session-timeout: 30000 ms and 10000 ms, the ensemble's
maxSessionTimeout) so that three nodes under valgrind on 2 cores stay in sync.

Usage: bench/repl_instructions.py [--mode callgrind|syscalls] [--systems halo,group,...]
           [-n 20000] [-N 200000] [--fsync everysec] [--halo build-release/halo]
           [--keep DIR]   (keep the callgrind files there, for callgrind_annotate)
"""
import argparse
import glob
import os
import re
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import types

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(ROOT, "tests", "e2e"))

import ha  # noqa: E402  (tests/e2e/ha.py: ZooKeeper ensemble, halo group, RESP helpers)
import repl_throughput as rt  # noqa: E402  (server processes, FLUSHALL, quiet checks)
from ha import wait_until  # noqa: E402

PIPELINES = (1, 16)
SYSTEMS = ("halo", "group", "redis", "redis-repl")
SYSCALLS = ("read", "write", "writev", "readv", "sendmsg", "recvmsg", "sendto", "recvfrom",
            "epoll_wait", "epoll_pwait", "epoll_ctl", "futex", "fdatasync", "fsync", "poll",
            "ppoll", "openat", "close", "lseek", "accept4")
log = rt.log


# ----------------------------------------------------------------- measuring windows

class Callgrind:
    """Runs servers under callgrind; a window is the interval between two dumps
    (callgrind_control -d dumps and zeroes the counters)."""

    def __init__(self, outdir):
        self.outdir = outdir

    def wrap(self, argv, tag):
        return ["valgrind", "--tool=callgrind", "--vgdb=yes", "--compress-strings=no",
                    "--callgrind-out-file=%s/%s.%%p" % (self.outdir, tag)] + argv

    def _dump(self, pid):
        r = subprocess.run(["callgrind_control", "-d", str(pid)], capture_output=True, timeout=120)
        if b"OK" not in r.stdout:
            raise RuntimeError("callgrind_control -d %d: %s" % (pid, (r.stdout + r.stderr).decode()))
        files = glob.glob("%s/*.%d.*" % (self.outdir, pid))
        return max(files, key=lambda f: int(f.rsplit(".", 1)[1]))

    def open(self, procs):
        for pid in procs.values():
            self._dump(pid)
        return time.monotonic()

    def close(self, procs, started):
        """{label: (instructions, seconds, dump file)}."""
        secs = time.monotonic() - started
        return {label: self._closed(pid, secs) for label, pid in procs.items()}

    def _closed(self, pid, secs):
        f = self._dump(pid)
        return total_of(f), secs, f


def total_of(path):
    """The instruction total of one callgrind dump."""
    with open(path, "rb") as f:
        for line in f:
            m = re.match(rb"(?:summary|totals):\s+(\d+)", line)
            if m:
                return int(m.group(1))
    raise RuntimeError("no totals in %s" % path)


def function_costs(path):
    """{function: [self, inclusive]} from one callgrind dump. Read here rather than
    with callgrind_annotate, which puts a mid-run dump's whole cost on the
    frames still open at the dump (__libc_start_main). Inclusive is self plus
    the calls it made (approximate under recursion)."""
    costs, fn, after_call = {}, None, False
    with open(path, errors="replace") as f:
        for line in f:
            if line.startswith("fn="):
                fn = line[3:].strip()
                costs.setdefault(fn, [0, 0])
            elif line.startswith("calls="):
                after_call = True
            elif line[:1].isdigit() or line[:1] in "+-*":
                parts = line.split()
                if fn is None or len(parts) < 2:
                    continue
                v = int(parts[1])
                costs[fn][1] += v
                if not after_call:
                    costs[fn][0] += v
                after_call = False
    return costs


class Syscalls:
    """Runs servers natively; a window is one `perf stat -p` per process on the
    syscall tracepoints (all of its threads), stopped with SIGINT."""

    def __init__(self, outdir):
        self.outdir = outdir
        self.n = 0

    def wrap(self, argv, tag):
        return argv

    def open(self, procs):
        events = ",".join(["raw_syscalls:sys_enter"] +
                          ["syscalls:sys_enter_" + s for s in SYSCALLS])
        self.perfs = {}
        for label, pid in procs.items():
            self.n += 1
            out = os.path.join(self.outdir, "perf.%d.csv" % self.n)
            p = subprocess.Popen(["perf", "stat", "-x", ",", "-o", out, "-e", events, "-p", str(pid)],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                 preexec_fn=rt._die_with_parent)
            self.perfs[label] = (p, out)
        time.sleep(1.0)  # perf attaches
        self.cpu0 = {label: cpu_seconds(pid) for label, pid in procs.items()}
        return time.monotonic()

    def close(self, procs, started):
        """{label: ({syscall: count, "total": n}, seconds, None)}."""
        secs = time.monotonic() - started
        out = {}
        for label, (p, path) in self.perfs.items():
            user, sys_ = (b - a for a, b in zip(self.cpu0[label], cpu_seconds(procs[label])))
            p.send_signal(signal.SIGINT)
            p.wait(30)
            counts = parse_perf(path)
            counts["cpu_user"], counts["cpu_sys"] = user, sys_
            out[label] = (counts, secs, None)
        return out


def cpu_seconds(pid):
    """(user, system) CPU seconds of process pid so far, all of its threads."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    hz = os.sysconf("SC_CLK_TCK")
    return int(fields[11]) / hz, int(fields[12]) / hz


def parse_perf(path):
    counts = {}
    with open(path) as f:
        for line in f:
            parts = line.strip().split(",")
            if len(parts) < 3 or not parts[0].strip().isdigit():
                continue
            ev = parts[2]
            name = "total" if ev == "raw_syscalls:sys_enter" else ev.rsplit("sys_enter_", 1)[-1]
            counts[name] = int(parts[0])
    return counts


# ----------------------------------------------------------------- the systems

def caught_up(addrs):
    """True when every node at addrs reports the same master_repl_offset (halo:
    each node's log end; redis replicas report their own offset there too)."""
    offs = {rt.info(a, "replication").get("master_repl_offset") for a in addrs}
    return len(offs) == 1 and None not in offs


def digests(addrs):
    out = {}
    for a in addrs:
        try:
            c = ha.Resp(a[0], a[1], timeout=120)
            try:
                try:
                    c.call("READONLY")
                except ha.RespError:
                    pass
                out["%s:%d" % a] = ha.text(c.call("DEBUG", "DIGEST"))
            finally:
                c.close()
        except (OSError, ConnectionError, ha.RespError):
            out["%s:%d" % a] = None
    return out


class Standalone:
    """One server (halo kv or redis-server), appendonly yes."""

    def __init__(self, kind, args, meter, workdir):
        self.kind, self.args, self.meter = kind, args, meter
        self.dir = os.path.join(workdir, kind)
        self.port = ha.free_port()
        self.addr = ("127.0.0.1", self.port)

    def argv(self):
        if self.kind == "halo":
            return [self.args.halo, "kv", "--port", str(self.port), "--bind", "127.0.0.1",
                    "--dir", self.dir, "--appendonly", "yes", "--appendfsync", self.args.fsync]
        return [self.args.redis, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", self.dir,
                "--save", "", "--appendonly", "yes", "--appendfsync", self.args.fsync,
                "--databases", "1", "--enable-debug-command", "local"]

    def start(self):
        os.makedirs(self.dir, exist_ok=True)
        self.proc = rt.start_server(self.meter.wrap(self.argv(), self.kind), self.dir, self.port,
                                    self.kind)

    def stop(self):
        if getattr(self, "proc", None):
            self.proc.stop(120)

    def pids(self):
        return {self.kind: self.proc.proc.pid}

    def prepare(self):
        rt.flushall(self.addr)
        wait_until(lambda: rt.rewrite_idle([self.addr]), 300, "rewrite done", interval=0.5)
        return self.addr

    def settle(self):
        pass

    def check(self):
        return [] if self.proc.alive() else ["%s exited" % self.kind]


class RedisRepl(rt.RedisAsync):
    """redis-server with 2 asynchronous replicas (bench/repl_throughput.py's), wrapped."""

    def __init__(self, args, meter, workdir):
        super().__init__(args, workdir)
        self.meter = meter

    def argv(self, i):
        # DEBUG DIGEST, for the check after each run, is off by default in Redis 7.
        a = super().argv(i) + ["--enable-debug-command", "local"]
        return self.meter.wrap(a, "redis-r%d" % (i + 1))

    def start(self):
        for i in range(3):
            d = os.path.join(self.dir, "r%d" % (i + 1))
            self.procs.append(rt.start_server(self.argv(i), d, self.ports[i], "redis r%d" % (i + 1)))
        wait_until(self.replicas_synced, 300, "redis replicas online and caught up", interval=0.5)

    def stop(self):
        for p in reversed(self.procs):
            p.stop(120)

    def pids(self):
        return {"primary": self.procs[0].proc.pid, "replica 1": self.procs[1].proc.pid,
                "replica 2": self.procs[2].proc.pid}

    def prepare(self):
        rt.flushall(self.addr)
        wait_until(lambda: self.replicas_synced() and rt.rewrite_idle(self.addrs), 300,
                   "redis quiet", interval=0.5)
        return self.addr

    def settle(self):
        # Replicas ack once a second: wait for their offsets, not the primary's view.
        wait_until(lambda: caught_up(self.addrs), 300, "redis replicas caught up", interval=0.2)

    def check(self):
        dead = [i + 1 for i, p in enumerate(self.procs) if not p.alive()]
        if dead:
            return ["redis node(s) %s exited" % dead]
        d = digests(self.addrs)
        return [] if len(set(d.values())) == 1 and None not in d.values() \
            else ["DEBUG DIGEST differs: %s" % d]


class Group:
    """A 3-member ZooKeeper ensemble and a 3-node halo group (tests/e2e/ha.py), every
    node wrapped by the meter, with the timeouts raised under valgrind."""

    def __init__(self, args, meter, workdir):
        self.args, self.meter = args, meter
        self.dir = os.path.join(workdir, "group")
        os.makedirs(self.dir, exist_ok=True)
        self.ens = self.group = None

    def extra(self):
        x = ["--appendfsync", self.args.fsync]
        if isinstance(self.meter, Callgrind):
            x += ["--repl-timeout", str(self.args.vg_repl_timeout),
                  "--repl-session-timeout", str(self.args.vg_session_timeout)]
        return x

    def start(self):
        self.ens = ha.Ensemble(self.dir, 3).start()
        self.group = ha.Group(self.dir, self.ens.connstr, halo_bin=self.args.halo, gid="g1",
                              extra=self.extra())
        for nd in self.group.nodes:
            nd.command = self._wrapped(nd)
        self.group.start(timeout=300)
        self.group.wait_healthy(300)

    def _wrapped(self, nd):
        # setpriv (dying_with_us) must exec valgrind, not the other way round:
        # valgrind does not follow an exec without --trace-children.
        plain = nd.command
        return rt.dying_with_us(lambda: self.meter.wrap(plain(), nd.id))

    def stop(self):
        if self.group:
            for nd in self.group.nodes:
                nd.stop(timeout=120)
        if self.ens:
            self.ens.stop()

    def addrs(self):
        return [nd.addr for nd in self.group.nodes]

    def pids(self):
        p = self.group.wait_primary(60)
        out = {"primary (%s)" % p.id: p.proc.pid}
        k = 0
        for nd in self.group.nodes:
            if nd is not p:
                k += 1
                out["replica %d (%s)" % (k, nd.id)] = nd.proc.pid
        return out

    def state(self):
        p = self.group.wait_primary(60)
        r = rt.info(p.addr, "replication")
        return p.id, r.get("halo_epoch"), r.get("halo_isr_size")

    def prepare(self):
        addr = self.group.wait_primary(60).addr
        rt.flushall(addr)
        wait_until(lambda: rt.rewrite_idle(self.addrs()), 300, "group rewrites done", interval=0.5)
        self.group.wait_healthy(300)
        self.before = self.state()
        return self.group.wait_primary(60).addr

    def settle(self):
        wait_until(lambda: caught_up(self.addrs()), 300, "replicas hold the whole log", interval=0.2)

    def check(self):
        dead = [nd.id for nd in self.group.nodes if not nd.alive()]
        if dead:
            return ["halo node(s) %s exited" % dead]
        out = []
        now = self.state()
        if now[:2] != self.before[:2]:
            out.append("primary/epoch moved from %s to %s during the run" % (self.before, now))
        if now[2] != "3":
            out.append("in-sync set has %s members after the run" % now[2])
        d = self.group.digests()
        if len(set(d.values())) != 1 or None in d.values():
            out.append("DEBUG DIGEST differs: %s" % d)
        return out


def make(name, args, meter, workdir):
    if name in ("halo", "redis"):
        return Standalone(name, args, meter, workdir)
    if name == "group":
        return Group(args, meter, workdir)
    return RedisRepl(args, meter, workdir)


# ----------------------------------------------------------------- one system

def bench(args, addr, pipeline, n):
    cmd = ["redis-benchmark", "-h", addr[0], "-p", str(addr[1]), "-t", "set", "-n", str(n),
           "-c", str(args.clients), "-P", str(pipeline), "-r", "100000", "-d", "3", "--csv", "-q"]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    r = subprocess.run(cmd, capture_output=True, timeout=args.run_timeout,
                       preexec_fn=rt._die_with_parent)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    text = (r.stdout + r.stderr).decode(errors="replace")
    m = re.search(r'"SET","([\d.]+)"', text)
    errors = [ln for ln in text.splitlines() if "Error" in ln or "ERR" in ln][:3]
    client_cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return (float(m.group(1)) if m else None), errors, client_cpu


def measure_idle(args, system, meter):
    """{label: idle cost per second} over a quiet window (callgrind only)."""
    if not isinstance(meter, Callgrind) or args.idle <= 0:
        return {}
    system.prepare()
    procs = system.pids()
    t0 = meter.open(procs)
    time.sleep(args.idle)
    return {label: v[0] / v[1] for label, v in meter.close(procs, t0).items()}


def run_system(args, name, meter, workdir, rows, warnings):
    system = make(name, args, meter, workdir)
    try:
        log("starting %s" % name)
        system.start()
        idle = measure_idle(args, system, meter)
        for p in PIPELINES:
            n = args.requests if p == 1 else args.pipelined_requests
            addr = system.prepare()
            procs = system.pids()
            t0 = meter.open(procs)
            rps, errors, client_cpu = bench(args, addr, p, n)
            system.settle()
            got = meter.close(procs, t0)
            found = system.check() + ["redis-benchmark: " + e for e in errors]
            for w in found:
                warnings.append("WARNING: %s -P %d: %s" % (name, p, w))
                log(warnings[-1])
            for label, (v, secs, path) in got.items():
                rows.append(dict(system=name, proc=label, p=p, n=n, value=v, secs=secs,
                                 idle=idle.get(label, 0.0), rps=rps, file=path,
                                 client_cpu=client_cpu))
            log("%s -P %d: %s req/s (%s), window %.1f s" % (name, p, rps, "instrumented"
                if isinstance(meter, Callgrind) else "native", got and list(got.values())[0][1]))
    finally:
        system.stop()


# ----------------------------------------------------------------- report

def report_callgrind(rows, args):
    print("\n| system | process | -P | instr/request (raw) | idle instr/s | instr/request (net of idle) |")
    print("|---|---|---:|---:|---:|---:|")
    for r in rows:
        raw = r["value"] / r["n"]
        net = (r["value"] - r["idle"] * r["secs"]) / r["n"]
        r["net"] = net
        print("| %s | %s | %d | %.0f | %.0f | %.0f |" % (r["system"], r["proc"], r["p"], raw,
                                                         r["idle"], net))
    sums = {}
    for r in rows:
        sums[(r["system"], r["p"])] = sums.get((r["system"], r["p"]), 0.0) + r["net"]
    print("\n| -P | halo | group (sum of 3) | group / halo | redis | redis-repl (sum of 3) "
          "| redis-repl / redis | group / redis-repl |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for p in PIPELINES:
        g = {s: sums.get((s, p)) for s in SYSTEMS}
        print("| %d | %s | %s | %s | %s | %s | %s | %s |" % (
            p, fmt(g["halo"]), fmt(g["group"]), ratio(g["group"], g["halo"]), fmt(g["redis"]),
            fmt(g["redis-repl"]), ratio(g["redis-repl"], g["redis"]),
            ratio(g["group"], g["redis-repl"])))
    print("\nuser-space instructions per SET (callgrind, all threads of each process), net of "
          "the idle rate x window; redis-benchmark SET -c %d -r 100000 -d 3, -P 1: %d requests, "
          "-P 16: %d requests; appendonly yes, appendfsync %s; group nodes with repl-timeout %d "
          "ms, repl-session-timeout %d ms" % (args.clients, args.requests, args.pipelined_requests,
                                              args.fsync, args.vg_repl_timeout,
                                              args.vg_session_timeout))


def report_syscalls(rows, args):
    shown = [s for s in SYSCALLS if any(r["value"].get(s) for r in rows)]
    print("\n| system | process | -P | req/s (wall) | CPU us/req (user+sys) | syscalls/req | "
          + " | ".join(shown) + " |")
    print("|---|---|---:|---:|---:|---:|" + "---:|" * len(shown))
    for r in rows:
        c, n = r["value"], r["n"]
        cells = ["%.3f" % (c.get(s, 0) / n) for s in shown]
        cpu = (c["cpu_user"] + c["cpu_sys"]) / n * 1e6
        print("| %s | %s | %d | %s | %.2f | %.3f | %s |" % (
            r["system"], r["proc"], r["p"], fmt(r["rps"]), cpu, c.get("total", 0) / n,
            " | ".join(cells)))
    print("\n| system | -P | req/s (wall) | server CPU us/req (user + sys, all processes) "
          "| of it sys | client CPU us/req | total CPU us/req | 2 cores / total (req/s) |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for key in dict.fromkeys((r["system"], r["p"]) for r in rows):
        rs = [r for r in rows if (r["system"], r["p"]) == key]
        n = rs[0]["n"]
        srv = sum(r["value"]["cpu_user"] + r["value"]["cpu_sys"] for r in rs) / n * 1e6
        sys_ = sum(r["value"]["cpu_sys"] for r in rs) / n * 1e6
        cli = rs[0]["client_cpu"] / n * 1e6
        print("| %s | %d | %s | %.2f | %.2f | %.2f | %.2f | %.0f |" % (
            key[0], key[1], fmt(rs[0]["rps"]), srv, sys_, cli, srv + cli, 2e6 / (srv + cli)))
    print("\nsystem calls per SET (perf stat -p on the syscall tracepoints, all threads, native "
          "run); redis-benchmark SET -c %d -r 100000 -d 3, -P 1: %d requests, -P 16: %d "
          "requests; appendonly yes, appendfsync %s; req/s is wall-clock on a shared machine"
          % (args.clients, args.requests, args.pipelined_requests, args.fsync))


def report_top(rows, top):
    """The top functions by self cost of each process's dump, per request."""
    for r in rows:
        if not r["file"]:
            continue
        costs = function_costs(r["file"])
        print("\n%s, %s, -P %d: top %d functions, instructions per request (self / inclusive)"
              % (r["system"], r["proc"], r["p"], top))
        ranked = sorted(costs.items(), key=lambda kv: -kv[1][0])[:top]
        for name, (own, incl) in ranked:
            print("  %8.0f %8.0f  %s" % (own / r["n"], incl / r["n"], name))


def fmt(v):
    return "—" if v is None else "%.0f" % v


def ratio(a, b):
    return "—" if a is None or not b else "%.2f" % (a / b)


# ----------------------------------------------------------------- main

def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--mode", choices=("callgrind", "syscalls"), default="callgrind")
    ap.add_argument("--systems", default=",".join(SYSTEMS))
    ap.add_argument("-n", "--requests", type=int, default=None,
                    help="requests per -P 1 run (callgrind 20000, syscalls 200000)")
    ap.add_argument("-N", "--pipelined-requests", type=int, default=None,
                    help="requests per -P 16 run (callgrind 200000, syscalls 2000000)")
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--fsync", choices=("always", "everysec"), default="everysec")
    ap.add_argument("--idle", type=float, default=10.0,
                    help="seconds of the quiet window that measures idle cost (callgrind)")
    ap.add_argument("--vg-repl-timeout", type=int, default=30000)
    ap.add_argument("--vg-session-timeout", type=int, default=10000)
    ap.add_argument("--halo", default=os.path.join(ROOT, "build-release", "halo"))
    ap.add_argument("--redis", default=shutil.which("redis-server") or "/usr/bin/redis-server")
    ap.add_argument("--run-timeout", type=float, default=1800)
    ap.add_argument("--top", type=int, default=0,
                    help="also list each process's top N functions (callgrind; needs --keep)")
    ap.add_argument("--keep", help="directory to keep the callgrind dumps / perf files in")
    args = ap.parse_args()
    cg = args.mode == "callgrind"
    args.requests = args.requests or (20000 if cg else 200000)
    args.pipelined_requests = args.pipelined_requests or (200000 if cg else 2000000)
    args.halo_arg = []
    args.systems = [s for s in args.systems.split(",") if s]
    bad = [s for s in args.systems if s not in SYSTEMS]
    if bad:
        ap.error("unknown system(s) %s (from %s)" % (bad, ", ".join(SYSTEMS)))
    if not ha.has_replication(args.halo):
        ap.error("%s has no replicated mode (repl-zk)" % args.halo)
    return args


def on_signal(signum, frame):
    raise SystemExit(128 + signum)


def main():
    args = parse_args()
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)
    workdir = tempfile.mkdtemp(prefix="halo-repl-instr-")
    outdir = args.keep or os.path.join(workdir, "out")
    os.makedirs(outdir, exist_ok=True)
    meter = Callgrind(outdir) if args.mode == "callgrind" else Syscalls(outdir)
    rows, warnings, rc = [], [], 0
    try:
        for name in args.systems:
            run_system(args, name, meter, workdir, rows, warnings)
    except (RuntimeError, TimeoutError, AssertionError, OSError,
            subprocess.SubprocessError, KeyboardInterrupt) as e:
        log("failed: %r; partial results follow" % e)
        rc = 1
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
        (report_callgrind if args.mode == "callgrind" else report_syscalls)(rows, args)
        if args.top and args.mode == "callgrind":
            report_top(rows, args.top)
        for w in warnings:
            print(w)
        if args.keep:
            for r in rows:
                if r["file"]:
                    print("dump: %s %s -P %d: %s" % (r["system"], r["proc"], r["p"], r["file"]))
    return rc


if __name__ == "__main__":
    sys.exit(main())
