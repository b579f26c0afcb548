"""Replicas and TTLs, as Redis since 3.2: a replica never deletes a key by TTL
itself (the primary's DEL comes through the stream), but its READONLY reads
treat a key whose TTL has passed as absent. The primary is made to hold its
DEL back with DEBUG SLEEP, so the window where the replica still has the key
is seconds long; DEBUG DIGEST-VALUE (a raw lookup) proves the key is still
in the replica's keyspace while the reads say it is not."""
import shutil
import tempfile
import threading
import time

import pytest

import ha
from ha import text, wait_until

TTL_MS = 300
SLEEP_S = 2.0
# The session and link timeouts outlast the primary's sleep: no failover.
ARGS = ["--repl-session-timeout", "8000", "--repl-timeout", "8000"]
ZERO_DIGEST = "0" * 32


@pytest.fixture
def group():
    """A healthy 3-node group on a one-member ZooKeeper."""
    ha.require_replication()
    d = tempfile.mkdtemp(prefix="halo-hattl-")
    ens = ha.Ensemble(d, 1)
    try:
        ens.start()
        with ha.healthy_group(ens.connstr, ARGS, prefix="halo-hattl-g-") as g:
            yield g
    finally:
        ens.stop()
        shutil.rmtree(d, ignore_errors=True)


def digests(conn, *keys):
    return [text(d) for d in conn.call("DEBUG", "DIGEST-VALUE", *keys)]


def scan_all(conn, pattern):
    """SCAN to the end: the set of keys named."""
    cursor, keys = b"0", set()
    for _ in range(1000):
        cursor, batch = conn.call("SCAN", cursor, "MATCH", pattern, "COUNT", 100)
        keys.update(text(k) for k in batch)
        if cursor == b"0":
            return keys
    raise AssertionError("SCAN did not finish in 1000 calls")


def sleep_primary(primary, seconds):
    """DEBUG SLEEP on the primary from a thread; returns the thread and a
    list that gets the reply (or the exception)."""
    out = []

    def run():
        try:
            out.append(primary.call("DEBUG", "SLEEP", seconds, timeout=seconds + 10))
        except Exception as e:  # noqa: BLE001 - reported by the test
            out.append(e)
    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t, out


def hidden_window(group, p, replica, attempt):
    """Writes the keys, lets their TTL pass while the primary sleeps, and
    runs the replica's reads. Returns False when the primary's DEL had
    arrived before the reads ended (the run proved nothing: retry)."""
    s, h = "ttl:s%d" % attempt, "ttl:h%d" % attempt
    pc, rc = p.resp(), replica.resp(timeout=5)
    try:
        assert rc.call("READONLY") == "OK"
        pc.call("SET", "ttl:live", "1")
        pc.call("SET", "ttl:later", "2", "PX", 600000)
        t_set = time.monotonic()
        pc.call("SET", s, "v", "PX", TTL_MS)
        pc.call("HSET", h, "f", "v")
        pc.call("PEXPIRE", h, TTL_MS)
        wait_until(lambda: rc.call("PTTL", h) > 0 and rc.call("EXISTS", s) == 1, 2,
                   "the replica has both keys with their TTL", group, interval=0.005)
        sleeper, reply = sleep_primary(p, SLEEP_S)
        time.sleep(max(0.0, t_set + TTL_MS / 1000 + 0.15 - time.monotonic()))

        assert rc.call("GET", s) is None
        assert rc.call("EXISTS", s, h, "ttl:live", "ttl:later") == 2
        assert rc.call("TTL", s) == -2 and rc.call("PTTL", h) == -2
        assert rc.call("TYPE", h) == "none"
        assert rc.call("HGETALL", h) == [] and rc.call("HGET", h, "f") is None
        assert rc.call("MGET", s, "ttl:live") == [None, b"1"]
        assert 590 < rc.call("TTL", "ttl:later") <= 600
        assert sorted(text(k) for k in rc.call("KEYS", "ttl:*")) == ["ttl:later", "ttl:live"]
        assert scan_all(rc, "ttl:*") == {"ttl:later", "ttl:live"}
        still_there = ZERO_DIGEST not in digests(rc, s, h)

        sleeper.join(SLEEP_S + 15)
        assert reply == ["OK"], reply
        if not still_there:
            return False
        # The primary wakes, expires the keys and sends its DELs: they go.
        wait_until(lambda: digests(rc, s, h) == [ZERO_DIGEST] * 2, 10,
                   "the primary's DELs reach the replica", group)
        return True
    finally:
        pc.close()
        rc.close()


def test_replica_hides_expired_keys_until_primary_del(group):
    p = group.wait_primary()
    replica = next(nd for nd in group.nodes if nd is not p)
    for attempt in range(3):
        if hidden_window(group, p, replica, attempt):
            break
    else:
        pytest.fail("the primary's DEL arrived before the replica's reads in 3 tries")
    assert group.wait_healthy(30) is not None
    assert len(set(group.digests().values())) == 1
