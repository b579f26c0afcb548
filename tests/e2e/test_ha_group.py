"""Replicated mode end to end on loopback: a 3-node group with a real 3-member
ZooKeeper ensemble forms and replicates, answers ROLE / INFO replication /
SENTINEL like Redis, refuses writes on replicas, fails over after kill -9
(also under redis-py's Sentinel client), rejoins restarted members, and
refuses writes with -NOREPLICAS below min-sync-replicas."""
import contextlib
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import urllib.request

import pytest
import redis
import redis.sentinel

import ha
from ha import (FAST, REPL_TIMEOUT_MS, RespError, group, info, parse_info,  # noqa: F401
                primary_only_epoch, text, wait_until, zk)  # (group, zk: pytest fixtures)
from helpers import encode

# ----------------------------------------------------------------- helpers

def pairs(flat):
    """A flat [k, v, k, v, ...] reply as {str: str}."""
    return {text(flat[i]): text(flat[i + 1]) for i in range(0, len(flat) - 1, 2)}


def wait_isr_size(group, node, n, timeout=30):
    return wait_until(lambda: group.isr_size(node) == n, timeout,
                      "%s reports halo_isr_size %d" % (node.id, n), group)


def writers(group, duration, n_threads=4, prefix="w"):
    return ha.Writers(group.discoverer(), n_threads=n_threads, duration=duration, prefix=prefix,
                      node_of=group.node_of, epoch_fn=primary_only_epoch,
                      op_timeout=3.0, connect_timeout=0.5)


def failing_tail(group):
    return "\n" + group.describe()


# ----------------------------------------------------------------- 1. the group forms

def test_group_forms_roles_and_info(group):
    p = group.wait_primary()
    replicas = [nd for nd in group.nodes if nd is not p]
    # ROLE lists the replicas' announced addresses once the primary has
    # resolved them from ZooKeeper (briefly "?" right after the election).
    want = sorted((nd.host, nd.port) for nd in replicas)

    def role_lists_replicas():
        r = p.role()
        return r if r and sorted((text(x[0]), int(x[1])) for x in r[2]) == want else None
    role = wait_until(role_lists_replicas, 10, "primary's ROLE lists both replicas", group)
    assert role[0] == "master" and isinstance(role[1], int)
    assert [nd.id for nd in group.nodes if (nd.role() or [""])[0] == "master"] == [p.id]
    for nd in replicas:
        r = nd.role()
        assert r[0] == "slave" and (text(r[1]), int(r[2])) == p.addr, r
        assert text(r[3]) == "connected" and isinstance(r[4], int), r

    pi = info(p)
    assert pi["role"] == "master" and pi["halo_role"] == "primary", pi
    assert pi["connected_slaves"] == "2" and pi["halo_writes"] == "ok", pi
    assert pi["halo_node_id"] == p.id and pi["halo_group"] == "g1", pi
    epoch = int(pi["halo_epoch"])
    assert epoch >= 1
    for nd in replicas:
        ri = info(nd)
        assert ri["role"] == "slave" and ri["halo_role"] == "replica", ri
        assert (ri["master_host"], int(ri["master_port"])) == p.addr, ri
        assert ri["master_link_status"] == "up" and ri["halo_writes"] == "not-primary", ri
    for nd in group.nodes:
        fi = info(nd)
        assert int(fi["halo_epoch"]) == epoch, (nd.id, fi)
        assert fi["halo_isr_size"] == "3", (nd.id, fi)
        assert sorted(fi["halo_isr"].split(",")) == ["n1", "n2", "n3"], (nd.id, fi)


