#!/usr/bin/python3
"""switchover_pause.py — planned switchover (Redis's FAILOVER TO host port) under a
write load: a 3-node halo group (synchronous replication, ZooKeeper-arbitrated)
against Debian's Redis with 2 replicas, in the same run, on loopback.

Each round, for each system (the order alternates round by round): K client
threads write sequential unique keys to the primary; after a warm-up the bench
sends `FAILOVER TO <next replica> TIMEOUT <ms>` to the primary and measures
  handoff  from sending FAILOVER until the target's ROLE says master (polled
           every millisecond on one connection),
  pause    the largest gap between consecutive acknowledged writes (all
           threads together) from the one spanning FAILOVER to --window s
           after the first write the new primary acknowledged (for scale,
           the largest gap from --warmup to --window s before FAILOVER is shown),
  first    from sending FAILOVER until the first write acknowledged by the
           new primary.
Then the load stops, the group converges (Redis: the other replica is pointed
at the new primary with REPLICAOF, as Sentinel would) and every acknowledged
write is looked up on the new primary; those missing are counted as lost.

After an error (READONLY, a dropped connection) a client finds the primary
again by asking every node ROLE — the same code for both systems — and goes on
with its next key. For halo the node logs (millisecond timestamps) give a
breakdown of each switchover into its steps.

Usage: bench/switchover_pause.py [--rounds 10] [--clients 4] [--zk-tick-ms 200]
                                 [--skip-halo] [--skip-redis] [--keep]
Timing goals live here, not in tests: nothing passes or fails on a number.
"""
import argparse
import math
import os
import re
import shutil
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(ROOT, "tests", "e2e"))

import failover_vs_sentinel as fvs  # noqa: E402  (Proc, RedisNode, HaloSystem)
import ha  # noqa: E402  (Ensemble, Group, Writers, Resp, missing_acked)
from ha import wait_until  # noqa: E402

ZK_SCRIPT_TICK_MS = 200  # scripts/zk-ensemble.sh writes tickTime=200

log = fvs.log


# ----------------------------------------------------------------- discovery (both systems)

def role_discoverer(addrs, timeout=0.2):
    """discover() for ha.Writers: the nodes whose ROLE says master, asked of
    every node on a fresh connection each. Both systems' clients use this."""
    addrs = [tuple(a) for a in addrs]

    def discover():
        found = []
        for a in addrs:
            r = ha.ask(a, "ROLE", timeout=timeout)
            if isinstance(r, list) and r and ha.text(r[0]) == "master":
                found.append(a)
        return found
    return discover


def role_of(addr, timeout=0.3):
    r = ha.ask(addr, "ROLE", timeout=timeout)
    return ha.text(r[0]) if isinstance(r, list) and r else None


# ----------------------------------------------------------------- Redis: primary + 2 replicas

class RedisGroup:
    """Three redis-server processes (fvs.RedisNode: AOF, appendfsync always),
    r1 the first primary; no Sentinels (FAILOVER is a Redis command)."""

    name = "redis"

    def __init__(self, args, workdir):
        self.args = args
        self.workdir = workdir
        self.generation = 0
        self.nodes = []

    def start(self):
        self.generation += 1
        d = os.path.join(self.workdir, "redis%d" % self.generation)
        self.nodes = [fvs.RedisNode(self.args.redis_server, d, "r%d" % i) for i in (1, 2, 3)]
        self.nodes[0].start()
        for nd in self.nodes[1:]:
            nd.start(replicaof=self.nodes[0].addr)
        self.wait_healthy(60)

    def stop(self):
        for nd in self.nodes:
            if nd.p:
                nd.p.stop()

    def addrs(self):
        return [nd.addr for nd in self.nodes]

    def log_marks(self):
        return None

    def primary(self):
        masters = [nd for nd in self.nodes if nd.alive() and role_of(nd.addr) == "master"]
        return masters[0] if len(masters) == 1 else None

    def converge(self, new, timeout):
        """Points every other node at new (REPLICAOF, as Sentinel would after
        a switchover) and waits until both replicas are online at new's offset."""
        for nd in self.nodes:
            if nd is new:
                continue
            r = ha.ask(nd.addr, "ROLE")
            if not (isinstance(r, list) and ha.text(r[0]) == "slave"
                    and (ha.text(r[1]), int(r[2])) == new.addr):
                ha.ask(nd.addr, "REPLICAOF", new.addr[0], new.addr[1], timeout=2)
        wait_until(lambda: self._whole(new), timeout,
                   "redis replicas online at the primary's offset", interval=0.05)

    def _whole(self, p):
        info = ha.parse_info(ha.ask(p.addr, "INFO", "replication") or b"")
        if info.get("role") != "master":
            return False
        offset = info.get("master_repl_offset")
        online = [v for k, v in info.items() if k.startswith("slave") and k[5:].isdigit()
                  and "state=online" in v and "offset=%s," % offset in v]
        return len(online) == 2

    def wait_healthy(self, timeout):
        p = wait_until(self.primary, timeout, "one redis primary", interval=0.05)
        self.converge(p, timeout)
        return p

    def client(self, nd):
        return ha.Resp(*nd.addr, timeout=10)


