"""Hash commands: replies and errors as Redis 7.0 gives them, RESP3 shapes, HSCAN, HRANDFIELD."""
import pytest
import redis

from helpers import WRONGTYPE, absent, err, r3, raw  # noqa: F401 (r3 is a fixture)


def test_hset_hget_hmset_hsetnx(r):
    assert r.execute_command("HSET", "h", "a", "1", "b", "2") == 2
    assert r.execute_command("HSET", "h", "a", "10", "c", "3") == 1
    assert r.hget("h", "a") == b"10"
    assert r.hget("h", "zz") is None
    assert r.hget("nokey", "a") is None
    assert raw(r, "HMSET", "h", "d", "4", "e", "5") == b"OK"
    assert r.hsetnx("h", "a", "x") == 0
    assert r.hget("h", "a") == b"10"
    assert r.hsetnx("h", "new", "x") == 1
    assert r.hsetnx("h2", "f", "v") == 1
    assert r.hgetall("h2") == {b"f": b"v"}
    assert r.hlen("h") == 6
    assert r.hlen("nokey") == 0


def test_value_resizes_and_binary_data(r):
    big = b"x" * 5000
    r.hset("h", "f", "small")
    r.hset("h", "f", big)
    assert r.hget("h", "f") == big
    r.hset("h", "f", "")
    assert r.hget("h", "f") == b""
    assert r.hstrlen("h", "f") == 0
    blob = bytes(range(256))
    r.hset("h", blob, blob)
    assert r.hget("h", blob) == blob
    assert r.hstrlen("h", blob) == 256


def test_hmget_hdel_hexists_hstrlen(r):
    r.hset("h", mapping={"a": "1", "b": "22", "c": "333"})
    assert r.hmget("h", "a", "x", "c") == [b"1", None, b"333"]
    assert r.hmget("nokey", "a", "b") == [None, None]
    assert r.hexists("h", "a") is True
    assert r.hexists("h", "x") is False
    assert r.hexists("nokey", "a") is False
    assert r.hstrlen("h", "c") == 3
    assert r.hstrlen("h", "x") == 0
    assert r.hstrlen("nokey", "x") == 0
    assert r.hdel("h", "a", "x", "a") == 1
    assert r.hdel("nokey", "a") == 0
    assert r.hdel("h", "b", "c") == 2
    assert absent(r, "h"), "an empty hash is deleted"


def test_hkeys_hvals_hgetall(r):
    assert r.hkeys("nokey") == []
    assert r.hvals("nokey") == []
    assert r.hgetall("nokey") == {}
    fields = {("f%d" % i).encode(): ("v%d" % i).encode() for i in range(100)}
    r.hset("h", mapping=fields)
    assert sorted(r.hkeys("h")) == sorted(fields)
    assert sorted(r.hvals("h")) == sorted(fields.values())
    assert r.hgetall("h") == fields


def test_hincrby(r):
    assert r.hincrby("h", "n", 5) == 5
    assert r.hincrby("h", "n", -7) == -2
    r.hset("h", "s", "abc")
    assert err(r, "HINCRBY", "h", "s", "1") == "hash value is not an integer"
    r.hset("h", "sp", " 5")
    assert err(r, "HINCRBY", "h", "sp", "1") == "hash value is not an integer"
    assert err(r, "HINCRBY", "h", "n", "x") == "value is not an integer or out of range"
    assert err(r, "HINCRBY", "h", "n", "1.5") == "value is not an integer or out of range"
    r.hset("h", "max", str(2**63 - 1))
    assert err(r, "HINCRBY", "h", "max", "1") == "increment or decrement would overflow"
    r.hset("h", "min", str(-2**63))
    assert err(r, "HINCRBY", "h", "min", "-1") == "increment or decrement would overflow"
    assert r.hget("h", "max") == str(2**63 - 1).encode()
    # A failed increment on a missing key leaves no empty hash behind.
    assert err(r, "HINCRBY", "h3", "n", "x") == "value is not an integer or out of range"
    assert absent(r, "h3")


def test_hincrbyfloat(r):
    assert raw(r, "HINCRBYFLOAT", "h", "f", "1.5") == b"1.5"
    assert raw(r, "HINCRBYFLOAT", "h", "f", "0.25") == b"1.75"
    assert raw(r, "HINCRBYFLOAT", "h", "f", "-1.75") == b"0"
    r.hset("h", "e", "5.0e3")
    assert raw(r, "HINCRBYFLOAT", "h", "e", "1") == b"5001"
    r.hset("h", "s", "abc")
    assert err(r, "HINCRBYFLOAT", "h", "s", "1") == "hash value is not a float"
    assert err(r, "HINCRBYFLOAT", "h", "f", "x") == "value is not a valid float"
    assert err(r, "HINCRBYFLOAT", "h", "f", "inf") == "value is NaN or Infinity"
    r.hset("h", "big", "1.1e4932")
    assert err(r, "HINCRBYFLOAT", "h", "big", "1.1e4932") == \
        "increment would produce NaN or Infinity"
    assert r.hget("h", "big") == b"1.1e4932"


