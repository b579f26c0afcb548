"""The replica-group harness checked without halo or ZooKeeper: the
linearizability checker on hand-built and generated histories, the
acknowledged-write and epoch checkers, the write recorder against fake RESP
servers, and the network-namespace topology (skipped without namespaces)."""
import os
import random
import socket
import socketserver
import subprocess
import sys
import threading
import time

import pytest

import ha
from ha import Op, check_linearizable
from ha import ha_topology  # noqa: F401  (a fixture)
from helpers import wait_for


# ---------------------------------------------------------------- linearizability

def W(v, t0, t1=None, p=0, status="ok"):
    """A write of v over [t0, t1]; t1 None: unknown outcome."""
    return Op(p, "write", v, t0, t1, "unknown" if t1 is None and status == "ok" else status)


def R(v, t0, t1, p=1, status="ok"):
    return Op(p, "read", v, t0, t1, status)


def lin(*ops, **kw):
    return check_linearizable(list(ops), **kw)


def test_sequential_history_is_linearizable():
    assert lin(R(None, 0, 1), W("a", 2, 3), R("a", 4, 5), W("b", 6, 7), R("b", 8, 9)).ok


def test_concurrent_write_may_or_may_not_be_seen():
    assert lin(W("a", 0, 10), R(None, 1, 2)).ok
    assert lin(W("a", 0, 10), R("a", 1, 2)).ok
    # both reads inside the write: None then "a" is fine, "a" then None is not
    assert lin(W("a", 0, 10), R(None, 1, 2), R("a", 3, 4)).ok
    assert lin(W("a", 0, 10), R("a", 1, 2), R(None, 3, 4)).ok is False


def test_stale_read_after_completed_write():
    r = lin(W("a", 0, 1), W("b", 2, 3), R("a", 4, 5))
    assert r.ok is False
    assert "read('a')" in r.detail


def test_read_of_initial_value_after_completed_write():
    assert lin(W("a", 0, 1), R(None, 2, 3)).ok is False


def test_two_reads_going_backwards():
    # b's write is still running, but once a read saw b, a later read cannot see a
    assert lin(W("a", 0, 1), W("b", 2, 10), R("b", 3, 4), R("a", 5, 6)).ok is False
    assert lin(W("a", 0, 1), W("b", 2, 10), R("a", 3, 4), R("b", 5, 6)).ok


def test_reads_by_other_processes_concurrent_with_each_other():
    # overlapping reads may be ordered either way
    assert lin(W("a", 0, 1), W("b", 2, 10), R("b", 3, 6, p=1), R("a", 4, 7, p=2)).ok


def test_unknown_write_taking_effect():
    assert lin(W("a", 0, 1), W("b", 2), R("b", 5, 6)).ok


def test_unknown_write_never_taking_effect():
    assert lin(W("a", 0, 1), W("b", 2), R("a", 5, 6), R("a", 7, 8)).ok


def test_unknown_write_taking_effect_late():
    # seen long after its client gave up: allowed (it may take effect at any time)
    assert lin(W("a", 0, 1), W("b", 2), R("a", 5, 6), R("b", 100, 101)).ok


def test_unknown_write_seen_then_unseen():
    assert lin(W("a", 0, 1), W("b", 2), R("b", 5, 6), R("a", 7, 8)).ok is False


def test_unknown_write_seen_before_it_was_sent():
    assert lin(W("a", 0, 1), R("b", 2, 3), W("b", 5)).ok is False


def test_failed_write_must_not_take_effect():
    assert lin(W("a", 0, 1), W("b", 2, 3, status="fail"), R("b", 4, 5)).ok is False
    assert lin(W("a", 0, 1), W("b", 2, 3, status="fail"), R("a", 4, 5)).ok


def test_read_of_a_value_never_written():
    assert lin(W("a", 0, 1), R("zz", 2, 3)).ok is False


def test_failed_and_unknown_reads_say_nothing():
    assert lin(W("a", 0, 1), R("zz", 2, 3, status="fail"), R("yy", 4, None, status="unknown")).ok


def test_touching_intervals_count_as_concurrent():
    assert lin(W("a", 0, 1), R(None, 1, 2)).ok


def test_empty_and_write_only_histories():
    assert lin().ok
    assert lin(W("a", 0, 1), W("b", 0.5, 2), W("c", 1)).ok


