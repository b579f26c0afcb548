"""Generic key commands: DEL/UNLINK/EXISTS/TYPE/TOUCH, RENAME/RENAMENX, COPY,
KEYS, SCAN, RANDOMKEY, OBJECT and MEMORY, with their Redis 7.0 errors, RESP3
reply types and redis-cli."""
import time

import pytest
import redis

from helpers import Resp3, err, raw


# ---- DEL, UNLINK, EXISTS, TYPE, TOUCH ----

def test_del_unlink_counts(r):
    r.mset({"a": 1, "b": 2, "c": 3})
    assert r.delete("a", "a", "nope") == 1
    assert r.unlink("b", "c", "b") == 2
    assert r.dbsize() == 0
    assert r.delete("a") == 0
    assert err(r, "DEL") == "wrong number of arguments for 'del' command"
    assert err(r, "UNLINK") == "wrong number of arguments for 'unlink' command"


def test_del_non_string_values(r):
    r.rpush("l", "a", "b")
    r.sadd("s", "x")
    r.hset("h", "f", "v")
    r.zadd("z", {"m": 1})
    assert r.delete("l", "s", "h", "z") == 4
    assert r.dbsize() == 0


def test_exists_counts_repeats(r):
    r.set("a", "1")
    assert r.exists("a") == 1
    assert r.exists("a", "a", "a", "missing") == 3
    assert r.exists("missing") == 0
    assert err(r, "EXISTS") == "wrong number of arguments for 'exists' command"


def test_type_of_each_kind(r):
    r.set("s", "v")
    r.rpush("l", "a")
    r.sadd("st", "a")
    r.zadd("z", {"a": 1})
    r.hset("h", "f", "v")
    assert [r.type(k) for k in ("s", "l", "st", "z", "h", "none")] == \
        [b"string", b"list", b"set", b"zset", b"hash", b"none"]
    assert err(r, "TYPE", "a", "b") == "wrong number of arguments for 'type' command"


def test_touch(r):
    r.set("a", "1")
    r.set("b", "2")
    assert r.touch("a", "b", "c", "a") == 3
    assert r.touch("zz") == 0


# ---- RENAME, RENAMENX ----

def test_rename_moves_value_and_ttl(r):
    r.set("src", "v", ex=100)
    assert r.rename("src", "dst") is True
    assert r.get("src") is None
    assert r.get("dst") == b"v"
    assert 95 <= r.ttl("dst") <= 100
    r.rpush("l", "a", "b", "c")
    r.set("ldst", "old", ex=50)
    assert r.rename("l", "ldst")
    assert r.lrange("ldst", 0, -1) == [b"a", b"b", b"c"]
    assert r.ttl("ldst") == -1  # the destination's TTL goes with its old value
    assert r.exists("l") == 0


def test_rename_errors_and_same_key(r):
    assert err(r, "RENAME", "nokey", "x") == "no such key"
    assert err(r, "RENAMENX", "nokey", "x") == "no such key"
    assert err(r, "RENAME", "nokey", "nokey") == "no such key"
    r.set("k", "v", ex=100)
    assert r.rename("k", "k") is True
    assert r.renamenx("k", "k") is False
    assert r.get("k") == b"v" and r.ttl("k") > 0
    assert err(r, "RENAME", "k") == "wrong number of arguments for 'rename' command"


def test_renamenx(r):
    r.set("a", "1")
    r.set("b", "2")
    assert r.renamenx("a", "b") is False
    assert r.get("a") == b"1" and r.get("b") == b"2"
    assert r.renamenx("a", "c") is True
    assert r.get("c") == b"1" and r.exists("a") == 0


def test_rename_signals_watchers(node):
    r = node.client()
    r.set("a", "1")
    p = r.pipeline(transaction=True)
    p.watch("b")
    other = node.client()
    other.rename("a", "b")
    p.multi()
    p.set("b", "mine")
    with pytest.raises(redis.WatchError):
        p.execute()
    assert r.get("b") == b"1"


