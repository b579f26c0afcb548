"""MULTI/EXEC/DISCARD/WATCH: queueing, aborts, errors inside EXEC, optimistic
locking with redis-py, RESP3 replies and the queue memory bound."""
import glob
import os
import threading
import time

import pytest
import redis

from helpers import Conn, Err


@pytest.fixture
def raw(node):
    c = Conn(node.port)
    yield c
    c.close()


def test_multi_exec_happy_path(raw, r):
    assert raw.call("MULTI") == "OK"
    assert raw.call("SET", "k", "v") == "QUEUED"
    assert raw.call("INCR", "n") == "QUEUED"
    assert raw.call("GET", "k") == "QUEUED"
    # Nothing ran yet: another client sees no effect.
    assert r.get("k") is None
    assert raw.call("EXEC") == ["OK", 1, b"v"]
    assert r.get("n") == b"1"
    # The transaction is over: a second EXEC has no MULTI.
    assert raw.call("EXEC") == Err("ERR EXEC without MULTI")


def test_empty_transaction(raw):
    assert raw.call("MULTI") == "OK"
    assert raw.call("EXEC") == []


def test_execabort_after_queueing_errors(raw, r):
    assert raw.call("MULTI") == "OK"
    assert raw.call("SET", "x", "1") == "QUEUED"
    assert raw.call("NOSUCHCMD", "a").startswith("ERR unknown command 'NOSUCHCMD'")
    assert raw.call("SET", "x", "2") == "QUEUED"
    assert raw.call("EXEC") == Err("EXECABORT Transaction discarded because of previous errors.")
    assert r.get("x") is None
    # A wrong arity while queueing aborts too.
    assert raw.call("MULTI") == "OK"
    assert raw.call("GET") == Err("ERR wrong number of arguments for 'get' command")
    assert raw.call("EXEC") == Err("EXECABORT Transaction discarded because of previous errors.")
    # And the client is out of MULTI afterwards.
    assert raw.call("GET", "x") is None


def test_errors_inside_exec_array(raw, r):
    assert raw.call("MULTI") == "OK"
    assert raw.call("SET", "a", "b") == "QUEUED"
    assert raw.call("INCR", "a") == "QUEUED"
    assert raw.call("SET", "c", "d") == "QUEUED"
    assert raw.call("EXEC") == ["OK", Err("ERR value is not an integer or out of range"), "OK"]
    # Redis does not roll back: the commands around the error took effect.
    assert r.get("c") == b"d"


def test_nested_multi_and_watch_inside_multi_do_not_abort(raw, r):
    assert raw.call("MULTI") == "OK"
    assert raw.call("MULTI") == Err("ERR MULTI calls can not be nested")
    assert raw.call("WATCH", "x") == Err("ERR WATCH inside MULTI is not allowed")
    assert raw.call("SET", "nested", "1") == "QUEUED"
    assert raw.call("EXEC") == ["OK"]
    assert r.get("nested") == b"1"


def test_discard(raw, r):
    assert raw.call("DISCARD") == Err("ERR DISCARD without MULTI")
    assert raw.call("MULTI") == "OK"
    assert raw.call("SET", "d", "1") == "QUEUED"
    assert raw.call("DISCARD") == "OK"
    assert r.get("d") is None
    assert raw.call("EXEC") == Err("ERR EXEC without MULTI")
    # DISCARD also forgets WATCHed keys.
    assert raw.call("WATCH", "w") == "OK"
    assert raw.call("MULTI") == "OK"
    assert raw.call("DISCARD") == "OK"
    r.set("w", "changed")
    assert raw.call("MULTI") == "OK"
    assert raw.call("EXEC") == []


def test_watch_conflict_from_another_client(raw, r):
    r.set("k", "0")
    assert raw.call("WATCH", "k") == "OK"
    r.set("k", "other")
    assert raw.call("MULTI") == "OK"
    assert raw.call("SET", "k", "mine") == "QUEUED"
    assert raw.call("EXEC") is None
    assert r.get("k") == b"other"
    # Without a conflict the same sequence succeeds (EXEC unwatched everything).
    assert raw.call("WATCH", "k") == "OK"
    assert raw.call("MULTI") == "OK"
    assert raw.call("SET", "k", "mine") == "QUEUED"
    assert raw.call("EXEC") == ["OK"]
    assert r.get("k") == b"mine"