def random_history(n_procs, n_ops, seed, unknown_rate=0.05):
    """A linearizable history by construction: each op takes effect at a
    random instant inside its interval (an unknown write at an instant after
    its invoke, or never); processes run one op at a time."""
    rnd = random.Random(seed)
    clock = [0.0] * n_procs
    planned = []  # (point, op), point None: never takes effect
    for i in range(n_ops):
        p = rnd.randrange(n_procs)
        t0 = clock[p] + rnd.random()
        point = t0 + rnd.random() * 2
        t1 = point + rnd.random() * 2
        clock[p] = t1
        if rnd.random() < 0.5:
            op = Op(p, "write", "v%d" % i, t0, t1, "ok")
            if rnd.random() < unknown_rate:
                op.complete, op.status = None, "unknown"
                point = None if rnd.random() < 0.5 else t0 + rnd.random() * 6
        else:
            op = Op(p, "read", None, t0, t1, "ok")
        planned.append((point, op))
    state = None
    for point, op in sorted((x for x in planned if x[0] is not None), key=lambda x: x[0]):
        if op.kind == "write":
            state = op.value
        else:
            op.value = state
    return [op for _, op in planned]


@pytest.mark.parametrize("seed", range(5))
def test_generated_histories_are_linearizable(seed):
    ops = random_history(4, 400, seed)
    r = check_linearizable(ops)
    assert r.ok, r


def stale_read_mutation(ops):
    """Makes one read return an older value: W1 < W2 < read in real time."""
    writes = sorted((o for o in ops if o.kind == "write" and o.status == "ok"),
                    key=lambda o: o.invoke)
    for r in sorted((o for o in ops if o.kind == "read"), key=lambda o: o.invoke):
        for w2 in writes:
            if w2.complete < r.invoke:
                for w1 in writes:
                    if w1.complete < w2.invoke:
                        r.value = w1.value
                        return r
    raise AssertionError("no read to mutate")


@pytest.mark.parametrize("seed", range(3))
def test_generated_histories_with_a_stale_read_are_not(seed):
    ops = random_history(4, 400, seed)
    stale_read_mutation(ops)
    assert check_linearizable(ops).ok is False


def test_a_few_thousand_ops_are_checked_fast():
    ops = random_history(5, 3000, 42, unknown_rate=0.02)
    t = time.monotonic()
    r = check_linearizable(ops)
    assert r.ok, r
    assert time.monotonic() - t < 10, "checker too slow: %.1fs" % (time.monotonic() - t)


def test_search_budget_is_reported_as_undecided():
    ops = random_history(4, 400, 7)
    r = check_linearizable(ops, max_steps=10)
    assert r.ok is None and "budget" in r.detail


def test_history_recorder():
    h = ha.History()
    w = h.invoke(0, "write", "a")
    h.complete(w, "ok")
    r = h.invoke(1, "read")
    h.complete(r, "ok", "a")
    ops = h.snapshot()
    assert [o.status for o in ops] == ["ok", "ok"] and ops[1].value == "a"
    assert ops[0].invoke <= ops[0].complete <= ops[1].invoke
    assert ha.assert_linearizable(ops)


# ---------------------------------------------------------------- acknowledged writes and epochs

def write(key, value, status="ok", node="n1", epoch=None):
    w = ha.Write(key, value, node, ("127.0.0.1", 1), epoch, 0.0)
    w.status, w.t_complete = status, 0.0
    return w


class FakeNode:
    """A client-like object: execute_command over a dict, DEBUG DIGEST over
    its contents, or a scripted digest sequence."""

    def __init__(self, data, digests=None):
        self.data = dict(data)
        self.digests = list(digests or [])
        self.readonly = False

    def execute_command(self, *args):
        cmd = args[0].upper()
        if cmd == "READONLY":
            self.readonly = True
            return "OK"
        if cmd == "DEBUG":
            if self.digests:
                return self.digests.pop(0) if len(self.digests) > 1 else self.digests[0]
            return ("%x" % hash(frozenset(self.data.items()))).encode()
        if cmd == "MGET":
            return [None if k not in self.data else self.data[k].encode() for k in args[1:]]
        raise AssertionError(args)


def test_check_acked_passes_when_everything_is_everywhere():
    writes = [write("k%d" % i, "v%d" % i) for i in range(1200)]
    writes.append(write("lost", "x", status="unknown"))
    data = {w.key: w.value for w in writes if w.status == "ok"}
    nodes = [FakeNode(data), FakeNode(data), FakeNode(data)]
    out = ha.check_acked(writes, nodes, converge_timeout=1)
    assert out["acked"] == 1200 and out["unknown"] == 1
    assert all(n.readonly for n in nodes)