# ----------------------------------------------------------------- halo: 3 nodes + ZooKeeper

def set_tick(zkdir, tick_ms):
    """Rewrites tickTime in every member's zoo.cfg (the ensemble must be stopped)."""
    for name in sorted(os.listdir(zkdir)):
        cfg = os.path.join(zkdir, name, "zoo.cfg")
        if not os.path.isfile(cfg):
            continue
        with open(cfg) as f:
            text = f.read()
        with open(cfg, "w") as f:
            f.write(re.sub(r"(?m)^tickTime=\d+$", "tickTime=%d" % tick_ms, text))


class HaloGroup(fvs.HaloSystem):
    """fvs.HaloSystem (a local 3-member ZooKeeper, 3 nodes with appendfsync
    always) with the ensemble's tickTime settable."""

    def start(self):
        self.generation += 1
        d = os.path.join(self.workdir, "halo%d" % self.generation)
        os.makedirs(d)
        self.ens = ha.Ensemble(d, 3).start()
        if self.args.zk_tick_ms != ZK_SCRIPT_TICK_MS:
            self.ens.stop()  # the script lays out DIR once and reuses it on start
            set_tick(self.ens.dir, self.args.zk_tick_ms)
            self.ens.start()
        self.group = ha.Group(d, self.ens.connstr, halo_bin=self.args.halo_bin,
                              extra=self.args.halo_arg)
        self.group.start(timeout=60)
        self.wait_healthy(60)

    @property
    def nodes(self):
        return self.group.nodes

    def addrs(self):
        return [nd.addr for nd in self.group.nodes]

    def primary(self):
        masters = [nd for nd in self.group.nodes if nd.alive() and role_of(nd.addr) == "master"]
        return masters[0] if len(masters) == 1 else None

    def converge(self, new, timeout):
        p = self.group.wait_healthy(timeout)
        if p is not new:
            raise RuntimeError("halo: %s is primary after converging, not %s" % (p.id, new.id))

    def log_marks(self):
        return {nd.id: os.path.getsize(nd.logpath) for nd in self.group.nodes}


# ----------------------------------------------------------------- halo log breakdown

LOG_LINE = re.compile(r"^\d+:(\d\d) (\d\d):(\d\d):(\d\d)\.(\d{3}) . (.*)$")

# (label, whose log: "old" | "new" | "other", substring); the first match at
# or after FAILOVER was sent counts.
STEPS = [("requested", "old", "switchover to "),
         ("handing_over", "old", "handing over"),
         ("taking_over", "new", "taking over"),
         ("elected", "new", "elected primary"),
         ("old_stepped_down", "old", "no longer primary"),
         ("old_follows", "old", "following"),
         ("other_follows", "other", "following")]


def seconds_of_day(t_wall):
    lt = time.localtime(t_wall)
    return lt.tm_hour * 3600 + lt.tm_min * 60 + lt.tm_sec + (t_wall % 1.0)


def read_log_since(path, offset):
    with open(path, "rb") as f:
        f.seek(offset)
        return f.read().decode(errors="replace").splitlines()


