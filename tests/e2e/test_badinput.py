"""Hostile and broken clients: each gets an error or a closed connection, the node
stays up, other clients are unaffected and memory stays bounded."""
import os
import random
import socket
import subprocess
import threading
import time

import redis


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def exchange(port, data, timeout=5):
    """Send data and read until the server closes the connection (or timeout)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        s.sendall(data)
    except (BrokenPipeError, ConnectionResetError):
        pass
    out = b""
    deadline = time.time() + timeout
    try:
        while time.time() < deadline:
            chunk = s.recv(65536)
            if not chunk:
                return out, True
            out += chunk
    except socket.timeout:
        return out, False
    except ConnectionResetError:
        return out, True
    finally:
        s.close()
    return out, False


PROTOCOL_ERRORS = [
    (b"*x\r\n", b"-ERR Protocol error: invalid multibulk length\r\n"),
    (b"*-5000000000000\r\n*1\r\n$4\r\nPING\r\n", None),  # negative: treated as empty, then PING
    (b"*3000000000\r\n", b"-ERR Protocol error: invalid multibulk length\r\n"),
    (b"*1\r\n:5\r\n", b"-ERR Protocol error: expected '$', got ':'\r\n"),
    (b"*1\r\n*1\r\n$4\r\nPING\r\n", b"-ERR Protocol error: expected '$', got '*'\r\n"),
    (b"*1\r\n$abc\r\n", b"-ERR Protocol error: invalid bulk length\r\n"),
    (b"*1\r\n$-1\r\n", b"-ERR Protocol error: invalid bulk length\r\n"),
    (b"*1\r\n$99999999999\r\n", b"-ERR Protocol error: invalid bulk length\r\n"),
    (b"*1\r\n$4\r\nPINGxx", b"-ERR Protocol error: invalid bulk length\r\n"),
    (b"*1\r\n$" + b"9" * 200, b"-ERR Protocol error: too big bulk count string\r\n"),
    (b"*" + b"9" * 200, b"-ERR Protocol error: too big mbulk count string\r\n"),
    (b"SET \"unbalanced\r\n", b"-ERR Protocol error: unbalanced quotes in request\r\n"),
    (b"x" * (70 * 1024), b"-ERR Protocol error: too big inline request\r\n"),
]


def test_protocol_errors_close_only_that_client(node):
    other = node.client()
    other.set("survivor", "yes")
    for data, expected in PROTOCOL_ERRORS:
        out, closed = exchange(node.port, data, timeout=3)
        if expected is None:
            assert out == b"+PONG\r\n"
        else:
            assert out == expected, (data[:40], out)
            assert closed, data[:40]
        assert other.get("survivor") == b"yes"
    assert node.alive()


def test_bulk_limit_from_config(node_factory):
    n = node_factory(["--proto-max-bulk-len", "1mb"])
    out, closed = exchange(n.port, b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$2000000\r\n")
    assert out == b"-ERR Protocol error: invalid bulk length\r\n" and closed
    big = b"x" * 1048576
    assert n.client().set("k", big)
    assert n.client().strlen("k") == 1048576


def test_binary_garbage_fuzz(node):
    """Random byte blobs: the node answers or closes, never dies."""
    rnd = random.Random(1234)
    other = node.client()
    for i in range(200):
        blob = bytes(rnd.getrandbits(8) for _ in range(rnd.randint(1, 2000)))
        if rnd.random() < 0.3:
            blob = b"*" + blob
        exchange(node.port, blob, timeout=0.03)
    assert other.ping()
    assert node.alive()


def test_declared_huge_count_does_not_allocate(node):
    """Many clients each declaring a 1-billion-element command and a 500 MB bulk
    must not make the node allocate what they declared."""
    before = rss_kb(node.proc.pid)
    used_before = node.client().info("memory")["used_memory"]
    socks = []
    for i in range(50):
        s = socket.create_connection(("127.0.0.1", node.port), timeout=5)
        s.sendall(b"*1000000000\r\n$536870912\r\n")
        socks.append(s)
    time.sleep(0.2)
    for s in socks:  # more bytes arrive after the header was parsed
        s.sendall(b"xx")
    time.sleep(0.3)
    after = rss_kb(node.proc.pid)
    assert after - before < 100 * 1024, (before, after)
    # used_memory counts what was allocated, touched or not: nothing was
    # reserved for the declared 512 MB bulks.
    used_after = node.client().info("memory")["used_memory"]
    assert used_after - used_before < 50 * 1024 * 1024, (used_before, used_after)
    assert node.client().ping()
    for s in socks:
        s.close()


def test_slowloris_does_not_block_others(node):
    """Clients dribbling a command byte by byte do not delay other clients."""
    socks = []
    for i in range(20):
        s = socket.create_connection(("127.0.0.1", node.port), timeout=5)
        s.sendall(b"*3\r\n$3\r\nSET\r\n")
        socks.append(s)
    c = node.client()
    t0 = time.time()
    for i in range(200):
        c.set("k%d" % i, i)
    assert time.time() - t0 < 10
    for s in socks:
        s.sendall(b"$1\r\nk\r\n$1\r\n")
    assert c.get("k5") == b"5"
    for s in socks:
        s.sendall(b"v\r\n")
        assert s.recv(100) == b"+OK\r\n"
        s.close()


def test_slowloris_idle_timeout_closes(node_factory):
    n = node_factory(["--timeout", "1"])
    s = socket.create_connection(("127.0.0.1", n.port), timeout=5)
    s.sendall(b"*2\r\n$3\r\nGET\r\n")  # never finishes
    assert s.recv(100) == b""       # closed by the idle timeout
    assert n.client().ping()


def test_query_buffer_limit(node_factory):
    """A bulk the parser allows but the query buffer limit does not: the client
    is closed once its unprocessed input passes client-query-buffer-limit."""
    n = node_factory(["--client-query-buffer-limit", "1mb", "--proto-max-bulk-len", "4mb"])
    s = socket.create_connection(("127.0.0.1", n.port), timeout=5)
    closed = False
    try:
        s.sendall(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$3000000\r\n")
        for i in range(30):
            s.sendall(b"x" * 100000)
    except (BrokenPipeError, ConnectionResetError):
        closed = True
    if not closed:
        s.settimeout(5)
        try:
            closed = s.recv(100) == b""
        except ConnectionResetError:
            closed = True
    assert closed
    assert "exceeds client-query-buffer-limit" in n.read_log()
    assert n.client().ping()
    assert n.client().get("k") is None


def test_huge_pipeline(node):
    """A 200k-command pipeline is answered completely; others keep being served."""
    payload = b"*2\r\n$4\r\nINCR\r\n$1\r\nn\r\n" * 200000
    s = socket.create_connection(("127.0.0.1", node.port), timeout=30)
    received = bytearray()

    def reader():
        while received.count(b"\r\n") < 200000:
            chunk = s.recv(1 << 20)
            if not chunk:
                break
            received.extend(chunk)

    t = threading.Thread(target=reader)
    t.start()
    s.sendall(payload)
    other = node.client()
    assert other.ping()
    t.join(60)
    s.close()
    assert received.count(b"\r\n") == 200000
    assert other.get("n") == b"200000"


def test_output_buffer_limit(node_factory):
    """A client that never reads its replies is disconnected at the output limit;
    memory stays bounded and others are fine."""
    n = node_factory(["--client-output-buffer-limit-normal", "4mb"])
    c = n.client()
    c.set("big", b"x" * 100000)
    s = socket.create_connection(("127.0.0.1", n.port), timeout=5)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    closed = False
    try:
        for i in range(2000):
            s.sendall(b"*2\r\n$3\r\nGET\r\n$3\r\nbig\r\n" * 10)
    except (BrokenPipeError, ConnectionResetError):
        closed = True
    deadline = time.time() + 10
    while time.time() < deadline and not closed:
        info = c.info("stats")
        if info.get("client_output_buffer_limit_disconnections", 0) >= 1:
            closed = True
        time.sleep(0.1)
    assert closed
    assert rss_kb(n.proc.pid) < 200 * 1024
    assert c.get("big") == b"x" * 100000
    s.close()


def test_clients_vanishing_mid_command(node):
    for i in range(100):
        s = socket.create_connection(("127.0.0.1", node.port), timeout=5)
        s.sendall(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$100\r\nabc")
        s.close()
    assert node.client().ping()
    assert node.client().get("k") is None


def test_wrong_config_is_refused(tmpdir_halo):
    from conftest import HALO_BIN
    conf = os.path.join(tmpdir_halo, "bad.conf")
    with open(conf, "w") as f:
        f.write("port 7000\n# comment\nmaxmemory lots\n")
    r = subprocess.run([HALO_BIN, "kv", conf], capture_output=True, timeout=10)
    assert r.returncode != 0
    assert b"bad.conf:3: invalid 'maxmemory' value 'lots'" in r.stderr
    with open(conf, "w") as f:
        f.write("port 7000\nnosuchdirective yes\n")
    r = subprocess.run([HALO_BIN, "kv", conf], capture_output=True, timeout=10)
    assert r.returncode != 0 and b"bad.conf:2: unknown directive 'nosuchdirective'" in r.stderr
    r = subprocess.run([HALO_BIN, "kv", "--port", "99999"], capture_output=True, timeout=10)
    assert r.returncode != 0 and b"--port: invalid 'port' value '99999'" in r.stderr
    r = subprocess.run([HALO_BIN, "kv", "--appendfsync", "sometimes"], capture_output=True, timeout=10)
    assert r.returncode != 0 and b"must be one of the following: always everysec no" in r.stderr
    r = subprocess.run([HALO_BIN, "kv", "--appendonly"], capture_output=True, timeout=10)
    assert r.returncode != 0 and b"wrong number of arguments for 'appendonly'" in r.stderr
    r = subprocess.run([HALO_BIN, "kv", "/nonexistent/halo.conf"], capture_output=True, timeout=10)
    assert r.returncode != 0 and b"cannot open config file '/nonexistent/halo.conf'" in r.stderr


def test_config_file_and_flags(tmpdir_halo):
    from conftest import Node
    conf = os.path.join(tmpdir_halo, "ok.conf")
    with open(conf, "w") as f:
        f.write('# halo kv config\nmaxmemory 5mb\nmaxmemory-policy allkeys-lru\nrequirepass "p w"\n')
    n = Node(tmpdir_halo, [])
    n.args = []
    cmd_extra = ["--hz", "20"]
    # Node.start puts the config path after its own flags; start by hand instead.
    from conftest import HALO_BIN
    proc = subprocess.Popen([HALO_BIN, "kv", conf, "--port", str(n.port), "--dir", tmpdir_halo] + cmd_extra,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        c = redis.Redis(port=n.port, password="p w")
        deadline = time.time() + 20
        while True:
            try:
                c.ping()
                break
            except redis.ConnectionError:
                if time.time() > deadline:
                    raise
                time.sleep(0.05)
        cfg = c.config_get("*")
        assert cfg["maxmemory"] == str(5 * 1024 * 1024)
        assert cfg["maxmemory-policy"] == "allkeys-lru"
        assert cfg["hz"] == "20"
    finally:
        proc.terminate()
        proc.wait(10)
