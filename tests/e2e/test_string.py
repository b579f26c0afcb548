"""String commands against the real node: replies and errors as Redis gives them."""
import time

import pytest
import redis


def err(r, *args):
    with pytest.raises(redis.ResponseError) as e:
        r.execute_command(*args)
    return str(e.value)


def test_set_get_options(r):
    assert r.set("k", "v") is True
    assert r.get("k") == b"v"
    assert r.set("k", "w", nx=True) is None
    assert r.set("k", "w", xx=True) is True
    assert r.set("missing", "x", xx=True) is None
    assert r.set("k", "z", get=True) == b"w"
    assert r.set("nokey", "z", get=True) is None
    assert r.set("t", "1", ex=100)
    assert 99 <= r.ttl("t") <= 100
    assert r.set("t", "2", px=50000)
    assert 49000 <= r.pttl("t") <= 50000
    assert r.set("t", "3", keepttl=True)
    assert r.pttl("t") > 0
    assert r.set("t", "4")
    assert r.ttl("t") == -1
    now = int(time.time())
    assert r.set("t", "5", exat=now + 100)
    assert 98 <= r.ttl("t") <= 100
    assert r.set("t", "6", pxat=(now + 100) * 1000)
    assert err(r, "SET", "k", "v", "NX", "XX") == "syntax error"
    assert err(r, "SET", "k", "v", "EX", "10", "PX", "100") == "syntax error"
    assert err(r, "SET", "k", "v", "EX") == "syntax error"
    assert err(r, "SET", "k", "v", "EX", "abc") == "value is not an integer or out of range"
    assert err(r, "SET", "k", "v", "EX", "0") == "invalid expire time in 'set' command"
    assert err(r, "SET", "k", "v", "PX", "-5") == "invalid expire time in 'set' command"
    assert err(r, "SET", "k", "v", "BOGUS") == "syntax error"
    r.rpush("list", "a")
    assert "WRONGTYPE" in err(r, "GET", "list")
    assert "WRONGTYPE" in err(r, "SET", "list", "v", "GET")
    assert r.set("list", "overwrite") is True  # SET replaces any type
    assert r.get("list") == b"overwrite"


def test_expiry_of_set_ex(r):
    r.set("short", "v", px=100)
    time.sleep(0.25)
    assert r.get("short") is None
    assert r.exists("short") == 0


def test_setnx_setex_psetex_getset_getdel_getex(r):
    assert r.setnx("a", "1") is True
    assert r.setnx("a", "2") is False
    assert r.get("a") == b"1"
    assert r.setex("b", 100, "x") is True
    assert 99 <= r.ttl("b") <= 100
    assert r.psetex("c", 100000, "y") is True
    assert r.pttl("c") > 99000
    assert err(r, "SETEX", "b", "0", "x") == "invalid expire time in 'setex' command"
    assert err(r, "PSETEX", "b", "-1", "x") == "invalid expire time in 'psetex' command"
    assert r.getset("a", "3") == b"1"
    assert r.getset("new", "v") is None
    assert r.getdel("a") == b"3"
    assert r.getdel("a") is None
    r.set("g", "v")
    assert r.getex("g", ex=50) == b"v"
    assert 49 <= r.ttl("g") <= 50
    assert r.getex("g", persist=True) == b"v"
    assert r.ttl("g") == -1
    assert r.getex("nothere") is None
    assert err(r, "GETEX", "g", "EX", "10", "PERSIST") == "syntax error"


def test_mget_mset_msetnx(r):
    assert r.mset({"a": "1", "b": "2"}) is True
    r.rpush("l", "x")
    assert r.mget("a", "b", "nope", "l") == [b"1", b"2", None, None]
    assert r.msetnx({"a": "9", "z": "9"}) is False
    assert r.get("z") is None
    assert r.msetnx({"y": "9", "z": "9"}) is True
    assert err(r, "MSET", "a") == "wrong number of arguments for 'mset' command"
    assert err(r, "MSET", "a", "1", "b") == "wrong number of arguments for 'mset' command"


def test_counters(r):
    assert r.incr("n") == 1
    assert r.incrby("n", 10) == 11
    assert r.decr("n") == 10
    assert r.decrby("n", 20) == -10
    r.set("big", str(2**63 - 1))
    assert err(r, "INCR", "big") == "increment or decrement would overflow"
    r.set("small", str(-2**63))
    assert err(r, "DECR", "small") == "increment or decrement would overflow"
    assert err(r, "DECRBY", "n", str(-2**63)) == "decrement would overflow"
    r.set("s", "abc")
    assert err(r, "INCR", "s") == "value is not an integer or out of range"
    r.set("s", " 1")
    assert err(r, "INCR", "s") == "value is not an integer or out of range"
    assert err(r, "INCRBY", "n", "1.5") == "value is not an integer or out of range"
    assert r.incrbyfloat("f", 10.5) == 10.5
    assert r.incrbyfloat("f", 0.1) == pytest.approx(10.6)
    assert r.get("f") == b"10.6"
    r.set("f2", "5.0e3")
    assert r.incrbyfloat("f2", 200) == 5200
    assert r.get("f2") == b"5200"
    assert err(r, "INCRBYFLOAT", "s", "1") == "value is not a valid float"
    assert err(r, "INCRBYFLOAT", "f", "nan") == "value is not a valid float"
    assert err(r, "INCRBYFLOAT", "f", "inf") == "increment would produce NaN or Infinity"
    r.set("ttl", "1", ex=100)
    r.incr("ttl")
    assert r.ttl("ttl") > 0  # INCR keeps the TTL


def test_append_strlen_ranges(r):
    assert r.append("s", "Hello") == 5
    assert r.append("s", " World") == 11
    assert r.strlen("s") == 11
    assert r.strlen("none") == 0
    assert r.getrange("s", 0, 4) == b"Hello"
    assert r.getrange("s", -5, -1) == b"World"
    assert r.getrange("s", 5, 2) == b""
    assert r.getrange("s", 0, 100) == b"Hello World"
    assert r.getrange("none", 0, 10) == b""
    assert r.setrange("s", 6, "Redis") == 11
    assert r.get("s") == b"Hello Redis"
    assert r.setrange("pad", 5, "x") == 6
    assert r.get("pad") == b"\x00\x00\x00\x00\x00x"
    assert r.setrange("empty", 0, "") == 0
    assert r.exists("empty") == 0
    assert err(r, "SETRANGE", "s", "-1", "x") == "offset is out of range"
    assert err(r, "SETRANGE", "s", str(600 * 1024 * 1024), "x").startswith("string exceeds maximum allowed size")
    # many appends grow in place
    for i in range(1000):
        r.append("grow", "0123456789")
    assert r.strlen("grow") == 10000


def test_binary_safe(r):
    value = bytes(range(256)) * 4
    r.set(b"bin\x00key", value)
    assert r.get(b"bin\x00key") == value


def test_large_value(r):
    value = b"x" * (8 * 1024 * 1024)
    r.set("large", value)
    assert r.get("large") == value


def test_redis_cli(node):
    assert node.cli("SET", "clikey", "hello").strip() == "OK"
    assert node.cli("GET", "clikey").strip() == "hello"
    assert node.cli("INCR", "cnt").strip() == "1"
    out = node.cli("INCR", "clikey").strip()
    assert out == "ERR value is not an integer or out of range"
