"""Smoke test: the node starts, answers PING and a SET/GET round trip."""


def test_ping_set_get(r):
    assert r.ping()
    assert r.set("k", "v")
    assert r.get("k") == b"v"
