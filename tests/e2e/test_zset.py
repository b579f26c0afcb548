"""Sorted-set commands: replies and errors as Redis 7.0 gives them, range edge cases, RESP3 shapes,
pops (blocking too), set algebra, ZSCAN, propagation to the AOF and redis-cli."""
import os
import random
import threading
import time

import redis

from helpers import WRONGTYPE, blocked, err, r3, raw, wait_blocked  # noqa: F401 (r3 is a fixture)

NOT_FLOAT = "value is not a valid float"
NOT_INT = "value is not an integer or out of range"


def zrange_all(r, key):
    return raw(r, "ZRANGE", key, 0, -1, "WITHSCORES")


# ---- ZADD / ZINCRBY ----

def test_zadd_flags(r):
    assert raw(r, "ZADD", "z", 1, "a", 2, "b", 3, "c") == 3
    assert raw(r, "ZADD", "z", 10, "a", 4, "d") == 1          # a updated, d added
    assert raw(r, "ZADD", "z", "CH", 11, "a", 5, "e") == 2    # CH counts updates too
    assert raw(r, "ZADD", "z", "NX", 0, "a", 6, "f") == 1
    assert raw(r, "ZSCORE", "z", "a") == b"11"
    assert raw(r, "ZADD", "z", "XX", "CH", 12, "a", 7, "g") == 1
    assert raw(r, "ZSCORE", "z", "g") is None
    assert raw(r, "ZADD", "z", "GT", "CH", 5, "a", 20, "b") == 1
    assert raw(r, "ZSCORE", "z", "a") == b"12" and raw(r, "ZSCORE", "z", "b") == b"20"
    assert raw(r, "ZADD", "z", "LT", "CH", 5, "a", 30, "b", 1, "new") == 2
    assert raw(r, "ZSCORE", "z", "a") == b"5" and raw(r, "ZSCORE", "z", "new") == b"1"
    assert raw(r, "ZADD", "z", "CH", 5, "a") == 0             # same score: no change
    # INCR: the resulting score, or nil when a condition stops it
    assert raw(r, "ZADD", "z", "INCR", 2.5, "a") == b"7.5"
    assert raw(r, "ZADD", "z", "INCR", 1, "brand") == b"1"
    assert raw(r, "ZADD", "z", "NX", "INCR", 1, "a") is None
    assert raw(r, "ZADD", "z", "XX", "INCR", 1, "nope") is None
    assert raw(r, "ZADD", "z", "GT", "INCR", -1, "a") is None
    assert raw(r, "ZADD", "z", "LT", "INCR", -1, "a") == b"6.5"
    assert raw(r, "ZADD", "z", "GT", "INCR", 0, "a") is None  # equal is not greater
    # XX on a missing key creates nothing
    assert raw(r, "ZADD", "nokey", "XX", 1, "a") == 0
    assert raw(r, "ZADD", "nokey", "XX", "INCR", 1, "a") is None
    assert r.exists("nokey") == 0
    # duplicates within one call: the last score wins, counted once
    assert raw(r, "ZADD", "d", 1, "x", 2, "x", 3, "x") == 1
    assert raw(r, "ZSCORE", "d", "x") == b"3"
    assert r.type("z") == b"zset"


def test_zadd_errors(r):
    assert err(r, "ZADD", "z", "NX", "XX", 1, "a") == "XX and NX options at the same time are not compatible"
    msg = "GT, LT, and/or NX options at the same time are not compatible"
    assert err(r, "ZADD", "z", "GT", "LT", 1, "a") == msg
    assert err(r, "ZADD", "z", "NX", "GT", 1, "a") == msg
    assert err(r, "ZADD", "z", "NX", "LT", 1, "a") == msg
    assert err(r, "ZADD", "z", "INCR", 1, "a", 2, "b") == "INCR option supports a single increment-element pair"
    assert err(r, "ZADD", "z", "x", "a") == NOT_FLOAT
    assert err(r, "ZADD", "z", "nan", "a") == NOT_FLOAT
    assert err(r, "ZADD", "z", " 1", "a") == NOT_FLOAT
    assert err(r, "ZADD", "z", 1, "a", "bad", "b") == NOT_FLOAT
    assert r.exists("z") == 0                                  # scores checked before any change
    assert err(r, "ZADD", "z", 1, "a", 2) == "syntax error"
    assert err(r, "ZADD", "z", "NX") == "wrong number of arguments for 'zadd' command"
    assert err(r, "ZADD", "z", "NX", "CH") == "syntax error"
    assert err(r, "ZADD", "z", "NX", "CH", "INCR") == "syntax error"
    assert err(r, "ZADD", "z", 1) == "wrong number of arguments for 'zadd' command"
    raw(r, "ZADD", "z", "inf", "a")
    assert err(r, "ZADD", "z", "INCR", "-inf", "a") == "resulting score is not a number (NaN)"
    assert err(r, "ZINCRBY", "z", "-inf", "a") == "resulting score is not a number (NaN)"
    assert raw(r, "ZSCORE", "z", "a") == b"inf"
    r.set("s", "x")
    assert err(r, "ZADD", "s", 1, "a") == WRONGTYPE
    assert err(r, "ZINCRBY", "s", 1, "a") == WRONGTYPE


def test_zincrby(r):
    assert raw(r, "ZINCRBY", "z", 2, "a") == b"2"
    assert raw(r, "ZINCRBY", "z", 0.5, "a") == b"2.5"
    assert raw(r, "ZINCRBY", "z", -10, "a") == b"-7.5"
    assert raw(r, "ZINCRBY", "z", "inf", "a") == b"inf"
    assert err(r, "ZINCRBY", "z", "x", "a") == NOT_FLOAT
    assert err(r, "ZINCRBY", "z", 1) == "wrong number of arguments for 'zincrby' command"


def test_score_formatting(r):
    raw(r, "ZADD", "z", "0.1", "a", "1e20", "b", "-0", "c", "3.0", "d", "-inf", "e", "+inf", "f",
        "0.30000000000000004", "g", "1.5e-7", "h")
    assert raw(r, "ZSCORE", "z", "a") == b"0.10000000000000001"
    assert raw(r, "ZSCORE", "z", "b") == b"1e+20"
    assert raw(r, "ZSCORE", "z", "c") == b"0"          # -0 is stored as 0, as Redis's small sets
    assert raw(r, "ZSCORE", "z", "d") == b"3"
    assert raw(r, "ZSCORE", "z", "e") == b"-inf"
    assert raw(r, "ZSCORE", "z", "f") == b"inf"
    assert raw(r, "ZSCORE", "z", "g") == b"0.30000000000000004"
    assert raw(r, "ZSCORE", "z", "h") == b"1.4999999999999999e-07"
    assert raw(r, "ZRANGE", "z", 0, 0, "WITHSCORES") == [b"e", b"-inf"]