def test_writes_replicated_and_replica_refusals(group):
    p = group.wait_primary()
    r = p.client()
    pipe = r.pipeline(transaction=False)
    for i in range(500):
        pipe.set("k:%d" % i, "v%d" % i)
    pipe.hset("h", mapping={"a": 1, "b": 2})
    pipe.rpush("l", *range(20))
    pipe.zadd("z", {"x": 1.5, "y": 2})
    pipe.incrby("ctr", 7)
    pipe.sadd("s", "a", "b", "c")
    pipe.expire("k:0", 1000)
    pipe.delete("k:1")
    assert all(pipe.execute())
    r.close()
    # Synchronous: a reply was sent only once every ISR member held the write.
    digests = group.digests()
    assert len(set(digests.values())) == 1 and None not in digests.values(), digests
    pi = info(p)
    assert int(pi["halo_commit_offset"]) == int(pi["master_repl_offset"]) > 0, pi

    for nd in group.nodes:
        if nd is p:
            continue
        c = nd.resp()
        try:
            with pytest.raises(RespError) as e:
                c.call("SET", "k:2", "x")
            assert str(e.value) == "READONLY You can't write against a read only replica."
            with pytest.raises(RespError) as e:
                c.call("GET", "k:2")
            assert str(e.value).startswith("READONLY"), str(e.value)
            assert c.call("READONLY") == "OK"
            assert c.call("GET", "k:2") == b"v2"
            assert c.call("GET", "k:1") is None
            assert c.call("HGET", "h", "b") == b"2"
            assert c.call("LLEN", "l") == 20
            assert c.call("GET", "ctr") == b"7"
            assert c.call("TTL", "k:0") > 900
            with pytest.raises(RespError) as e:  # READONLY opens reads, not writes
                c.call("DEL", "k:2")
            assert str(e.value).startswith("READONLY"), str(e.value)
        finally:
            c.close()
        ri = info(nd)
        assert int(ri["slave_repl_offset"]) == int(pi["master_repl_offset"]), ri


def test_sentinel_commands(group):
    p = group.wait_primary()
    for nd in group.nodes:
        assert nd.call("SENTINEL", "get-master-addr-by-name", "g1") == [
            p.host.encode(), str(p.port).encode()], nd.id
        assert nd.call("SENTINEL", "get-master-addr-by-name", "nosuchgroup") is None
        assert text(nd.call("SENTINEL", "myid")) == nd.id

        masters = nd.call("SENTINEL", "masters")
        assert isinstance(masters, list) and len(masters) == 1, masters
        m = pairs(masters[0])
        assert m["name"] == "g1" and (m["ip"], int(m["port"])) == p.addr, m
        assert m["flags"] == "master" and m["num-slaves"] == "2", m
        assert int(m["config-epoch"]) == int(info(p)["halo_epoch"]), m
        assert pairs(nd.call("SENTINEL", "master", "g1")) == m

        # The other members, once this node has read their addresses (polled
        # from ZooKeeper once a second).
        others = sorted(x.addr for x in group.nodes if x is not nd)

        def sentinels_listed(nd=nd, others=others):
            ss = [pairs(s) for s in nd.call("SENTINEL", "sentinels", "g1")]
            return ss if sorted((s["ip"], int(s["port"])) for s in ss) == others else None
        sentinels = wait_until(sentinels_listed, 5,
                               "SENTINEL sentinels g1 on %s lists the other members" % nd.id,
                               group)
        for s in sentinels:
            assert s["flags"] == "sentinel" and s["name"] == s["runid"], s

    def replicas_ok():
        reps = [pairs(x) for x in p.call("SENTINEL", "replicas", "g1")]
        got = sorted((r["ip"], int(r["port"]), r["flags"]) for r in reps)
        want = sorted((nd.host, nd.port, "slave") for nd in group.nodes if nd is not p)
        return reps if got == want else None
    reps = wait_until(replicas_ok, 10, "SENTINEL replicas g1 lists both replicas as 'slave'",
                      group)
    for rep in reps:
        assert (rep["master-host"], int(rep["master-port"])) == p.addr, rep
        assert rep["master-link-status"] == "ok", rep
    assert len(p.call("SENTINEL", "slaves", "g1")) == 2
    with pytest.raises(RespError):
        p.call("SENTINEL", "replicas", "nosuchgroup")


def run_halo(args, timeout=20):
    d = tempfile.mkdtemp(prefix="halo-hacfg-")
    try:
        return subprocess.run([ha.HALO_BIN, "kv", "--port", str(ha.free_port()),
                               "--bind", "127.0.0.1", "--dir", d] + args,
                              capture_output=True, timeout=timeout)
    finally:
        shutil.rmtree(d, ignore_errors=True)


