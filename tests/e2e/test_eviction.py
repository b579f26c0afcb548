"""maxmemory and eviction: memory stays bounded under the LRU, random and TTL
policies, the approximated LRU keeps recently read keys, volatile policies
never touch persistent keys, and noeviction refuses writes but serves reads.
Memory is read with MEMORY STATS (total.allocated), not INFO."""
import time

import pytest
import redis

OOM = "OOM command not allowed when used memory > 'maxmemory'."
VALUE = b"x" * 1000


def used(r):
    """Memory as eviction counts it (the AOF's buffered bytes excluded)."""
    stats = r.memory_stats()
    return stats["total.allocated"] - stats["aof.buffer"]


def fill(r, fmt, n, start=0, ex=None, value=VALUE, batch=500):
    """SET fmt % i for i in [start, start + n); every reply must be OK."""
    for lo in range(start, start + n, batch):
        p = r.pipeline(transaction=False)
        for i in range(lo, min(lo + batch, start + n)):
            p.set(fmt % i, value, ex=ex(i) if callable(ex) else ex)
        assert all(x is True for x in p.execute())


def settle(r, limit, slack=0, timeout=5.0):
    """Wait until used memory is within limit + slack: one call evicts for at
    most about a millisecond, and the cron (hz 10) carries on from there."""
    deadline = time.time() + timeout
    while used(r) > limit + slack and time.time() < deadline:
        time.sleep(0.05)
    return used(r) <= limit + slack


def alive(r, keys):
    """How many of keys exist, without touching their LRU stamps."""
    n = 0
    for lo in range(0, len(keys), 500):
        n += r.exists(*keys[lo:lo + 500])
    return n


@pytest.fixture
def lru(node_factory):
    node = node_factory(args=["--maxmemory-policy", "allkeys-lru"])
    c = node.client()
    yield c
    c.close()


def test_allkeys_lru_bounds_memory(lru):
    r = lru
    limit = used(r) + 4 * 1024 * 1024
    r.config_set("maxmemory", limit)
    fill(r, "key:%d", 16000)  # ~17 MB written into 4 MB
    assert settle(r, limit, 256 * 1024), used(r)
    n = r.dbsize()
    assert 1000 < n < 8000, n
    # Writes were never refused, and the node still reads and writes.
    assert r.set("last", "v") is True and r.get("last") == b"v"


def test_lru_keeps_recently_read_keys(lru):
    r = lru
    fill(r, "old:%d", 2000)
    # The LRU clock counts seconds: step past one so hot reads stamp later.
    time.sleep(1.1)
    hot = ["old:%d" % i for i in range(0, 2000, 10)]
    p = r.pipeline(transaction=False)
    for k in hot:
        p.get(k)
    assert all(v == VALUE for v in p.execute())
    r.config_set("maxmemory", used(r) + 512 * 1024)
    fill(r, "new:%d", 1500)  # forces out about 1000 keys
    cold = ["old:%d" % i for i in range(2000) if i % 10]
    hot_alive = alive(r, hot) / len(hot)
    cold_alive = alive(r, cold) / len(cold)
    assert r.dbsize() < 3500
    assert hot_alive >= 0.9, (hot_alive, cold_alive)
    assert cold_alive <= hot_alive - 0.3, (hot_alive, cold_alive)


def test_allkeys_random_bounds_memory(node_factory):
    node = node_factory(args=["--maxmemory-policy", "allkeys-random"])
    r = node.client()
    limit = used(r) + 2 * 1024 * 1024
    r.config_set("maxmemory", limit)
    fill(r, "key:%d", 8000)
    assert settle(r, limit, 256 * 1024), used(r)
    assert 500 < r.dbsize() < 4000


