"""Set commands: replies and errors as Redis 7.0 gives them, RESP3 shapes, SPOP/SRANDMEMBER, set algebra, SSCAN."""
from helpers import WRONGTYPE, absent, err, r3, raw  # noqa: F401 (r3 is a fixture)


def members(n, prefix="m"):
    return {("%s%d" % (prefix, i)).encode() for i in range(n)}


def test_sadd_srem_smembers_scard(r):
    assert r.sadd("s", "a", "b", "c", "a") == 3
    assert r.sadd("s", "a", "d") == 1
    assert r.sadd("s", "a") == 0
    assert r.smembers("s") == {b"a", b"b", b"c", b"d"}
    assert r.smembers("nokey") == set()
    assert r.scard("s") == 4
    assert r.scard("nokey") == 0
    assert r.srem("s", "a", "x", "a") == 1
    assert r.srem("nokey", "a") == 0
    assert r.srem("s", "b", "c", "d") == 3
    assert absent(r, "s"), "an empty set is deleted"
    blob = bytes(range(256))
    assert r.sadd("b", blob, b"", b"x" * 10000) == 3
    assert r.smembers("b") == {blob, b"", b"x" * 10000}


def test_sismember_smismember(r):
    r.sadd("s", "a", "b")
    assert r.sismember("s", "a") is True
    assert r.sismember("s", "x") is False
    assert r.sismember("nokey", "a") is False
    assert raw(r, "SMISMEMBER", "s", "a", "x", "b") == [1, 0, 1]
    assert raw(r, "SMISMEMBER", "nokey", "a", "b") == [0, 0]


def test_spop(r):
    assert r.spop("nokey") is None
    assert raw(r, "SPOP", "nokey", "3") == []
    all_ = members(50)
    r.sadd("s", *all_)
    popped = {r.spop("s") for _ in range(5)}
    assert len(popped) == 5 and popped <= all_
    assert raw(r, "SPOP", "s", "0") == []
    some = raw(r, "SPOP", "s", "10")
    assert len(some) == 10 and len(set(some)) == 10 and not set(some) & popped
    many = raw(r, "SPOP", "s", "30")  # more than a third: the shuffle path
    assert len(set(many)) == 30
    assert r.scard("s") == 5
    rest = raw(r, "SPOP", "s", "100")
    assert popped | set(some) | set(many) | set(rest) == all_
    assert absent(r, "s")
    r.sadd("one", "x")
    assert r.spop("one") == b"x"
    assert absent(r, "one")


def test_spop_errors(r):
    r.sadd("s", "a")
    for bad in ("-1", "x", "1.5", str(2**63)):
        assert err(r, "SPOP", "s", bad) == "value is out of range, must be positive"
    assert err(r, "SPOP", "nokey", "-1") == "value is out of range, must be positive"
    assert err(r, "SPOP", "s", "1", "2") == "syntax error"
    assert r.smembers("s") == {b"a"}


def test_srandmember(r):
    assert r.srandmember("nokey") is None
    assert r.srandmember("nokey", 3) == []
    assert r.srandmember("nokey", -3) == []
    all_ = members(30)
    r.sadd("s", *all_)
    assert r.srandmember("s") in all_
    assert r.srandmember("s", 0) == []
    for count in (1, 5, 9, 10, 11, 29):
        got = r.srandmember("s", count)
        assert len(got) == count and len(set(got)) == count and set(got) <= all_
    assert sorted(r.srandmember("s", 30)) == sorted(all_)
    assert sorted(r.srandmember("s", 1000)) == sorted(all_)
    rep = r.srandmember("s", -100)
    assert len(rep) == 100 and set(rep) <= all_
    r.sadd("one", "x")
    assert r.srandmember("one", -4) == [b"x"] * 4
    assert r.scard("s") == 30, "SRANDMEMBER does not remove"


def test_srandmember_errors(r):
    r.sadd("s", "a")
    assert err(r, "SRANDMEMBER", "s", "x") == "value is not an integer or out of range"
    assert err(r, "SRANDMEMBER", "s", "1", "2") == "syntax error"
    assert err(r, "SRANDMEMBER", "s", str(-2**63)) == (
        "value is out of range, value must between -9223372036854775807 and 9223372036854775807")


