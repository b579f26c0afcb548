"""Persistence (the append-only file): restart with every type, BGREWRITEAOF under
load, torn tails, corruption, the data-directory lock, SIGTERM, and kill -9 with
appendfsync always losing no acknowledged write."""
import glob
import os
import signal
import socket
import subprocess
import threading
import time

import pytest
import redis

AOF = ["--appendonly", "yes"]


# ---------------------------------------------------------------- helpers

def commands(r):
    """Names of the commands the node implements (lower case)."""
    reply = r.execute_command("COMMAND")
    if isinstance(reply, dict):  # redis-py parses COMMAND into {name: details}
        names = reply.keys()
    else:
        names = [c[0] for c in reply]
    return {n.decode().lower() if isinstance(n, bytes) else str(n).lower() for n in names}


def require(r, *names):
    have = commands(r)
    missing = [n for n in names if n not in have]
    if missing:
        pytest.skip("not implemented yet: " + ", ".join(missing))


def aof_dir(node):
    return os.path.join(node.dir, "appendonlydir")


def manifest(node):
    """(base file, [incr files]) as the manifest lists them."""
    base, incrs = None, []
    with open(os.path.join(aof_dir(node), "appendonly.aof.manifest")) as f:
        for line in f:
            parts = line.split()
            if not parts or parts[0].startswith("#"):
                continue
            assert parts[0] == "file" and parts[2] == "seq" and parts[4] == "type", line
            if parts[5] == "b":
                base = parts[1]
            else:
                incrs.append(parts[1])
    return base, incrs


def last_incr(node):
    return os.path.join(aof_dir(node), manifest(node)[1][-1])


def queue_value(pipe, key, kind):
    if kind == "string":
        pipe.get(key)
    elif kind == "list":
        pipe.lrange(key, 0, -1)
    elif kind == "hash":
        pipe.hgetall(key)
    elif kind == "set":
        pipe.smembers(key)
    elif kind == "zset":
        pipe.zrange(key, 0, -1, withscores=True)
    else:
        raise AssertionError("unknown type " + kind)


def normalize(value):
    if isinstance(value, dict):
        return sorted(value.items())
    if isinstance(value, set):
        return sorted(value)
    return value


def dump(r):
    """Every key with its type, value and absolute expiry time (ms, or -1),
    read with pipelines so that tens of thousands of keys take little time."""
    keys = list(r.scan_iter(count=1000))
    pipe = r.pipeline(transaction=False)
    for key in keys:
        pipe.type(key)
    kinds = [k.decode() for k in pipe.execute()]
    pipe = r.pipeline(transaction=False)
    for key, kind in zip(keys, kinds):
        queue_value(pipe, key, kind)
        pipe.execute_command("PEXPIRETIME", key)
    res = pipe.execute()
    return {key: (kind, normalize(res[2 * i]), res[2 * i + 1])
            for i, (key, kind) in enumerate(zip(keys, kinds))}


def wait_for(cond, timeout=30, what="condition"):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if cond():
            return
        time.sleep(0.02)
    raise AssertionError("timed out waiting for " + what)


def info_persistence(r):
    return r.info("persistence")


def wait_rewrites(r, n):
    wait_for(lambda: (lambda i: i.get("aof_rewrites", 0) >= n
                      and i.get("aof_rewrite_in_progress", 1) == 0)(info_persistence(r)),
             what="%d AOF rewrites" % n)


def raw_replies(node, payload, n):
    """Send payload in one write on a raw socket; return n simple-reply lines."""
    with socket.create_connection(("127.0.0.1", node.port), timeout=10) as sock:
        sock.sendall(payload)
        data = b""
        while data.count(b"\r\n") < n:
            chunk = sock.recv(4096)
            assert chunk, "connection closed"
            data += chunk
    return data.split(b"\r\n")[:n]


def restart_clean(node):
    """SIGTERM (the process must exit 0: no sanitizer report), then start."""
    assert node.stop() == 0, node.read_log()[-3000:]
    node.start()


def start_expect_failure(node, extra=None):
    """Start the node, expect it to exit nonzero; returns (exit code, log)."""
    node.start(wait=False, extra=extra)
    try:
        rc = node.proc.wait(timeout=30)
    finally:
        node.stop()
    return rc, node.read_log()


# Writers for every type the node implements: each returns the command it
# ran so the test can check the result after a restart.
TYPE_WRITES = {
    "list": ("rpush", lambda r, i: r.rpush("list:%d" % (i % 7), "e%d" % i)),
    "hash": ("hset", lambda r, i: r.hset("hash:%d" % (i % 7), "f%d" % i, "v%d" % i)),
    "set": ("sadd", lambda r, i: r.sadd("set:%d" % (i % 7), "m%d" % i)),
    "zset": ("zadd", lambda r, i: r.zadd("zset:%d" % (i % 7), {"m%d" % i: i * 1.5})),
}