def halo_steps(system, marks, old, new, wall0):
    """{step: ms after FAILOVER was sent} from the nodes' logs, plus
    "lines": the replication log lines of the round, each with its ms."""
    sod0 = seconds_of_day(wall0)
    roles = {nd.id: ("old" if nd is old else "new" if nd is new else "other")
             for nd in system.group.nodes}
    events = []
    for nd in system.group.nodes:
        for line in read_log_since(nd.logpath, marks[nd.id]):
            m = LOG_LINE.match(line)
            if not m:
                continue
            sod = int(m[2]) * 3600 + int(m[3]) * 60 + int(m[4]) + int(m[5]) / 1000.0
            d = (sod - sod0 + 43200) % 86400 - 43200  # across midnight
            events.append((d * 1000.0, roles[nd.id], nd.id, m[6]))
    events.sort()
    out = {"lines": ["%+8.1f ms %s(%s) %s" % (ms, nid, who, msg) for ms, who, nid, msg in events
                     if ms >= -5 and ("replication" in msg or "switchover" in msg)]}
    for label, who, needle in STEPS:
        for ms, role, _, msg in events:
            if role == who and needle in msg and ms >= -5:  # log ms are truncated
                out[label] = ms
                break
    return out


# ----------------------------------------------------------------- one round

def next_target(system, old):
    nodes = system.nodes
    return nodes[(nodes.index(old) + 1) % len(nodes)]


def max_gap(writes, t_from, t_to):
    """(gap s, start, end) of the largest gap between consecutive acknowledged
    writes (all threads merged) that ends after t_from and starts before t_to:
    the gap spanning t_from counts whole, gaps wholly before it do not."""
    done = sorted(w.t_complete for w in writes if w.status == "ok")
    best = (0.0, None, None)
    for a, b in zip(done, done[1:]):
        if b > t_from and a < t_to and b - a > best[0]:
            best = (b - a, a, b)
    return best


def wait_master(addr, timeout, interval=0.001):
    """Monotonic time at which addr's ROLE first said master (one connection,
    polled every interval), or None."""
    conn = ha.Resp(addr[0], addr[1], timeout=1.0)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            r = conn.call("ROLE")
            if isinstance(r, list) and r and ha.text(r[0]) == "master":
                return time.monotonic()
            time.sleep(interval)
    finally:
        conn.close()
    return None


def switch_under_load(system, rnd, args, old, target, w):
    """Sends FAILOVER while w runs; returns the measurements (no loss check)."""
    w.wait_acked(args.clients * 10, timeout=10)
    time.sleep(args.warmup)
    conn = ha.Resp(*old.addr, timeout=args.failover_timeout_ms / 1000.0 + 5)
    try:
        wall0, t0 = time.time(), time.monotonic()
        reply = conn.call("FAILOVER", "TO", target.addr[0], target.addr[1],
                          "TIMEOUT", args.failover_timeout_ms)
        t_reply = time.monotonic()
    finally:
        conn.close()
    if reply != "OK":
        raise RuntimeError("FAILOVER replied %r" % (reply,))
    t_master = wait_master(target.addr, args.round_timeout)
    firsts = wait_until(lambda: firsts_by_thread(w, target.addr, t0, args.clients),
                        args.round_timeout, "every client's first write acknowledged by the "
                        "new primary", interval=0.002)
    time.sleep(args.after)
    t_first = min(firsts)
    writes = w.snapshot()
    gap, g_from, g_to = max_gap(writes, t0, t_first + args.window)
    base = max_gap(writes, t0 - args.warmup, t0 - args.window)[0]
    redisc, lat = client_recovery(writes, t0, target.addr)
    return {"t0": t0, "wall0": wall0, "reply_ms": (t_reply - t0) * 1e3,
            "rediscover_ms": redisc, "retry_latency_ms": lat,
            "handoff_ms": None if t_master is None else (t_master - t0) * 1e3,
            "pause_ms": gap * 1e3, "baseline_ms": base * 1e3,
            "gap_at_ms": None if g_from is None else ((g_from - t0) * 1e3, (g_to - t0) * 1e3),
            "first_ms": (t_first - t0) * 1e3, "all_ms": (max(firsts) - t0) * 1e3}


