"""List commands: replies and errors as Redis 7.0 gives them, RESP3 types, empty-list deletion."""
import pytest
import redis

from helpers import WRONGTYPE, Conn, err


def raw(node, *cmds):
    """Send commands on a fresh socket; return the raw reply bytes of all."""
    c = Conn(node.port)
    try:
        c.send_many(*cmds)
        return c.drain()
    finally:
        c.close()


def test_push_and_range(r):
    assert r.rpush("l", "a", "b", "c") == 3
    assert r.lpush("l", "z", "y") == 5
    assert r.lrange("l", 0, -1) == [b"y", b"z", b"a", b"b", b"c"]
    assert r.llen("l") == 5
    assert r.type("l") == b"list"
    assert r.lpushx("nokey", "a") == 0
    assert r.execute_command("RPUSHX", "nokey", "a", "b") == 0
    assert r.exists("nokey") == 0
    assert r.lpushx("l", "x") == 6
    assert r.execute_command("RPUSHX", "l", "q", "r") == 8
    assert r.lrange("l", 0, -1) == [b"x", b"y", b"z", b"a", b"b", b"c", b"q", b"r"]


def test_lrange_bounds(r):
    r.rpush("l", *range(10))
    assert r.lrange("l", 2, 4) == [b"2", b"3", b"4"]
    assert r.lrange("l", -3, -1) == [b"7", b"8", b"9"]
    assert r.lrange("l", -100, 1) == [b"0", b"1"]
    assert r.lrange("l", 8, 100) == [b"8", b"9"]
    assert r.lrange("l", 5, 2) == []
    assert r.lrange("l", 10, 20) == []
    assert r.lrange("l", -1, -2) == []
    assert r.lrange("nokey", 0, -1) == []
    assert err(r, "LRANGE", "l", "a", "1") == "value is not an integer or out of range"
    assert err(r, "LRANGE", "nokey", "0", "x") == "value is not an integer or out of range"


def test_pop_single_and_count(r):
    r.rpush("l", "a", "b", "c", "d", "e")
    assert r.lpop("l") == b"a"
    assert r.rpop("l") == b"e"
    assert r.lpop("l", 2) == [b"b", b"c"]
    assert r.execute_command("LPOP", "l", 0) == []
    assert r.rpop("l", 10) == [b"d"]
    assert r.exists("l") == 0
    assert r.lpop("l") is None
    assert r.execute_command("LPOP", "l", 2) is None
    assert r.execute_command("LPOP", "l", 0) is None
    assert err(r, "LPOP", "l", "-1") == "value is out of range, must be positive"
    assert err(r, "RPOP", "l", "x") == "value is out of range, must be positive"
    assert err(r, "LPOP", "l", "1", "2") == "wrong number of arguments for 'lpop' command"
    assert err(r, "LPOP") == "wrong number of arguments for 'lpop' command"


def test_pop_null_replies_raw(node):
    # RESP2: a missing key is $-1 without count, *-1 with count; count 0 on a list is *0.
    out = raw(node, ["RPUSH", "l", "a"], ["LPOP", "nokey"], ["LPOP", "nokey", "2"],
              ["LPOP", "l", "0"])
    assert out == b":1\r\n$-1\r\n*-1\r\n*0\r\n"
    out = raw(node, ["HELLO", "3"], ["LPOP", "nokey"], ["LPOP", "nokey", "2"], ["LPOS", "l", "zz"])
    assert out.endswith(b"_\r\n_\r\n_\r\n")


def test_lindex_lset(r):
    r.rpush("l", "a", "b", "c")
    assert r.lindex("l", 0) == b"a"
    assert r.lindex("l", -1) == b"c"
    assert r.lindex("l", 3) is None
    assert r.lindex("l", -4) is None
    assert r.lindex("nokey", 0) is None
    assert r.execute_command("LINDEX", "nokey", "x") is None  # key looked up first
    assert err(r, "LINDEX", "l", "x") == "value is not an integer or out of range"
    assert r.lset("l", 1, "B")
    assert r.lset("l", -1, "C")
    assert r.lrange("l", 0, -1) == [b"a", b"B", b"C"]
    assert err(r, "LSET", "l", "3", "x") == "index out of range"
    assert err(r, "LSET", "l", "-4", "x") == "index out of range"
    assert err(r, "LSET", "nokey", "0", "x") == "no such key"
    assert err(r, "LSET", "l", "x", "x") == "value is not an integer or out of range"


