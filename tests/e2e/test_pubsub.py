"""Pub/sub: SUBSCRIBE/PSUBSCRIBE/SSUBSCRIBE with redis-py and raw RESP2/RESP3,
PUBLISH counts, PUBSUB introspection, the subscribed context, clean-up of
departed and slow subscribers."""
from helpers import Conn, Err, Push, wait_for


def msg(p, timeout=2.0):
    """The next message of a redis-py PubSub, skipping nothing."""
    m = p.get_message(timeout=timeout)
    assert m is not None, "no message within %.1fs" % timeout
    return m


def test_subscribe_publish_with_redis_py(r):
    p = r.pubsub()
    p.subscribe("news")
    assert msg(p) == {"type": "subscribe", "pattern": None, "channel": b"news", "data": 1}
    assert r.publish("news", "hello") == 1
    assert msg(p) == {"type": "message", "pattern": None, "channel": b"news", "data": b"hello"}
    assert r.publish("nobody", "x") == 0
    p.unsubscribe("news")
    assert msg(p)["type"] == "unsubscribe"
    assert r.publish("news", "gone") == 0
    p.close()


def test_psubscribe_and_counts(node, r):
    p1, p2 = r.pubsub(), node.client().pubsub()
    p1.subscribe("news.tech")
    p1.psubscribe("news.*")
    assert msg(p1)["data"] == 1
    assert msg(p1) == {"type": "psubscribe", "pattern": None, "channel": b"news.*", "data": 2}
    p2.subscribe("news.tech")
    assert msg(p2)["data"] == 1
    # p1 receives it twice (channel and pattern), p2 once.
    assert r.publish("news.tech", "m1") == 3
    got = [msg(p1), msg(p1)]
    assert {m["type"] for m in got} == {"message", "pmessage"}
    pm = [m for m in got if m["type"] == "pmessage"][0]
    assert pm["pattern"] == b"news.*" and pm["channel"] == b"news.tech" and pm["data"] == b"m1"
    assert msg(p2)["data"] == b"m1"
    assert r.publish("news.sport", "m2") == 1
    assert msg(p1)["channel"] == b"news.sport"
    assert r.publish("weather", "m3") == 0
    p1.close()
    p2.close()


def test_pubsub_introspection(node, r):
    a, b = Conn(node.port), Conn(node.port)
    try:
        assert a.call("SUBSCRIBE", "c1", "c2") == [b"subscribe", b"c1", 1]
        assert a.read() == [b"subscribe", b"c2", 2]
        assert b.call("SUBSCRIBE", "c1") == [b"subscribe", b"c1", 1]
        assert b.call("PSUBSCRIBE", "c*") == [b"psubscribe", b"c*", 2]
        assert b.call("PSUBSCRIBE", "c*") == [b"psubscribe", b"c*", 2]  # no duplicate
        assert a.call("PSUBSCRIBE", "c*", "x?") == [b"psubscribe", b"c*", 3]
        assert a.read() == [b"psubscribe", b"x?", 4]
        assert r.pubsub_numsub("c1", "c2", "c3") == [(b"c1", 2), (b"c2", 1), (b"c3", 0)]
        assert r.pubsub_numpat() == 2  # distinct patterns
        assert sorted(r.pubsub_channels()) == [b"c1", b"c2"]
        assert r.pubsub_channels("*2") == [b"c2"]
        assert r.execute_command("PUBSUB", "NUMSUB") == []
        assert r.execute_command("PUBSUB", "SHARDNUMSUB", "c1") == [b"c1", 2]
        assert r.execute_command("PUBSUB", "HELP")[0].startswith(b"PUBSUB <subcommand>")
    finally:
        a.close()
        b.close()


def test_pubsub_errors(node):
    c = Conn(node.port)
    try:
        assert c.call("PUBSUB") == Err("ERR wrong number of arguments for 'pubsub' command")
        assert c.call("PUBSUB", "NUMPAT", "x") == Err(
            "ERR wrong number of arguments for 'pubsub|numpat' command")
        assert c.call("PUBSUB", "CHANNELS", "a", "b") == Err(
            "ERR unknown subcommand or wrong number of arguments for 'CHANNELS'. Try PUBSUB HELP.")
        assert c.call("PUBSUB", "foo") == Err("ERR unknown subcommand 'foo'. Try PUBSUB HELP.")
        assert c.call("SUBSCRIBE") == Err("ERR wrong number of arguments for 'subscribe' command")
        assert c.call("PUBLISH", "a") == Err("ERR wrong number of arguments for 'publish' command")
    finally:
        c.close()


def test_resp2_subscribed_context(node, r):
    c = Conn(node.port)
    try:
        assert c.call("SUBSCRIBE", "ch") == [b"subscribe", b"ch", 1]
        assert c.call("GET", "k") == Err(
            "ERR Can't execute 'get': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / "
            "RESET are allowed in this context")
        assert c.call("PING") == [b"pong", b""]
        assert c.call("PING", "hi") == [b"pong", b"hi"]
        # A message and the next reply keep their order.
        assert r.publish("ch", "payload") == 1
        assert c.read() == [b"message", b"ch", b"payload"]
        assert c.call("UNSUBSCRIBE") == [b"unsubscribe", b"ch", 0]
        # Out of the context: ordinary commands and replies again.
        assert c.call("PING") == "PONG"
        assert c.call("GET", "k") is None
        assert c.call("UNSUBSCRIBE") == [b"unsubscribe", None, 0]
        assert c.call("PUNSUBSCRIBE") == [b"punsubscribe", None, 0]
        assert c.call("UNSUBSCRIBE", "never") == [b"unsubscribe", b"never", 0]
        # RESET leaves the context silently.
        assert c.call("PSUBSCRIBE", "p*") == [b"psubscribe", b"p*", 1]
        assert c.call("RESET") == "RESET"
        assert r.pubsub_numpat() == 0
        assert c.call("GET", "k") is None
    finally:
        c.close()


