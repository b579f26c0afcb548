"""DEBUG DIGEST: equal keyspaces give equal digests, whatever the insertion order;
any difference in keys, values, types or TTLs changes it; it survives a restart."""
import time

import pytest
import redis


def fill(c, order):
    c.set("s", "v")
    c.set("ttl", "x")
    c.pexpireat("ttl", 4102444800000)  # fixed absolute time so both sides agree
    members = ["a", "b", "c", "d"]
    fields = {"f1": "1", "f2": "2", "f3": "3"}
    if order:
        members.reverse()
    for m in members:
        c.sadd("set", m)
    for f in (sorted(fields) if not order else sorted(fields, reverse=True)):
        c.hset("hash", f, fields[f])
    c.rpush("list", "1", "2", "3")
    c.zadd("zset", {"m1": 1.5, "m2": 2})


def digest(c):
    return c.execute_command("DEBUG", "DIGEST")


def test_digest_equal_and_sensitive(node_factory):
    a, b = node_factory(), node_factory(subdir="b")
    ca, cb = a.client(), b.client()
    assert digest(ca) == b"0" * 32
    fill(ca, False)
    fill(cb, True)
    assert digest(ca) == digest(cb) != b"0" * 32
    cb.rpush("list", "4")
    assert digest(ca) != digest(cb)
    cb.rpop("list")
    assert digest(ca) == digest(cb)
    cb.pexpireat("ttl", 4102444800001)
    assert digest(ca) != digest(cb)
    cb.pexpireat("ttl", 4102444800000)
    cb.hset("hash", "f1", "one")
    assert digest(ca) != digest(cb)
    cb.hset("hash", "f1", "1")
    assert digest(ca) == digest(cb)
    values = ca.execute_command("DEBUG", "DIGEST-VALUE", "s", "nokey")
    assert len(values) == 2 and values[1] == b"0" * 32


def test_digest_survives_restart(node_factory):
    n = node_factory(["--appendonly", "yes", "--appendfsync", "always"])
    c = n.client()
    fill(c, False)
    before = digest(c)
    n.restart()
    assert digest(n.client()) == before


def test_debug_errors(r):
    with pytest.raises(redis.ResponseError) as e:
        r.execute_command("DEBUG", "NOPE")
    assert "Try DEBUG HELP" in str(e.value)
    with pytest.raises(redis.ResponseError):
        r.execute_command("DEBUG", "SLEEP", "100")
    t = time.time()
    assert r.execute_command("DEBUG", "SLEEP", "0.1")
    assert time.time() - t >= 0.1
