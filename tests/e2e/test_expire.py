"""Key expiry: EXPIRE family with NX/XX/GT/LT, TTL/PTTL/EXPIRETIME, PERSIST,
lazy and active expiry, and propagation of expiries as absolute times."""
import os
import time

import pytest
import redis


def err(r, *args):
    with pytest.raises(redis.ResponseError) as e:
        r.execute_command(*args)
    return str(e.value)


def wait_for(pred, timeout=5.0, step=0.02):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if pred():
            return True
        time.sleep(step)
    return pred()


def test_ttl_values(r):
    assert r.ttl("missing") == -2
    assert r.pttl("missing") == -2
    assert r.expiretime("missing") == -2
    assert r.execute_command("PEXPIRETIME", "missing") == -2
    r.set("k", "v")
    assert r.ttl("k") == -1 and r.pttl("k") == -1
    assert r.expiretime("k") == -1
    assert r.expire("k", 100) is True
    assert r.ttl("k") == 100
    assert 99000 < r.pttl("k") <= 100000
    assert r.pexpire("k", 1499) is True
    assert r.ttl("k") in (1, 2)  # rounded to the nearest second, as Redis
    now = int(time.time())
    assert r.expireat("k", now + 500)
    assert r.expiretime("k") == now + 500
    assert r.execute_command("PEXPIRETIME", "k") == (now + 500) * 1000
    assert r.pexpireat("k", (now + 600) * 1000 + 123)
    assert r.execute_command("PEXPIRETIME", "k") == (now + 600) * 1000 + 123
    assert r.expiretime("k") == now + 600


def test_expire_on_missing_key(r):
    assert r.expire("nokey", 10) is False
    assert r.pexpire("nokey", 10) is False
    assert r.expireat("nokey", 10) is False
    assert r.pexpireat("nokey", 10) is False
    assert r.persist("nokey") is False


def test_expire_in_past_deletes(r):
    r.set("a", "1")
    r.set("b", "1")
    r.set("c", "1")
    r.rpush("l", "x")
    assert r.expire("a", -1) is True
    assert r.pexpire("b", 0) is True
    assert r.expireat("c", 1) is True
    assert r.pexpireat("l", 1) is True
    assert r.dbsize() == 0


def test_expire_errors(r):
    r.set("k", "v")
    assert err(r, "EXPIRE", "k", "abc") == "value is not an integer or out of range"
    assert err(r, "EXPIRE", "k", "1.5") == "value is not an integer or out of range"
    assert err(r, "EXPIRE", "k", "9223372036854775807") == "invalid expire time in 'expire' command"
    assert err(r, "EXPIRE", "k", "-9223372036854775807") == "invalid expire time in 'expire' command"
    assert err(r, "PEXPIRE", "k", "9223372036854775807") == "invalid expire time in 'pexpire' command"
    assert err(r, "EXPIREAT", "k", "9223372036854775807") == "invalid expire time in 'expireat' command"
    assert err(r, "EXPIRE", "k", "10", "foo") == "Unsupported option foo"
    assert err(r, "EXPIRE", "k") == "wrong number of arguments for 'expire' command"
    assert err(r, "TTL") == "wrong number of arguments for 'ttl' command"
    assert err(r, "PERSIST", "a", "b") == "wrong number of arguments for 'persist' command"
    # PEXPIREAT with the largest time is valid: the key lives "forever".
    assert r.pexpireat("k", 9223372036854775807) is True
    assert r.ttl("k") > 10**9
    assert r.get("k") == b"v"


def test_expire_option_errors(r):
    r.set("k", "v")
    incompatible = "NX and XX, GT or LT options at the same time are not compatible"
    for opts in (["NX", "XX"], ["NX", "GT"], ["NX", "LT"], ["xx", "nx"]):
        assert err(r, "EXPIRE", "k", "10", *opts) == incompatible
    assert err(r, "EXPIRE", "k", "10", "GT", "LT") == \
        "GT and LT options at the same time are not compatible"
    assert err(r, "PEXPIRE", "k", "10", "lt", "gt") == \
        "GT and LT options at the same time are not compatible"
    # Options are checked before the time argument and before the key.
    assert err(r, "EXPIRE", "missing", "abc", "NX", "XX") == incompatible
    assert r.ttl("k") == -1


# (options, TTL before or None, new TTL, expected reply, TTL after or None)
MATRIX = [
    (["NX"], None, 100, 1, 100),
    (["NX"], 50, 100, 0, 50),
    (["XX"], None, 100, 0, None),
    (["XX"], 50, 100, 1, 100),
    (["GT"], None, 100, 0, None),    # no TTL counts as infinite
    (["GT"], 50, 100, 1, 100),
    (["GT"], 50, 20, 0, 50),
    (["GT"], 50, 50, 0, 50),
    (["LT"], None, 100, 1, 100),
    (["LT"], 50, 20, 1, 20),
    (["LT"], 50, 100, 0, 50),
    (["LT"], 50, 50, 0, 50),
    (["XX", "GT"], None, 100, 0, None),
    (["XX", "GT"], 50, 100, 1, 100),
    (["XX", "LT"], 50, 20, 1, 20),
    (["XX", "LT"], None, 20, 0, None),
    (["NX", "NX"], None, 30, 1, 30),  # repeating an option is fine
]