def test_wrongtype_everywhere(r):
    r.set("s", "x")
    cmds = [("HSET", "s", "a", "1"), ("HSETNX", "s", "a", "1"), ("HMSET", "s", "a", "1"),
            ("HGET", "s", "a"), ("HMGET", "s", "a"), ("HDEL", "s", "a"), ("HLEN", "s"),
            ("HSTRLEN", "s", "a"), ("HEXISTS", "s", "a"), ("HKEYS", "s"), ("HVALS", "s"),
            ("HGETALL", "s"), ("HINCRBY", "s", "a", "1"), ("HINCRBYFLOAT", "s", "a", "1"),
            ("HSCAN", "s", "0"), ("HRANDFIELD", "s"), ("HRANDFIELD", "s", "2")]
    for cmd in cmds:
        assert err(r, *cmd) == WRONGTYPE, cmd
    assert r.get("s") == b"x"


def test_arity_and_syntax_errors(r):
    assert err(r, "HSET", "h", "a") == "wrong number of arguments for 'hset' command"
    assert err(r, "HSET", "h", "a", "1", "b") == "wrong number of arguments for 'hset' command"
    assert err(r, "HMSET", "h", "a", "1", "b") == "wrong number of arguments for 'hmset' command"
    assert err(r, "HSETNX", "h", "a") == "wrong number of arguments for 'hsetnx' command"
    assert err(r, "HGET", "h") == "wrong number of arguments for 'hget' command"
    assert err(r, "HDEL", "h") == "wrong number of arguments for 'hdel' command"
    assert absent(r, "h")


def test_hrandfield(r):
    assert r.hrandfield("nokey") is None
    assert r.hrandfield("nokey", 3) == []
    assert r.hrandfield("nokey", 3, withvalues=True) == []
    fields = {("f%d" % i).encode(): ("v%d" % i).encode() for i in range(30)}
    r.hset("h", mapping=fields)
    assert r.hrandfield("h") in fields
    assert r.hrandfield("h", 0) == []
    for count in (1, 5, 10, 11, 29):
        got = r.hrandfield("h", count)
        assert len(got) == count and len(set(got)) == count and set(got) <= set(fields)
    assert sorted(r.hrandfield("h", 30)) == sorted(fields)
    assert sorted(r.hrandfield("h", 1000)) == sorted(fields)
    rep = r.hrandfield("h", -100)
    assert len(rep) == 100 and set(rep) <= set(fields)
    flat = r.hrandfield("h", 4, withvalues=True)
    assert len(flat) == 8
    for f, v in zip(flat[::2], flat[1::2]):
        assert fields[f] == v
    flat = r.hrandfield("h", -50, withvalues=True)
    assert len(flat) == 100
    assert all(fields[f] == v for f, v in zip(flat[::2], flat[1::2]))
    # A small hash: repetitions must show up among many negative picks.
    r.hset("one", "only", "1")
    assert r.hrandfield("one", -5) == [b"only"] * 5


def test_hrandfield_errors(r):
    r.hset("h", "a", "1")
    assert err(r, "HRANDFIELD", "h", "x") == "value is not an integer or out of range"
    assert err(r, "HRANDFIELD", "h", "1", "x") == "syntax error"
    assert err(r, "HRANDFIELD", "h", "1", "withvalues", "x") == "syntax error"
    assert err(r, "HRANDFIELD", "h", str(-2**63)) == (
        "value is out of range, value must between -9223372036854775807 and 9223372036854775807")
    assert err(r, "HRANDFIELD", "h", str(2**62), "WITHVALUES") == "value is out of range"
    assert err(r, "HRANDFIELD", "h", str(-2**62), "withvalues") == "value is out of range"
    assert r.execute_command("HRANDFIELD", "h", str(2**62 - 1), "withvalues") == [b"a", b"1"]


def test_hrandfield_huge_negative_count_closes_client(node):
    # The reply would be endless: the output limit closes the client and the
    # node keeps serving others.
    r = node.client()
    r.execute_command("CONFIG", "SET", "client-output-buffer-limit-normal", "1mb")
    r.hset("h", "a", "1")
    with pytest.raises(redis.ConnectionError):
        r.execute_command("HRANDFIELD", "h", str(-2**62))
    assert node.client().hget("h", "a") == b"1"


