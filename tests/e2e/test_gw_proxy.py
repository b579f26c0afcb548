"""End-to-end tests of `halo gw` as a reverse proxy: the real binary between
real clients (curl, Python http.client and raw sockets) and real backends
(gw_backend.py on loopback). Covers proxying, keep-alive on both sides,
streaming, health checks, errors, bad input, retries and drain."""
import hashlib
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time

import pytest
import yaml

from conftest import HALO_BIN, Process, free_port
from gw_backend import Backend, pattern


# ---- the gateway process ----

class Gateway(Process):
    """One `halo gw` process serving a config written to a temp dir."""

    def __init__(self, tmpdir, cfg):
        self.dir = tmpdir
        self.cfg = cfg
        self.port = int(cfg["listeners"][0]["address"].rsplit(":", 1)[1])
        self.path = os.path.join(tmpdir, "gw.yaml")
        self.logpath = os.path.join(tmpdir, "gw.log")
        self.proc = None

    def write_config(self, text=None):
        with open(self.path, "w") as f:
            if text is None:
                yaml.safe_dump(self.cfg, f)
            else:
                f.write(text)

    def start(self, env=None):
        self.write_config()
        self.log = open(self.logpath, "ab")
        e = dict(os.environ)
        e.update(env or {})
        self.proc = subprocess.Popen([HALO_BIN, "gw", "-c", self.path], stdout=self.log,
                                     stderr=subprocess.STDOUT, env=e)
        deadline = time.time() + 15
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("halo gw exited with %s:\n%s" % (self.proc.returncode,
                                                                    self.read_log()))
            if "ready:" in self.read_log():
                return self
            time.sleep(0.02)
        raise RuntimeError("halo gw did not become ready:\n" + self.read_log())

    def status(self, field):
        with open("/proc/%d/status" % self.proc.pid) as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
        return 0

    def nfds(self):
        return len(os.listdir("/proc/%d/fd" % self.proc.pid))


def config(port, endpoints, workers=1, cluster=None, route=None, listener=None, top=None,
           routes=None):
    """A config dict: one listener, cluster "api" with the endpoints, one route."""
    cl = {"name": "api", "endpoints": list(endpoints)}
    cl.update(cluster or {})
    rt = {"match": {"path_prefix": "/"}, "cluster": "api"}
    rt.update(route or {})
    ls = {"name": "main", "address": "127.0.0.1:%d" % port}
    ls.update(listener or {})
    cfg = {"workers": workers, "listeners": [ls], "clusters": [cl],
           "routes": routes if routes is not None else [rt]}
    cfg.update(top or {})
    return cfg


@pytest.fixture
def env():
    """Make backends and gateways; every process and the temp dir are cleaned up."""
    d = tempfile.mkdtemp(prefix="halo-gw-test-")
    made = {"backends": [], "gateways": []}

    class Env:
        def backend(self, name="b", port=0):
            b = Backend(name, port).start()
            made["backends"].append(b)
            return b

        def gateway(self, cfg, env=None):
            sub = os.path.join(d, "gw%d" % len(made["gateways"]))
            os.makedirs(sub)
            g = Gateway(sub, cfg)
            made["gateways"].append(g)
            return g.start(env)

    yield Env()
    bad = []
    for g in made["gateways"]:
        try:
            rc = g.stop(timeout=10)
        except Exception as e:
            rc = repr(e)
        # 0 also means: no sanitizer report, no leak at exit
        if rc not in (0, None):
            bad.append("gateway exited with %s:\n%s" % (rc, g.read_log()[-3000:]))
    for b in made["backends"]:
        try:
            b.stop()
        except Exception:
            pass
    shutil.rmtree(d, ignore_errors=True)
    assert not bad, "\n".join(bad)


# ---- clients ----

def request(port, method="GET", path="/", body=None, headers=None, timeout=10):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        c.request(method, path, body=body, headers=headers or {})
        r = c.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    finally:
        c.close()


