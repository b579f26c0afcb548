"""Planned switchover end to end on loopback (a real 3-member ZooKeeper, a
3-node group): Redis's FAILOVER command and Sentinel's SENTINEL FAILOVER hand
the primary role to an in-sync replica under write load without losing an
acknowledged write; the reads and writes that arrive meanwhile wait instead of
failing; a switchover to a target that cannot catch up is abandoned and the
old primary serves again. The pause each switchover caused is printed (a
timing goal belongs in bench/switchover_pause.py, not here)."""
import socket
import time

import pytest
import redis
import redis.sentinel

import ha
from ha import RespError, group, info, primary_only_epoch, wait_until, zk  # noqa: F401 (fixtures)
from helpers import encode

def writers(group, duration):
    return ha.Writers(group.discoverer(), n_threads=4, duration=duration, prefix="sw",
                      node_of=group.node_of, epoch_fn=primary_only_epoch,
                      op_timeout=3.0, connect_timeout=0.5)


def wait_primary_is(group, node, timeout=10):
    wait_until(lambda: group.primary() is node and info(node)["halo_writes"] == "ok", timeout,
               "%s primary and accepting writes" % node.id, group)


def write_gap(writes, t0, old_addr, new_addr):
    """Seconds between the last write acknowledged by the old primary and the
    first one invoked after t0 and acknowledged by the new: the writers' pause."""
    acked = [w for w in writes if w.status == "ok"]
    after = [w.t_complete for w in acked if w.addr == new_addr and w.t_invoke >= t0]
    if not after:
        return None
    before = [w.t_complete for w in acked if w.addr == old_addr and w.t_complete <= min(after)]
    return min(after) - max(before) if before else None


# ----------------------------------------------------------------- errors

def test_failover_command_errors(group):
    p = group.wait_primary()
    r = [nd for nd in group.nodes if nd is not p][0]
    with pytest.raises(RespError, match="not valid when server is a replica: the primary is %s:%d"
                       % (p.host, p.port)):
        r.call("FAILOVER")
    for args, needle in [(("FORCE",), "FORCE is not supported"),
                         (("TO", "192.0.2.9", "1"), "is not a replica"),
                         (("TO", p.host, str(p.port)), "is not a replica"),
                         (("TIMEOUT", "-5"), "positive number"),
                         (("TIMEOUT",), "syntax error"),
                         (("ABORT", "TIMEOUT", "5"), "ABORT takes no other"),
                         (("ABORT",), "No failover in progress"),
                         (("BOGUS",), "syntax error")]:
        with pytest.raises(RespError, match=needle):
            p.call("FAILOVER", *args)
    assert info(p)["master_failover_state"] == "no-failover"
    assert group.primary() is p
    with pytest.raises(RespError, match="No such master"):
        p.call("SENTINEL", "FAILOVER", "nope")
    # SENTINEL FAILOVER sent to the primary itself: it picks a replica
    assert p.call("SENTINEL", "FAILOVER", "g1") == "OK"
    wait_until(lambda: group.primary(exclude=(p.id,)) is not None, 10, "a new primary", group)


# ----------------------------------------------------------------- under load

def test_switchover_under_load_loses_nothing(group):
    """Three switchovers (to each replica named by TO, then one the primary
    picks) while writers and a register workload run: every acknowledged
    write survives on every member, one primary per epoch, the register
    history is linearizable, and the group ends healthy and identical."""
    p0 = group.wait_primary()
    epoch0 = int(info(p0)["halo_epoch"])
    w = writers(group, duration=40).start()
    reg = ha.RegisterWorkload(group.discoverer(), n_clients=2, duration=40, op_timeout=1.0,
                              connect_timeout=0.3, max_ops=5000).start()
    gaps = []
    try:
        w.wait_acked(200, timeout=10)
        for round_ in range(3):
            old = group.wait_primary()
            others = [nd for nd in group.nodes if nd is not old]
            target = others[round_ % 2]
            args = ("TO", target.host, str(target.port)) if round_ < 2 else ()
            t0 = time.monotonic()
            assert old.call("FAILOVER", *args, "TIMEOUT", "2000") == "OK"
            if round_ == 2:
                wait_until(lambda: group.primary(exclude=(old.id,)) is not None, 10,
                           "a new primary", group)
                target = group.primary()
            wait_primary_is(group, target)
            wait_until(lambda: w.first_ack_after(t0, exclude_addr=old.addr), 10,
                       "a write acknowledged by " + target.id, group)
            gaps.append(write_gap(w.snapshot(), t0, old.addr, target.addr))
            assert old.role()[0] == "slave"
            group.wait_healthy(30, converge=False)  # digests differ while writes go on
            print("switchover %d: %s -> %s, healthy again %.2fs after FAILOVER"
                  % (round_, old.id, target.id, time.monotonic() - t0))
            w.wait_acked(len(w.acked) + 100, timeout=10)
    finally:
        try:
            w.stop()
        finally:
            history = reg.stop()
    print(w.summary())
    print("write pauses around the 3 switchovers: %s ms"
          % [None if g is None else round(g * 1000, 1) for g in gaps])
    print("register:", ha.assert_linearizable(history.snapshot()))
    res = group.check_acked(w.snapshot())
    print("checked:", res)
    assert res["acked"] > 300
    assert int(info(group.primary())["halo_epoch"]) >= epoch0 + 3
    assert all(g is not None for g in gaps)