# ---- COPY ----

def test_copy_string_and_ttl(r):
    r.set("s", "v", px=100000)
    assert r.copy("s", "d") is True
    assert r.get("d") == b"v"
    assert 99000 <= r.pttl("d") <= 100000
    assert r.copy("s", "d") is False
    r.set("s", "new")
    assert r.copy("s", "d", replace=True) is True
    assert r.get("d") == b"new" and r.ttl("d") == -1
    assert r.copy("missing", "x") is False
    assert r.exists("x") == 0


def test_copy_is_deep(r):
    r.rpush("l", "a", "b")
    r.hset("h", mapping={"f": "1", "g": "2"})
    r.sadd("s", "x", "y")
    r.zadd("z", {"m": 1, "n": 2})
    for k in ("l", "h", "s", "z"):
        assert r.copy(k, k + "2")
    r.rpush("l2", "c")
    r.hset("h2", "f", "changed")
    r.sadd("s2", "zz")
    r.zadd("z2", {"m": 10})
    assert r.lrange("l", 0, -1) == [b"a", b"b"]
    assert r.hget("h", "f") == b"1"
    assert r.smembers("s") == {b"x", b"y"}
    assert r.zscore("z", "m") == 1.0
    assert r.type("z2") == b"zset" and r.zcard("z2") == 2
    # a string copied over a list with REPLACE changes the type
    r.set("str", "v")
    assert r.copy("str", "l2", replace=True)
    assert r.type("l2") == b"string" and r.get("l2") == b"v"


def test_copy_errors(r):
    r.set("k", "v")
    assert err(r, "COPY", "k", "k") == "source and destination objects are the same"
    assert err(r, "COPY", "k", "k2", "DB", "1") == "DB index is out of range"
    assert err(r, "COPY", "k", "k2", "DB", "-1") == "DB index is out of range"
    assert err(r, "COPY", "k", "k2", "DB", "abc") == "value is not an integer or out of range"
    assert err(r, "COPY", "k", "k2", "DB", "99999999999") == "value is not an integer or out of range"
    assert err(r, "COPY", "k", "k2", "DB") == "syntax error"
    assert err(r, "COPY", "k", "k2", "FOO") == "syntax error"
    assert err(r, "COPY", "k") == "wrong number of arguments for 'copy' command"
    assert r.execute_command("COPY", "k", "k2", "DB", "0", "REPLACE") == 1
    assert r.get("k2") == b"v"


# ---- KEYS, SCAN, RANDOMKEY ----

def test_keys_patterns(r):
    r.mset({"hello": 1, "hallo": 2, "hxllo": 3, "hllo": 4, "heeeello": 5, "x[y": 6})
    assert sorted(r.keys("*")) == sorted([b"hello", b"hallo", b"hxllo", b"hllo", b"heeeello", b"x[y"])
    assert sorted(r.keys("h?llo")) == [b"hallo", b"hello", b"hxllo"]
    assert sorted(r.keys("h*llo")) == [b"hallo", b"heeeello", b"hello", b"hllo", b"hxllo"]
    assert sorted(r.keys("h[ae]llo")) == [b"hallo", b"hello"]
    assert sorted(r.keys("h[^e]llo")) == [b"hallo", b"hxllo"]
    assert r.keys("x\\[y") == [b"x[y"]
    assert r.keys("nomatch*") == []
    assert err(r, "KEYS") == "wrong number of arguments for 'keys' command"


def test_keys_skips_expired(r):
    r.set("live", "1")
    r.set("dead", "1", px=1)
    time.sleep(0.01)
    assert r.keys("*") == [b"live"]


def full_scan(r, **kw):
    cursor, seen, calls = 0, [], 0
    while True:
        cursor, keys = r.scan(cursor, **kw)
        seen.extend(keys)
        calls += 1
        if cursor == 0:
            return seen, calls