def test_check_acked_reports_missing_and_wrong_values():
    writes = [write("k%d" % i, "v%d" % i) for i in range(10)]
    data = {w.key: w.value for w in writes}
    short = dict(data)
    del short["k3"], short["k7"]
    short["k5"] = "other"
    nodes = [FakeNode(data, [b"d"]), FakeNode(short, [b"d"])]
    with pytest.raises(AssertionError) as e:
        ha.check_acked(writes, nodes, converge_timeout=1, labels=["n1", "n2"])
    msg = str(e.value)
    assert "n2: 2 of 10 acknowledged writes missing, 1 with another value" in msg
    assert "k3" in msg and "k7" in msg and "'k5', 'v5', 'other'" in msg
    assert "n1:" not in msg


def test_check_acked_waits_for_digests_to_converge():
    data = {"k": "v"}
    nodes = [FakeNode(data, [b"a", b"a", b"b"]), FakeNode(data, [b"b"])]
    assert ha.check_acked([write("k", "v")], nodes, converge_timeout=5)["digest"] == "b"


def test_check_acked_reports_digests_that_never_agree():
    nodes = [FakeNode({}, [b"a"]), FakeNode({}, [b"b"])]
    with pytest.raises(AssertionError) as e:
        ha.check_acked([], nodes, converge_timeout=0.3, labels=["n1", "n2"])
    assert "did not converge" in str(e.value) and "n1=a" in str(e.value) and "n2=b" in str(e.value)


def test_one_primary_per_epoch():
    ok = [write("a", "1", node="n1", epoch=3), write("b", "2", node="n1", epoch=3),
          write("c", "3", node="n2", epoch=4), write("d", "4", node="n3", epoch=None),
          write("e", "5", node="n3", epoch=4, status="unknown")]
    assert ha.check_one_primary_per_epoch(ok) == [3, 4]
    bad = ok + [write("f", "6", node="n3", epoch=3)]
    assert ha.epoch_conflicts(bad) == {3: ["n1", "n3"]}
    with pytest.raises(AssertionError, match="one epoch"):
        ha.check_one_primary_per_epoch(bad)


def test_error_classes_and_info_parsing():
    assert ha.classify_error("READONLY You can't write against a read only replica.") == "fail"
    assert ha.classify_error("NOREPLICAS Not enough good replicas to write.") == "fail"
    assert ha.classify_error("FENCED no coordinator") == "unknown"
    info = b"# Replication\r\nrole:master\r\nhalo_epoch:7\r\nconnected_slaves:2\r\n"
    assert ha.parse_info(info)["role"] == "master"

    class C:
        def execute_command(self, *a):
            return info
    assert ha.info_epoch(C()) == 7


# ---------------------------------------------------------------- the recorder against fake servers