def client_recovery(writes, t0, addr):
    """Medians over the threads refused after t0 (ms): from the refusal to
    sending the next write (rediscovery), and that write's latency when the
    new primary acknowledged it; (None, None) without refusals."""
    by_key = {x.key: x for x in writes}
    redisc, lat = [], []
    for x in writes:
        if x.status == "ok" or x.t_complete < t0:
            continue
        prefix, tid, seq = x.key.rsplit(":", 2)
        nxt = by_key.get("%s:%s:%d" % (prefix, tid, int(seq) + 1))
        if nxt is None:
            continue
        redisc.append((nxt.t_invoke - x.t_complete) * 1e3)
        if nxt.status == "ok" and nxt.addr == addr:
            lat.append((nxt.t_complete - nxt.t_invoke) * 1e3)
    return (statistics.median(redisc) if redisc else None,
            statistics.median(lat) if lat else None)


def firsts_by_thread(w, addr, t0, n_threads):
    """Completion times of each writer thread's first write invoked after t0
    and acknowledged by addr, once every thread has one (else None)."""
    best = {}
    for x in w.snapshot():
        if x.status == "ok" and x.addr == addr and x.t_invoke >= t0:
            tid = x.key.rsplit(":", 2)[1]
            if tid not in best or x.t_complete < best[tid]:
                best[tid] = x.t_complete
    return sorted(best.values()) if len(best) == n_threads else None


def one_round(system, rnd, args):
    old = system.primary()
    if old is None:
        raise RuntimeError("%s: not exactly one primary at the start of round %d"
                           % (system.name, rnd))
    target = next_target(system, old)
    marks = system.log_marks()
    w = ha.Writers(role_discoverer(system.addrs()), n_threads=args.clients,
                   duration=args.warmup + 2 * args.round_timeout + args.after + 20,
                   prefix="%s:r%d" % (system.name, rnd),
                   op_timeout=args.failover_timeout_ms / 1e3 + 3,
                   connect_timeout=0.3, error_pause=0.0, retry_pause=0.001)
    w.start()
    try:
        m = switch_under_load(system, rnd, args, old, target, w)
    finally:
        w.stop()
    system.converge(target, args.heal_timeout)
    conn = system.client(target)
    try:
        m["lost"] = len(ha.missing_acked(w.acked, conn))
    finally:
        conn.close()
    m["summary"] = w.summary()
    m["unknown"] = len(w.unknown)
    m["route"] = "%s->%s" % (node_name(old), node_name(target))
    if marks is not None:
        m["steps"] = halo_steps(system, marks, old, target, m["wall0"])
    return m


def node_name(nd):
    return getattr(nd, "id", None) or nd.name  # HaNode.id, RedisNode.name


def run_round(system, rnd, args, results):
    try:
        m = one_round(system, rnd, args)
    except (RuntimeError, TimeoutError, AssertionError, OSError, ha.RespError) as e:
        log("%s round %d: failed: %s; rebuilding" % (system.name, rnd, e))
        results.append(None)
        system.stop()
        system.start()
        return
    results.append(m)
    log("%s round %d %s: handoff %s ms, pause %.1f ms (gap %s; warm-up's %.1f ms), "
        "first write on the new primary %.1f ms, every client's %.1f ms (rediscovery %s ms, "
        "then %s ms), FAILOVER reply %.1f ms, lost %d; %s"
        % (system.name, rnd, m["route"], fmt(m["handoff_ms"], "%.1f"), m["pause_ms"],
           "%.1f..%.1f ms" % m["gap_at_ms"] if m["gap_at_ms"] else "-", m["baseline_ms"],
           m["first_ms"], m["all_ms"], fmt(m["rediscover_ms"], "%.1f"),
           fmt(m["retry_latency_ms"], "%.1f"), m["reply_ms"], m["lost"], m["summary"]))
    if "steps" in m:
        st = m["steps"]
        log("  halo steps (ms after FAILOVER, node logs): " + ", ".join(
            "%s %s" % (k, fmt(st.get(k), "%.0f")) for k, _, _ in STEPS))
        if args.verbose:
            for line in st["lines"]:
                log("    " + line)