# ---- single-member reads, ZREM, ZCARD ----

def test_zrem_zcard_and_empty_key_deleted(r):
    raw(r, "ZADD", "z", 1, "a", 2, "b", 3, "c")
    assert raw(r, "ZCARD", "z") == 3
    assert raw(r, "ZREM", "z", "a", "nope", "a") == 1
    assert raw(r, "ZREM", "z", "b", "c") == 2
    assert r.exists("z") == 0
    assert raw(r, "ZREM", "z", "a") == 0
    assert raw(r, "ZCARD", "z") == 0
    r.set("s", "x")
    assert err(r, "ZREM", "s", "a") == WRONGTYPE
    assert err(r, "ZCARD", "s") == WRONGTYPE


def test_zscore_zmscore_zrank(r):
    raw(r, "ZADD", "z", 1, "a", 2, "b", 2, "c", 3, "d")
    assert raw(r, "ZSCORE", "z", "b") == b"2"
    assert raw(r, "ZSCORE", "z", "x") is None
    assert raw(r, "ZSCORE", "nokey", "x") is None
    assert raw(r, "ZMSCORE", "z", "a", "x", "d") == [b"1", None, b"3"]
    assert raw(r, "ZMSCORE", "nokey", "a", "b") == [None, None]
    assert [raw(r, "ZRANK", "z", m) for m in "abcd"] == [0, 1, 2, 3]
    assert [raw(r, "ZREVRANK", "z", m) for m in "abcd"] == [3, 2, 1, 0]
    assert raw(r, "ZRANK", "z", "x") is None and raw(r, "ZREVRANK", "nokey", "x") is None
    assert err(r, "ZRANK", "z", "a", "WITHSCORE") == "wrong number of arguments for 'zrank' command"
    r.set("s", "x")
    for args in (("ZSCORE", "s", "a"), ("ZMSCORE", "s", "a"), ("ZRANK", "s", "a"), ("ZREVRANK", "s", "a")):
        assert err(r, *args) == WRONGTYPE


def test_zcount_and_zlexcount(r):
    raw(r, "ZADD", "z", 1, "a", 2, "b", 3, "c", 4, "d", 5, "e")
    assert raw(r, "ZCOUNT", "z", "-inf", "+inf") == 5
    assert raw(r, "ZCOUNT", "z", "(1", "5") == 4
    assert raw(r, "ZCOUNT", "z", "1", "(5") == 4
    assert raw(r, "ZCOUNT", "z", "(1", "(5") == 3
    assert raw(r, "ZCOUNT", "z", "(3", "(3") == 0
    assert raw(r, "ZCOUNT", "z", "3", "3") == 1
    assert raw(r, "ZCOUNT", "z", "5", "1") == 0
    assert raw(r, "ZCOUNT", "z", "2.5", "inf") == 3
    assert raw(r, "ZCOUNT", "nokey", "0", "1") == 0
    assert err(r, "ZCOUNT", "z", "x", "1") == "min or max is not a float"
    assert err(r, "ZCOUNT", "z", "1", "((2") == "min or max is not a float"
    assert err(r, "ZCOUNT", "z", "nan", "1") == "min or max is not a float"
    raw(r, "ZADD", "l", 0, "a", 0, "b", 0, "c", 0, "d", 0, "e")
    assert raw(r, "ZLEXCOUNT", "l", "-", "+") == 5
    assert raw(r, "ZLEXCOUNT", "l", "[b", "[d") == 3
    assert raw(r, "ZLEXCOUNT", "l", "(b", "(d") == 1
    assert raw(r, "ZLEXCOUNT", "l", "+", "-") == 0
    assert raw(r, "ZLEXCOUNT", "l", "-", "-") == 0
    assert raw(r, "ZLEXCOUNT", "nokey", "-", "+") == 0
    for bad in (("a", "+"), ("-", "b"), ("+x", "+"), ("", "+")):
        assert err(r, "ZLEXCOUNT", "l", *bad) == "min or max not valid string range item"
    r.set("s", "x")
    assert err(r, "ZCOUNT", "s", 0, 1) == WRONGTYPE
    assert err(r, "ZLEXCOUNT", "s", "-", "+") == WRONGTYPE


# ---- ranges ----

def test_zrange_by_rank(r):
    raw(r, "ZADD", "z", 1, "a", 2, "b", 3, "c", 4, "d")
    assert raw(r, "ZRANGE", "z", 0, -1) == [b"a", b"b", b"c", b"d"]
    assert raw(r, "ZRANGE", "z", 1, 2, "WITHSCORES") == [b"b", b"2", b"c", b"3"]
    assert raw(r, "ZRANGE", "z", -2, -1) == [b"c", b"d"]
    assert raw(r, "ZRANGE", "z", -100, 1) == [b"a", b"b"]
    assert raw(r, "ZRANGE", "z", 2, 100) == [b"c", b"d"]
    assert raw(r, "ZRANGE", "z", 2, 1) == []
    assert raw(r, "ZRANGE", "z", 4, 10) == []
    assert raw(r, "ZRANGE", "z", -1, -2) == []
    assert raw(r, "ZRANGE", "z", 0, 1, "REV") == [b"d", b"c"]
    assert raw(r, "ZRANGE", "z", 0, -1, "REV", "WITHSCORES") == [b"d", b"4", b"c", b"3", b"b", b"2", b"a", b"1"]
    assert raw(r, "ZREVRANGE", "z", 1, 2, "WITHSCORES") == [b"c", b"3", b"b", b"2"]
    assert raw(r, "ZRANGE", "z", 0, -1, "LIMIT", 0, -1) == [b"a", b"b", b"c", b"d"]  # limit -1 is "none"
    assert raw(r, "ZRANGE", "nokey", 0, -1) == []
    assert err(r, "ZRANGE", "z", "a", 1) == NOT_INT
    assert err(r, "ZRANGE", "z", 0) == "wrong number of arguments for 'zrange' command"