def implemented_types(r):
    have = commands(r)
    return [t for t, (cmd, _) in TYPE_WRITES.items() if cmd in have]


# ---------------------------------------------------------------- restart

def test_restart_keeps_strings_and_ttls(node_factory):
    node = node_factory(args=AOF)
    r = node.client()
    r.set("plain", "v")
    r.set("ex", "v", ex=1000)
    r.set("px", "v", px=500000)
    r.setex("setex", 1000, "v")
    r.psetex("psetex", 900000, "v")
    r.set("soon", "gone", px=150)        # expires while the node is down
    r.incr("counter")
    r.incrby("counter", 41)
    r.incrbyfloat("float", 1.5)
    r.append("app", "hello ")
    r.append("app", "world")
    r.setrange("range", 5, "xyz")
    r.mset({"m1": "a", "m2": "b"})
    r.set("deleted", "x")
    assert r.getdel("deleted") == b"x"
    r.set("binary", b"\x00\r\n*2\r\n$7\r\nHALOCRC\r\n\xff")
    r.set("big", "x" * 300000)
    expiries = {k: r.execute_command("PEXPIRETIME", k) for k in
                ("ex", "px", "setex", "psetex")} if "pexpiretime" in commands(r) else {}
    r.close()
    node.stop()
    time.sleep(0.2)
    node.start()
    r = node.client()
    assert r.get("plain") == b"v"
    assert r.get("counter") == b"42"
    assert r.get("float") == b"1.5"
    assert r.get("app") == b"hello world"
    assert r.get("range") == b"\x00" * 5 + b"xyz"
    assert r.mget("m1", "m2") == [b"a", b"b"]
    assert r.get("deleted") is None
    assert r.get("soon") is None
    assert r.get("binary") == b"\x00\r\n*2\r\n$7\r\nHALOCRC\r\n\xff"
    assert r.get("big") == b"x" * 300000
    for k, when in expiries.items():
        assert r.execute_command("PEXPIRETIME", k) == when, k
    assert r.get("ex") == b"v" and r.get("psetex") == b"v"
    # redis-cli sees the same data.
    assert node.cli("GET", "plain").strip() == "v"


@pytest.mark.parametrize("kind", ["list", "hash", "set", "zset"])
def test_restart_keeps_each_type(node_factory, kind):
    node = node_factory(args=AOF)
    r = node.client()
    cmd, write = TYPE_WRITES[kind]
    require(r, cmd, "scan", "type", "pexpiretime", "pexpireat")
    for i in range(300):
        write(r, i)
    r.set("str", "v", px=400000)
    r.pexpire("%s:1" % kind, 300000)
    before = dump(r)
    assert len(before) == 8
    assert before[("%s:1" % kind).encode()][2] > 0
    r.close()
    restart_clean(node)
    r = node.client()
    assert dump(r) == before


def test_restart_mixed_workload_matches_dump(node_factory):
    node = node_factory(args=AOF)
    r = node.client()
    require(r, "scan", "type", "pexpiretime", "del", "expire")
    kinds = implemented_types(r)
    for i in range(500):
        r.set("s:%d" % (i % 50), i)
        r.incr("c:%d" % (i % 5))
        for kind in kinds:
            TYPE_WRITES[kind][1](r, i)
        if i % 10 == 0:
            r.expire("s:%d" % (i % 50), 1000 + i)
        if i % 17 == 0:
            r.delete("c:%d" % (i % 5))
    before = dump(r)
    r.close()
    restart_clean(node)
    assert dump(node.client()) == before


# ---------------------------------------------------------------- rewrite

def _writer(node, stop, ident, kinds, counts):
    c = node.client()
    i = 0
    while not stop.is_set():
        c.set("w%d:%d" % (ident, i % 300), i)
        c.incr("wc%d" % ident)
        for kind in kinds:
            TYPE_WRITES[kind][1](c, i + ident * 100000)
        if i % 25 == 0:
            c.expire("w%d:%d" % (ident, i % 300), 5000)
        i += 1
    counts[ident] = i
    c.close()