# ----------------------------------------------------------------- report

def p90(xs):
    xs = sorted(xs)
    return xs[max(0, math.ceil(0.9 * len(xs)) - 1)]


def fmt(x, spec="%.3f"):
    return "—" if x is None else spec % x


METRICS = [("handoff_ms", "handoff: FAILOVER sent → target's ROLE says master (ms)"),
           ("pause_ms", "write pause: largest gap between acknowledged writes (ms)"),
           ("baseline_ms", "for scale: largest gap in the warm-up, --warmup to --window s "
                           "before FAILOVER (ms)"),
           ("first_ms", "FAILOVER sent → first write acknowledged by the new primary (ms)"),
           ("all_ms", "FAILOVER sent → every client has had a write acknowledged by it (ms)"),
           ("rediscover_ms", "a client refused (READONLY) → its next write sent: rediscovery "
                             "by ROLE (ms, median of the clients)"),
           ("retry_latency_ms", "latency of that next write on the new primary (ms)")]


def column(results, key):
    return [m[key] for m in results if m is not None and m.get(key) is not None]


def report(systems, results, args):
    names = [s.name for s in systems]
    print("\nplanned switchover under %d writer threads, %d rounds; clients rediscover the "
          "primary the same way for both systems (ROLE asked of every node)\n"
          % (args.clients, args.rounds))
    head = "| metric | " + " | ".join("%s median | %s p90" % (n, n) for n in names)
    if len(names) == 2:
        head += " | halo/redis median | halo/redis p90"
    print(head + " |")
    print("|" + "---|" * (1 + 2 * len(names) + (2 if len(names) == 2 else 0)))
    for key, label in METRICS:
        cells, med, top = [], {}, {}
        for n in names:
            xs = column(results[n], key)
            med[n] = statistics.median(xs) if xs else None
            top[n] = p90(xs) if xs else None
            cells += [fmt(med[n], "%.1f"), fmt(top[n], "%.1f")]
        if len(names) == 2:
            for d in (med, top):
                ok = d["halo"] and d["redis"]
                cells.append("%.2f" % (d["halo"] / d["redis"]) if ok else "—")
        print("| %s | %s |" % (label, " | ".join(cells)))
    cells = []
    for n in names:
        ok = [m for m in results[n] if m is not None]
        cells += ["%d/%d rounds switched" % (len(ok), len(results[n])),
                  "%d lost in total (%d writes of unknown outcome)"
                  % (sum(m["lost"] for m in ok), sum(m["unknown"] for m in ok))]
    if len(names) == 2:
        cells += ["", ""]
    print("| rounds; acknowledged writes missing on the new primary | %s |" % " | ".join(cells))
    if "halo" in names:
        report_steps(results["halo"])


def report_steps(results):
    """Medians of the halo switchover steps (from the node logs) and of the
    intervals between them."""
    rows = [m["steps"] for m in results if m is not None and "steps" in m]
    if not rows:
        return
    print("\nhalo switchover steps, from the node logs (ms after FAILOVER was sent; log "
          "timestamps are truncated to the ms):\n")
    print("| step | median | p90 | what it is |")
    print("|---|---|---|---|")
    what = {"requested": "the old primary got FAILOVER",
            "handing_over": "target and ISR hold the whole log; HALO.HANDOFF sent",
            "taking_over": "the target got the handoff; takeover multi sent to ZooKeeper",
            "elected": "the multi succeeded; the target is primary",
            "old_stepped_down": "the old primary saw the new config (watch); paused clients "
                                "get READONLY",
            "old_follows": "the old primary follows the target",
            "other_follows": "the third node follows the target"}
    for label, _, _ in STEPS:
        xs = [r[label] for r in rows if label in r]
        if xs:
            print("| %s | %.0f | %.0f | %s |"
                  % (label, statistics.median(xs), p90(xs), what[label]))
    firsts = [m["first_ms"] for m in results if m is not None and "steps" in m]
    print("| first_ack | %.0f | %.0f | first write acknowledged by the target (client clock) |"
          % (statistics.median(firsts), p90(firsts)))
    print("\n| interval | median | p90 | max |")
    print("|---|---|---|---|")
    for label, a, b in INTERVALS:
        xs = [m["steps"][b] - m["steps"][a] if b in m["steps"] else m[b] - m["steps"][a]
              for m in results if m is not None and "steps" in m
              and a in m["steps"] and (b in m["steps"] or b in m)]
        if xs:
            print("| %s | %.0f | %.0f | %.0f |" % (label, statistics.median(xs), p90(xs), max(xs)))