def test_ltrim(r):
    r.rpush("l", *range(10))
    assert r.ltrim("l", 2, -3)
    assert r.lrange("l", 0, -1) == [str(i).encode() for i in range(2, 8)]
    assert r.ltrim("l", -2, 100)
    assert r.lrange("l", 0, -1) == [b"6", b"7"]
    assert r.ltrim("l", 0, -1)
    assert r.llen("l") == 2
    assert r.ltrim("l", 5, 1)
    assert r.exists("l") == 0
    assert r.ltrim("nokey", 0, 1)
    assert err(r, "LTRIM", "nokey", "a", "1") == "value is not an integer or out of range"


def test_lrem(r):
    r.rpush("l", "a", "b", "a", "c", "a", "b", "a")
    assert r.lrem("l", 2, "a") == 2
    assert r.lrange("l", 0, -1) == [b"b", b"c", b"a", b"b", b"a"]
    assert r.lrem("l", -1, "b") == 1
    assert r.lrange("l", 0, -1) == [b"b", b"c", b"a", b"a"]
    assert r.lrem("l", 0, "a") == 2
    assert r.lrem("l", 0, "zz") == 0
    assert r.lrem("l", -9223372036854775808, "b") == 1
    assert r.lrem("l", 1, "c") == 1
    assert r.exists("l") == 0
    assert r.lrem("nokey", 1, "a") == 0
    assert err(r, "LREM", "nokey", "x", "a") == "value is not an integer or out of range"


def test_linsert(r):
    r.rpush("l", "a", "c")
    assert r.linsert("l", "BEFORE", "c", "b") == 3
    assert r.linsert("l", "after", "c", "d") == 4
    assert r.linsert("l", "before", "a", "0") == 5
    assert r.lrange("l", 0, -1) == [b"0", b"a", b"b", b"c", b"d"]
    assert r.linsert("l", "before", "zz", "x") == -1
    assert r.linsert("nokey", "before", "a", "x") == 0
    assert r.exists("nokey") == 0
    assert err(r, "LINSERT", "l", "middle", "a", "x") == "syntax error"
    assert err(r, "LINSERT", "nokey", "middle", "a", "x") == "syntax error"


def test_lpos(r):
    r.rpush("l", "a", "b", "c", "1", "2", "3", "c", "c")
    assert r.lpos("l", "c") == 2
    assert r.lpos("l", "zz") is None
    assert r.lpos("l", "c", rank=2) == 6
    assert r.lpos("l", "c", rank=-1) == 7
    assert r.lpos("l", "c", rank=-3) == 2
    assert r.lpos("l", "c", rank=4) is None
    assert r.lpos("l", "c", count=2) == [2, 6]
    assert r.lpos("l", "c", count=0) == [2, 6, 7]
    assert r.lpos("l", "c", rank=-1, count=2) == [7, 6]
    assert r.lpos("l", "c", count=0, maxlen=7) == [2, 6]
    assert r.lpos("l", "c", rank=-1, count=0, maxlen=2) == [7, 6]
    assert r.lpos("l", "c", maxlen=2) is None
    assert r.lpos("l", "zz", count=3) == []
    assert r.lpos("nokey", "a") is None
    assert r.lpos("nokey", "a", count=1) == []
    assert r.execute_command("LPOS", "l", "c", "RANK", "-9223372036854775808") == 7
    assert err(r, "LPOS", "l", "c", "RANK", "0").startswith(
        "RANK can't be zero: use 1 to start from the first match, 2 from the second ... "
        "or use negative to start from the end of the list")
    assert err(r, "LPOS", "nokey", "c", "RANK", "0").startswith("RANK can't be zero")
    assert err(r, "LPOS", "l", "c", "COUNT", "-1") == "COUNT can't be negative"
    assert err(r, "LPOS", "l", "c", "MAXLEN", "-1") == "MAXLEN can't be negative"
    assert err(r, "LPOS", "l", "c", "RANK", "x") == "value is not an integer or out of range"
    assert err(r, "LPOS", "l", "c", "FOO", "1") == "syntax error"
    assert err(r, "LPOS", "l", "c", "RANK") == "syntax error"