def test_zrange_by_score(r):
    raw(r, "ZADD", "z", "-inf", "n", 1, "a", 2, "b", 3, "c", 4, "d", "inf", "p")
    assert raw(r, "ZRANGE", "z", "(1", "3", "BYSCORE") == [b"b", b"c"]
    assert raw(r, "ZRANGE", "z", "1", "(3", "BYSCORE", "WITHSCORES") == [b"a", b"1", b"b", b"2"]
    assert raw(r, "ZRANGE", "z", "-inf", "+inf", "BYSCORE") == [b"n", b"a", b"b", b"c", b"d", b"p"]
    assert raw(r, "ZRANGE", "z", "(-inf", "(inf", "BYSCORE") == [b"a", b"b", b"c", b"d"]
    assert raw(r, "ZRANGE", "z", "3", "1", "BYSCORE") == []
    assert raw(r, "ZRANGE", "z", "(2", "(2", "BYSCORE") == []
    assert raw(r, "ZRANGE", "z", "3", "(1", "BYSCORE", "REV") == [b"c", b"b"]
    assert raw(r, "ZRANGE", "z", "-inf", "+inf", "BYSCORE", "LIMIT", 1, 2) == [b"a", b"b"]
    assert raw(r, "ZRANGE", "z", "-inf", "+inf", "BYSCORE", "LIMIT", 4, -1) == [b"d", b"p"]
    assert raw(r, "ZRANGE", "z", "-inf", "+inf", "BYSCORE", "LIMIT", 1, 0) == []
    assert raw(r, "ZRANGE", "z", "-inf", "+inf", "BYSCORE", "LIMIT", -1, 5) == []  # as Redis
    assert raw(r, "ZRANGE", "z", "-inf", "+inf", "BYSCORE", "LIMIT", 6, 5) == []
    assert raw(r, "ZRANGE", "z", "+inf", "-inf", "BYSCORE", "REV", "LIMIT", 1, 2, "WITHSCORES") == \
        [b"d", b"4", b"c", b"3"]
    assert raw(r, "ZRANGEBYSCORE", "z", "2", "+inf", "LIMIT", 0, 2) == [b"b", b"c"]
    assert raw(r, "ZRANGEBYSCORE", "z", "2", "3", "WITHSCORES") == [b"b", b"2", b"c", b"3"]
    assert raw(r, "ZREVRANGEBYSCORE", "z", "3", "-inf", "WITHSCORES", "LIMIT", 0, 2) == [b"c", b"3", b"b", b"2"]
    assert raw(r, "ZREVRANGEBYSCORE", "z", "(3", "(1") == [b"b"]
    assert err(r, "ZRANGEBYSCORE", "z", "a", "b") == "min or max is not a float"
    assert err(r, "ZRANGEBYSCORE", "z", 0, 1, "LIMIT", "a", 1) == NOT_INT
    assert err(r, "ZRANGEBYSCORE", "z", 0, 1, "LIMIT", 0) == "syntax error"
    assert err(r, "ZRANGEBYSCORE", "z", 0, 1, "BYSCORE") == "syntax error"
    assert err(r, "ZREVRANGEBYSCORE", "z", 0, 1, "REV") == "syntax error"


def test_zrange_by_lex(r):
    raw(r, "ZADD", "l", *sum([[0, m] for m in ["a", "b", "c", "d", "e", "f", "g"]], []))
    assert raw(r, "ZRANGEBYLEX", "l", "-", "+") == [b"a", b"b", b"c", b"d", b"e", b"f", b"g"]
    assert raw(r, "ZRANGEBYLEX", "l", "[b", "(e") == [b"b", b"c", b"d"]
    assert raw(r, "ZRANGEBYLEX", "l", "(b", "[e") == [b"c", b"d", b"e"]
    assert raw(r, "ZRANGEBYLEX", "l", "[b", "[b") == [b"b"]
    assert raw(r, "ZRANGEBYLEX", "l", "(b", "(b") == []
    assert raw(r, "ZRANGEBYLEX", "l", "+", "-") == []
    assert raw(r, "ZRANGEBYLEX", "l", "[bb", "[cc") == [b"c"]
    assert raw(r, "ZRANGEBYLEX", "l", "-", "+", "LIMIT", 2, 3) == [b"c", b"d", b"e"]
    assert raw(r, "ZREVRANGEBYLEX", "l", "+", "-", "LIMIT", 1, 2) == [b"f", b"e"]
    assert raw(r, "ZREVRANGEBYLEX", "l", "(e", "[b") == [b"d", b"c", b"b"]
    assert raw(r, "ZRANGE", "l", "[c", "[e", "BYLEX") == [b"c", b"d", b"e"]
    assert raw(r, "ZRANGE", "l", "+", "[e", "BYLEX", "REV", "LIMIT", 0, 2) == [b"g", b"f"]
    assert raw(r, "ZRANGEBYLEX", "nokey", "-", "+") == []
    assert err(r, "ZRANGEBYLEX", "l", "a", "b") == "min or max not valid string range item"
    assert err(r, "ZRANGEBYLEX", "l", "-", "+", "WITHSCORES") == \
        "syntax error, WITHSCORES not supported in combination with BYLEX"


def test_zrange_option_errors(r):
    raw(r, "ZADD", "z", 1, "a", 2, "b")
    assert err(r, "ZRANGE", "z", 0, -1, "LIMIT", 0, 1) == \
        "syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX"
    assert err(r, "ZRANGE", "z", "a", "b", "BYLEX", "WITHSCORES") == \
        "syntax error, WITHSCORES not supported in combination with BYLEX"
    assert err(r, "ZRANGE", "z", 0, 1, "BYSCORE", "REV", "REV") == "syntax error"
    assert err(r, "ZRANGE", "z", 0, 1, "BYLEX", "BYSCORE") == "syntax error"
    assert err(r, "ZRANGE", "z", 0, -1, "FOO") == "syntax error"
    assert err(r, "ZRANGE", "z", 0, -1, "LIMIT", 0, 1, "BYLEX") == "min or max not valid string range item"
    assert err(r, "ZREVRANGE", "z", 0, 1, "REV") == "syntax error"
    r.set("s", "x")
    assert err(r, "ZRANGE", "s", 0, -1) == WRONGTYPE
    assert err(r, "ZRANGEBYSCORE", "s", 0, 1) == WRONGTYPE
    assert err(r, "ZRANGEBYLEX", "s", "-", "+") == WRONGTYPE