def test_bgrewriteaof_under_concurrent_writes(node_factory):
    node = node_factory(args=AOF + ["--auto-aof-rewrite-percentage", "0"])
    r = node.client()
    require(r, "scan", "type", "pexpiretime", "expire")
    kinds = implemented_types(r)
    pipe = r.pipeline(transaction=False)
    for i in range(30000):
        pipe.set("pre:%d" % i, "value-%d" % i)
        if i % 3 == 0:
            pipe.pexpire("pre:%d" % i, 600000 + i)
    pipe.execute()
    base0, _ = manifest(node)
    stop = threading.Event()
    counts = {}
    threads = [threading.Thread(target=_writer, args=(node, stop, n, kinds, counts))
               for n in range(3)]
    for t in threads:
        t.start()
    time.sleep(0.2)
    # Both requests in one write: the second finds the first rewrite running.
    first, second = raw_replies(node, b"BGREWRITEAOF\r\nBGREWRITEAOF\r\n", 2)
    assert first == b"+Background append only file rewriting started"
    assert second == b"+Background append only file rewriting scheduled"
    info = info_persistence(r)
    assert info["aof_enabled"] == 1
    wait_rewrites(r, 2)  # the scheduled one ran after the first
    time.sleep(0.2)
    stop.set()
    for t in threads:
        t.join()
    assert all(counts[n] > 0 for n in range(3))
    base1, incrs = manifest(node)
    assert base1 != base0 and len(incrs) == 1
    # Old files are gone: the manifest, one BASE, one INCR.
    assert len(glob.glob(os.path.join(aof_dir(node), "appendonly.aof.*.aof"))) == 2
    assert info_persistence(r)["aof_last_bgrewrite_status"] == "ok"
    before = dump(r)
    assert len(before) >= 30000
    r.close()
    restart_clean(node)
    r = node.client()
    assert dump(r) == before


def test_bgrewriteaof_replies_and_cli(node_factory):
    plain = node_factory()
    err = plain.cli("BGREWRITEAOF")
    assert "Append only file is disabled" in err or "ERR" in err
    node = node_factory(args=AOF, subdir="aof")
    node.cli("SET", "k", "v")
    out = node.cli("BGREWRITEAOF").strip()
    assert out in ("Background append only file rewriting started",
                   "Background append only file rewriting scheduled")
    r = node.client()
    wait_rewrites(r, 1)
    node.cli("SET", "k2", "v2")
    restart_clean(node)
    assert node.cli("MGET", "k", "k2").split() == ["v", "v2"]


# ---------------------------------------------------------------- damage

def _write_keys(node, n, prefix="k"):
    r = node.client()
    for i in range(n):
        r.set("%s%d" % (prefix, i), "value%d" % i)
    r.close()


def test_torn_tail_is_truncated_with_a_warning(node_factory):
    node = node_factory(args=AOF)
    _write_keys(node, 100)
    node.kill9()
    path = last_incr(node)
    size = os.path.getsize(path)
    os.truncate(path, size - 5)
    node.start()
    log = node.read_log()
    assert "torn tail" in log and os.path.basename(path) in log
    assert "bytes of an unfinished write dropped" in log
    r = node.client()
    assert r.get("k0") == b"value0"
    assert r.get("k98") == b"value98"
    assert r.get("k99") is None      # its batch was cut
    r.set("after", "1")
    restart_clean(node)
    assert node.client().get("after") == b"1"


def test_torn_tail_refused_when_load_truncated_is_no(node_factory):
    node = node_factory(args=AOF)
    _write_keys(node, 10)
    node.kill9()
    path = last_incr(node)
    os.truncate(path, os.path.getsize(path) - 3)
    rc, log = start_expect_failure(node, extra=["--aof-load-truncated", "no"])
    assert rc != 0
    assert "aof-load-truncated is no" in log and os.path.basename(path) in log
    # The default loads it.
    node.start()
    assert node.client().get("k8") == b"value8"


def test_corrupt_byte_in_the_middle_refuses_to_start(node_factory):
    node = node_factory(args=AOF)
    _write_keys(node, 100)
    node.stop()
    path = last_incr(node)
    with open(path, "r+b") as f:
        data = f.read()
        pos = data.index(b"value50")
        f.seek(pos + 2)
        f.write(b"L")
    rc, log = start_expect_failure(node)
    assert rc != 0
    assert "corrupt at offset" in log and os.path.basename(path) in log
    assert "checksum mismatch" in log
    assert "refusing to start" in log


def test_garbage_in_the_middle_refuses_to_start(node_factory):
    node = node_factory(args=AOF)
    _write_keys(node, 50)
    node.stop()
    path = last_incr(node)
    with open(path, "r+b") as f:
        data = f.read()
        pos = data.lower().index(b"*3\r\n$3\r\nset\r\n$3\r\nk20")
        f.seek(pos)
        f.write(b"#")
    rc, log = start_expect_failure(node)
    assert rc != 0 and "corrupt at offset %d" % pos in log