def test_scan_full_iteration(r):
    p = r.pipeline(transaction=False)
    for i in range(1000):
        p.set("key:%d" % i, i)
    p.rpush("list:1", "a")
    p.execute()
    seen, calls = full_scan(r)
    assert set(seen) == {b"key:%d" % i for i in range(1000)} | {b"list:1"}
    assert calls > 1
    seen, _ = full_scan(r, count=100)
    assert len(set(seen)) == 1001
    seen, _ = full_scan(r, match="key:1*", count=1000)
    assert set(seen) == {b"key:%d" % i for i in range(1000) if str(i).startswith("1")}
    seen, _ = full_scan(r, _type="list")
    assert seen == [b"list:1"]
    seen, _ = full_scan(r, _type="LIST")
    assert seen == [b"list:1"]
    assert full_scan(r, _type="nosuchtype")[0] == []


def test_scan_skips_and_deletes_expired(r):
    r.set("a", "1", px=1)
    r.set("b", "1")
    time.sleep(0.01)
    seen, _ = full_scan(r)
    assert seen == [b"b"]
    assert r.dbsize() == 1


def test_scan_errors(r):
    assert err(r, "SCAN", "abc") == "invalid cursor"
    assert err(r, "SCAN", " 1") == "invalid cursor"
    assert err(r, "SCAN", "18446744073709551616") == "invalid cursor"
    assert err(r, "SCAN", "0", "COUNT", "0") == "syntax error"
    assert err(r, "SCAN", "0", "COUNT", "-1") == "syntax error"
    assert err(r, "SCAN", "0", "COUNT", "x") == "value is not an integer or out of range"
    assert err(r, "SCAN", "0", "MATCH") == "syntax error"
    assert err(r, "SCAN", "0", "FOO", "bar") == "syntax error"
    assert err(r, "SCAN") == "wrong number of arguments for 'scan' command"
    # Huge COUNT is accepted (bounded internally), as is the maximal cursor.
    assert r.scan(0, count=10**12) == (0, [])
    assert r.execute_command("SCAN", "18446744073709551615")[1] == []


# Cursors as Redis 7.0's strtoul reads them (checked against redis-server):
# optional sign (negatives wrap), digits up to the end or an embedded NUL,
# "" is 0; a leading space, trailing bytes or overflow are refused.
GOOD_CURSORS = [b"", b"\x00", b"5\x00junk", b"-1", b"+5", b"-0", b"0" * 100 + b"7",
                b"18446744073709551615", b"-18446744073709551615"]
BAD_CURSORS = [b"0x10", b" 5", b"5 ", b"\t1", b"1.0", b"-", b"+", b"abc",
               b"18446744073709551616", b"-18446744073709551616"]
SCAN_FAMILY = [("SCAN",), ("HSCAN", "h"), ("SSCAN", "s"), ("ZSCAN", "z")]


@pytest.mark.parametrize("cmd", SCAN_FAMILY, ids=lambda c: c[0])
def test_scan_family_cursor_rules(r, cmd):
    r.hset("h", "f", "v")
    r.sadd("s", "m")
    r.zadd("z", {"m": 1})
    for cursor in GOOD_CURSORS:
        reply = raw(r, *cmd, cursor)
        assert isinstance(reply, list) and len(reply) == 2, cursor
    for cursor in BAD_CURSORS:
        assert err(r, *cmd, cursor) == "invalid cursor", cursor


@pytest.mark.parametrize("cmd", SCAN_FAMILY[1:], ids=lambda c: c[0])
def test_value_scans_refuse_type_and_check_count(r, cmd):
    r.hset("h", "f", "v")
    r.sadd("s", "m")
    r.zadd("z", {"m": 1})
    assert err(r, *cmd, 0, "TYPE", "string") == "syntax error"
    assert err(r, *cmd, 0, "COUNT", "0") == "syntax error"
    assert err(r, *cmd, 0, "COUNT", "x") == "value is not an integer or out of range"
    assert err(r, *cmd, 0, "MATCH") == "syntax error"
    # A missing key answers an empty scan before its options are read.
    assert raw(r, cmd[0], "nokey", 0, "TYPE", "x") == [b"0", []]