def test_zrangestore(r):
    raw(r, "ZADD", "z", 1, "a", 2, "b", 3, "c", 4, "d")
    assert raw(r, "ZRANGESTORE", "dst", "z", 1, 2) == 2
    assert zrange_all(r, "dst") == [b"b", b"2", b"c", b"3"]
    r.set("other", "x")
    r.expire("other", 100)
    assert raw(r, "ZRANGESTORE", "other", "z", "+inf", "(2", "BYSCORE", "REV", "LIMIT", 0, 1) == 1
    assert zrange_all(r, "other") == [b"d", b"4"] and r.ttl("other") == -1
    assert raw(r, "ZRANGESTORE", "dst", "z", "[a", "[b", "BYLEX") == 2
    assert raw(r, "ZRANGESTORE", "z", "z", 0, 0) == 1                  # source and destination the same
    assert zrange_all(r, "z") == [b"a", b"1"]
    assert raw(r, "ZRANGESTORE", "dst", "z", 5, 10) == 0                 # empty result deletes dst
    assert r.exists("dst") == 0
    assert raw(r, "ZRANGESTORE", "dst", "nokey", 0, -1) == 0
    assert err(r, "ZRANGESTORE", "dst", "z", 0, -1, "WITHSCORES") == "syntax error"
    assert err(r, "ZRANGESTORE", "dst", "other2", 0) == "wrong number of arguments for 'zrangestore' command"
    r.set("s", "x")
    assert err(r, "ZRANGESTORE", "dst", "s", 0, -1) == WRONGTYPE


def test_zremrange(r):
    raw(r, "ZADD", "z", 1, "a", 2, "b", 3, "c", 4, "d", 5, "e")
    assert raw(r, "ZREMRANGEBYSCORE", "z", "(1", "2") == 1
    assert raw(r, "ZREMRANGEBYSCORE", "z", "(10", "20") == 0
    assert raw(r, "ZREMRANGEBYRANK", "z", -1, -1) == 1                    # e
    assert raw(r, "ZREMRANGEBYRANK", "z", 5, 10) == 0
    assert raw(r, "ZREMRANGEBYRANK", "z", 2, 1) == 0
    assert raw(r, "ZRANGE", "z", 0, -1) == [b"a", b"c", b"d"]
    assert raw(r, "ZREMRANGEBYRANK", "z", 0, 1) == 2
    assert raw(r, "ZREMRANGEBYSCORE", "z", "-inf", "+inf") == 1
    assert r.exists("z") == 0
    raw(r, "ZADD", "l", 0, "a", 0, "b", 0, "c", 0, "d")
    assert raw(r, "ZREMRANGEBYLEX", "l", "(a", "[c") == 2
    assert raw(r, "ZREMRANGEBYLEX", "l", "-", "+") == 2
    assert r.exists("l") == 0
    assert raw(r, "ZREMRANGEBYLEX", "nokey", "-", "+") == 0
    assert err(r, "ZREMRANGEBYSCORE", "z", "x", 1) == "min or max is not a float"
    assert err(r, "ZREMRANGEBYLEX", "z", "x", "+") == "min or max not valid string range item"
    assert err(r, "ZREMRANGEBYRANK", "z", "x", 1) == NOT_INT
    r.set("s", "x")
    assert err(r, "ZREMRANGEBYRANK", "s", 0, 1) == WRONGTYPE


# ---- pops ----

def test_zpopmin_zpopmax(r):
    raw(r, "ZADD", "z", 1, "a", 2, "b", 3, "c", 4, "d", 5, "e")
    assert raw(r, "ZPOPMIN", "z") == [b"a", b"1"]
    assert raw(r, "ZPOPMAX", "z") == [b"e", b"5"]
    assert raw(r, "ZPOPMIN", "z", 2) == [b"b", b"2", b"c", b"3"]
    assert raw(r, "ZPOPMIN", "z", 0) == []
    assert raw(r, "ZPOPMAX", "z", 10) == [b"d", b"4"]
    assert r.exists("z") == 0
    assert raw(r, "ZPOPMIN", "z") == []
    assert raw(r, "ZPOPMIN", "z", 0) == []
    msg = "value is out of range, must be positive"
    assert err(r, "ZPOPMIN", "z", -1) == msg
    assert err(r, "ZPOPMAX", "z", "x") == msg
    assert err(r, "ZPOPMIN", "z", 1, 2) == "syntax error"
    r.set("s", "x")
    assert err(r, "ZPOPMIN", "s") == WRONGTYPE


def test_zmpop(r):
    raw(r, "ZADD", "z", 1, "a", 2, "b", 3, "c")
    assert raw(r, "ZMPOP", 1, "z", "MIN") == [b"z", [[b"a", b"1"]]]
    assert raw(r, "ZMPOP", 2, "nokey", "z", "MAX", "COUNT", 5) == [b"z", [[b"c", b"3"], [b"b", b"2"]]]
    assert r.exists("z") == 0
    assert raw(r, "ZMPOP", 2, "nokey", "z", "MIN") is None
    assert err(r, "ZMPOP", 0, "z", "MIN") == "numkeys should be greater than 0"
    assert err(r, "ZMPOP", "x", "z", "MIN") == "numkeys should be greater than 0"
    assert err(r, "ZMPOP", 1, "z", "MIN", "COUNT", 0) == "count should be greater than 0"
    assert err(r, "ZMPOP", 1, "z", "MIN", "COUNT", "x") == "count should be greater than 0"
    assert err(r, "ZMPOP", 1, "z", "FOO") == "syntax error"
    assert err(r, "ZMPOP", 5, "z", "MIN") == "syntax error"
    assert err(r, "ZMPOP", 1, "z", "MIN", "COUNT", 1, "COUNT", 2) == "syntax error"
    r.set("s", "x")
    raw(r, "ZADD", "z", 1, "a")
    assert err(r, "ZMPOP", 2, "s", "z", "MIN") == WRONGTYPE
    assert raw(r, "ZMPOP", 2, "z", "s", "MIN") == [b"z", [[b"a", b"1"]]]   # stops at the first zset