def test_second_node_on_same_dir_is_refused(node_factory):
    first = node_factory(args=AOF)
    first.client().set("k", "v")
    from conftest import Node
    second = Node(first.dir, AOF)
    rc, log = start_expect_failure(second)
    assert rc != 0
    assert "in use by another halo process" in log
    assert first.alive() and first.client().get("k") == b"v"


# ---------------------------------------------------------------- shutdown

def test_sigterm_flushes_with_appendfsync_no(node_factory):
    node = node_factory(args=AOF + ["--appendfsync", "no"])
    r = node.client()
    pipe = r.pipeline(transaction=False)
    for i in range(2000):
        pipe.set("k%d" % i, i)
        pipe.incr("n")
    pipe.execute()
    r.close()
    assert node.stop(signal.SIGTERM) == 0
    assert "ready to exit" in node.read_log()
    node.start()
    r = node.client()
    assert r.get("n") == b"2000"
    assert r.get("k1999") == b"1999"


def test_config_set_appendfsync_live(node_factory):
    node = node_factory(args=AOF + ["--appendfsync", "no"])
    r = node.client()
    for policy in ("always", "everysec", "no", "always"):
        assert r.config_set("appendfsync", policy)
        r.incr("n")
    assert r.config_get("appendfsync") == {"appendfsync": "always"}
    node.kill9()
    node.start()
    assert node.client().get("n") == b"4"


# ---------------------------------------------------------------- crash

def test_kill9_loses_no_acknowledged_write(node_factory):
    node = node_factory(args=AOF + ["--appendfsync", "always"])
    require(node.client(), "rpush", "lrange")
    acked = [dict(sets={}, ctr=0, items=0) for _ in range(3)]
    stop = threading.Event()

    def writer(n):
        c = node.client(socket_timeout=5)
        i = 0
        try:
            while not stop.is_set():
                c.set("s%d:%d" % (n, i), "v%d" % i)
                acked[n]["sets"][i] = True
                acked[n]["ctr"] = c.incr("ctr%d" % n)
                c.rpush("list%d" % n, i)
                acked[n]["items"] = i + 1
                i += 1
        except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, OSError):
            pass

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(3)]
    for t in threads:
        t.start()
    time.sleep(1.0)
    node.proc.send_signal(signal.SIGKILL)  # mid-load
    node.proc.wait()
    stop.set()
    for t in threads:
        t.join()
    node.stop()
    assert sum(a["items"] for a in acked) > 10
    node.start()
    r = node.client()
    for n, a in enumerate(acked):
        for i in a["sets"]:
            assert r.get("s%d:%d" % (n, i)) == b"v%d" % i
        assert int(r.get("ctr%d" % n) or 0) >= a["ctr"]
        items = [int(x) for x in r.lrange("list%d" % n, 0, -1)]
        assert items[:a["items"]] == list(range(a["items"]))
        assert items == list(range(len(items)))


def test_kill9_with_pipelined_clients_group_commit(node_factory):
    node = node_factory(args=AOF + ["--appendfsync", "always"])
    acked = [0] * 4
    stop = threading.Event()

    def writer(n):
        c = node.client(socket_timeout=5)
        try:
            while not stop.is_set():
                pipe = c.pipeline(transaction=False)
                for _ in range(20):
                    pipe.incr("p%d" % n)
                acked[n] = pipe.execute()[-1]
        except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, OSError):
            pass

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    time.sleep(0.7)
    node.proc.send_signal(signal.SIGKILL)
    node.proc.wait()
    stop.set()
    for t in threads:
        t.join()
    node.stop()
    node.start()
    r = node.client()
    info = info_persistence(r)
    assert info["aof_enabled"] == 1
    for n in range(4):
        assert int(r.get("p%d" % n) or 0) >= acked[n]


# ---------------------------------------------------------------- more rewrite paths

def test_transaction_is_one_batch_and_atomic_on_load(node_factory):
    node = node_factory(args=AOF)
    r = node.client()
    require(r, "multi", "exec")
    r.set("before", "1")
    pipe = r.pipeline(transaction=True)
    pipe.incr("a")
    pipe.set("big", "y" * 5000)
    pipe.incr("b")
    pipe.execute()
    path = last_incr(node)
    data = open(path, "rb").read()
    start = data.index(b"MULTI")
    end = data.index(b"EXEC", start)
    # MULTI .. EXEC between two checksum records: no checksum inside.
    assert b"HALOCRC" not in data[start:end]
    assert data.index(b"HALOCRC", end) > end
    node.kill9()
    # Cut inside the transaction's batch: none of it may be applied.
    os.truncate(path, start + 2000)
    node.start()
    r = node.client()
    assert r.get("before") == b"1"
    assert r.get("a") is None and r.get("big") is None and r.get("b") is None
    assert "torn tail" in node.read_log()