def test_randomkey(r):
    assert r.randomkey() is None
    r.mset({"a": 1, "b": 2, "c": 3})
    got = {r.randomkey() for _ in range(60)}
    assert got <= {b"a", b"b", b"c"} and len(got) >= 2
    assert err(r, "RANDOMKEY", "x") == "wrong number of arguments for 'randomkey' command"


def test_randomkey_skips_expired(r):
    p = r.pipeline(transaction=False)
    for i in range(50):
        p.set("e%d" % i, 1, px=1)
    p.set("live", 1)
    p.execute()
    time.sleep(0.01)
    assert r.randomkey() == b"live"


# ---- OBJECT ----

def test_object_encoding_strings(r):
    r.set("i", "12345")
    r.set("neg", "-5")
    r.set("big", "12345678901234567890")
    r.set("lead", "012")
    r.set("e", "abc")
    r.set("raw", "x" * 45)
    enc = {k: r.object("encoding", k) for k in ("i", "neg", "big", "lead", "e", "raw")}
    assert enc == {"i": b"int", "neg": b"int", "big": b"embstr", "lead": b"embstr",
                   "e": b"embstr", "raw": b"raw"}
    assert r.object("encoding", "missing") is None


def test_object_encoding_collections(r):
    r.rpush("l", "a")
    r.sadd("si", 1, 2, 3)
    r.sadd("ss", "a")
    r.sadd("sbig", *range(600))
    r.hset("h", "f", "v")
    r.hset("hbig", "f", "v" * 65)
    r.hset("hmany", mapping={"f%d" % i: i for i in range(129)})
    r.zadd("z", {"a": 1})
    r.zadd("zbig", {"m" * 65: 1})
    enc = {k: r.object("encoding", k) for k in
           ("l", "si", "ss", "sbig", "h", "hbig", "hmany", "z", "zbig")}
    assert enc == {"l": b"quicklist", "si": b"intset", "ss": b"hashtable",
                   "sbig": b"hashtable", "h": b"listpack", "hbig": b"hashtable",
                   "hmany": b"hashtable", "z": b"listpack", "zbig": b"skiplist"}


def test_object_other_subcommands(r):
    r.set("k", "v")
    assert r.object("idletime", "k") in (0, 1)
    assert r.object("refcount", "k") == 1
    assert r.object("idletime", "missing") is None
    assert r.object("refcount", "missing") is None
    assert r.object("freq", "missing") is None
    assert err(r, "OBJECT", "FREQ", "k", infotype="freq").startswith(
        "An LFU maxmemory policy is not selected, access frequency not tracked.")
    help_lines = r.execute_command("OBJECT", "HELP", infotype="help")
    assert help_lines[0] == b"OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:"
    assert b"ENCODING <key>" in help_lines


def test_object_errors(r):
    assert err(r, "OBJECT") == "wrong number of arguments for 'object' command"
    assert err(r, "OBJECT", "foo", "k") == "unknown subcommand 'foo'. Try OBJECT HELP."
    assert err(r, "OBJECT", "encoding") == "wrong number of arguments for 'object|encoding' command"
    assert err(r, "OBJECT", "encoding", "a", "b") == \
        "wrong number of arguments for 'object|encoding' command"
    assert err(r, "OBJECT", "help", "x") == "wrong number of arguments for 'object|help' command"


def test_object_does_not_touch(r):
    """OBJECT IDLETIME must not refresh the LRU stamp it reports; TOUCH must."""
    r.set("k", "v")
    time.sleep(1.05)  # the LRU clock counts whole seconds
    assert r.object("idletime", "k") >= 1
    assert r.object("idletime", "k") >= 1
    r.touch("k")
    assert r.object("idletime", "k") == 0


# ---- MEMORY ----

