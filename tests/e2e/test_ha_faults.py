"""Replicated mode under faults, each node in its own network namespace and a
real 3-member ZooKeeper ensemble in the hub (tests/e2e/ha.py's Topology):
a paused primary, a primary or a replica cut off from everyone, a primary cut
off from ZooKeeper only, a rolling restart, and the loss of ZooKeeper's
quorum. Each scenario runs writers (and in some a register workload) through
the fault, then checks that every acknowledged write is on every node, that
one primary acknowledged writes per epoch, that the keyspaces converge, and
(where recorded) that the register's history is linearizable.

Needs root (network namespaces) and halo built with replicated mode; skipped
otherwise. Run with HALO_BIN=/path/to/halo."""
import os
import shutil
import tempfile
import time

import pytest

import ha
from ha import FAST, SESSION_MS, RespError, info, parse_info, primary_only_epoch, wait_until


# ----------------------------------------------------------------- fixtures

@pytest.fixture(scope="module")
def net():
    """(topology, ensemble, tmpdir) shared by the module: namespaces and
    ZooKeeper take seconds to set up; every test gets its own group."""
    ha.require_replication()
    ha.require_netns()
    d = tempfile.mkdtemp(prefix="halo-hafault-")
    topo = ha.Topology(3)
    ens = ha.Ensemble(d, 3, bind=topo.zk_ip, netns=topo.hub)
    try:
        ens.start()
        yield topo, ens, d
    finally:
        try:
            ens.stop()
        finally:
            topo.close()
            shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def fg(net, request):
    """A healthy 3-node group in the namespaces; faults healed and nodes
    stopped afterwards. Node logs are printed at teardown (shown on failure)."""
    topo, ens, d = net
    gdir = os.path.join(d, request.node.name)
    g = ha.Group(gdir, ens.connstr, topology=topo, extra=FAST)
    try:
        g.start()
        g.wait_healthy(30)
        yield g
    finally:
        topo.heal_all()
        print(g.describe())
        g.stop()
        reports = g.sanitizer_reports()
        shutil.rmtree(gdir, ignore_errors=True)
    assert not reports, "sanitizer reports in node logs:\n%s" % reports


# ----------------------------------------------------------------- helpers

def writers(g, duration, n_threads=4, prefix="w"):
    return ha.Writers(g.discoverer(), n_threads=n_threads, duration=duration, prefix=prefix,
                      node_of=g.node_of, epoch_fn=primary_only_epoch, netns=g.netns,
                      op_timeout=2.0, connect_timeout=0.3)


def register(g, duration):
    return ha.RegisterWorkload(g.discoverer(), n_clients=3, duration=duration, netns=g.netns,
                               op_timeout=1.0, connect_timeout=0.3, max_ops=5000)


def wait_failover(g, w, old, t_fault, timeout=15):
    """The new primary (not old), once it has acknowledged a write invoked after t_fault."""
    new = g.wait_primary(timeout=timeout, exclude=(old.id,))
    wait_until(lambda: w.first_ack_after(t_fault, exclude_addr=old.addr), timeout,
               "a write acknowledged by a node other than %s after the fault" % old.id, g)
    first = w.first_ack_after(t_fault, exclude_addr=old.addr)
    print("failover: %s acknowledged a write %.2fs after the fault (epoch %s)"
          % (first.node, first.t_complete - t_fault, first.epoch))
    return new


def wait_follows(g, node, primary, timeout=20):
    """Until node says by ROLE that it is a connected replica of primary."""
    wait_until(lambda: node.id in g.replicas_connected(primary), timeout,
               "%s back as a replica of %s" % (node.id, primary.id), g)


def final_checks(g, *recorders, history=None, min_acked=100):
    """After the fault is healed and the workloads stopped: the group heals
    (one primary, all replicas in sync, digests equal), every acknowledged
    write is on every node, one primary per epoch, the register history
    (if any) is linearizable."""
    writes = []
    for w in recorders:
        print(w.summary())
        writes.extend(w.snapshot())
    p = g.wait_healthy(40)
    res = g.check_acked(writes)
    print("checked: %s; primary now %s" % (res, p.id))
    assert res["acked"] >= min_acked, res
    if history is not None:
        ops = history.snapshot()
        r = ha.assert_linearizable(ops)
        kinds = {}
        for op in ops:
            kinds[(op.kind, op.status)] = kinds.get((op.kind, op.status), 0) + 1
        print("register: %r; ops %s" % (r, kinds))
        assert kinds.get(("read", "ok"), 0) > 10 and kinds.get(("write", "ok"), 0) > 10, kinds
    return res


def stop_all(*workloads):
    """Stops every workload (all of them, even if one raises)."""
    errors = []
    for wl in workloads:
        try:
            wl.stop()
        except AssertionError as e:
            errors.append(e)
    if errors:
        raise errors[0]


# ----------------------------------------------------------------- scenarios