# ---- RESP3 reply types ----

def test_resp3_shapes(r, r3):
    raw(r, "ZADD", "z", 1, "a", 2.5, "b", 3, "c")
    assert r3.call("ZSCORE", "z", "b") == ("double", "2.5")
    assert r3.call("ZSCORE", "z", "x") == ("null", None)
    assert r3.call("ZADD", "z", "INCR", 1, "a") == ("double", "2")
    assert r3.call("ZINCRBY", "z", -1, "a") == ("double", "1")
    assert r3.call("ZMSCORE", "z", "a", "x") == ("array", [("double", "1"), ("null", None)])
    assert r3.call("ZRANK", "z", "x") == ("null", None)
    pair = lambda m, s: ("array", [("bulk", m), ("double", s)])
    assert r3.call("ZRANGE", "z", 0, 1, "WITHSCORES") == ("array", [pair(b"a", "1"), pair(b"b", "2.5")])
    assert r3.call("ZRANGE", "z", 0, 0) == ("array", [("bulk", b"a")])
    assert r3.call("ZRANGEBYSCORE", "z", 3, 3, "WITHSCORES") == ("array", [pair(b"c", "3")])
    assert r3.call("ZUNION", 1, "z", "WITHSCORES")[1][0] == pair(b"a", "1")
    assert r3.call("ZRANDMEMBER", "z", 1, "WITHSCORES")[1][0][0] == "array"
    # ZPOPMIN nests pairs only when a count is given
    assert r3.call("ZPOPMIN", "z") == ("array", [("bulk", b"a"), ("double", "1")])
    assert r3.call("ZPOPMIN", "z", 1) == ("array", [pair(b"b", "2.5")])
    assert r3.call("ZMPOP", 1, "z", "MAX") == ("array", [("bulk", b"z"), ("array", [pair(b"c", "3")])])
    assert r3.call("ZMPOP", 1, "z", "MAX") == ("null", None)
    raw(r, "ZADD", "z", 0.5, "m")
    assert r3.call("BZPOPMIN", "z", 0) == ("array", [("bulk", b"z"), ("bulk", b"m"), ("double", "0.5")])
    raw(r, "ZADD", "z", 0.5, "m")
    # ZSCAN scores stay bulk strings in RESP3, as Redis
    assert r3.call("ZSCAN", "z", 0) == ("array", [("bulk", b"0"), ("array", [("bulk", b"m"), ("bulk", b"0.5")])])
    assert r3.call("ZADD", "z", "NX", "INCR", 1, "m") == ("null", None)


# ---- ZRANDMEMBER ----

def test_zrandmember(r):
    members = {("m%d" % i).encode(): str(i).encode() for i in range(30)}
    raw(r, "ZADD", "z", *sum([[v, k] for k, v in members.items()], []))
    assert raw(r, "ZRANDMEMBER", "z") in members
    for count in (1, 5, 12, 25, 29):                               # distinct members
        got = raw(r, "ZRANDMEMBER", "z", count)
        assert len(got) == count and len(set(got)) == count and set(got) <= set(members)
    assert sorted(raw(r, "ZRANDMEMBER", "z", 100)) == sorted(members)
    got = raw(r, "ZRANDMEMBER", "z", -100)                         # repeats allowed
    assert len(got) == 100 and set(got) <= set(members)
    flat = raw(r, "ZRANDMEMBER", "z", -7, "WITHSCORES")
    assert len(flat) == 14 and all(members[flat[i]] == flat[i + 1] for i in range(0, 14, 2))
    flat = raw(r, "ZRANDMEMBER", "z", 5, "withscores")
    assert len(flat) == 10 and all(members[flat[i]] == flat[i + 1] for i in range(0, 10, 2))
    assert raw(r, "ZRANDMEMBER", "z", 0) == []
    assert raw(r, "ZRANDMEMBER", "nokey") is None
    assert raw(r, "ZRANDMEMBER", "nokey", 5) == []
    assert err(r, "ZRANDMEMBER", "z", "x") == NOT_INT
    assert err(r, "ZRANDMEMBER", "z", 5, "WITHSCORE") == "syntax error"
    assert err(r, "ZRANDMEMBER", "z", 5, "WITHSCORES", "x") == "syntax error"
    assert err(r, "ZRANDMEMBER", "z", -9223372036854775808) == \
        "value is out of range, value must between -9223372036854775807 and 9223372036854775807"
    assert err(r, "ZRANDMEMBER", "z", 9223372036854775807, "WITHSCORES") == "value is out of range"
    r.set("s", "x")
    assert err(r, "ZRANDMEMBER", "s") == WRONGTYPE


# ---- ZSCAN ----

def test_zscan(r):
    pairs = {("member:%d" % i).encode(): ("%d.5" % i).encode() for i in range(1000)}
    for chunk in range(0, 1000, 250):
        items = list(pairs.items())[chunk:chunk + 250]
        raw(r, "ZADD", "z", *sum([[v, k] for k, v in items], []))
    seen, cursor, calls = {}, b"0", 0
    while True:
        cursor, flat = raw(r, "ZSCAN", "z", cursor, "COUNT", 50)
        calls += 1
        for i in range(0, len(flat), 2):
            seen[flat[i]] = flat[i + 1]
        if cursor == b"0":
            break
    assert seen == pairs and calls > 2
    got = {}
    cursor = b"0"
    while True:
        cursor, flat = raw(r, "ZSCAN", "z", cursor, "MATCH", "member:99*", "COUNT", 100)
        got.update({flat[i]: flat[i + 1] for i in range(0, len(flat), 2)})
        if cursor == b"0":
            break
    assert set(got) == {b"member:99"} | {b"member:99%d" % i for i in range(10)}
    assert raw(r, "ZSCAN", "nokey", 0) == [b"0", []]
    assert raw(r, "ZSCAN", "nokey", 0, "COUNT", 0) == [b"0", []]   # options checked after the lookup
    assert err(r, "ZSCAN", "z", "abc") == "invalid cursor"
    assert err(r, "ZSCAN", "z", 0, "COUNT", 0) == "syntax error"
    assert err(r, "ZSCAN", "z", 0, "COUNT", "x") == NOT_INT
    assert err(r, "ZSCAN", "z", 0, "MATCH") == "syntax error"
    r.set("s", "x")
    assert err(r, "ZSCAN", "s", 0) == WRONGTYPE