def test_sentinel_failover_sent_to_a_replica(group):
    """SENTINEL FAILOVER to any member (here a replica, which passes it on)
    moves the role; redis-py's Sentinel client keeps writing through it."""
    old = group.wait_primary()
    sentinel = redis.sentinel.Sentinel([nd.addr for nd in group.nodes], socket_timeout=0.5,
                                       socket_connect_timeout=0.5)
    master = sentinel.master_for("g1", socket_timeout=2, socket_connect_timeout=0.5)
    for i in range(100):
        assert master.set("sf:%d" % i, "v%d" % i)
    replica = [nd for nd in group.nodes if nd is not old][0]
    assert replica.call("SENTINEL", "FAILOVER", "g1") == "OK"
    with pytest.raises(RespError, match="No such master"):
        replica.call("SENTINEL", "FAILOVER", "nope")
    wait_until(lambda: group.primary(exclude=(old.id,)) is not None, 10, "a new primary", group)
    errors = {}
    acked = list(range(100))
    for i in range(100, 300):
        if ha.sentinel_write(master, "sf:%d" % i, "v%d" % i, time.monotonic() + 10, errors):
            acked.append(i)
    assert len(acked) == 300, "errors %s" % errors
    new = group.wait_primary(exclude=(old.id,))
    assert sentinel.discover_master("g1") == new.addr
    print("Sentinel client through SENTINEL FAILOVER: errors %s" % errors)
    group.wait_healthy(30)
    ha.assert_keys_on(group.nodes, "sf", acked)


def test_switchover_to_a_stopped_target_is_abandoned(group):
    """The target cannot catch up (SIGSTOP): FAILOVER ABORT ends the
    switchover at once, and one left alone is cancelled at its timeout; the
    old primary serves again (once the stopped member has been removed from
    the in-sync set); nothing acknowledged is lost."""
    p = group.wait_primary()
    target = [nd for nd in group.nodes if nd is not p][0]
    # long enough that the stopped target stays in the in-sync set meanwhile
    assert p.call("CONFIG", "SET", "repl-timeout", "2000") == "OK"
    w = writers(group, duration=15).start()
    try:
        w.wait_acked(100, timeout=10)
        target.pause()
        time.sleep(0.05)
        to = ("TO", target.host, str(target.port))
        assert p.call("FAILOVER", *to, "TIMEOUT", "10000") == "OK"
        assert info(p)["master_failover_state"] == "waiting-for-sync"
        assert p.call("FAILOVER", "ABORT") == "OK"
        assert info(p)["master_failover_state"] == "no-failover"
        assert "cancelled: aborted by the operator" in p.read_log()
        t0 = time.monotonic()
        assert p.call("FAILOVER", *to, "TIMEOUT", "300") == "OK"
        wait_until(lambda: info(p)["master_failover_state"] == "no-failover", 10,
                   "the switchover abandoned", group)
        assert "cancelled: the target did not catch up in time" in p.read_log()
        wait_until(lambda: w.first_ack_after(t0 + 0.3), 10, "writes acknowledged again", group)
        assert group.primary() is p
    finally:
        target.cont()
        w.stop()
    print(w.summary())
    group.wait_healthy(30)
    res = group.check_acked(w.snapshot())
    assert res["acked"] > 100


def test_failover_pipelined_behind_a_write(group):
    """SET and FAILOVER in one packet: the handoff waits for the SET (it ran
    earlier in the same batch), both get +OK, the key is on the new primary,
    and nobody needs a full resync."""
    for i in range(2):
        p = group.wait_healthy(30)
        target = [nd for nd in group.nodes if nd is not p][0]
        s = socket.create_connection(p.addr, timeout=10)
        try:
            s.sendall(encode("SET", "pipelined%d" % i, "v")
                      + encode("FAILOVER", "TO", target.host, target.port, "TIMEOUT", 5000))
            got = b""
            while got.count(b"\r\n") < 2:
                chunk = s.recv(4096)
                assert chunk, "connection closed after %r" % got
                got += chunk
        finally:
            s.close()
        assert got == b"+OK\r\n+OK\r\n", got
        wait_primary_is(group, target)
        assert target.call("GET", "pipelined%d" % i) in ("v", b"v")
    group.wait_healthy(30)
    resyncs = [nd.id for nd in group.nodes if "full resync" in nd.read_log()]
    assert not resyncs, "full resyncs on %s%s" % (resyncs, group.describe())