class FakeKv(socketserver.ThreadingTCPServer):
    """A RESP server on loopback with one shared dict: SET, GET, MGET, DEBUG
    DIGEST, READONLY, INFO. While `primary` is false, SET answers READONLY;
    after `ack_limit` acknowledged SETs it closes connections instead."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, epoch):
        super().__init__(("127.0.0.1", 0), FakeHandler)
        self.data, self.lock = {}, threading.Lock()
        self.primary, self.epoch, self.acks, self.ack_limit = False, epoch, 0, None
        threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.05},
                         daemon=True).start()

    @property
    def addr(self):
        return self.server_address


class FakeHandler(socketserver.StreamRequestHandler):
    def reply(self, v):
        if v is None:
            self.wfile.write(b"$-1\r\n")
        elif isinstance(v, list):
            self.wfile.write(b"*%d\r\n" % len(v))
            for x in v:
                self.reply(x)
        elif isinstance(v, Exception):
            self.wfile.write(b"-%s\r\n" % str(v).encode())
        elif isinstance(v, str) and v == "OK":
            self.wfile.write(b"+OK\r\n")
        else:
            v = v if isinstance(v, bytes) else str(v).encode()
            self.wfile.write(b"$%d\r\n%s\r\n" % (len(v), v))

    def read_command(self):
        line = self.rfile.readline()
        if not line:
            return None
        args = []
        for _ in range(int(line[1:])):
            n = int(self.rfile.readline()[1:])
            args.append(self.rfile.read(n + 2)[:-2].decode())
        return args

    def handle(self):
        srv = self.server
        while True:
            args = self.read_command()
            if args is None:
                return
            cmd = args[0].upper()
            with srv.lock:
                if cmd == "SET":
                    if not srv.primary:
                        out = Exception("READONLY You can't write against a read only replica.")
                    elif srv.ack_limit is not None and srv.acks >= srv.ack_limit:
                        return  # the "crash": close without a reply
                    else:
                        srv.data[args[1]] = args[2]
                        srv.acks += 1
                        out = "OK"
                elif cmd == "GET":
                    out = srv.data.get(args[1])
                elif cmd == "MGET":
                    out = [srv.data.get(k) for k in args[1:]]
                elif cmd == "DEBUG":
                    out = "%x" % hash(frozenset(srv.data.items()))
                elif cmd == "READONLY":
                    out = "OK"
                elif cmd == "INFO":
                    out = "# Replication\r\nrole:%s\r\nhalo_epoch:%d\r\n" % (
                        "master" if srv.primary else "slave", srv.epoch)
                else:
                    out = Exception("ERR unknown command")
            self.reply(out)
            self.wfile.flush()


@pytest.fixture
def fake_pair():
    a, b = FakeKv(epoch=1), FakeKv(epoch=2)
    yield a, b
    for s in (a, b):
        s.shutdown()
        s.server_close()


def test_writers_follow_the_primary_and_record_outcomes(fake_pair):
    a, b = fake_pair
    a.primary, a.ack_limit = True, 300
    names = {a.addr: "n1", b.addr: "n2"}

    def discover():  # the old primary is named until it "dies"
        return [a.addr, b.addr] if a.acks < a.ack_limit else [b.addr]

    w = ha.Writers(discover, n_threads=3, duration=10, max_writes=400, prefix="t",
                   node_of=lambda addr: names[addr], epoch_fn=ha.info_epoch)
    w.start()
    deadline = time.monotonic() + 10
    while a.acks < a.ack_limit and time.monotonic() < deadline:
        time.sleep(0.01)
    b.primary = True  # the failover
    w.join(timeout=20)
    writes = w.snapshot()
    acked = w.acked
    assert len(writes) == 1200 and len(acked) >= 300 + 3 * 50, w.summary()
    assert {x.node for x in acked} == {"n1", "n2"}
    assert sum(x.node == "n1" for x in acked) == 300
    assert all(x.epoch == (1 if x.node == "n1" else 2) for x in acked)
    assert ha.check_one_primary_per_epoch(writes) == [1, 2]
    assert w.first_ack_after(0, exclude_addr=a.addr).node == "n2"
    statuses = {x.status for x in writes}
    assert "unknown" in statuses or "fail" in statuses
    # writes acknowledged by n1 alone are lost on n2: the checker must say so
    conn = ha.Resp(*b.addr)
    try:
        bad = ha.missing_acked(writes, conn)
        assert len(bad) == 300 and {x.node for x, _ in bad} == {"n1"}
        with pytest.raises(AssertionError, match="n2: 300 of %d" % len(acked)):
            ha.check_acked(writes, [conn], labels=["n2"])
        b.data.update(a.data)  # as a replica would have had them: nothing lost
        assert ha.check_acked(writes, [conn])["acked"] == len(acked)
    finally:
        conn.close()


def test_register_workload_on_a_linearizable_server(fake_pair):
    a, _ = fake_pair
    a.primary = True
    wl = ha.RegisterWorkload(lambda: a.addr, n_clients=4, duration=1.0, max_ops=300)
    wl.start()
    time.sleep(1.2)
    ops = wl.stop().snapshot()
    assert len(ops) > 100 and {o.kind for o in ops} == {"read", "write"}
    ha.assert_linearizable(ops)


# ---------------------------------------------------------------- network namespaces

SERVER = """
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2]))); s.listen(16)
print("ready", flush=True)
while True:
    c, _ = s.accept(); c.sendall(b"hi"); c.close()
"""

PROBE = """
import socket, sys
try:
    c = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=float(sys.argv[3]))
    print(c.recv(2).decode())
except OSError as e:
    print("fail", type(e).__name__)