def test_sigstop_primary_beyond_session_timeout(fg):
    g = fg
    old = g.wait_primary()
    w = writers(g, duration=30).start()
    reg = register(g, duration=30).start()
    try:
        w.wait_acked(200)
        t_fault = time.monotonic()
        old.pause()
        new = wait_failover(g, w, old, t_fault)
        # Stay paused well past the session timeout, then wake it up.
        time.sleep(max(0.0, t_fault + 3 * SESSION_MS / 1000 - time.monotonic()))
        old.cont()
        wait_follows(g, old, new)
        n = len(w.acked)
        wait_until(lambda: len(w.acked) > n + 100, 10, "writes continue after the rejoin", g)
    finally:
        stop_all(w, reg)
    assert g.primary() is new
    final_checks(g, w, history=reg.history)


def test_primary_cut_off(fg):
    g = fg
    topo = g.topo
    old = g.wait_primary()
    w = writers(g, duration=30).start()
    try:
        w.wait_acked(200)
        t_fault = time.monotonic()
        topo.cut(old.index)
        new = wait_failover(g, w, old, t_fault)
        time.sleep(1.0)
        topo.heal(old.index)
        wait_follows(g, old, new)
        n = len(w.acked)
        wait_until(lambda: len(w.acked) > n + 100, 10, "writes continue after the heal", g)
    finally:
        stop_all(w)
    final_checks(g, w)


def test_replica_cut_off(fg):
    g = fg
    topo = g.topo
    p = g.wait_primary()
    victim = [nd for nd in g.nodes if nd is not p][0]
    w = writers(g, duration=30).start()
    try:
        w.wait_acked(200)
        t_fault = time.monotonic()
        topo.cut(victim.index)
        wait_until(lambda: info(p).get("halo_isr_size") == "2", 10,
                   "the primary drops the cut replica from the in-sync set", g)
        t_shrunk = time.monotonic()
        n = len(w.acked)
        wait_until(lambda: len(w.acked) > n + 200, 10, "writes continue after the ISR shrink", g)
        print("ISR shrunk %.2fs after the cut" % (t_shrunk - t_fault))
        topo.heal(victim.index)
        wait_until(lambda: info(p).get("halo_isr_size") == "3", 20,
                   "the healed replica back in the in-sync set", g)
        n = len(w.acked)
        wait_until(lambda: len(w.acked) > n + 100, 10, "writes continue with 3 in sync", g)
    finally:
        stop_all(w)
    assert g.primary() is p
    final_checks(g, w)


def test_primary_cut_from_zookeeper_only(fg):
    """The primary still reaches its replicas and clients, not ZooKeeper: it
    must stop acknowledging writes (its session expires, so another node may
    be elected), and the new primary takes over."""
    g = fg
    topo = g.topo
    old = g.wait_primary()
    w = writers(g, duration=30).start()
    # A writer that only ever talks to the old primary: what it gets
    # acknowledged after the cut must be kept too, and acknowledgements must
    # stop within about a session timeout.
    pinned = ha.Writers(lambda: old.addr, n_threads=1, duration=30, prefix="pin",
                        node_of=g.node_of, epoch_fn=ha.info_epoch, netns=g.netns,
                        op_timeout=2.0, connect_timeout=0.3, error_pause=0.05)
    pinned.start()
    reg = register(g, duration=30).start()
    try:
        w.wait_acked(200)
        pinned.wait_acked(20)
        t_fault = time.monotonic()
        topo.cut_zk(old.index)
        new = wait_failover(g, w, old, t_fault)
        time.sleep(1.5)
        # Writes the old primary acknowledged after the cut are checked with
        # the rest below; past about a session timeout it must acknowledge none.
        bound = 2 * SESSION_MS / 1000
        late = [x for x in pinned.acked if x.t_invoke > t_fault + bound]
        assert not late, "the old primary acknowledged %d writes sent >%.1fs after the cut " \
            "from ZooKeeper, e.g. %s" % (len(late), bound, late[:3])
        print("pinned writer on the old primary: %s; acknowledged after the cut: %d"
              % (pinned.summary(), sum(1 for x in pinned.acked if x.t_invoke > t_fault)))
        topo.heal_zk(old.index)
        wait_follows(g, old, new)
        n = len(w.acked)
        wait_until(lambda: len(w.acked) > n + 100, 10, "writes continue after the heal", g)
    finally:
        stop_all(w, pinned, reg)
    final_checks(g, w, pinned, history=reg.history)


def test_rolling_restart(fg):
    g = fg
    p0 = g.wait_primary()
    # Replicas first, the primary last: the usual order of an upgrade.
    order = [nd for nd in g.nodes if nd is not p0] + [p0]
    w = writers(g, duration=60).start()
    try:
        w.wait_acked(200)
        for nd in order:
            t0 = time.monotonic()
            nd.restart()
            g.wait_healthy(30, converge=False)
            n = len(w.acked)
            wait_until(lambda: len(w.acked) > n + 100, 10,
                       "writes continue after restarting %s" % nd.id, g)
            print("restarted %s: healthy and writing again after %.2fs"
                  % (nd.id, time.monotonic() - t0))
    finally:
        stop_all(w)
    final_checks(g, w)


