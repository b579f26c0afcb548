"""Helpers shared by the end-to-end tests: one RESP2/RESP3 reader over a bare
socket (redis-py 4.3 speaks only RESP2 and hides reply types), and the small
redis-py wrappers the command tests repeat. Import with `from helpers import ...`
(pytest puts this folder, conftest.py's, on sys.path)."""
import socket
import time

import pytest
import redis

WRONGTYPE = "WRONGTYPE Operation against a key holding the wrong kind of value"


def encode(*args):
    """One command as a RESP array of bulk strings (str, bytes or numbers)."""
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


# ---- redis-py wrappers ----

def err(r, *args, **kw):
    """The error text (without the '-') a command must reply."""
    with pytest.raises(redis.exceptions.ResponseError) as e:
        r.execute_command(*args, **kw)
    return str(e.value)


def raw(r, *args):
    """The reply without redis-py's per-command post-processing."""
    conn = r.connection_pool.get_connection(args[0])
    try:
        conn.send_command(*args)
        return conn.read_response()
    finally:
        r.connection_pool.release(conn)


def absent(r, key):
    """True if key does not exist (probed with SET NX, then removed again)."""
    if not r.set(key, "probe", nx=True):
        return False
    r.getdel(key)
    return True


def wait_for(fn, timeout=5.0):
    """Poll fn until it is true or timeout seconds pass; its last value."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if fn():
            return True
        time.sleep(0.01)
    return fn()


def blocked(r):
    return r.info("clients")["blocked_clients"]


def wait_blocked(r, n, timeout=5):
    """Wait until exactly n clients are blocked (BLPOP & co)."""
    if not wait_for(lambda: blocked(r) == n, timeout):
        raise AssertionError("expected %d blocked clients, have %d" % (n, blocked(r)))


# ---- bare connections ----

class Err(str):
    """An error reply (its full text, code included)."""


class Push(list):
    """A RESP3 push (>) reply."""


class Conn:
    """A bare RESP2/RESP3 connection: send commands now, read replies later,
    as plain Python values (read), typed trees (read_node) or bytes."""

    def __init__(self, port, timeout=5):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.timeout = timeout
        self.buf = b""

    def send(self, *args):
        """Send one command."""
        self.sock.sendall(encode(*args))

    def send_many(self, *cmds):
        """Send several commands (each a list of arguments) in one write."""
        self.sock.sendall(b"".join(encode(*cmd) for cmd in cmds))

    def call(self, *args):
        self.send(*args)
        return self.read()

    def _fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed by the server")
        self.buf += chunk

    def read_bytes(self, n):
        """Exactly the next n bytes of the stream."""
        while len(self.buf) < n:
            self._fill()
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def _line(self):
        while b"\r\n" not in self.buf:
            self._fill()
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def read_node(self):
        """One reply as (type byte as str, value): scalars as bytes-decoded
        text, int or bytes; aggregates as lists of nodes (maps as pairs);
        negative lengths (RESP2 nulls) as None."""
        line = self._line()
        t, rest = line[:1].decode(), line[1:]
        if t in "+-,":
            return t, rest.decode()
        if t == ":":
            return t, int(rest)
        if t == "_":
            return t, None
        if t == "#":
            return t, rest == b"t"
        n = int(rest)
        if t in "$=":
            return t, None if n < 0 else self.read_bytes(n + 2)[:-2]
        if t in "*~>":
            return t, None if n < 0 else [self.read_node() for _ in range(n)]
        if t == "%":
            return t, [(self.read_node(), self.read_node()) for _ in range(n)]
        raise AssertionError("unexpected reply line %r" % line)

    def read(self, timeout=None):
        """One reply as a plain value: status str, Err, int, float, bool,
        bytes, None, list, Push or dict."""
        self.sock.settimeout(timeout or self.timeout)
        return plain(self.read_node())

    def raw_reply(self, timeout=None):
        """The next bytes available (for exact encodings)."""
        self.sock.settimeout(timeout or self.timeout)
        if not self.buf:
            self._fill()
        data, self.buf = self.buf, b""
        return data

    def drain(self, idle=0.3):
        """Every byte that arrives until the connection is idle for `idle` s."""
        self.sock.settimeout(idle)
        try:
            while True:
                self._fill()
        except (socket.timeout, ConnectionError):
            pass
        data, self.buf = self.buf, b""
        return data

    def nothing_pending(self, wait=0.1):
        """True when no reply arrives within `wait` seconds."""
        self.sock.settimeout(wait)
        try:
            self._fill()
        except socket.timeout:
            return not self.buf
        except ConnectionError:
            pass
        return False

    def close(self):
        self.sock.close()


def plain(node):
    """A read_node tree as plain Python values (see Conn.read)."""
    t, v = node
    if v is None:
        return None
    if t == "+":
        return v
    if t == "-":
        return Err(v)
    if t == ",":
        return float(v)
    if t in "*~":
        return [plain(x) for x in v]
    if t == ">":
        return Push(plain(x) for x in v)
    if t == "%":
        return {plain(k): plain(x) for k, x in v}
    return v


TYPE_NAMES = {"+": "status", "-": "error", ",": "double", ":": "int", "_": "null", "#": "bool",
              "$": "bulk", "=": "verbatim", "*": "array", "~": "set", ">": "push", "%": "map"}


def typed(node):
    """A read_node tree with type names: ("bulk", b"x"), ("array", [...]),
    ("map", [(key, value), ...]); doubles keep their text ("2.5")."""
    t, v = node
    if t in "*~>" and v is not None:
        v = [typed(x) for x in v]
    elif t == "%":
        v = [(typed(k), typed(x)) for k, x in v]
    return TYPE_NAMES[t], v


class Resp3(Conn):
    """A connection switched to RESP3 whose replies are typed trees, so tests
    can assert exact reply types."""

    def __init__(self, port, timeout=10):
        super().__init__(port, timeout)
        assert self.call("HELLO", "3")[0] == "map"

    def read(self, timeout=None):
        self.sock.settimeout(timeout or self.timeout)
        return typed(self.read_node())


@pytest.fixture
def r3(node):
    """A RESP3 connection (Resp3) to the test's node."""
    c = Resp3(node.port)
    yield c
    c.close()