"""


def reach(ip, port, timeout=0.5):
    try:
        with socket.create_connection((ip, port), timeout=timeout) as c:
            return c.recv(2) == b"hi"
    except OSError:
        return False


def probe_from(topo, i, ip, port, timeout=0.5):
    p = topo.run(i, [sys.executable, "-c", PROBE, ip, port, timeout], stdout=subprocess.PIPE)
    out = p.communicate(timeout=10)[0].decode().strip()
    return out == "hi"


def start_server(topo, i, ip, port):
    p = topo.run(i, [sys.executable, "-c", SERVER, ip, port], stdout=subprocess.PIPE)
    assert p.stdout.readline().strip() == b"ready"
    return p


def test_topology_reachability_cuts_and_cleanup():
    ha.require_netns()
    topo = ha.Topology(2)
    hub, namespaces = topo.hub, list(topo.ns.values())
    try:
        assert hub.startswith("hn%d" % os.getpid()) and len(namespaces) == 2
        srv = start_server(topo, 1, topo.node_ip(1), 7000)
        zk = start_server(topo, 0, topo.zk_ip, 7001)
        with topo.hub_net():
            assert reach(topo.node_ip(1), 7000)
        assert probe_from(topo, 2, topo.node_ip(1), 7000)
        assert probe_from(topo, 1, topo.zk_ip, 7001)

        topo.cut(1)  # node 1 alone
        with topo.hub_net():
            assert not reach(topo.node_ip(1), 7000)
        assert not probe_from(topo, 2, topo.node_ip(1), 7000)
        topo.heal(1)
        with topo.hub_net():
            assert wait_for(lambda: reach(topo.node_ip(1), 7000), 5)

        topo.cut_pair(1, 2)  # 1 and 2 apart, both still reachable from the hub
        assert not probe_from(topo, 2, topo.node_ip(1), 7000)
        with topo.hub_net():
            assert reach(topo.node_ip(1), 7000)
        topo.heal_pair(1, 2)
        assert probe_from(topo, 2, topo.node_ip(1), 7000)

        topo.cut_zk(1)  # node 1 loses ZooKeeper's address only
        assert not probe_from(topo, 1, topo.zk_ip, 7001)
        assert probe_from(topo, 2, topo.zk_ip, 7001)
        with topo.hub_net():
            assert reach(topo.node_ip(1), 7000)
        topo.heal_all()
        assert probe_from(topo, 1, topo.zk_ip, 7001)
        assert not topo.cuts
    finally:
        topo.close()
    assert srv.poll() is not None and zk.poll() is not None
    listed = subprocess.run(["ip", "netns", "list"], capture_output=True).stdout.decode()
    assert not any(ns in listed.split() for ns in [hub] + namespaces), listed
    topo.close()  # twice is fine


def test_topology_fixture_and_hub_threads(ha_topology):
    topo = ha_topology
    mine = os.readlink("/proc/thread-self/ns/net")
    srv = start_server(topo, 3, topo.node_ip(3), 7000)
    got = []

    def in_thread():  # a thread enters the hub on its own; the main thread stays put
        with ha.in_netns(topo.hub):
            got.append(reach(topo.node_ip(3), 7000))
    th = threading.Thread(target=in_thread)
    th.start()
    th.join(10)
    assert got == [True]
    assert os.readlink("/proc/thread-self/ns/net") == mine
    with topo.hub_net():
        assert os.readlink("/proc/thread-self/ns/net") != mine
    assert os.readlink("/proc/thread-self/ns/net") == mine
    assert srv.poll() is None


OWNER = """
import sys, time
sys.path.insert(0, sys.argv[1])
import ha
t = ha.Topology(1)
p = t.run(1, ["sleep", "60"])
print(t.prefix, p.pid, flush=True)
time.sleep(60)
"""


def test_topology_of_a_killed_run_is_swept():
    ha.require_netns()
    owner = subprocess.Popen([sys.executable, "-c", OWNER, os.path.dirname(ha.__file__)],
                             stdout=subprocess.PIPE)
    try:
        prefix, child = owner.stdout.readline().decode().split()
    finally:
        owner.kill()  # no atexit, no cleanup: what a SIGKILLed test leaves
        owner.wait()
    assert prefix + "-hub" in os.listdir(ha.NETNS_DIR)
    ha.Topology.sweep_stale()
    assert not [n for n in os.listdir(ha.NETNS_DIR) if n.startswith(prefix + "-")]
    assert wait_for(lambda: not ha._pid_alive(int(child)) or ha._is_zombie(int(child)), 5)