def zk_kill_members(ens, members):
    """SIGKILLs ZooKeeper members at the same instant; returns the time."""
    pids = [row["pid"] for row in ens.status() if row["member"] in members]
    assert None not in pids and len(pids) == len(members), ens.status()
    t = time.monotonic()
    for pid in pids:
        os.kill(pid, 9)
    return t


def zk_restore(ens, members):
    """Restarts the members (a running one is left alone); each serves on return."""
    for i in members:
        try:
            ens.restart(i)
        except RuntimeError:
            ens.restart(i)  # once more: a JVM may fail to bind right after a kill


def test_zookeeper_quorum_loss(fg, net):
    """With 2 of 3 ZooKeeper members gone the primary serves while its
    session lasts, then refuses writes; nobody fails over. Once the quorum
    is back the group serves writes again."""
    g = fg
    _, ens, _ = net
    p = g.wait_primary()
    epoch0 = int(info(p)["halo_epoch"])
    w = writers(g, duration=40).start()
    restored = False
    try:
        w.wait_acked(200)
        t_loss = zk_kill_members(ens, (1, 2))
        seen = set()
        timeline, last = [], {}
        while time.monotonic() < t_loss + 5:
            for nd in g.nodes:
                f = info(nd, timeout=0.3)
                if f:
                    seen.add((nd.id, f.get("halo_role"), f.get("halo_epoch")))
                state = tuple(f.get(k) for k in ("halo_role", "halo_epoch", "halo_writes",
                                                  "halo_zk_session", "halo_lease_ok"))
                if last.get(nd.id) != state:
                    last[nd.id] = state
                    timeline.append("+%.2fs %s %s" % (time.monotonic() - t_loss, nd.id, state))
            time.sleep(0.1)
        print("during the outage: node states %s" % sorted(seen))
        print("timeline (role, epoch, writes, zk session, lease):\n  " + "\n  ".join(timeline))
        served = [x for x in w.snapshot() if x.status == "ok" and x.t_invoke >= t_loss]
        print("acknowledged after the quorum loss: %d, the last %.2fs after it"
              % (len(served), max([x.t_complete - t_loss for x in served] or [0])))
        others = [s for s in seen if s[0] != p.id and s[1] == "primary"]
        assert not others, "a node became primary without a ZooKeeper quorum: %s" % others
        assert {int(s[2]) for s in seen if s[2]} == {epoch0}, sorted(seen)
        bound = 2 * SESSION_MS / 1000
        late = [x for x in served if x.t_invoke > t_loss + bound]
        assert not late, "%d writes sent >%.1fs after the quorum loss acknowledged, e.g. %s" % (
            len(late), bound, late[:3])
        assert all(x.node == p.id for x in served), {x.node for x in served}
        zk_restore(ens, (1, 2))
        restored = True
        t_back = time.monotonic()
        wait_until(lambda: w.first_ack_after(t_back), 30,
                   "writes acknowledged again after the quorum is back", g)
        first = w.first_ack_after(t_back)
        print("quorum back: first ack on %s (epoch %s) %.2fs later"
              % (first.node, first.epoch, first.t_complete - t_back))
        n = len(w.acked)
        wait_until(lambda: len(w.acked) > n + 100, 10, "writes continue", g)
    finally:
        try:
            stop_all(w)
        finally:
            if not restored:
                zk_restore(ens, (1, 2))
    final_checks(g, w)


def test_fenced_primary_keeps_answering(fg, net):
    """A primary that lost ZooKeeper refuses writes with -READONLY (it does
    not leave clients to time out) and keeps answering PING and INFO."""
    g = fg
    _, ens, _ = net
    p = g.wait_primary()
    w = writers(g, duration=20).start()
    try:
        w.wait_acked(200)
        t_loss = zk_kill_members(ens, (1, 2))
        time.sleep(max(0.0, t_loss + 2.5 * SESSION_MS / 1000 - time.monotonic()))
        replies = {}
        for args in (("PING",), ("INFO", "replication"), ("SET", "probe", "1")):
            try:
                c = p.resp(timeout=1.0)
                try:
                    replies[args[0]] = c.call(*args)
                finally:
                    c.close()
            except RespError as e:
                replies[args[0]] = "-" + str(e)
            except (OSError, ConnectionError) as e:
                replies[args[0]] = "%s: %s" % (type(e).__name__, e)
        print("the fenced primary's replies: %r" % replies)
        assert replies["PING"] == "PONG", replies
        assert parse_info(replies["INFO"]).get("halo_writes") == "fenced", replies
        assert str(replies["SET"]).startswith("-READONLY"), replies
    finally:
        try:
            stop_all(w)
        finally:
            zk_restore(ens, (1, 2))