# ---- ZUNION / ZINTER / ZDIFF ----

def test_zunion_zinter_zdiff(r):
    raw(r, "ZADD", "u1", 1, "a", 2, "b", 3, "c")
    raw(r, "ZADD", "u2", 10, "b", 20, "c", 30, "d")
    assert raw(r, "ZUNION", 2, "u1", "u2", "WITHSCORES") == [b"a", b"1", b"b", b"12", b"c", b"23", b"d", b"30"]
    assert raw(r, "ZUNION", 2, "u1", "u2", "WEIGHTS", 2, 3, "WITHSCORES") == \
        [b"a", b"2", b"b", b"34", b"c", b"66", b"d", b"90"]
    assert raw(r, "ZUNION", 2, "u1", "u2", "AGGREGATE", "MIN", "WITHSCORES") == \
        [b"a", b"1", b"b", b"2", b"c", b"3", b"d", b"30"]
    assert raw(r, "ZUNION", 2, "u1", "u2", "AGGREGATE", "max") == [b"a", b"b", b"c", b"d"]
    assert raw(r, "ZUNION", 2, "u1", "nokey") == [b"a", b"b", b"c"]
    assert raw(r, "ZINTER", 2, "u1", "u2", "WITHSCORES") == [b"b", b"12", b"c", b"23"]
    assert raw(r, "ZINTER", 2, "u1", "u2", "WEIGHTS", 1, 0, "AGGREGATE", "SUM", "WITHSCORES") == \
        [b"b", b"2", b"c", b"3"]
    assert raw(r, "ZINTER", 2, "u1", "nokey") == []
    assert raw(r, "ZINTER", 2, "u1", "u1", "WITHSCORES") == [b"a", b"2", b"b", b"4", b"c", b"6"]
    assert raw(r, "ZDIFF", 2, "u1", "u2", "WITHSCORES") == [b"a", b"1"]
    assert raw(r, "ZDIFF", 2, "u2", "u1") == [b"d"]               # the first key is the base
    assert raw(r, "ZDIFF", 2, "nokey", "u1") == []
    raw(r, "ZADD", "pinf", "inf", "x")
    raw(r, "ZADD", "ninf", "-inf", "x")
    assert raw(r, "ZUNION", 2, "pinf", "ninf", "WITHSCORES") == [b"x", b"0"]  # inf + -inf = 0
    assert raw(r, "ZINTER", 2, "pinf", "pinf", "WEIGHTS", 0, 1, "WITHSCORES") == [b"x", b"inf"]


def test_zunion_family_errors(r):
    raw(r, "ZADD", "z", 1, "a")
    assert err(r, "ZUNIONSTORE", "d", 0, "z") == "at least 1 input key is needed for 'zunionstore' command"
    assert err(r, "ZUNION", 0, "z") == "at least 1 input key is needed for 'zunion' command"
    assert err(r, "ZINTERSTORE", "d", -1, "z") == "at least 1 input key is needed for 'zinterstore' command"
    assert err(r, "ZDIFF", 0, "z") == "at least 1 input key is needed for 'zdiff' command"
    assert err(r, "ZUNION", "x", "z") == NOT_INT
    assert err(r, "ZUNIONSTORE", "d", 2, "z") == "syntax error"
    assert err(r, "ZUNION", 1, "z", "WEIGHTS", "x") == "weight value is not a float"
    assert err(r, "ZUNION", 1, "z", "WEIGHTS", 1, 2) == "syntax error"
    assert err(r, "ZUNION", 1, "z", "AGGREGATE", "foo") == "syntax error"
    assert err(r, "ZUNION", 1, "z", "AGGREGATE") == "syntax error"
    assert err(r, "ZUNIONSTORE", "d", 1, "z", "WITHSCORES") == "syntax error"
    assert err(r, "ZDIFF", 1, "z", "WEIGHTS", 1) == "syntax error"
    assert err(r, "ZDIFF", 1, "z", "AGGREGATE", "SUM") == "syntax error"
    r.set("s", "x")
    assert err(r, "ZUNION", 2, "z", "s") == WRONGTYPE
    assert err(r, "ZUNIONSTORE", "d", 1, "s", "BADOPT") == WRONGTYPE   # types before options


def test_store_variants(r):
    raw(r, "ZADD", "u1", 1, "a", 2, "b", 3, "c")
    raw(r, "ZADD", "u2", 10, "b", 20, "c", 30, "d")
    assert raw(r, "ZUNIONSTORE", "dst", 2, "u1", "u2") == 4
    assert zrange_all(r, "dst") == [b"a", b"1", b"b", b"12", b"c", b"23", b"d", b"30"]
    assert raw(r, "ZINTERSTORE", "dst", 2, "u1", "u2", "AGGREGATE", "MAX") == 2
    assert zrange_all(r, "dst") == [b"b", b"10", b"c", b"20"]
    assert raw(r, "ZDIFFSTORE", "dst", 2, "u1", "u2") == 1
    assert zrange_all(r, "dst") == [b"a", b"1"]
    assert raw(r, "ZINTERSTORE", "dst", 2, "u1", "nokey") == 0      # empty result deletes dst
    assert r.exists("dst") == 0
    assert raw(r, "ZUNIONSTORE", "u1", 2, "u1", "u2", "WEIGHTS", 1, -1) == 4   # dst is also a source
    assert zrange_all(r, "u1") == [b"d", b"-30", b"c", b"-17", b"b", b"-8", b"a", b"1"]
    r.set("str", "x")
    assert raw(r, "ZUNIONSTORE", "str", 1, "u2") == 3               # overwrites any type
    assert r.type("str") == b"zset"
    assert raw(r, "ZINTERSTORE", "w", 2, "u2", "u2", "WEIGHTS", 0, -1) == 3
    assert zrange_all(r, "w") == [b"d", b"-30", b"c", b"-20", b"b", b"-10"]