def test_smove(r):
    r.sadd("a", "x", "y")
    r.sadd("b", "z")
    assert r.smove("a", "b", "x") == 1
    assert r.smembers("a") == {b"y"} and r.smembers("b") == {b"x", b"z"}
    assert r.smove("a", "b", "nope") == 0
    assert r.smove("nokey", "b", "x") == 0
    assert r.smove("a", "c", "y") == 1
    assert absent(r, "a") and r.smembers("c") == {b"y"}
    assert r.smove("b", "b", "x") == 1
    assert r.smove("b", "b", "nope") == 0
    assert r.smembers("b") == {b"x", b"z"}
    r.sadd("d", "x")
    assert r.smove("b", "d", "x") == 1
    assert r.smembers("d") == {b"x"} and r.smembers("b") == {b"z"}
    r.set("str", "v")
    assert err(r, "SMOVE", "str", "b", "z") == WRONGTYPE
    assert err(r, "SMOVE", "b", "str", "z") == WRONGTYPE
    assert r.smove("nokey", "str", "z") == 0, "a missing source answers before type checks"
    assert r.smembers("b") == {b"z"}


def test_set_algebra(r):
    r.sadd("a", "1", "2", "3", "4")
    r.sadd("b", "3", "4", "5")
    r.sadd("c", "4", "5", "6")
    assert r.sinter("a", "b") == {b"3", b"4"}
    assert r.sinter("a", "b", "c") == {b"4"}
    assert r.sinter("a") == {b"1", b"2", b"3", b"4"}
    assert r.sinter("a", "a") == {b"1", b"2", b"3", b"4"}
    assert r.sinter("a", "nokey") == set()
    assert r.sunion("a", "b", "c") == {b"1", b"2", b"3", b"4", b"5", b"6"}
    assert r.sunion("nokey", "b") == {b"3", b"4", b"5"}
    assert r.sunion("nokey") == set()
    assert r.sdiff("a", "b") == {b"1", b"2"}
    assert r.sdiff("a", "b", "c") == {b"1", b"2"}
    assert r.sdiff("a", "nokey") == {b"1", b"2", b"3", b"4"}
    assert r.sdiff("nokey", "a") == set()
    assert r.sdiff("a", "a") == set()
    r.set("str", "v")
    for cmd in ("SINTER", "SUNION", "SDIFF"):
        assert err(r, cmd, "a", "str") == WRONGTYPE
        assert err(r, cmd, "nokey", "str") == WRONGTYPE


def test_store_forms(r):
    r.sadd("a", "1", "2", "3")
    r.sadd("b", "2", "3", "4")
    assert r.sinterstore("d", "a", "b") == 2
    assert r.smembers("d") == {b"2", b"3"}
    assert r.sunionstore("d", "a", "b") == 4
    assert r.smembers("d") == {b"1", b"2", b"3", b"4"}
    assert r.sdiffstore("d", "a", "b") == 1
    assert r.smembers("d") == {b"1"}
    # The destination may be a source, and is replaced whatever its type.
    assert r.sunionstore("a", "a", "b") == 4
    assert r.smembers("a") == {b"1", b"2", b"3", b"4"}
    r.set("str", "v")
    assert r.sinterstore("str", "a", "b") == 3
    assert r.smembers("str") == {b"2", b"3", b"4"}
    r.hset("h", "f", "v")
    assert r.sdiffstore("h", "a", "b") == 1
    assert r.smembers("h") == {b"1"}
    # An empty result deletes the destination.
    assert r.sinterstore("d", "a", "nokey") == 0
    assert absent(r, "d")
    assert r.sdiffstore("h", "a", "a") == 0
    assert absent(r, "h")
    assert r.sunionstore("e", "nokey") == 0
    assert absent(r, "e")
    r.set("s2", "v")
    assert err(r, "SINTERSTORE", "d", "a", "s2") == WRONGTYPE
    assert err(r, "SUNIONSTORE", "d", "s2") == WRONGTYPE
    assert absent(r, "d")


def test_sintercard(r):
    r.sadd("a", *[str(i) for i in range(10)])
    r.sadd("b", *[str(i) for i in range(5, 20)])
    assert raw(r, "SINTERCARD", "2", "a", "b") == 5
    assert raw(r, "SINTERCARD", "2", "a", "b", "LIMIT", "3") == 3
    assert raw(r, "SINTERCARD", "2", "a", "b", "LIMIT", "0") == 5
    assert raw(r, "SINTERCARD", "2", "a", "b", "LIMIT", "100") == 5
    assert raw(r, "SINTERCARD", "1", "a") == 10
    assert raw(r, "SINTERCARD", "2", "a", "nokey") == 0
    r.set("str", "v")
    assert err(r, "SINTERCARD", "2", "a", "str") == WRONGTYPE
    assert err(r, "SINTERCARD", "2", "nokey", "str") == WRONGTYPE
    for bad in ("0", "-1", "x"):
        assert err(r, "SINTERCARD", bad, "a") == "numkeys should be greater than 0"
    assert err(r, "SINTERCARD", "3", "a") == "Number of keys can't be greater than number of args"
    assert err(r, "SINTERCARD", "1", "a", "LIMIT", "-1") == "LIMIT can't be negative"
    assert err(r, "SINTERCARD", "1", "a", "LIMIT", "x") == "LIMIT can't be negative"
    assert err(r, "SINTERCARD", "1", "a", "LIMIT") == "syntax error"
    assert err(r, "SINTERCARD", "1", "a", "FOO") == "syntax error"