@pytest.mark.parametrize("args, needle", [
    (["--repl-zk", "127.0.0.1:9", "--repl-node-id", "n1", "--repl-members", "n1,n2,n3"],
     "requires appendonly yes"),
    (["--appendonly", "yes", "--repl-zk", "127.0.0.1:9", "--repl-node-id", "n4",
      "--repl-members", "n1,n2,n3"], "repl-node-id n4 is not one of repl-members n1,n2,n3"),
    (["--appendonly", "yes", "--repl-zk", "127.0.0.1:9", "--repl-members", "n1,n2,n3"],
     "repl-node-id must be set"),
])
def test_config_errors(args, needle):
    ha.require_replication()
    r = run_halo(args)
    out = (r.stdout + r.stderr).decode(errors="replace")
    assert r.returncode != 0, out
    assert needle in out, out


def scrape(port):
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=5) as r:
        return r.read().decode()


def metric(text_, line_start):
    for line in text_.splitlines():
        if line.startswith(line_start + " "):
            return float(line.split()[-1])
    raise AssertionError("no metric %r in:\n%s" % (line_start, text_))


def test_replication_metrics(zk):
    """The Prometheus endpoint reports role, epoch, in-sync set size, log
    offsets and each replica's lag, on the primary and on a replica."""
    mports = {}

    def add_metrics_ports(g):
        for nd in g.nodes:
            mports[nd.id] = ha.free_port()
            nd.args += ["--metrics-port", str(mports[nd.id])]
    with ha.healthy_group(zk.connstr, FAST, prefix="halo-hagm-", setup=add_metrics_ports) as g:
        p = g.wait_primary()
        assert p.client().set("m", "1")
        wait_until(lambda: info(p)["halo_commit_offset"] == info(p)["master_repl_offset"], 10,
                   "the write is committed", g)
        pm = scrape(mports[p.id])
        assert metric(pm, 'halo_repl_role{role="primary"}') == 1
        assert metric(pm, 'halo_repl_role{role="replica"}') == 0
        assert metric(pm, "halo_repl_epoch") == int(info(p)["halo_epoch"])
        assert metric(pm, "halo_repl_isr_size") == 3
        end = metric(pm, "halo_repl_offset_bytes")
        assert end > 0 and metric(pm, "halo_repl_commit_offset_bytes") == end
        for nd in g.nodes:
            if nd is not p:
                assert metric(pm, 'halo_repl_replica_lag_bytes{replica="%s"}' % nd.id) == 0
        r = next(nd for nd in g.nodes if nd is not p)
        rm = scrape(mports[r.id])
        assert metric(rm, 'halo_repl_role{role="replica"}') == 1
        assert metric(rm, "halo_repl_offset_bytes") == end


# ----------------------------------------------------------------- 2. redis-py Sentinel

def test_redis_py_sentinel_client_follows_failover(group):
    old = group.wait_primary()
    sentinel = redis.sentinel.Sentinel([nd.addr for nd in group.nodes], socket_timeout=0.5,
                                       socket_connect_timeout=0.5)
    assert sentinel.discover_master("g1") == old.addr
    master = sentinel.master_for("g1", socket_timeout=2, socket_connect_timeout=0.5)
    acked, errors = [], {}
    for i in range(200):
        assert ha.sentinel_write(master, "sk:%d" % i, "v%d" % i, time.monotonic() + 5, errors)
        acked.append(i)
    t_kill = time.monotonic()
    old.kill9()
    deadline = t_kill + 20
    i, t_first = 200, None
    while i < 600 and time.monotonic() < deadline:
        if ha.sentinel_write(master, "sk:%d" % i, "v%d" % i, deadline, errors):
            acked.append(i)
            if t_first is None:
                t_first = time.monotonic()
        i += 1
    assert len(acked) == 600, "only %d of 600 writes acknowledged; errors %s%s" % (
        len(acked), errors, failing_tail(group))
    new = group.wait_primary(exclude=(old.id,))
    assert sentinel.discover_master("g1") == new.addr
    print("Sentinel client: first write on the new primary %.2fs after kill -9; errors %s"
          % ((t_first or time.monotonic()) - t_kill, errors))
    ha.assert_keys_on(group.live(), "sk", acked)