def test_set_sources(r):
    assert raw(r, "SADD", "s1", "a", "b", "x") == 3
    raw(r, "ZADD", "z1", 5, "a", 7, "q")
    assert raw(r, "ZUNION", 2, "s1", "z1", "WITHSCORES") == [b"b", b"1", b"x", b"1", b"a", b"6", b"q", b"7"]
    assert raw(r, "ZINTER", 2, "z1", "s1", "WEIGHTS", 2, 3, "WITHSCORES") == [b"a", b"13"]
    assert raw(r, "ZDIFF", 2, "s1", "z1") == [b"b", b"x"]
    assert raw(r, "ZDIFFSTORE", "d", 1, "s1") == 3
    assert zrange_all(r, "d") == [b"a", b"1", b"b", b"1", b"x", b"1"]
    assert raw(r, "ZINTERCARD", 2, "s1", "z1") == 1


def test_zintercard(r):
    raw(r, "ZADD", "a", 1, "x", 2, "y", 3, "z")
    raw(r, "ZADD", "b", 1, "x", 2, "y", 4, "w")
    assert raw(r, "ZINTERCARD", 2, "a", "b") == 2
    assert raw(r, "ZINTERCARD", 2, "a", "b", "LIMIT", 1) == 1
    assert raw(r, "ZINTERCARD", 2, "a", "b", "LIMIT", 0) == 2
    assert raw(r, "ZINTERCARD", 2, "a", "nokey") == 0
    assert err(r, "ZINTERCARD", 0, "a") == "at least 1 input key is needed for 'zintercard' command"
    assert err(r, "ZINTERCARD", 1, "a", "LIMIT", -1) == "LIMIT can't be negative"
    assert err(r, "ZINTERCARD", 1, "a", "WEIGHTS", 1) == "syntax error"
    assert err(r, "ZINTERCARD", 1, "a", "WITHSCORES") == "syntax error"


# ---- a larger set checked against a model ----

def test_random_ops_against_model(r):
    rnd = random.Random(7)
    model = {}
    for step in range(1500):
        m = "m%d" % rnd.randrange(400)
        op = rnd.random()
        if op < 0.5:
            s = rnd.choice([rnd.randrange(-50, 50), rnd.random() * 100 - 50])
            added = raw(r, "ZADD", "z", repr(float(s)), m)
            assert added == (0 if m in model else 1)
            model[m] = float(s)
        elif op < 0.65:
            assert raw(r, "ZREM", "z", m) == (1 if model.pop(m, None) is not None else 0)
        elif op < 0.8:
            got = raw(r, "ZINCRBY", "z", 1.5, m)
            model[m] = model.get(m, 0.0) + 1.5
            assert float(got) == model[m]
        else:
            order = sorted(model.items(), key=lambda kv: (kv[1], kv[0].encode()))
            if m in model:
                assert raw(r, "ZRANK", "z", m) == [k for k, _ in order].index(m)
            lo, hi = sorted([rnd.uniform(-60, 60), rnd.uniform(-60, 60)])
            want = [k.encode() for k, v in order if lo < v <= hi]
            assert raw(r, "ZRANGEBYSCORE", "z", "(%r" % lo, repr(hi)) == want
            assert raw(r, "ZCOUNT", "z", "(%r" % lo, repr(hi)) == len(want)
            a, b = rnd.randrange(-50, 50), rnd.randrange(-50, 50)
            n = len(order)
            s, e = (a + n if a < 0 else a), (b + n if b < 0 else b)
            want = [k.encode() for k, _ in order[max(s, 0):e + 1]] if e >= 0 else []
            assert raw(r, "ZRANGE", "z", a, b) == want
    assert raw(r, "ZCARD", "z") == len(model)
    order = sorted(model.items(), key=lambda kv: (kv[1], kv[0].encode()))
    assert raw(r, "ZRANGE", "z", 0, -1) == [k.encode() for k, _ in order]


def test_random_arguments_never_crash(node, r):
    """Random mixes of valid and invalid arguments: errors, never a crash."""
    rnd = random.Random(11)
    cmds = ["ZADD", "ZINCRBY", "ZREM", "ZCOUNT", "ZLEXCOUNT", "ZMSCORE", "ZRANK", "ZRANGE", "ZRANGESTORE",
            "ZRANGEBYSCORE", "ZREVRANGEBYLEX", "ZREMRANGEBYSCORE", "ZREMRANGEBYRANK", "ZREMRANGEBYLEX",
            "ZPOPMIN", "ZPOPMAX", "ZRANDMEMBER", "ZSCAN", "ZUNIONSTORE", "ZINTER", "ZDIFF", "ZMPOP",
            "ZINTERCARD", "BZPOPMIN", "BZMPOP", "SET"]
    toks = ["k", "k2", "s", "0", "1", "-1", "2", "100", "-100", "inf", "-inf", "(1", "[a", "(a", "-", "+",
            "a", "", "nan", "1e308", "NX", "XX", "GT", "LT", "CH", "INCR", "LIMIT", "WITHSCORES", "BYSCORE",
            "BYLEX", "REV", "WEIGHTS", "AGGREGATE", "MIN", "MAX", "COUNT", "MATCH", "*",
            "9223372036854775807", "-9223372036854775808", "(", "[", "\x00", "x" * 300]
    for _ in range(2000):
        cmd = rnd.choice(cmds)
        args = [rnd.choice(toks) for _ in range(rnd.randint(0, 8))]
        if cmd.startswith("B") and args:
            args[0 if cmd == "BZMPOP" else -1] = "0.001"      # never block for long
        try:
            raw(r, cmd, *args)
        except redis.ResponseError:
            pass
    assert r.ping() and node.alive()


# ---- blocking ----

def test_bzpopmin_served_by_zadd_from_another_connection(node, r):
    waiter = node.client()
    result = {}

    def run():
        result["reply"] = raw(waiter, "BZPOPMIN", "q1", "q2", 5)

    t = threading.Thread(target=run)
    t.start()
    wait_blocked(r, 1)
    assert raw(r, "ZADD", "q2", 3, "c", 1, "a", 2, "b") == 3
    t.join(5)
    assert result["reply"] == [b"q2", b"a", b"1"]
    assert raw(r, "ZRANGE", "q2", 0, -1) == [b"b", b"c"]
    assert blocked(r) == 0
    waiter.close()