def test_lmove_and_rpoplpush(r):
    r.rpush("src", "a", "b", "c")
    assert r.lmove("src", "dst", "LEFT", "RIGHT") == b"a"
    assert r.lmove("src", "dst", "RIGHT", "LEFT") == b"c"
    assert r.lrange("dst", 0, -1) == [b"c", b"a"]
    assert r.rpoplpush("src", "dst") == b"b"
    assert r.exists("src") == 0
    assert r.lrange("dst", 0, -1) == [b"b", b"c", b"a"]
    # Same key: rotation.
    assert r.lmove("dst", "dst", "LEFT", "RIGHT") == b"b"
    assert r.lrange("dst", 0, -1) == [b"c", b"a", b"b"]
    assert r.rpoplpush("dst", "dst") == b"b"
    assert r.lrange("dst", 0, -1) == [b"b", b"c", b"a"]
    r.rpush("one", "x")
    assert r.lmove("one", "one", "left", "left") == b"x"
    assert r.lrange("one", 0, -1) == [b"x"]
    assert r.lmove("nokey", "dst", "LEFT", "LEFT") is None
    assert r.rpoplpush("nokey", "dst") is None
    assert err(r, "LMOVE", "dst", "x", "UP", "LEFT") == "syntax error"
    assert err(r, "LMOVE", "dst", "x", "LEFT", "DOWN") == "syntax error"


def test_lmpop(r):
    r.rpush("b", "1", "2", "3")
    assert r.execute_command("LMPOP", 2, "a", "b", "LEFT") == [b"b", [b"1"]]
    assert r.execute_command("LMPOP", 2, "a", "b", "RIGHT", "COUNT", 10) == [b"b", [b"3", b"2"]]
    assert r.exists("b") == 0
    assert r.execute_command("LMPOP", 2, "a", "b", "LEFT") is None
    assert err(r, "LMPOP", 0, "a", "LEFT") == "numkeys should be greater than 0"
    assert err(r, "LMPOP", -1, "a", "LEFT") == "numkeys should be greater than 0"
    assert err(r, "LMPOP", "x", "a", "LEFT") == "numkeys should be greater than 0"
    assert err(r, "LMPOP", 2, "a", "LEFT") == "syntax error"
    assert err(r, "LMPOP", 1, "a", "UP") == "syntax error"
    assert err(r, "LMPOP", 1, "a", "LEFT", "COUNT", 0) == "count should be greater than 0"
    assert err(r, "LMPOP", 1, "a", "LEFT", "COUNT", 1, "COUNT", 1) == "syntax error"
    assert err(r, "LMPOP", 1, "a", "LEFT", "FOO") == "syntax error"
    assert err(r, "LMPOP", 1, "a") == "wrong number of arguments for 'lmpop' command"
    # A huge numkeys is a syntax error, never an allocation.
    assert err(r, "LMPOP", 1 << 40, "a", "LEFT") == "syntax error"


def test_wrongtype_everywhere(r):
    r.set("s", "v")
    r.rpush("l", "a")
    cases = [
        ("LPUSH", "s", "a"), ("RPUSH", "s", "a"), ("LPUSHX", "s", "a"), ("RPUSHX", "s", "a"),
        ("LPOP", "s"), ("RPOP", "s", "2"), ("LLEN", "s"), ("LINDEX", "s", "0"),
        ("LSET", "s", "0", "a"), ("LRANGE", "s", "0", "-1"), ("LTRIM", "s", "0", "1"),
        ("LREM", "s", "0", "a"), ("LINSERT", "s", "BEFORE", "a", "b"), ("LPOS", "s", "a"),
        ("LMOVE", "s", "l", "LEFT", "LEFT"), ("LMOVE", "l", "s", "LEFT", "LEFT"),
        ("RPOPLPUSH", "s", "l"), ("RPOPLPUSH", "l", "s"), ("LMPOP", "2", "s", "l", "LEFT"),
        ("BLPOP", "s", "l", "0"), ("BRPOP", "s", "0"), ("BLMOVE", "l", "s", "LEFT", "LEFT", "0"),
        ("BRPOPLPUSH", "s", "l", "0"), ("BLMPOP", "0", "1", "s", "LEFT"),
    ]
    for args in cases:
        assert err(r, *args) == WRONGTYPE, args
    # Nothing was moved out of l by the failing moves.
    assert r.lrange("l", 0, -1) == [b"a"]
    assert r.get("s") == b"v"