def raw(port, data, timeout=5.0, wait_close=True):
    """Send bytes on a fresh connection; everything read until close or timeout."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        s.sendall(data)
        out = b""
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                d = s.recv(65536)
            except socket.timeout:
                break
            except ConnectionResetError:
                break
            if not d:
                break
            out += d
            if not wait_close and b"\r\n\r\n" in out:
                break
        return out
    finally:
        s.close()


def status_of(resp):
    return int(resp.split(b" ", 2)[1]) if resp.startswith(b"HTTP/1.") else None


def closed_by_peer(sock, timeout=3.0):
    sock.settimeout(timeout)
    try:
        while True:
            d = sock.recv(65536)
            if not d:
                return True
    except ConnectionResetError:
        return True
    except socket.timeout:
        return False


def curl(*args, timeout=60):
    r = subprocess.run(["curl", "-sS"] + list(args), capture_output=True, timeout=timeout)
    return r


# ---- configuration ----

def test_config_check_flag(env, tmp_path):
    port = free_port()
    good = tmp_path / "good.yaml"
    good.write_text(yaml.safe_dump(config(port, ["127.0.0.1:9"])))
    r = subprocess.run([HALO_BIN, "gw", "-t", "-c", str(good)], capture_output=True, timeout=10)
    assert r.returncode == 0, r.stderr
    assert ("configuration file %s test is successful" % good).encode() in r.stdout
    bad = tmp_path / "bad.yaml"
    bad.write_text("listeners:\n  - name: main\n    address: 127.0.0.1:%d\n"
                   "clusters: []\nroutes: []\n" % port)
    r = subprocess.run([HALO_BIN, "gw", "-t", "-c", str(bad)], capture_output=True, timeout=10)
    assert r.returncode == 1
    assert str(bad).encode() in r.stderr
    # -t opens the access log as serving would (nginx -t does too)
    unopenable = tmp_path / "nolog.yaml"
    cfg = config(port, ["127.0.0.1:9"])
    cfg["access_log"] = str(tmp_path / "missing-dir" / "access.log")
    unopenable.write_text(yaml.safe_dump(cfg))
    r = subprocess.run([HALO_BIN, "gw", "-t", "-c", str(unopenable)], capture_output=True,
                       timeout=10)
    assert r.returncode == 1
    assert b"access_log: cannot open access log" in r.stderr, r.stderr


def test_listen_failure_is_reported(tmp_path):
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen(1)
    try:
        port = busy.getsockname()[1]
        f = tmp_path / "gw.yaml"
        f.write_text(yaml.safe_dump(config(port, ["127.0.0.1:9"])))
        r = subprocess.run([HALO_BIN, "gw", "-c", str(f)], capture_output=True, timeout=10)
        assert r.returncode == 1
        assert b"cannot listen on 127.0.0.1:%d (listener main): Address already in use" % port \
            in r.stderr
    finally:
        busy.close()


# ---- proxying ----

def test_get_and_post_with_content_length(env):
    b = env.backend("a")
    port = free_port()
    env.gateway(config(port, [b.address()]))
    st, h, body = request(port, path="/hello")
    assert (st, body) == (200, b"a /hello\n")
    assert h["via"] == "1.1 halo"
    data = os.urandom(200000)
    st, h, body = request(port, "POST", "/sink", body=data)
    assert st == 200
    assert json.loads(body) == {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    st, h, body = request(port, "PUT", "/echo", body=b"round trip")
    assert (st, body) == (200, b"round trip")


def test_chunked_bodies_both_ways(env):
    b = env.backend("a")
    port = free_port()
    env.gateway(config(port, [b.address()]))
    data = os.urandom(300000)

    def chunks():
        for i in range(0, len(data), 7000):
            yield data[i:i + 7000]

    # an iterable body without a length: http.client sends it chunked
    st, _, body = request(port, "POST", "/sink", body=chunks())
    assert st == 200
    assert json.loads(body)["sha256"] == hashlib.sha256(data).hexdigest()
    # a chunked response keeps its framing for an HTTP/1.1 client
    resp = raw(port, b"GET /c?chunked=1&size=100000&trailer=1 HTTP/1.1\r\nHost: x\r\n"
                     b"Connection: close\r\n\r\n")
    head, rest = resp.split(b"\r\n\r\n", 1)
    assert b"Transfer-Encoding: chunked" in head
    assert rest.endswith(b"0\r\nX-Trailer: yes\r\n\r\n")
    st, h, body = request(port, path="/c?chunked=1&size=100000")
    assert st == 200 and body == pattern(100000)


def test_close_delimited_upstream_response(env):
    b = env.backend("a")
    port = free_port()
    env.gateway(config(port, [b.address()]))
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    c.request("GET", "/e?eof=1&size=5000")
    r = c.getresponse()
    assert r.status == 200 and r.getheader("Connection") == "close"
    assert r.read() == pattern(5000)
    c.close()
    assert b.stats()["connections"] == 1
    assert request(port, path="/next")[0] == 200
    assert b.stats()["connections"] == 2   # that upstream connection was not pooled


def test_large_streamed_bodies_keep_memory_bounded(env):
    b = env.backend("a")
    port = free_port()
    # ASan keeps freed memory in quarantine: bound it so RSS reflects live memory.
    g = env.gateway(config(port, [b.address()]),
                    env={"ASAN_OPTIONS": "quarantine_size_mb=4:detect_leaks=1"})
    request(port, path="/warm")
    base = g.status("VmRSS")
    size = 50 * 1000 * 1000
    path = os.path.join(g.dir, "big.bin")
    with open(path, "wb") as f:
        for off in range(0, size, 1 << 20):
            f.write(pattern(min(1 << 20, size - off), off))
    r = curl("-T", path, "-X", "POST", "http://127.0.0.1:%d/sink" % port)
    assert r.returncode == 0, r.stderr
    with open(path, "rb") as f:
        want = hashlib.sha256(f.read()).hexdigest()
    assert json.loads(r.stdout) == {"bytes": size, "sha256": want}
    r = subprocess.run("curl -sS 'http://127.0.0.1:%d/big?size=%d' | sha256sum" % (port, size),
                       shell=True, capture_output=True, timeout=120)
    assert r.stdout.split()[0].decode() == want
    peak = g.status("VmHWM")
    print("gateway RSS %d kB before, peak %d kB" % (base, peak))
    assert peak - base < 40 * 1024, "gateway RSS grew from %d kB to a peak of %d kB" % (base, peak)


def test_back_pressure_both_ways(env):
    b = env.backend("a")
    port = free_port()
    g = env.gateway(config(port, [b.address()]),
                    env={"ASAN_OPTIONS": "quarantine_size_mb=4:detect_leaks=1"})
    request(port, path="/warm")
    base = g.status("VmRSS")
    size = 30 * 1000 * 1000
    # a client that does not read: the gateway stops reading the upstream
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
    s.sendall(b"GET /big?size=%d HTTP/1.1\r\nHost: x\r\n\r\n" % size)
    time.sleep(1.5)
    stalled = g.status("VmRSS")
    got = 0
    while True:
        d = s.recv(1 << 20)
        if not d:
            break
        got += len(d)
        if got >= size:
            break
    s.close()
    assert got > size
    # an upstream that does not read: the gateway stops reading the client
    def upload():
        chunk = b"u" * (1 << 20)
        for _ in range(size >> 20):
            yield chunk

    result = {}
    t = threading.Thread(target=lambda: result.update(
        r=request(port, "POST", "/sink?read_delay=1.5", body=upload(), timeout=30)))
    t.start()
    time.sleep(1.2)
    stalled_up = g.status("VmRSS")
    t.join(30)
    assert result["r"][0] == 200 and json.loads(result["r"][2])["bytes"] == (size >> 20) << 20
    assert stalled - base < 8 * 1024, (base, stalled)
    assert stalled_up - base < 8 * 1024, (base, stalled_up)


def test_keepalive_reused_on_both_sides(env):
    b = env.backend("a")
    port = free_port()
    env.gateway(config(port, [b.address()]))
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    socks = set()
    for i in range(20):
        c.request("GET", "/k%d" % i)
        r = c.getresponse()
        assert r.status == 200 and r.read() == b"a /k%d\n" % i
        socks.add(id(c.sock))
    c.close()
    assert len(socks) == 1                       # one client connection
    assert b.stats() == {"connections": 1, "requests": 20}  # one upstream connection


def test_pipelined_requests_answered_in_order(env):
    b = env.backend("a")
    port = free_port()
    env.gateway(config(port, [b.address()]))
    reqs = b"".join(b"GET /p%d?delay=0.0%d HTTP/1.1\r\nHost: x\r\n\r\n" % (i, 3 - i)
                    for i in range(3))
    out = raw(port, reqs + b"GET /last HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    bodies = [p for p in (b"a /p0\n", b"a /p1\n", b"a /p2\n", b"a /last\n")]
    pos = [out.find(x) for x in bodies]
    assert all(p >= 0 for p in pos) and pos == sorted(pos), out


def test_head_request(env):
    b = env.backend("a")
    port = free_port()
    env.gateway(config(port, [b.address()]))
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    c.request("HEAD", "/h?size=1000")
    r = c.getresponse()
    assert r.status == 200 and r.getheader("Content-Length") == "1000" and r.read() == b""
    c.request("GET", "/after")
    assert c.getresponse().read() == b"a /after\n"
    c.close()


def test_round_robin_over_two_backends(env):
    a, b = env.backend("a"), env.backend("b")
    port = free_port()
    env.gateway(config(port, [a.address(), b.address()]))
    seen = [request(port, path="/rr")[2].split()[0] for _ in range(10)]
    assert seen.count(b"a") == 5 and seen.count(b"b") == 5
    assert all(seen[i] != seen[i + 1] for i in range(9))


@pytest.mark.parametrize("lb,hash_on,send", [
    ("ring_hash", "header:X-User", lambda k: {"X-User": k}),
    ("maglev", "cookie:sid", lambda k: {"Cookie": "a=1; sid=%s" % k}),
])
def test_consistent_hashing_keeps_a_key_on_one_backend(env, lb, hash_on, send):
    backends = [env.backend(n) for n in "abc"]
    port = free_port()
    env.gateway(config(port, [b.address() for b in backends], workers=2,
                       cluster={"lb": lb, "hash_on": hash_on}))
    owners = {}
    for key in ("u%d" % i for i in range(12)):
        got = {request(port, path="/h", headers=send(key))[2].split()[0] for _ in range(3)}
        assert len(got) == 1, (key, got)
        owners[key] = got.pop()
    assert len(set(owners.values())) >= 2


def test_forwarding_headers_seen_by_backend(env):
    b = env.backend("a")
    port = free_port()
    env.gateway(config(port, [b.address()]))
    st, _, body = request(port, path="/headers", headers={
        "X-Forwarded-For": "203.0.113.9", "Connection": "X-Secret", "X-Secret": "hop",
        "Keep-Alive": "timeout=5", "TE": "trailers", "Proxy-Connection": "keep-alive",
        "X-Forwarded-Proto": "https", "Via": "1.0 edge", "X-Kept": "yes"})
    h = {}
    for k, v in json.loads(body)["headers"]:
        h.setdefault(k.lower(), []).append(v)
    assert h["x-forwarded-for"] == ["203.0.113.9, 127.0.0.1"]
    assert h["x-forwarded-proto"] == ["http"]
    assert h["via"] == ["1.0 edge, 1.1 halo"]
    assert h["x-kept"] == ["yes"]
    for gone in ("connection", "x-secret", "keep-alive", "te", "proxy-connection"):
        assert gone not in h, gone
    assert json.loads(body)["version"] == "HTTP/1.1"


def test_http10_client(env):
    b = env.backend("a")
    port = free_port()
    env.gateway(config(port, [b.address()]))
    out = raw(port, b"GET /old HTTP/1.0\r\n\r\n")
    assert status_of(out) == 200 and out.endswith(b"a /old\n")
    assert b"Connection: close" in out
    # chunked upstream response: de-chunked and delimited by the close
    out = raw(port, b"GET /c?chunked=1&size=5000 HTTP/1.0\r\n\r\n")
    head, body = out.split(b"\r\n\r\n", 1)
    assert b"Transfer-Encoding" not in head and body == pattern(5000)
    # keep-alive asked for and possible (length known): the connection stays
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.sendall(b"GET /ka HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
    got = b""
    while not got.endswith(b"a /ka\n"):
        got += s.recv(4096)
    assert b"Connection: keep-alive" in got
    s.sendall(b"GET /ka2 HTTP/1.0\r\n\r\n")
    got = b""
    while True:
        d = s.recv(4096)
        if not d:
            break
        got += d
    assert got.endswith(b"a /ka2\n")
    s.close()


def test_expect_100_continue(env):
    b = env.backend("a")
    port = free_port()
    env.gateway(config(port, [b.address()]))
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.sendall(b"POST /sink HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
              b"Expect: 100-continue\r\n\r\n")
    got = s.recv(4096)
    assert got.startswith(b"HTTP/1.1 100 Continue\r\n\r\n")
    s.sendall(b"hello")
    got = got[len(b"HTTP/1.1 100 Continue\r\n\r\n"):]
    while b"sha256" not in got:
        got += s.recv(4096)
    assert b"HTTP/1.1 200" in got and b'"bytes": 5' in got
    s.close()
    # curl waits for the 100 before sending a large body
    r = curl("-H", "Expect: 100-continue", "--data-binary", "x" * 5000,
             "http://127.0.0.1:%d/sink" % port)
    assert json.loads(r.stdout)["bytes"] == 5000


def test_access_log(env):
    b = env.backend("a")
    port = free_port()
    d = tempfile.mkdtemp(prefix="halo-gw-alog-")
    try:
        logf = os.path.join(d, "access.log")
        env.gateway(config(port, [b.address()], top={"access_log": logf}))
        request(port, path="/logged?x=1", headers={"User-Agent": "tester\"1"})
        request(port, path="/logged?status=503")
        raw(port, b"GET / HTTP/1.1\r\nHost: x\r\nBad Header: y\r\n\r\n")
        deadline = time.time() + 5
        lines = []
        while time.time() < deadline and len(lines) < 3:
            with open(logf) as f:
                lines = f.read().splitlines()
            time.sleep(0.02)
        assert len(lines) == 3
        assert lines[0].startswith("127.0.0.1 - - [")
        assert '"GET /logged?x=1 HTTP/1.1" 200 ' in lines[0]
        assert '"tester\\x221"' in lines[0]
        assert "upstream=%s cluster=api attempts=1" % b.address() in lines[0]
        assert '" 503 ' in lines[1]
        assert '"- - HTTP/1.1" 400 ' in lines[2]
    finally:
        shutil.rmtree(d, ignore_errors=True)


# ---- health ----

def test_dead_backend_taken_out_by_active_checks_and_brought_back(env):
    a, b = env.backend("a"), env.backend("b")
    port = free_port()
    hc = {"type": "http", "path": "/health", "interval": "100ms", "timeout": "200ms",
          "rise": 2, "fall": 2}
    g = env.gateway(config(port, [a.address(), b.address()], workers=2,
                           cluster={"health_check": hc}))
    seen = {request(port, path="/x")[2].split()[0] for _ in range(10)}
    assert seen == {b"a", b"b"}
    bport = b.port
    b.stop()
    g.wait_log("endpoint %s of cluster api is now DOWN (2 failed checks: connection refused)"
               % b.address())
    for _ in range(20):
        st, _, body = request(port, path="/x")
        assert (st, body) == (200, b"a /x\n")
    b2 = env.backend("b", bport)
    g.wait_log("endpoint %s of cluster api is now UP (2 successful checks)" % b2.address())
    seen = {request(port, path="/x")[2].split()[0] for _ in range(10)}
    assert seen == {b"a", b"b"}
    # an unhealthy answer (503 on the check path) counts as a failure too
    b2.healthy = False
    g.wait_log("is now DOWN (2 failed checks: status 503)")


def test_tcp_health_check(env):
    a = env.backend("a")
    dead = free_port()
    port = free_port()
    hc = {"type": "tcp", "interval": "100ms", "timeout": "200ms", "rise": 1, "fall": 1}
    g = env.gateway(config(port, [a.address(), "127.0.0.1:%d" % dead],
                           cluster={"health_check": hc}, route={"retry": {"max": 0}}))
    g.wait_log("endpoint 127.0.0.1:%d of cluster api is now DOWN (1 failed checks" % dead)
    for _ in range(10):
        assert request(port, path="/t")[0] == 200


def test_passive_ejection_on_5xx(env):
    a, b = env.backend("a"), env.backend("b")
    b.force_status = 500
    port = free_port()
    g = env.gateway(config(port, [a.address(), b.address()], cluster={
        "outlier": {"consecutive_5xx": 3, "base_ejection": "30s", "max_ejection_percent": 50}}))
    statuses = [request(port, path="/p")[0] for _ in range(6)]
    assert statuses.count(500) == 3
    g.wait_log("endpoint %s of cluster api ejected for" % b.address())
    for _ in range(10):
        assert request(port, path="/p")[0] == 200


# ---- errors ----

def test_no_route_is_404_and_keeps_the_connection(env):
    b = env.backend("a")
    port = free_port()
    env.gateway(config(port, [b.address()], routes=[
        {"match": {"path_prefix": "/api"}, "cluster": "api"}]))
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    c.request("GET", "/other")
    r = c.getresponse()
    assert r.status == 404 and b"no route" in r.read()
    c.request("GET", "/api/x")
    r = c.getresponse()
    assert r.status == 200 and r.read() == b"a /api/x\n"
    c.close()


def test_connect_failure_is_502(env):
    port = free_port()
    dead = free_port()
    env.gateway(config(port, ["127.0.0.1:%d" % dead], route={"retry": {"max": 0}}))
    st, h, body = request(port, path="/x")
    assert st == 502 and body == b"502 Bad Gateway: upstream connect failure\n"


def test_no_healthy_endpoint_is_503(env):
    port = free_port()
    dead = free_port()
    hc = {"type": "tcp", "interval": "100ms", "timeout": "200ms", "rise": 1, "fall": 1}
    g = env.gateway(config(port, ["127.0.0.1:%d" % dead],
                           cluster={"health_check": hc, "panic_threshold": 0}))
    g.wait_log("is now DOWN")
    st, _, body = request(port, path="/x")
    assert st == 503 and b"no healthy endpoint in cluster api" in body


def test_first_byte_timeout_is_504(env):
    b = env.backend("a")
    port = free_port()
    env.gateway(config(port, [b.address()], route={"timeouts": {"first_byte": "300ms"}}))
    t0 = time.time()
    st, _, body = request(port, path="/slow?delay=2")
    assert st == 504 and b"first byte timeout" in body
    assert time.time() - t0 < 1.5


def test_request_timeout_is_504(env):
    b = env.backend("a")
    port = free_port()
    env.gateway(config(port, [b.address()], route={"timeouts": {"request": "400ms"}}))
    st, _, body = request(port, path="/slow?delay=2")
    assert st == 504 and b"request timeout" in body


def test_idle_timeout_cuts_a_stalled_stream(env):
    b = env.backend("a")
    port = free_port()
    env.gateway(config(port, [b.address()], route={"timeouts": {"idle": "300ms"}}))
    # chunks every 100 ms keep it alive; then a 1 s pause trips the idle timeout
    st, _, body = request(port, path="/s?stream=3&interval=0.1")
    assert st == 200 and body.count(b"chunk") == 3
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.sendall(b"GET /s?stream=3&interval=1 HTTP/1.1\r\nHost: x\r\n\r\n")
    assert closed_by_peer(s, 3.0)
    s.close()


def test_bad_requests(env):
    b = env.backend("a")
    port = free_port()
    env.gateway(config(port, [b.address()], listener={
        "max_url_size": 100, "max_header_size": "1kb", "max_body_size": "1kb",
        "header_timeout": "500ms"}))
    assert status_of(raw(port, b"\x00\x01\x02 garbage\r\n\r\n")) == 400
    assert status_of(raw(port, b"GET /" + b"u" * 200 + b" HTTP/1.1\r\nHost: x\r\n\r\n")) == 414
    assert status_of(raw(port, b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"h" * 2000 +
                         b"\r\n\r\n")) == 431
    r = curl("-o", "/dev/null", "-w", "%{http_code}", "--data-binary", "x" * 2000,
             "http://127.0.0.1:%d/sink" % port)
    assert r.stdout == b"413"
    assert b.stats()["requests"] == 0   # none of these reached the backend
    # A chunked body is streamed: its head may have gone up before the limit
    # was crossed; the upstream connection is then closed mid-body.
    out = raw(port, b"POST /sink HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" +
              b"400\r\n" + b"y" * 1024 + b"\r\n400\r\n" + b"y" * 1024 + b"\r\n0\r\n\r\n")
    assert status_of(out) == 413
    # slowloris: half a head, then silence
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")
    t0 = time.time()
    got = s.recv(4096)
    assert status_of(got) == 408 and 0.3 < time.time() - t0 < 3
    assert closed_by_peer(s)
    s.close()
    assert b.stats()["requests"] <= 1
    # a coding the gateway does not implement before chunked: 501, not forwarded as "chunked"
    out = raw(port, b"POST /sink HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"
                    b"3\r\nabc\r\n0\r\n\r\n")
    assert status_of(out) == 501 and b"Connection: close" in out
    assert b.stats()["requests"] <= 1
    assert request(port, path="/ok")[0] == 200


SMUGGLING = [
    b"POST /s HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n"
    b"0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n",
    b"POST /s HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n"
    b"0\r\n\r\n",
    b"POST /s HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nContent-Length: 40\r\n\r\nabcd",
    b"POST /s HTTP/1.1\r\nHost: x\r\nContent-Length: 4, 4\r\n\r\nabcd",
    b"POST /s HTTP/1.1\r\nHost: x\r\nContent-Length: -4\r\n\r\nabcd",
    b"POST /s HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nz\r\nabc\r\n0\r\n\r\n",
    b"POST /s HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
    b"fffffffffffffffff1\r\nabc\r\n0\r\n\r\n",
    b"POST /s HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: xchunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
    b"POST /s HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n",
    b"POST /s HTTP/1.1\r\nHost: x\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n",
    b"GET /s HTTP/1.1\r\nHost: x\r\nX-Fold: a\r\n b\r\n\r\n",
    b"GET /s HTTP/1.1\r\nHost: x\r\nX-Fold:\r\n\tTransfer-Encoding: chunked\r\n\r\n",
    b"GET /s HTTP/1.1\r\nHost: x\r\nX-Nul: a\x00b\r\n\r\n",
    b"GET /s HTTP/1.1\r\nHost: x\r\nX-Ctl: a\x0bb\r\n\r\n",
    b"GET /s HTTP/1.1\r\nHost: x\r\nX-Cr: a\rGET /smuggled HTTP/1.1\r\n\r\n",
    b"GET /s HTTP/1.1\nHost: x\nX: y\n\n",
    b"GET /s HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n",
    b"POST /s HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    # bare LF ending the request line (llhttp takes it; a next hop may not)
    b"GET /s HTTP/1.1\nHost: x\r\n\r\n",
    # whitespace inside the request-target
    b"GET /s\tHTTP/1.1 HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /s\x0cx HTTP/1.1\r\nHost: x\r\n\r\n",
    # not a target we serve: another scheme, no leading slash, no host
    b"GET ftp://x/s HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET s HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET http:///s HTTP/1.1\r\nHost: x\r\n\r\n",
]


@pytest.mark.parametrize("vector", range(len(SMUGGLING)))
def test_smuggling_vectors_rejected(env, vector):
    b = env.backend("a")
    port = free_port()
    env.gateway(config(port, [b.address()]))
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.sendall(SMUGGLING[vector])
    got = b""
    s.settimeout(3)
    try:
        while True:
            d = s.recv(65536)
            if not d:
                break
            got += d
    except (socket.timeout, ConnectionResetError):
        pass
    s.close()
    assert status_of(got) == 400, got
    assert got.count(b"HTTP/1.1") == 1 and b"Connection: close" in got
    # Bad heads never reach the backend. A bad chunk arrives after the head
    # went up: the backend may see the head, never a second request.
    assert b.stats()["requests"] <= (1 if b"chunked\r\n\r\n" in SMUGGLING[vector] else 0)
    assert not any("smuggled" in p for p in b.paths)


def test_connection_header_cannot_strip_the_request_length(env):
    # Connection: content-length used to drop the length while the body was
    # still forwarded: the upstream read the body as a second request, and its
    # late answer went to the next client of the pooled connection.
    b = env.backend("a")
    port = free_port()
    env.gateway(config(port, [b.address()]))
    smuggled = b"GET /SMUGGLED?delay=0.3&body=attacker-controlled HTTP/1.1\r\nHost: x\r\n\r\n"
    out = raw(port, b"POST /innocent HTTP/1.1\r\nHost: x\r\nConnection: content-length\r\n"
                    b"Content-Length: %d\r\n\r\n" % len(smuggled) + smuggled, timeout=2)
    assert status_of(out) == 200 and out.endswith(b"a /innocent\n"), out
    for i in range(3):
        st, _, body = request(port, path="/victim%d" % i)
        assert (st, body) == (200, b"a /victim%d\n" % i)
    assert not any("SMUGGLED" in p for p in b.paths), b.paths
    # chunked, with Connection naming every framing field and Host
    out = raw(port, b"POST /sink HTTP/1.1\r\nHost: x\r\n"
                    b"Connection: transfer-encoding, content-length, host\r\n"
                    b"Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n", timeout=2)
    assert status_of(out) == 200 and b'"bytes": 3' in out, out
    st, _, body = request(port, path="/headers", headers={"Connection": "host"})
    assert ["Host", "127.0.0.1:%d" % port] in json.loads(body)["headers"]


def test_connection_header_cannot_strip_the_response_length(env):
    b = env.backend("a")
    port = free_port()
    env.gateway(config(port, [b.address()]))
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=3)
    try:
        c.request("GET", "/r?conn=content-length,transfer-encoding&body=hello")
        r = c.getresponse()
        assert r.getheader("content-length") == "5" and r.read() == b"hello"
        assert not r.will_close
        c.request("GET", "/r?conn=transfer-encoding&chunked=1&body=chunks")
        r = c.getresponse()
        assert r.getheader("transfer-encoding") == "chunked" and r.read() == b"chunks"
        c.request("GET", "/next")               # the same client connection
        assert c.getresponse().read() == b"a /next\n"
    finally:
        c.close()


def test_scheme_like_path_is_not_an_absolute_target(env):
    a, adm = env.backend("a"), env.backend("admin")
    port = free_port()
    env.gateway(config(port, [a.address()], top={"clusters": [
        {"name": "api", "endpoints": [a.address()]},
        {"name": "admin", "endpoints": [adm.address()]}]}, routes=[
        {"match": {"host": "admin.internal", "path_prefix": "/"}, "cluster": "admin"},
        {"match": {"path_prefix": "/"}, "cluster": "api"}]))
    out = raw(port, b"GET /x://admin.internal/ HTTP/1.1\r\nHost: www.example\r\n\r\n",
              timeout=2)
    assert status_of(out) == 200 and b"X-Backend: a\r\n" in out, out
    assert adm.stats()["requests"] == 0
    # a real absolute-form target (any case) is routed by its authority
    out = raw(port, b"GET HTTP://admin.internal/p HTTP/1.1\r\nHost: www.example\r\n\r\n",
              timeout=2)
    assert status_of(out) == 200 and b"X-Backend: admin\r\n" in out, out


def test_no_body_statuses_ignore_their_framing(env):
    # RFC 9112 6.3: 1xx, 204 and 304 end at their head. A 304 with a length
    # and no body used to hang until the idle timeout; a 204 with a length and
    # a body passed the body to the client, ahead of the next response.
    b = env.backend("a")
    port = free_port()
    env.gateway(config(port, [b.address()], route={"timeouts": {"idle": "5s"}}))
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=3)
    try:
        t0 = time.time()
        c.request("GET", "/nm?status=304&size=1234")
        r = c.getresponse()
        assert r.status == 304 and r.read() == b""
        assert time.time() - t0 < 1.5
        c.request("GET", "/nc?status=204&body=hello&body_anyway=1")
        r = c.getresponse()
        assert r.status == 204 and r.getheader("content-length") is None and r.read() == b""
        for i in range(3):
            c.request("GET", "/next%d" % i)     # would read "hello" as a status line
            assert c.getresponse().read() == b"a /next%d\n" % i
    finally:
        c.close()


def test_request_trailers_and_chunk_extensions_not_forwarded(env):
    b = env.backend("a")
    port = free_port()
    env.gateway(config(port, [b.address()]))
    out = raw(port, b"POST /sink HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                    b"5;ext=1\r\nhello\r\n0;last=1\r\nContent-Length: 5\r\nX-T: v\r\n\r\n",
              timeout=2)
    assert status_of(out) == 200, out
    assert json.loads(out.split(b"\r\n\r\n", 1)[1])["bytes"] == 5
    assert b.last_trailers == [] and not b.last_chunk_ext
    # the backend does see them when sent directly (the check can fail)
    raw(b.port, b"POST /sink HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                b"1;e\r\nz\r\n0\r\nX-T: v\r\n\r\n", timeout=1, wait_close=False)
    assert b.last_trailers == ["X-T: v"] and b.last_chunk_ext


def test_client_vanishing_mid_request_leaks_nothing(env):
    b = env.backend("a")
    port = free_port()
    # idle pooled connections are descriptors too: let them expire quickly
    g = env.gateway(config(port, [b.address()], cluster={"pool": {"idle_timeout": "200ms"}}))
    request(port, path="/warm")
    time.sleep(0.2)
    fds = g.nfds()
    for i in range(20):
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
        s.sendall(b"POST /sink HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n" + b"z" * 999)
        if i % 2:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        s.close()
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
        s.sendall(b"GET /sl?delay=0.2 HTTP/1.1\r\nHost: x\r\n\r\n")
        s.close()
    deadline = time.time() + 10
    while time.time() < deadline and g.nfds() > fds:
        time.sleep(0.05)
    assert g.nfds() <= fds
    assert request(port, path="/after")[0] == 200


def test_upstream_vanishing_mid_response(env):
    b = env.backend("a")
    port = free_port()
    g = env.gateway(config(port, [b.address()]))
    out = raw(port, b"GET /cut?size=100000&cut=1000 HTTP/1.1\r\nHost: x\r\n\r\n")
    head, body = out.split(b"\r\n\r\n", 1)
    assert status_of(out) == 200 and b"Content-Length: 100000" in head
    assert len(body) == 1000                       # then the client connection is cut
    r = curl("http://127.0.0.1:%d/cut?chunked=1&size=100000&cut=3000" % port)
    assert r.returncode != 0
    assert request(port, path="/after")[0] == 200
    assert g.proc.poll() is None


def test_early_upstream_response_reaches_the_client(env):
    b = env.backend("a")
    port = free_port()
    env.gateway(config(port, [b.address()]))
    for _ in range(3):
        r = curl("-o", "/dev/null", "-w", "%{http_code}", "--data-binary", "@-",
                 "http://127.0.0.1:%d/early" % port)
        assert r.stdout == b"413", r
    big = b"e" * (8 << 20)
    for _ in range(3):
        r = subprocess.run(["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}",
                            "--data-binary", "@-", "http://127.0.0.1:%d/early" % port],
                           input=big, capture_output=True, timeout=30)
        assert r.stdout == b"413", r
    assert request(port, path="/after")[0] == 200


def test_pool_limit_is_503(env):
    b = env.backend("a")
    port = free_port()
    env.gateway(config(port, [b.address()], cluster={"pool": {"max_connections": 1}}))
    result = {}
    t = threading.Thread(target=lambda: result.update(r=request(port, path="/s?delay=1")))
    t.start()
    deadline = time.time() + 5
    while b.active == 0 and time.time() < deadline:
        time.sleep(0.01)
    st, _, body = request(port, path="/second")
    assert st == 503 and body == b"503 Service Unavailable: upstream connection pool full\n"
    t.join(10)
    assert result["r"][0] == 200
    assert request(port, path="/third")[0] == 200


def test_upstream_garbage_and_reset_are_502(env):
    b = env.backend("a")
    port = free_port()
    env.gateway(config(port, [b.address()], route={"retry": {"max": 0}}))
    st, _, body = request(port, path="/g?garbage=1")
    assert st == 502 and b"bad response" in body
    st, _, body = request(port, path="/r?reset=1")
    assert st == 502 and b"reset" in body
    assert request(port, path="/fine")[0] == 200


# ---- retries ----

def test_retry_to_another_endpoint_on_connect_failure(env):
    a = env.backend("a")
    dead = "127.0.0.1:%d" % free_port()
    port = free_port()
    env.gateway(config(port, [dead, a.address()], cluster={"outlier": {"consecutive_failures": 0}},
                       route={"retry": {"max": 1, "budget_percent": 100}}))
    for _ in range(10):
        st, _, body = request(port, path="/r")
        assert (st, body) == (200, b"a /r\n")
    # POST too: nothing was sent before the connect failed
    for _ in range(4):
        st, _, body = request(port, "POST", "/sink", body=b"abc")
        assert st == 200 and json.loads(body)["bytes"] == 3


def test_retry_on_configured_status(env):
    a, b = env.backend("a"), env.backend("b")
    b.force_status = 503
    port = free_port()
    env.gateway(config(port, [a.address(), b.address()],
                       cluster={"outlier": {"consecutive_5xx": 0}},
                       route={"retry": {"max": 1, "on": [503], "budget_percent": 100}}))
    for _ in range(10):
        assert request(port, path="/s")[0] == 200
    assert b.stats()["requests"] >= 4
    # not for POST (not idempotent): the 503 goes through
    got = [request(port, "POST", "/s", body=b"x")[0] for _ in range(4)]
    assert 503 in got


def test_stale_pooled_connection_retried_transparently(env):
    a = env.backend("a")
    a.drop_second = True      # every connection's second request is dropped unanswered
    port = free_port()
    g = env.gateway(config(port, [a.address()], route={"retry": {"max": 0}}))
    for i in range(6):
        st, _, body = request(port, "PUT", "/sink", body=b"abc")
        assert st == 200, (i, g.read_log())
        assert json.loads(body)["bytes"] == 3
    assert a.dropped >= 3   # each reuse was dropped and sent again on a fresh connection


def test_stale_pooled_connection_does_not_resend_a_post(env):
    # The upstream read the POST before closing: sending it again on a fresh
    # connection would run it twice. It is answered 502 instead.
    a = env.backend("a")
    a.drop_second = True
    port = free_port()
    env.gateway(config(port, [a.address()], route={"retry": {"max": 1, "budget_percent": 100}},
                       cluster={"outlier": {"consecutive_failures": 0}}))
    assert request(port, "POST", "/sink", body=b"abc")[0] == 200
    st, _, body = request(port, "POST", "/sink", body=b"abc")
    assert st == 502 and b"reset" in body
    assert a.dropped == 1 and a.stats()["requests"] == 1   # read once, never resent
    assert request(port, "GET", "/after")[0] == 200


# ---- reload and drain ----

def test_sighup_reload_swaps_the_configuration(env):
    a, b = env.backend("a"), env.backend("b")
    port = free_port()
    g = env.gateway(config(port, [a.address()], workers=2))
    assert request(port, path="/x")[2] == b"a /x\n"
    result = {}
    t = threading.Thread(target=lambda: result.update(
        r=request(port, path="/slow?delay=1", timeout=10)))
    t.start()
    deadline = time.time() + 5
    while a.active == 0 and time.time() < deadline:
        time.sleep(0.01)
    g.cfg = config(port, [b.address()], workers=2)
    g.write_config()
    g.proc.send_signal(signal.SIGHUP)
    g.wait_log("configuration reloaded")
    for _ in range(10):
        assert request(port, path="/x")[2] == b"b /x\n"
    t.join(10)
    assert result["r"][:1] == (200,) and result["r"][2] == b"a /slow\n"  # finished on the old one
    # a broken file is refused; the running configuration keeps serving
    g.write_config("listeners: [\n")
    g.proc.send_signal(signal.SIGHUP)
    g.wait_log("reload failed, still serving the previous configuration")
    assert request(port, path="/x")[2] == b"b /x\n"
    g.cfg["workers"] = 3
    g.write_config()
    g.proc.send_signal(signal.SIGHUP)
    g.wait_log("workers changed from 2 to 3")
    assert request(port, path="/x")[2] == b"b /x\n"


def test_reloads_under_load_lose_no_request(env):
    a, b = env.backend("a"), env.backend("b")
    port = free_port()
    g = env.gateway(config(port, [a.address(), b.address()], workers=2))
    stop = threading.Event()
    counts = {"ok": 0, "bad": []}

    def load():
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        while not stop.is_set():
            try:
                c.request("POST", "/sink", body=b"z" * 1000)
                r = c.getresponse()
                body = r.read()
                if r.status == 200 and json.loads(body)["bytes"] == 1000:
                    counts["ok"] += 1
                else:
                    counts["bad"].append((r.status, body))
            except Exception as e:  # a failed request is what this test looks for
                counts["bad"].append(repr(e))
                c.close()
                c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        c.close()

    threads = [threading.Thread(target=load) for _ in range(4)]
    for t in threads:
        t.start()
    for i in range(20):
        g.cfg["clusters"][0]["endpoints"] = [a.address(), b.address()][: 1 + i % 2]
        g.write_config()
        g.proc.send_signal(signal.SIGHUP)
        g.wait_log("configuration reloaded", count=i + 1)
        time.sleep(0.05)
    stop.set()
    for t in threads:
        t.join(20)
    assert counts["bad"] == [] and counts["ok"] > 100, counts


# ---- drain ----

def test_sigterm_drains_an_inflight_request(env):
    b = env.backend("a")
    port = free_port()
    g = env.gateway(config(port, [b.address()], workers=2))
    result = {}

    def slow():
        result["r"] = request(port, path="/slow?delay=1.5", timeout=10)

    t = threading.Thread(target=slow)
    t.start()
    deadline = time.time() + 5
    while b.active == 0 and time.time() < deadline:
        time.sleep(0.01)
    assert b.active == 1
    g.proc.send_signal(signal.SIGTERM)
    g.wait_log("no longer accepting")
    time.sleep(0.1)
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    t.join(10)
    st, h, body = result["r"]
    assert (st, body) == (200, b"a /slow\n") and h["connection"] == "close"
    assert g.proc.wait(10) == 0
    assert "halo gw stopped" in g.read_log()


def test_drain_deadline_cuts_what_is_left(env):
    b = env.backend("a")
    port = free_port()
    g = env.gateway(config(port, [b.address()], top={"drain_timeout": "300ms"}))
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.sendall(b"GET /slow?delay=5 HTTP/1.1\r\nHost: x\r\n\r\n")
    deadline = time.time() + 5
    while b.active == 0 and time.time() < deadline:
        time.sleep(0.01)
    t0 = time.time()
    g.proc.send_signal(signal.SIGTERM)
    assert g.proc.wait(5) == 0
    assert time.time() - t0 < 3
    assert closed_by_peer(s)
    s.close()