def test_bzpopmax_and_bzmpop_served_later(node, r):
    waiter = node.client()
    result = {}

    def run(*args):
        result["reply"] = raw(waiter, *args)

    t = threading.Thread(target=run, args=("BZPOPMAX", "q", 5))
    t.start()
    wait_blocked(r, 1)
    raw(r, "ZADD", "q", 1, "a", 9, "z")
    t.join(5)
    assert result["reply"] == [b"q", b"z", b"9"]
    t = threading.Thread(target=run, args=("BZMPOP", 5, 2, "x", "y", "MIN", "COUNT", 2))
    t.start()
    wait_blocked(r, 1)
    raw(r, "ZADD", "y", 3, "c", 1, "a", 2, "b")
    t.join(5)
    assert result["reply"] == [b"y", [[b"a", b"1"], [b"b", b"2"]]]
    assert raw(r, "ZRANGE", "y", 0, -1) == [b"c"]
    waiter.close()


def test_blocking_pops_immediate_timeout_and_errors(r):
    raw(r, "ZADD", "q", 1, "a", 2, "b", 3, "c", 4, "d")
    assert raw(r, "BZPOPMIN", "nokey", "q", 0) == [b"q", b"a", b"1"]
    assert raw(r, "BZPOPMAX", "q", 0) == [b"q", b"d", b"4"]
    assert raw(r, "BZMPOP", 0, 2, "nokey", "q", "MAX", "COUNT", 5) == [b"q", [[b"c", b"3"], [b"b", b"2"]]]
    assert r.exists("q") == 0
    start = time.time()
    assert raw(r, "BZPOPMIN", "q", 0.05) is None
    assert raw(r, "BZMPOP", 0.05, 1, "q", "MIN") is None
    assert time.time() - start < 2
    assert err(r, "BZPOPMIN", "q", -1) == "timeout is negative"
    assert err(r, "BZPOPMIN", "q", "inf") == "timeout is negative"
    assert err(r, "BZPOPMIN", "q", "abc") == "timeout is not a float or out of range"
    assert err(r, "BZMPOP", "abc", 0, "q", "MIN") == "numkeys should be greater than 0"
    assert err(r, "BZMPOP", "abc", 1, "q", "MIN") == "timeout is not a float or out of range"
    assert err(r, "BZMPOP", 0, 1, "q", "MIN", "COUNT", 0) == "count should be greater than 0"
    assert err(r, "BZPOPMIN", "q") == "wrong number of arguments for 'bzpopmin' command"
    r.set("s", "x")
    assert err(r, "BZPOPMIN", "s", 0) == WRONGTYPE
    assert blocked(r) == 0


def transaction(r, *cmds):
    """MULTI, the commands, EXEC on one connection; EXEC's raw reply."""
    conn = r.connection_pool.get_connection("MULTI")
    try:
        conn.send_command("MULTI")
        assert conn.read_response() == b"OK"
        for cmd in cmds:
            conn.send_command(*cmd)
            assert conn.read_response() == b"QUEUED"
        conn.send_command("EXEC")
        return conn.read_response()
    finally:
        r.connection_pool.release(conn)


def test_blocking_pop_inside_multi_does_not_block(r):
    start = time.time()
    assert transaction(r, ("BZPOPMIN", "q", 0), ("BZMPOP", 0, 1, "q", "MIN")) == [None, None]
    assert time.time() - start < 2 and blocked(r) == 0
    raw(r, "ZADD", "q", 1, "a")
    assert transaction(r, ("BZPOPMAX", "q", 0)) == [[b"q", b"a", b"1"]]


# ---- persistence: what is propagated replays to the same data ----

def test_aof_propagation_and_rewrite(node_factory):
    n = node_factory(args=["--appendonly", "yes"])
    r = n.client()
    waiter = n.client()
    result = {}
    t = threading.Thread(target=lambda: result.update(reply=raw(waiter, "BZPOPMIN", "q", 5)))
    t.start()
    wait_blocked(r, 1)
    raw(r, "ZADD", "q", 1, "a", 2, "b", 3, "c")
    t.join(5)
    assert result["reply"] == [b"q", b"a", b"1"]
    raw(r, "ZADD", "z", "0.1", "a", "1e300", "b", "-inf", "c", "0.30000000000000004", "d")
    raw(r, "ZINCRBY", "z", 2.5, "a")
    raw(r, "ZADD", "z", "INCR", 1, "e")
    raw(r, "ZPOPMAX", "z")
    raw(r, "ZMPOP", 1, "q", "MAX")
    raw(r, "ZADD", "big", *sum([["%d.25" % i, "m%d" % i] for i in range(300)], []))
    raw(r, "ZUNIONSTORE", "u", 2, "z", "q", "WEIGHTS", 2, 3)
    raw(r, "ZRANGESTORE", "rs", "big", 10, 20)
    raw(r, "ZREMRANGEBYRANK", "big", 0, 9)
    keys = ["q", "z", "big", "u", "rs"]
    before = {k: zrange_all(r, k) for k in keys}
    waiter.close()
    r.close()
    n.restart()
    r = n.client()
    assert {k: zrange_all(r, k) for k in keys} == before
    aof = b""
    d = os.path.join(n.dir, "appendonlydir")
    for name in sorted(os.listdir(d)):
        with open(os.path.join(d, name), "rb") as f:
            aof += f.read()
    assert b"BZPOPMIN" not in aof and b"ZMPOP" not in aof
    assert b"ZPOPMIN" in aof and b"ZPOPMAX" in aof
    # after a rewrite the value is rebuilt from ZADD batches with exact scores
    rewrites = r.info("persistence").get("aof_rewrites", 0)
    r.execute_command("BGREWRITEAOF")
    deadline = time.time() + 30
    while time.time() < deadline:
        info = r.info("persistence")
        if info.get("aof_rewrites", 0) > rewrites and info.get("aof_rewrite_in_progress", 1) == 0:
            break
        time.sleep(0.02)
    else:
        raise AssertionError("the AOF rewrite did not finish")
    r.close()
    n.restart()
    r = n.client()
    assert {k: zrange_all(r, k) for k in keys} == before
    r.close()


# ---- redis-cli ----

def test_redis_cli(node):
    assert node.cli("ZADD", "z", "1", "a", "2.5", "b").strip() == "2"
    assert node.cli("ZRANGE", "z", "0", "-1", "WITHSCORES").split() == ["a", "1", "b", "2.5"]
    assert node.cli("ZSCORE", "z", "b").strip() == "2.5"
    assert "WRONGTYPE" not in node.cli("ZCARD", "z")
    out = node.cli("ZADD", "z", "NX", "XX", "1", "a")
    assert "XX and NX options at the same time are not compatible" in out