def test_wrongtype_everywhere(r):
    r.set("str", "x")
    cmds = [("SADD", "str", "a"), ("SREM", "str", "a"), ("SMEMBERS", "str"),
            ("SISMEMBER", "str", "a"), ("SMISMEMBER", "str", "a"), ("SCARD", "str"),
            ("SPOP", "str"), ("SPOP", "str", "2"), ("SRANDMEMBER", "str"),
            ("SRANDMEMBER", "str", "2"), ("SSCAN", "str", "0")]
    for cmd in cmds:
        assert err(r, *cmd) == WRONGTYPE, cmd
    assert r.get("str") == b"x"
    assert err(r, "SADD", "s") == "wrong number of arguments for 'sadd' command"


def test_sscan(r):
    all_ = members(500)
    r.sadd("s", *all_)
    cursor, seen, calls = 0, set(), 0
    while True:
        cursor, items = r.sscan("s", cursor)
        seen |= set(items)
        calls += 1
        if cursor == 0:
            break
    assert seen == all_ and calls > 10
    cursor, seen = 0, set()
    while True:
        cursor, items = r.sscan("s", cursor, match="m1?", count=100)
        seen |= set(items)
        if cursor == 0:
            break
    assert seen == {m for m in all_ if len(m) == 3 and m.startswith(b"m1")}
    assert raw(r, "SSCAN", "nokey", "0") == [b"0", []]
    assert err(r, "SSCAN", "s", "x") == "invalid cursor"
    assert err(r, "SSCAN", "s", "0", "COUNT", "0") == "syntax error"
    assert err(r, "SSCAN", "s", "0", "MATCH") == "syntax error"
    assert err(r, "SSCAN", "s", "0", "NOVALUES") == "syntax error"


def test_resp3_shapes(r3):
    assert r3.call("SADD", "s", "a", "b", "c") == ("int", 3)
    kind, items = r3.call("SMEMBERS", "s")
    assert kind == "set" and sorted(v for _, v in items) == [b"a", b"b", b"c"]
    assert r3.call("SMEMBERS", "nokey") == ("set", [])
    assert r3.call("SISMEMBER", "s", "a") == ("int", 1)
    assert r3.call("SMISMEMBER", "s", "a", "z") == ("array", [("int", 1), ("int", 0)])
    assert r3.call("SPOP", "nokey") == ("null", None)
    assert r3.call("SPOP", "nokey", "2") == ("set", [])
    assert r3.call("SPOP", "s", "0") == ("set", [])
    assert r3.call("SRANDMEMBER", "nokey") == ("null", None)
    assert r3.call("SRANDMEMBER", "nokey", "2") == ("array", [])
    assert r3.call("SRANDMEMBER", "s", "2")[0] == "array"
    assert r3.call("SRANDMEMBER", "s", "10")[0] == "array"
    assert r3.call("SRANDMEMBER", "s", "-5")[0] == "array"
    r3.call("SADD", "t", "b", "c", "d")
    assert r3.call("SINTER", "s", "t")[0] == "set"
    assert r3.call("SINTER", "s", "nokey") == ("set", [])
    assert r3.call("SUNION", "s", "t")[0] == "set"
    assert r3.call("SDIFF", "s", "t") == ("set", [("bulk", b"a")])
    assert r3.call("SINTERCARD", "2", "s", "t") == ("int", 2)
    assert r3.call("SSCAN", "nokey", "0") == ("array", [("bulk", b"0"), ("array", [])])
    kind, items = r3.call("SPOP", "s", "1")
    assert kind == "set" and len(items) == 1
    kind, items = r3.call("SPOP", "s", "10")
    assert kind == "set" and len(items) == 2


def test_redis_cli(node):
    assert node.cli("SADD", "s", "a", "b").strip() == "2"
    out = node.cli("-3", "--no-raw", "SMEMBERS", "s").splitlines()
    assert sorted(out) == ['1~ "a"', '2~ "b"'] or sorted(out) == ['1~ "b"', '2~ "a"']
    assert node.cli("SPOP", "s", "-1").strip() == "ERR value is out of range, must be positive"
    assert node.cli("SINTERCARD", "0", "s").strip() == "ERR numkeys should be greater than 0"