def scan_all(r, key, **kw):
    cursor, seen, calls = 0, [], 0
    while True:
        cursor, items = r.hscan(key, cursor, **kw)
        seen.extend(items.items())
        calls += 1
        if cursor == 0:
            return seen, calls


def test_hscan(r):
    fields = {("f%d" % i).encode(): ("v%d" % i).encode() for i in range(1000)}
    r.hset("h", mapping=fields)
    seen, calls = scan_all(r, "h")
    assert dict(seen) == fields
    assert calls > 10, "COUNT 10 bounds each call's work"
    seen, _ = scan_all(r, "h", match="f1*", count=50)
    assert dict(seen) == {f: v for f, v in fields.items() if f.startswith(b"f1")}
    # A COUNT above the size walks the whole table in one call (COUNT equal
    # to it may stop on the last field with empty buckets still ahead).
    cursor, items = r.hscan("h", 0, count=1001)
    assert cursor == 0 and items == fields
    assert r.hscan("nokey", 0) == (0, {})
    # Options of a missing key are not looked at (as Redis).
    assert raw(r, "HSCAN", "nokey", "0", "COUNT", "0") == [b"0", []]


def test_hscan_errors(r):
    r.hset("h", "a", "1")
    assert err(r, "HSCAN", "h", "x") == "invalid cursor"
    assert err(r, "HSCAN", "h", str(2**64)) == "invalid cursor"
    assert err(r, "HSCAN", "h", "0", "COUNT", "0") == "syntax error"
    assert err(r, "HSCAN", "h", "0", "COUNT", "x") == "value is not an integer or out of range"
    assert err(r, "HSCAN", "h", "0", "MATCH") == "syntax error"
    assert err(r, "HSCAN", "h", "0", "FOO", "1") == "syntax error"
    assert raw(r, "HSCAN", "h", str(2**64 - 1))[0] == b"0"
    assert raw(r, "HSCAN", "h", "0", "COUNT", str(10**12))[1] == [b"a", b"1"]


def test_resp3_shapes(r3):
    assert r3.call("HSET", "h", "a", "1", "b", "2") == ("int", 2)
    kind, pairs = r3.call("HGETALL", "h")
    assert kind == "map"
    assert sorted((k[1], v[1]) for k, v in pairs) == [(b"a", b"1"), (b"b", b"2")]
    assert r3.call("HGETALL", "nokey") == ("map", [])
    assert r3.call("HKEYS", "nokey") == ("array", [])
    assert r3.call("HKEYS", "h")[0] == "array"
    assert r3.call("HVALS", "h")[0] == "array"
    assert r3.call("HGET", "h", "x") == ("null", None)
    assert r3.call("HMGET", "h", "a", "x") == ("array", [("bulk", b"1"), ("null", None)])
    assert r3.call("HRANDFIELD", "nokey") == ("null", None)
    assert r3.call("HRANDFIELD", "nokey", "2") == ("array", [])
    assert r3.call("HINCRBYFLOAT", "h", "a", "1") == ("bulk", b"2")
    assert r3.call("HEXISTS", "h", "a") == ("int", 1)
    kind, items = r3.call("HRANDFIELD", "h", "5", "WITHVALUES")
    assert kind == "array" and len(items) == 2
    assert sorted(tuple(v for _, v in pair[1]) for pair in items) == [(b"a", b"2"), (b"b", b"2")]
    assert all(pair[0] == "array" for pair in items)
    kind, items = r3.call("HRANDFIELD", "h", "-3", "WITHVALUES")
    assert kind == "array" and len(items) == 3 and all(p[0] == "array" for p in items)
    kind, items = r3.call("HRANDFIELD", "h", "1", "WITHVALUES")
    assert len(items) == 1 and items[0][0] == "array"
    assert r3.call("HSCAN", "nokey", "0") == ("array", [("bulk", b"0"), ("array", [])])
    assert r3.call("HSET", "s", "a")[0] == "error"


def test_redis_cli(node):
    assert node.cli("HSET", "h", "f", "v", "g", "w").strip() == "2"
    assert node.cli("HGET", "h", "f").strip() == "v"
    out = node.cli("-3", "--no-raw", "HGETALL", "h").splitlines()
    assert sorted(out) == ['1# "f" => "v"', '2# "g" => "w"'] or \
        sorted(out) == ['1# "g" => "w"', '2# "f" => "v"']
    assert node.cli("HINCRBY", "h", "f", "1").strip() == "ERR hash value is not an integer"