def test_arity_errors(r):
    for cmd, args in [("LPUSH", ["k"]), ("LLEN", []), ("LINDEX", ["k"]), ("LSET", ["k", "0"]),
                      ("LRANGE", ["k", "0"]), ("LINSERT", ["k", "before", "a"]),
                      ("LMOVE", ["a", "b", "left"]), ("RPOPLPUSH", ["a"]), ("BLPOP", ["k"]),
                      ("BLMOVE", ["a", "b", "left", "left"]), ("BLMPOP", ["0", "1", "k"])]:
        assert err(r, cmd, *args) == "wrong number of arguments for '%s' command" % cmd.lower()


def test_binary_and_large(r):
    r.rpush("bin", b"a\x00b", b"", b"\xff\r\n")
    assert r.lrange("bin", 0, -1) == [b"a\x00b", b"", b"\xff\r\n"]
    assert r.lrem("bin", 0, b"") == 1
    assert r.lpos("bin", b"\xff\r\n") == 1
    n = 20000
    pipe = r.pipeline(transaction=False)
    for i in range(0, n, 1000):
        pipe.rpush("big", *range(i, i + 1000))
    pipe.execute()
    assert r.llen("big") == n
    assert r.lindex("big", 12345) == b"12345"
    assert r.lrange("big", -2, -1) == [b"19998", b"19999"]
    assert r.linsert("big", "AFTER", "9999", "mid") == n + 1
    assert r.lindex("big", 10000) == b"mid"
    assert r.ltrim("big", 10, -11)
    assert r.llen("big") == n + 1 - 20
    assert r.lpop("big", n)[0] == b"10"
    assert r.exists("big") == 0


def test_resp3_types(node):
    out = raw(node, ["HELLO", "3"], ["RPUSH", "l", "a", "b"], ["LMPOP", "1", "l", "LEFT"],
              ["LRANGE", "l", "0", "-1"], ["LMPOP", "1", "nokey", "LEFT"])
    assert out.endswith(b":2\r\n*2\r\n$1\r\nl\r\n*1\r\n$1\r\na\r\n*1\r\n$1\r\nb\r\n_\r\n")


def test_copy_and_persistence_ops(r):
    # The dup and len operations (COPY, DEBUG-less checks through generic commands).
    r.rpush("l", "a", "b", "c")
    try:
        copied = r.execute_command("COPY", "l", "l2")
    except redis.exceptions.ResponseError:
        pytest.skip("COPY not available")
    assert copied == 1
    r.rpush("l2", "d")
    assert r.lrange("l", 0, -1) == [b"a", b"b", b"c"]
    assert r.lrange("l2", 0, -1) == [b"a", b"b", b"c", b"d"]


def test_aof_rewrite_and_reload(node_factory):
    n = node_factory(args=["--appendonly", "yes"])
    r = n.client()
    r.set("marker", "1")
    r.rpush("l", *range(150))  # more than two RPUSH batches of 64 when rewritten
    r.rpush("bin", b"a\x00b", b"")
    r.lpop("l")
    r.lmove("l", "m", "RIGHT", "LEFT")
    try:
        r.execute_command("BGREWRITEAOF")
    except redis.exceptions.ResponseError:
        pass
    r.rpush("l", "after")
    r.close()
    n.restart()
    r = n.client()
    if r.get("marker") is None:
        pytest.skip("this build does not persist to the AOF yet")
    assert r.lrange("l", 0, -1) == [str(i).encode() for i in range(1, 149)] + [b"after"]
    assert r.lrange("m", 0, -1) == [b"149"]
    assert r.lrange("bin", 0, -1) == [b"a\x00b", b""]
    r.close()


def test_redis_cli(node):
    assert node.cli("RPUSH", "cl", "x", "y", "z").strip() == "3"
    assert node.cli("LRANGE", "cl", "0", "-1").split() == ["x", "y", "z"]
    assert node.cli("LPOS", "cl", "y").strip() == "1"
    out = node.cli("LSET", "cl", "9", "q")
    assert "ERR index out of range" in out