def test_watch_of_absent_key_and_unwatch(raw, r):
    assert raw.call("WATCH", "absent", "absent") == "OK"
    r.set("absent", "now")
    assert raw.call("UNWATCH") == "OK"
    assert raw.call("MULTI") == "OK"
    assert raw.call("EXEC") == []
    # A deletion is a modification too.
    assert raw.call("WATCH", "absent") == "OK"
    r.delete("absent")
    assert raw.call("MULTI") == "OK"
    assert raw.call("EXEC") is None


def test_watch_own_write_and_flushall(raw, r):
    assert raw.call("WATCH", "mine") == "OK"
    assert raw.call("SET", "mine", "1") == "OK"
    assert raw.call("MULTI") == "OK"
    assert raw.call("EXEC") is None
    r.set("f", "1")
    assert raw.call("WATCH", "f") == "OK"
    r.flushall()
    assert raw.call("MULTI") == "OK"
    assert raw.call("EXEC") is None


def test_watch_on_expiring_key(raw, r):
    r.set("ttl", "v", px=50)
    assert raw.call("WATCH", "ttl") == "OK"
    time.sleep(0.12)
    assert raw.call("MULTI") == "OK"
    assert raw.call("SET", "other", "1") == "QUEUED"
    # Expired since WATCH, whether or not it has been deleted yet.
    assert raw.call("EXEC") is None
    assert r.get("other") is None


def test_watch_of_already_expired_key(raw, r):
    r.set("gone", "v", px=1)
    time.sleep(0.02)
    # Logically absent when watched; its deletion by expiry changes nothing.
    assert raw.call("WATCH", "gone") == "OK"
    assert r.get("gone") is None
    assert raw.call("MULTI") == "OK"
    assert raw.call("EXEC") == []


def test_blocking_command_inside_exec_does_not_block(raw):
    assert raw.call("MULTI") == "OK"
    reply = raw.call("BLPOP", "nolist", "0")
    if isinstance(reply, Err):
        pytest.skip("BLPOP is not available yet: " + reply)
    assert reply == "QUEUED"
    assert raw.call("EXEC") == [None]


def test_exec_resp3_null_and_types(node):
    c = Conn(node.port)
    try:
        assert c.call("HELLO", "3")[b"proto"] == 3
        assert c.call("WATCH", "k3") == "OK"
        redis.Redis(port=node.port).set("k3", "x")
        assert c.call("MULTI") == "OK"
        c.send("EXEC")
        assert c.read_bytes(3) == b"_\r\n"
        assert c.call("MULTI") == "OK"
        assert c.call("HSET", "h", "f", "v") == "QUEUED"
        assert c.call("HGETALL", "h") == "QUEUED"
        c.send("EXEC")
        assert c.read_bytes(4) == b"*2\r\n"
        assert c.read() == 1
        assert c.read_bytes(4) == b"%1\r\n"  # the map keeps its RESP3 type
        assert c.read() == b"f" and c.read() == b"v"
    finally:
        c.close()
    c2 = Conn(node.port)
    try:
        assert c2.call("WATCH", "k3") == "OK"
        redis.Redis(port=node.port).set("k3", "y")
        assert c2.call("MULTI") == "OK"
        c2.send("EXEC")
        assert c2.read_bytes(5) == b"*-1\r\n"
    finally:
        c2.close()


def test_redis_py_pipeline_transaction(r):
    pipe = r.pipeline(transaction=True)
    pipe.set("p", "v").incr("cnt").incr("cnt").get("p")
    assert pipe.execute() == [True, 1, 2, b"v"]
    pipe = r.pipeline(transaction=True)
    pipe.set("q", "x").incr("q")
    with pytest.raises(redis.exceptions.ResponseError):
        pipe.execute()
    res = r.pipeline(transaction=True).set("q", "x").incr("q").execute(raise_on_error=False)
    assert res[0] is True and isinstance(res[1], redis.exceptions.ResponseError)