def test_volatile_ttl_evicts_soonest_first(node_factory):
    node = node_factory(args=["--maxmemory-policy", "volatile-ttl"])
    r = node.client()
    fill(r, "p:%d", 300)
    fill(r, "soon:%d", 300, ex=lambda i: 1000 + i)
    fill(r, "late:%d", 300, ex=lambda i: 100000 + i)
    limit = used(r) - 150 * 1024  # about 130 keys too many
    r.config_set("maxmemory", limit)
    assert r.set("trigger", "x") is True  # a write makes room first
    assert settle(r, limit, 2048)
    assert alive(r, ["p:%d" % i for i in range(300)]) == 300
    soon = alive(r, ["soon:%d" % i for i in range(300)])
    late = alive(r, ["late:%d" % i for i in range(300)])
    assert soon <= 300 - 100, soon
    assert late >= 290, late


def test_volatile_random_spares_persistent_keys(node_factory):
    node = node_factory(args=["--maxmemory-policy", "volatile-random"])
    r = node.client()
    fill(r, "p:%d", 300)
    fill(r, "v:%d", 300, ex=1000)
    limit = used(r) - 100 * 1024
    r.config_set("maxmemory", limit)
    assert r.set("trigger", "x") is True
    assert settle(r, limit, 2048)
    assert alive(r, ["p:%d" % i for i in range(300)]) == 300
    assert alive(r, ["v:%d" % i for i in range(300)]) < 250


@pytest.mark.parametrize("policy", ["volatile-lru", "volatile-ttl", "volatile-random"])
def test_volatile_without_volatile_keys_is_oom(node_factory, policy):
    node = node_factory(args=["--maxmemory-policy", policy])
    r = node.client()
    fill(r, "p:%d", 200)
    r.config_set("maxmemory", used(r) - 50 * 1024)
    with pytest.raises(redis.ResponseError) as e:
        r.set("new", "v")
    assert str(e.value) == OOM
    assert r.dbsize() == 200
    assert r.get("p:0") == VALUE


def test_noeviction_refuses_writes_serves_reads(node_factory):
    node = node_factory()  # noeviction is the default policy
    r = node.client()
    fill(r, "k:%d", 200)
    r.config_set("maxmemory", used(r) - 50 * 1024)
    for cmd in (("SET", "new", "v"), ("APPEND", "k:0", "x"), ("COPY", "k:0", "k:copy")):
        with pytest.raises(redis.ResponseError) as e:
            r.execute_command(*cmd)
        assert str(e.value) == OOM
    assert r.get("k:1") == VALUE
    assert r.exists("k:2") == 1
    assert r.dbsize() == 200
    # Commands that only shrink memory still run, and free room for writes.
    assert r.expire("k:3", 100) is True
    assert r.delete(*["k:%d" % i for i in range(100)]) == 100
    assert r.set("new", "v") is True
    r.config_set("maxmemory", 0)
    fill(r, "more:%d", 200)


def test_noeviction_redis_cli(node_factory):
    node = node_factory(args=["--maxmemory-policy", "noeviction"])
    r = node.client()
    fill(r, "k:%d", 100)
    r.config_set("maxmemory", used(r) - 20 * 1024)
    assert node.cli("SET", "x", "y").strip() == OOM
    assert node.cli("GET", "k:1").strip() == VALUE.decode()


def test_evictions_survive_restart(node_factory):
    node = node_factory(args=["--maxmemory-policy", "allkeys-lru", "--appendonly", "yes",
                              "--appendfsync", "always"])
    r = node.client()
    limit = used(r) + 2 * 1024 * 1024
    r.config_set("maxmemory", limit)
    # Small batches: the AOF keeps its buffers' capacity, which still counts.
    fill(r, "key:%d", 5000, batch=100)
    assert settle(r, limit, 64 * 1024)
    before = r.dbsize()
    assert 0 < before < 5000
    survivors = sorted(r.keys("*"))
    r.close()
    node.restart()
    r = node.client()
    assert r.dbsize() == before
    assert sorted(r.keys("*")) == survivors