# (label, from step, to step or round measurement) for report_steps.
INTERVALS = [("catch-up: FAILOVER received → handoff sent", "requested", "handing_over"),
             ("handoff delivered: sent → target takes over", "handing_over", "taking_over"),
             ("ZooKeeper takeover multi", "taking_over", "elected"),
             ("new config reaches the old primary (watch + read)", "elected", "old_stepped_down"),
             ("new config reaches the third node", "elected", "other_follows"),
             ("old primary steps down → first write acknowledged by the new primary "
              "(client rediscovery, replicas reconnect, write replicated)",
              "old_stepped_down", "first_ms")]


# ----------------------------------------------------------------- main

def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=10)
    ap.add_argument("--clients", type=int, default=4, help="writer threads")
    ap.add_argument("--halo-bin", default=os.path.join(ROOT, "build-release", "halo"))
    ap.add_argument("--halo-arg", action="append", default=[],
                    help="extra directive for every halo node, repeatable")
    ap.add_argument("--zk-tick-ms", type=int, default=ZK_SCRIPT_TICK_MS,
                    help="the ZooKeeper ensemble's tickTime (scripts/zk-ensemble.sh and "
                         "bench/failover_vs_sentinel.py: 200)")
    ap.add_argument("--redis-server", default=shutil.which("redis-server") or "redis-server")
    ap.add_argument("--skip-halo", action="store_true")
    ap.add_argument("--skip-redis", action="store_true")
    ap.add_argument("--failover-timeout-ms", type=int, default=5000,
                    help="FAILOVER ... TIMEOUT for both systems")
    ap.add_argument("--warmup", type=float, default=1.0,
                    help="seconds of writes before FAILOVER (more than --window)")
    ap.add_argument("--after", type=float, default=0.5,
                    help="seconds of writes after the first acknowledgement by the new primary")
    ap.add_argument("--window", type=float, default=0.5,
                    help="the pause is looked for from FAILOVER to this many seconds after "
                         "the new primary's first acknowledgement; the warm-up's largest gap "
                         "is taken from --warmup to --window s before FAILOVER")
    ap.add_argument("--round-timeout", type=float, default=15.0,
                    help="longest wait for the target to become primary, and then for its "
                         "first acknowledged write (s)")
    ap.add_argument("--heal-timeout", type=float, default=60.0,
                    help="longest wait for the group to converge after a round (s)")
    ap.add_argument("--verbose", action="store_true",
                    help="print each halo round's replication log lines")
    ap.add_argument("--keep", action="store_true", help="keep the temp dir (configs, logs)")
    args = ap.parse_args()
    if args.skip_halo and args.skip_redis:
        ap.error("nothing to measure")
    if not 1 <= args.clients <= 64 or not 1 <= args.rounds <= 1000:
        ap.error("--clients 1..64, --rounds 1..1000")
    if not 0 < args.window < args.warmup:
        ap.error("--window must be positive and shorter than --warmup")
    if not args.skip_halo and not ha.has_replication(args.halo_bin):
        ap.error("%s has no replicated mode (repl-zk): build it (scripts/build.sh) or use "
                 "--skip-halo" % args.halo_bin)
    return args


def main():
    args = parse_args()

    def make_systems(workdir):
        systems = []
        if not args.skip_redis:
            systems.append(RedisGroup(args, workdir))
        if not args.skip_halo:
            systems.append(HaloGroup(args, workdir))
        return systems
    systems, results = fvs.run_alternating(make_systems, run_round, args, "halo-switchover-")
    report(systems, results, args)


if __name__ == "__main__":
    main()