def test_redis_py_watch_error(node, r):
    other = node.client()
    r.set("bal", "10")
    with r.pipeline() as pipe:
        pipe.watch("bal")
        assert int(pipe.get("bal")) == 10
        other.set("bal", "99")
        pipe.multi()
        pipe.set("bal", "11")
        with pytest.raises(redis.exceptions.WatchError):
            pipe.execute()
    assert r.get("bal") == b"99"
    other.close()


def test_optimistic_locking_loop(node):
    """Two clients increment one counter with WATCH/GET/MULTI/SET/EXEC:
    retries on conflict, and no increment is lost."""
    per_thread, errors = 50, []

    def worker():
        c = node.client()
        try:
            for _ in range(per_thread):
                def incr(pipe):
                    v = int(pipe.get("counter") or 0)
                    pipe.multi()
                    pipe.set("counter", v + 1)
                c.transaction(incr, "counter")
        except Exception as e:  # reported below
            errors.append(e)
        finally:
            c.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert not errors
    assert int(node.client().get("counter")) == 2 * per_thread


def test_queue_memory_is_bounded(raw, r):
    r.config_set("client-query-buffer-limit", "1mb")
    big = b"x" * (400 * 1024)
    assert raw.call("MULTI") == "OK"
    assert raw.call("SET", "b1", big) == "QUEUED"
    assert raw.call("SET", "b2", big) == "QUEUED"
    err = raw.call("SET", "b3", big)
    assert isinstance(err, Err) and err.startswith("ERR ")
    # Further commands are acknowledged but not kept; EXEC aborts.
    assert raw.call("SET", "b4", "small") == "QUEUED"
    assert raw.call("EXEC") == Err("EXECABORT Transaction discarded because of previous errors.")
    assert r.exists("b1", "b2", "b4") == 0
    assert raw.call("PING") == "PONG"


def test_client_close_inside_multi_with_watch(node, r):
    for _ in range(20):
        c = Conn(node.port)
        assert c.call("WATCH", "a", "b", "c") == "OK"
        assert c.call("MULTI") == "OK"
        assert c.call("SET", "a", "1") == "QUEUED"
        c.close()
    r.set("a", "2")  # touches watchers that may be gone: must not crash
    assert r.ping()


def test_redis_cli_transaction(node):
    out = node.cli(input=b"MULTI\nSET cli 1\nINCR cli\nMULTI\nEXEC\n")
    assert out.split() == ["OK", "QUEUED", "QUEUED", "ERR", "MULTI", "calls", "can", "not",
                           "be", "nested", "OK", "2"]


def _aof_files(d):
    return [p for p in glob.glob(os.path.join(d, "**", "*"), recursive=True)
            if os.path.isfile(p) and ".aof" in os.path.basename(p)]


def test_exec_propagates_atomically(node_factory):
    """When the AOF is on, EXEC's writes are logged as one MULTI ... EXEC block
    and the transaction survives a restart; EXEC itself is not logged alone."""
    n = node_factory(args=["--appendonly", "yes"])
    c = n.client()
    c.set("plain", "1")
    with c.pipeline(transaction=True) as p:
        p.set("t1", "a").get("t1").incr("t2")
        p.execute()
    with c.pipeline(transaction=True) as p:
        p.get("t1")  # a read-only transaction propagates nothing
        p.execute()
    c.close()
    n.stop()
    data = b"".join(open(p, "rb").read() for p in _aof_files(n.dir))
    n.start()
    c = n.client()
    if c.get("plain") is None:
        pytest.skip("the AOF does not persist yet")
    assert c.get("t1") == b"a" and c.get("t2") == b"1"
    c.close()
    assert data.count(b"$5\r\nMULTI\r\n") == 1
    assert data.count(b"$4\r\nEXEC\r\n") == 1
    multi = data.index(b"$5\r\nMULTI\r\n")
    assert multi < data.index(b"$2\r\nt1\r\n") < data.index(b"$2\r\nt2\r\n") < data.index(b"EXEC")