def test_group_of_five_replicates_and_fails_over(zk):
    """The group size is the member list: 5 members (4 replicas) form one
    in-sync set, every write reaches all of them, and after kill -9 of the
    primary one of the four takes over with every acknowledged write."""
    with ha.healthy_group(zk.connstr, FAST, prefix="halo-hag5-", n=5) as g:
        old = g.wait_primary()
        assert g.isr_size(old) == 5
        w = writers(g, duration=6).start()
        try:
            w.wait_acked(200, timeout=10)
            t_kill = time.monotonic()
            old.kill9()
            new = g.wait_primary(timeout=15, exclude=(old.id,))
            wait_until(lambda: w.first_ack_after(t_kill, exclude_addr=old.addr), 15,
                       "a write acknowledged by the new primary " + new.id, g)
        finally:
            w.stop()
        print(w.summary())
        res = g.check_acked(w.snapshot())
        assert res["acked"] > 200
        assert len(g.live()) == 4


# ----------------------------------------------------------------- 3. kill -9 under load

def test_kill_primary_under_load_and_rejoin(group):
    old = group.wait_primary()
    epoch0 = int(info(old)["halo_epoch"])
    w = writers(group, duration=10).start()
    reg = ha.RegisterWorkload(group.discoverer(), n_clients=3, duration=10, op_timeout=1.0,
                              connect_timeout=0.3, max_ops=5000).start()
    try:
        w.wait_acked(300, timeout=10)
        t_kill = time.monotonic()
        old.kill9()
        new = group.wait_primary(timeout=15, exclude=(old.id,))
        wait_until(lambda: w.first_ack_after(t_kill, exclude_addr=old.addr), 15,
                   "a write acknowledged by the new primary " + new.id, group)
        first = w.first_ack_after(t_kill, exclude_addr=old.addr)
        print("failover: first ack on %s %.2fs after kill -9" % (first.node,
                                                                  first.t_complete - t_kill))
        time.sleep(1.0)
    finally:
        try:
            w.stop()
        finally:
            history = reg.stop()
    print(w.summary())
    print("register:", ha.assert_linearizable(history.snapshot()))
    assert int(info(new)["halo_epoch"]) > epoch0
    res = group.check_acked(w.snapshot())
    assert res["acked"] > 300
    old.start()
    p = group.wait_healthy(30)
    assert p is new, "primary changed after the old one rejoined: %s" % p.id
    res = group.check_acked(w.snapshot())
    print("after rejoin:", res)
    assert old.role()[0] == "slave"


def test_kill_replica_under_load_and_catch_up(group):
    p = group.wait_primary()
    victim = [nd for nd in group.nodes if nd is not p][0]
    w = writers(group, duration=9).start()
    try:
        w.wait_acked(300, timeout=10)
        victim.kill9()
        t_kill = time.monotonic()
        wait_isr_size(group, p, 2, timeout=10)
        n0 = len(w.acked)
        wait_until(lambda: len(w.acked) > n0 + 200, 10, "writes continue after the ISR shrink",
                   group)
        victim.start()
        wait_isr_size(group, p, 3, timeout=20)
        n1 = len(w.acked)
        wait_until(lambda: len(w.acked) > n1 + 100, 10, "writes continue with the ISR back to 3",
                   group)
    finally:
        w.stop()
    print(w.summary(), "kill at +%.2fs" % (t_kill - w.t_start))
    assert group.primary() is p, "the primary changed"
    res = group.check_acked(w.snapshot())
    print(res)
    assert sorted(info(p)["halo_isr"].split(",")) == ["n1", "n2", "n3"]


# ----------------------------------------------------------------- 4. min-sync-replicas

def set_once(node, key, value, timeout=1.0):
    """'OK', the error text, or 'timeout' / 'conn' for one SET on a fresh connection."""
    return call_once(node, "SET", key, value, timeout=timeout)


def call_once(node, *args, timeout=1.0):
    """The reply, the error text, or 'timeout' / 'conn', on a fresh connection."""
    try:
        c = node.resp(timeout=timeout)
    except OSError:
        return "conn"
    try:
        return c.call(*args)
    except RespError as e:
        return str(e)
    except (OSError, ConnectionError) as e:
        return "timeout" if "timed out" in str(e) else "conn"
    finally:
        c.close()