def test_resp3_push_messages(node, r):
    c = Conn(node.port)
    try:
        assert c.call("HELLO", "3")[b"proto"] == 3
        reply = c.call("SUBSCRIBE", "ch3")
        assert isinstance(reply, Push) and reply == [b"subscribe", b"ch3", 1]
        # RESP3 clients may run any command while subscribed.
        assert c.call("SET", "k", "v") == "OK"
        assert c.call("PING") == "PONG"
        assert r.publish("ch3", "hi") == 1
        m = c.read()
        assert isinstance(m, Push) and m == [b"message", b"ch3", b"hi"]
        reply = c.call("UNSUBSCRIBE")
        assert isinstance(reply, Push) and reply == [b"unsubscribe", b"ch3", 0]
        assert c.call("UNSUBSCRIBE") == [b"unsubscribe", None, 0]
    finally:
        c.close()


def test_shard_channels_share_the_channel_space(node, r):
    c = Conn(node.port)
    try:
        assert c.call("SSUBSCRIBE", "sc") == [b"ssubscribe", b"sc", 1]
        assert r.execute_command("SPUBLISH", "sc", "one") == 1
        assert c.read() == [b"smessage", b"sc", b"one"]
        assert r.publish("sc", "two") == 1
        assert c.read() == [b"smessage", b"sc", b"two"]
        assert r.execute_command("PUBSUB", "SHARDCHANNELS") == [b"sc"]
        assert c.call("SUNSUBSCRIBE") == [b"sunsubscribe", b"sc", 0]
        assert r.execute_command("SPUBLISH", "sc", "three") == 0
    finally:
        c.close()


def test_subscriber_disconnect_is_cleaned_up(node, r):
    c = Conn(node.port)
    assert c.call("SUBSCRIBE", "bye") == [b"subscribe", b"bye", 1]
    assert c.call("PSUBSCRIBE", "by*") == [b"psubscribe", b"by*", 2]
    assert r.pubsub_numsub("bye") == [(b"bye", 1)]
    c.close()
    assert wait_for(lambda: r.pubsub_numsub("bye") == [(b"bye", 0)])
    assert r.pubsub_numpat() == 0
    assert r.pubsub_channels() == []
    assert r.publish("bye", "x") == 0


def test_slow_subscriber_is_disconnected(node_factory):
    n = node_factory(args=["--client-output-buffer-limit-pubsub", "1mb"])
    r = n.client()
    slow = Conn(n.port)
    assert slow.call("SUBSCRIBE", "flood") == [b"subscribe", b"flood", 1]
    payload = b"x" * (256 * 1024)
    # The subscriber never reads: once the kernel buffers are full its output
    # grows past the pub/sub limit and the node drops it.
    for _ in range(400):
        if r.publish("flood", payload) == 0:
            break
    assert wait_for(lambda: r.pubsub_numsub("flood") == [(b"flood", 0)])
    assert r.ping()
    slow.close()
    r.close()


def test_many_subscribers_and_unsubscribe_all(node, r):
    subs = [Conn(node.port) for _ in range(10)]
    try:
        for i, c in enumerate(subs):
            c.send("SUBSCRIBE", *["m%d" % j for j in range(20)])
            for j in range(20):
                assert c.read() == [b"subscribe", b"m%d" % j, j + 1]
        assert r.publish("m5", "x") == 10
        for c in subs:
            assert c.read() == [b"message", b"m5", b"x"]
        # Unsubscribing everything reports each channel once, counting down.
        subs[0].send("UNSUBSCRIBE")
        got = [subs[0].read() for _ in range(20)]
        assert sorted(g[1] for g in got) == sorted(b"m%d" % j for j in range(20))
        assert [g[2] for g in got] == list(range(19, -1, -1))
        assert r.publish("m5", "y") == 9
    finally:
        for c in subs:
            c.close()


def test_publish_inside_multi(node, r):
    sub = Conn(node.port)
    pub = Conn(node.port)
    try:
        assert sub.call("SUBSCRIBE", "tx") == [b"subscribe", b"tx", 1]
        assert pub.call("MULTI") == "OK"
        assert pub.call("PUBLISH", "tx", "a") == "QUEUED"
        assert pub.call("PUBLISH", "tx", "b") == "QUEUED"
        assert pub.call("EXEC") == [1, 1]
        assert sub.read() == [b"message", b"tx", b"a"]
        assert sub.read() == [b"message", b"tx", b"b"]
    finally:
        sub.close()
        pub.close()


def test_redis_cli_publish_and_numsub(node, r):
    p = r.pubsub()
    p.subscribe("clich")
    assert msg(p)["type"] == "subscribe"
    assert node.cli("PUBLISH", "clich", "from-cli").strip() == "1"
    assert msg(p)["data"] == b"from-cli"
    assert node.cli("PUBSUB", "NUMSUB", "clich").split() == ["clich", "1"]
    p.close()