def test_bgrewriteaof_inside_multi_is_scheduled(node_factory):
    node = node_factory(args=AOF)
    require(node.client(), "multi", "exec")
    node.client().set("k", "v")
    replies = raw_replies(node, b"MULTI\r\nBGREWRITEAOF\r\nEXEC\r\n", 4)
    assert replies[:3] == [b"+OK", b"+QUEUED", b"*1"]
    assert replies[3] == b"+Background append only file rewriting scheduled"
    r = node.client()
    wait_rewrites(r, 1)  # the cron starts it
    restart_clean(node)
    assert node.client().get("k") == b"v"


def test_automatic_rewrite_on_growth(node_factory):
    node = node_factory(args=AOF + ["--auto-aof-rewrite-min-size", "20kb",
                                    "--auto-aof-rewrite-percentage", "100"])
    r = node.client()
    for i in range(3000):  # the same ten keys over and over: the AOF grows, the data does not
        r.set("k%d" % (i % 10), "value-%d" % i)
    wait_rewrites(r, 1)
    info = info_persistence(r)
    assert info["aof_base_size"] < 20 * 1024
    assert info["aof_current_size"] < 200 * 1024
    assert "automatic rewriting" in node.read_log()
    restart_clean(node)
    r = node.client()
    assert [r.get("k%d" % i) for i in range(10)] == [b"value-%d" % (2990 + i) for i in range(10)]


def test_everysec_fsyncs_in_the_background(node_factory):
    node = node_factory(args=AOF + ["--appendfsync", "everysec"])
    r = node.client()
    r.set("k", "v")
    wait_for(lambda: info_persistence(r).get("aof_fsyncs", 0) >= 1, timeout=5,
             what="a background fsync")
    assert info_persistence(r)["aof_last_write_status"] == "ok"
    node.kill9()
    node.start()
    assert node.client().get("k") == b"v"


def _preload(r, n):
    pipe = r.pipeline(transaction=False)
    for i in range(n):
        pipe.set("pre:%d" % i, "v%d" % i)
    pipe.execute()


def test_sigterm_during_rewrite_kills_child_and_keeps_files(node_factory):
    node = node_factory(args=AOF)
    r = node.client()
    _preload(r, 40000)
    reply = raw_replies(node, b"BGREWRITEAOF\r\nSET last 1\r\n", 2)
    assert reply == [b"+Background append only file rewriting started", b"+OK"]
    assert node.stop() == 0
    log = node.read_log()
    assert "ready to exit" in log
    assert not glob.glob(os.path.join(aof_dir(node), "temp-*"))
    node.start()
    r = node.client()
    assert r.dbsize() == 40001 and r.get("pre:39999") == b"v39999" and r.get("last") == b"1"


def test_failed_rewrite_keeps_the_old_files(node_factory):
    node = node_factory(args=AOF)
    r = node.client()
    _preload(r, 20000)
    base0, incrs0 = manifest(node)
    # The next BASE file's name is taken by a non-empty directory, so the
    # rewrite cannot be installed: it must fail cleanly.
    seqs = [int(name.split(".")[-3]) for name in [base0] + incrs0]
    blocker = os.path.join(aof_dir(node), "appendonly.aof.%d.base.aof" % (max(seqs) + 1))
    os.makedirs(os.path.join(blocker, "x"))
    assert raw_replies(node, b"BGREWRITEAOF\r\n", 1) == [
        b"+Background append only file rewriting started"]
    wait_for(lambda: info_persistence(r)["aof_last_bgrewrite_status"] == "err",
             what="the rewrite failure")
    base1, incrs1 = manifest(node)
    assert base1 == base0 and incrs1[:len(incrs0)] == incrs0 and len(incrs1) == len(incrs0) + 1
    assert not glob.glob(os.path.join(aof_dir(node), "temp-*"))
    r.set("after", "x")
    assert "cannot rename" in node.read_log()
    restart_clean(node)
    r = node.client()
    assert r.dbsize() == 20001 and r.get("after") == b"x"
    # A later rewrite succeeds and folds everything into one BASE.
    r.bgrewriteaof()
    wait_rewrites(r, 1)
    restart_clean(node)
    assert node.client().dbsize() == 20001
    assert len(manifest(node)[1]) == 1