def test_noreplicas_when_both_replicas_die(group):
    p = group.wait_primary()
    r1, r2 = [nd for nd in group.nodes if nd is not p]
    assert set_once(p, "before", "1") == "OK"
    r1.kill9()
    r2.kill9()
    # Nothing is written meanwhile: the dead members are not behind, only
    # silent. Past repl-timeout the very first write is refused at once
    # (not taken and held until a replica returns).
    time.sleep(REPL_TIMEOUT_MS / 1000 + 0.3)
    first = set_once(p, "during", "x", timeout=1.0)
    assert first == "NOREPLICAS Not enough good replicas to write.", first
    # Still refused a moment later (not a transient); the primary keeps
    # answering everything else.
    assert set_once(p, "during2", "x").startswith("NOREPLICAS")
    assert call_once(p, "PING") == "PONG"
    assert parse_info(call_once(p, "INFO", "replication"))["halo_writes"] == "noreplicas"
    assert call_once(p, "SENTINEL", "get-master-addr-by-name", "g1") == [
        p.host.encode(), str(p.port).encode()]
    r1.start()
    wait_until(lambda: set_once(p, "after", "1", timeout=2.0) == "OK", 30,
               "the primary accepts writes again after a replica restarted", group)


def test_held_write_released_when_a_replica_returns(group):
    """Both replicas die with writes in flight: those writes are not
    acknowledged while no replica holds them, and once one replica is back
    and caught up they are, and writes are accepted again."""
    p = group.wait_primary()
    r1, r2 = [nd for nd in group.nodes if nd is not p]
    # Long enough that the dead replicas do not count as silent before the
    # write below arrives (then it would be refused: the test above).
    assert call_once(p, "CONFIG", "SET", "repl-timeout", "3000") == "OK"
    assert set_once(p, "before", "1") == "OK"
    r1.kill9()
    r2.kill9()
    t_kill = time.monotonic()
    conn = p.resp(timeout=30)
    held = {}

    def write():
        try:
            held["reply"] = conn.call("SET", "held", "1")
        except (OSError, ConnectionError, RespError) as e:
            held["reply"] = e
        held["t"] = time.monotonic()
    th = threading.Thread(target=write, daemon=True)
    th.start()
    th.join(2.0)
    assert th.is_alive(), "a write was acknowledged with no replica alive: %r" % held
    r1.start()
    th.join(30)
    conn.close()
    assert held.get("reply") == "OK", "held write: %r%s" % (held, failing_tail(group))
    print("held write acknowledged %.2fs after the kill" % (held["t"] - t_kill))
    wait_until(lambda: set_once(p, "after", "1", timeout=2.0) == "OK", 20,
               "the primary accepts writes again after a replica restarted", group)
    assert group.primary() is p
    assert parse_info(call_once(p, "INFO", "replication"))["halo_writes"] == "ok"
    c = r1.resp()
    try:
        c.call("READONLY")
        assert c.call("MGET", "before", "held", "after") == [b"1", b"1", b"1"]
    finally:
        c.close()
    r2.start()
    wait_isr_size(group, p, 3, timeout=20)


def test_held_write_closed_when_its_primary_is_deposed(group):
    """A write held on a primary that then loses its role (paused beyond its
    session, a new primary elected) is never answered OK: its connection is
    closed as soon as the old primary runs again, not left hanging."""
    p = group.wait_primary()
    r1, r2 = [nd for nd in group.nodes if nd is not p]
    assert call_once(p, "CONFIG", "SET", "repl-timeout", "10000") == "OK"
    r2.pause()  # the write below waits for r2's ack
    try:
        s = socket.create_connection(p.addr, timeout=15)
        s.sendall(encode("SET", "deposed", "1"))
        time.sleep(0.2)
        p.pause()
        new = group.wait_primary(timeout=20, exclude=(p.id,))
        t_cont = time.monotonic()
        p.cont()
        got = b""
        while True:  # a hanging connection fails here (socket timeout)
            chunk = s.recv(4096)
            if not chunk:
                break
            got += chunk
        s.close()
        waited = time.monotonic() - t_cont
        assert not got.startswith(b"+OK"), got
        print("held write's connection closed %.2fs after the deposed primary resumed (%r); "
              "new primary %s" % (waited, got, new.id))
    finally:
        r2.cont()
    group.wait_healthy(30)
    group.wait_healthy(20)