def test_memory_usage(r):
    r.set("small", "v")
    r.set("large", "x" * 10000)
    small = r.memory_usage("small")
    large = r.memory_usage("large")
    assert 0 < small < 200
    assert 10000 < large < 11000
    r.rpush("l", *["e%d" % i for i in range(100)])
    assert r.memory_usage("l") > small
    assert r.memory_usage("missing") is None
    assert r.execute_command("MEMORY", "USAGE", "small", "SAMPLES", "0") == small
    assert err(r, "MEMORY", "USAGE", "small", "SAMPLES", "-1") == "syntax error"
    assert err(r, "MEMORY", "USAGE", "small", "SAMPLES") == "syntax error"
    assert err(r, "MEMORY", "USAGE", "small", "FOO", "1") == "syntax error"
    assert err(r, "MEMORY", "USAGE", "small", "SAMPLES", "x") == \
        "value is not an integer or out of range"
    assert err(r, "MEMORY", "USAGE") == "wrong number of arguments for 'memory|usage' command"


def test_memory_stats_help_errors(r):
    r.set("k", "v")
    stats = r.memory_stats()
    assert stats["total.allocated"] > 0
    assert stats["keys.count"] == 1
    assert "db.0" in stats
    assert r.execute_command("MEMORY", "HELP")[0].startswith(b"MEMORY <subcommand>")
    assert r.execute_command("MEMORY", "PURGE") == b"OK"
    assert b"memory issue" in r.execute_command("MEMORY", "DOCTOR")
    assert err(r, "MEMORY", "foo") == "unknown subcommand 'foo'. Try MEMORY HELP."
    assert err(r, "MEMORY") == "wrong number of arguments for 'memory' command"
    assert err(r, "MEMORY", "STATS", "x") == "wrong number of arguments for 'memory|stats' command"


# ---- RESP3 and redis-cli ----

def test_resp3_reply_types(node):
    c = Resp3(node.port)
    try:
        c.call("SET", "k", "12")
        assert c.call("TYPE", "k") == ("status", "string")
        assert c.call("TYPE", "nope") == ("status", "none")
        assert c.call("OBJECT", "ENCODING", "nope") == ("null", None)
        assert c.call("OBJECT", "ENCODING", "k") == ("bulk", b"int")
        assert c.call("RANDOMKEY") == ("bulk", b"k")
        assert c.call("MEMORY", "USAGE", "nope") == ("null", None)
        t, stats = c.call("MEMORY", "STATS")
        assert t == "map"
        fields = dict((k[1], v) for k, v in stats)
        assert fields[b"total.allocated"][0] == "int"
        assert fields[b"dataset.percentage"][0] == "double"
        assert fields[b"db.0"][0] == "map"
        t, scan = c.call("SCAN", "0")
        assert t == "array" and scan[0] == ("bulk", b"0") and scan[1] == ("array", [("bulk", b"k")])
        assert c.call("KEYS", "*") == ("array", [("bulk", b"k")])
        c.call("DEL", "k")
        assert c.call("RANDOMKEY") == ("null", None)
        assert c.call("OBJECT", "HELP")[1][0][0] == "status"
    finally:
        c.close()


def test_redis_cli(node):
    assert node.cli("SET", "user:1", "a").strip() == "OK"
    assert node.cli("SET", "user:2", "b").strip() == "OK"
    assert sorted(node.cli("KEYS", "user:*").split()) == ["user:1", "user:2"]
    assert node.cli("TYPE", "user:1").strip() == "string"
    assert node.cli("RENAME", "user:2", "user:3").strip() == "OK"
    assert node.cli("EXISTS", "user:2", "user:3").strip() == "1"
    out = node.cli("--scan", "--pattern", "user:*")
    assert sorted(out.split()) == ["user:1", "user:3"]
    assert node.cli("RENAME", "nope", "x").strip() == "ERR no such key"
    assert node.cli("DEL", "user:1", "user:3").strip() == "2"