@pytest.mark.parametrize("opts,before,new,reply,after", MATRIX)
def test_expire_options_matrix(r, opts, before, new, reply, after):
    # Absolute times, so "equal" really is equal whatever the clock does.
    base = int(time.time() * 1000) + 10**6
    r.set("k", "v")
    if before is not None:
        r.pexpireat("k", base + before * 1000)
    assert r.execute_command("PEXPIREAT", "k", base + new * 1000, *opts) == reply
    expect = -1 if after is None else base + after * 1000
    assert r.execute_command("PEXPIRETIME", "k") == expect


def test_expire_options_relative_forms(r):
    r.set("k", "v")
    assert r.execute_command("EXPIRE", "k", 100, "XX") == 0
    assert r.execute_command("EXPIRE", "k", 100, "NX") == 1
    assert r.execute_command("PEXPIRE", "k", 200000, "GT") == 1
    assert r.ttl("k") == 200
    assert r.execute_command("EXPIRE", "k", 50, "LT") == 1
    assert r.ttl("k") == 50
    assert r.execute_command("EXPIREAT", "k", int(time.time()) + 10**6, "LT") == 0
    assert r.ttl("k") == 50


def test_lt_with_past_time_deletes(r):
    r.set("k", "v", ex=100)
    assert r.execute_command("EXPIRE", "k", "-5", "LT") == 1
    assert r.exists("k") == 0


def test_persist(r):
    r.set("k", "v", ex=100)
    assert 0 < r.ttl("k") <= 100
    assert r.persist("k") is True
    assert r.ttl("k") == -1
    assert r.persist("k") is False
    assert r.get("k") == b"v"
    r.set("k2", "v", px=50)
    assert r.persist("k2") is True
    time.sleep(0.1)
    assert r.get("k2") == b"v"


def test_set_overwrites_ttl(r):
    r.set("k", "v", ex=100)
    r.set("k", "w")
    assert r.ttl("k") == -1
    r.set("k", "v", ex=100)
    r.set("k", "w", keepttl=True)
    assert r.ttl("k") > 0


def test_lazy_expiry(r):
    r.set("k", "v", px=100)
    r.rpush("l", "a")
    r.pexpire("l", 100)
    assert r.get("k") == b"v"
    time.sleep(0.15)
    assert r.get("k") is None
    assert r.exists("l") == 0
    assert r.ttl("k") == -2
    assert r.type("l") == b"none"


def test_active_expiry(r):
    p = r.pipeline(transaction=False)
    for i in range(200):
        p.set("short:%d" % i, "v", px=100 + i % 50)
    for i in range(20):
        p.set("keep:%d" % i, "v")
        p.set("long:%d" % i, "v", ex=1000)
    p.execute()
    assert r.dbsize() == 240
    # Nobody touches the short keys: the cron alone must remove them.
    assert wait_for(lambda: r.dbsize() == 40, timeout=5.0), r.dbsize()
    assert r.exists(*["keep:%d" % i for i in range(20)]) == 20
    assert r.exists(*["long:%d" % i for i in range(20)]) == 20


def test_expired_key_can_be_recreated(r):
    r.set("k", "old", px=20)
    time.sleep(0.05)
    assert r.set("k", "new", nx=True) is True
    assert r.get("k") == b"new" and r.ttl("k") == -1


def test_expire_redis_cli(node):
    assert node.cli("SET", "k", "v").strip() == "OK"
    assert node.cli("EXPIRE", "k", "100", "NX").strip() == "1"
    assert node.cli("EXPIRE", "k", "200", "NX").strip() == "0"
    assert node.cli("TTL", "k").strip() == "100"
    assert node.cli("EXPIRE", "k", "10", "GT", "LT").strip() == \
        "ERR GT and LT options at the same time are not compatible"


def aof_bytes(d):
    """Everything under the data directory (the AOF, whatever its layout)."""
    out = b""
    for root, _, files in os.walk(d):
        for name in files:
            if name.endswith(".lock") or name.endswith(".log"):
                continue
            with open(os.path.join(root, name), "rb") as f:
                out += f.read()
    return out


def test_expiry_propagates_as_absolute_time(node_factory):
    node = node_factory(args=["--appendonly", "yes", "--appendfsync", "always"])
    r = node.client()
    r.set("a", "v")
    r.set("b", "v")
    r.set("gone", "v")
    r.expire("a", 1000)
    r.execute_command("PEXPIRE", "b", "2000000", "NX")
    r.expire("gone", -1)
    pa = r.execute_command("PEXPIRETIME", "a")
    pb = r.execute_command("PEXPIRETIME", "b")
    data = aof_bytes(node.dir)
    assert b"PEXPIREAT" in data
    assert b"%d" % pa in data and b"%d" % pb in data
    assert b"$6\r\nEXPIRE\r\n" not in data and b"$7\r\nPEXPIRE\r\n" not in data
    r.close()
    time.sleep(0.01)  # a relative replay would now give a different deadline
    node.restart()
    r = node.client()
    assert r.execute_command("PEXPIRETIME", "a") == pa
    assert r.execute_command("PEXPIRETIME", "b") == pb
    assert r.exists("gone") == 0
