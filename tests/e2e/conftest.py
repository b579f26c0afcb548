"""Fixtures for end-to-end tests: start the real `halo kv` binary and talk to it
with real clients (redis-py from Debian's python3-redis, and redis-cli)."""
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import pytest
import redis

HALO_BIN = os.environ.get("HALO_BIN") or os.path.join(
    os.path.dirname(__file__), "..", "..", "build", "halo")


def free_port():
    """A loopback port nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Process:
    """A halo process whose output goes to self.logpath: log reading,
    waiting for a log line, and stopping by its own PID."""

    proc = None
    log = None
    logpath = None

    def read_log(self):
        try:
            with open(self.logpath, "rb") as f:
                return f.read().decode(errors="replace")
        except OSError:
            return ""

    def wait_log(self, text, timeout=10.0, count=1):
        deadline = time.time() + timeout
        while time.time() < deadline:
            exited = self.proc is None or self.proc.poll() is not None
            if self.read_log().count(text) >= count:
                return True
            if exited:  # the log was read after the exit: nothing more will come
                break
            time.sleep(0.02)
        raise AssertionError("%r not logged (%d times) within %ss:\n%s"
                             % (text, count, timeout, self.read_log()[-4000:]))

    def stop(self, sig=signal.SIGTERM, timeout=30):
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        rc = self.proc.returncode
        self.proc = None
        self.log.close()
        return rc

    def alive(self):
        return self.proc is not None and self.proc.poll() is None


class Node(Process):
    """One `halo kv` process on 127.0.0.1 with its own data directory."""

    def __init__(self, tmpdir, args=None, port=None):
        self.dir = tmpdir
        self.port = port or free_port()
        self.args = list(args or [])
        self.proc = None
        self.logpath = os.path.join(tmpdir, "halo.log")

    def start(self, wait=True, extra=None):
        cmd = [HALO_BIN, "kv", "--port", str(self.port), "--bind", "127.0.0.1",
               "--dir", self.dir] + self.args + list(extra or [])
        self.log = open(self.logpath, "ab")
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT)
        if wait:
            self.wait_ready()
        return self

    def wait_ready(self, timeout=30):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("halo exited with %s:\n%s" % (self.proc.returncode, self.read_log()))
            try:
                r = redis.Redis(port=self.port, socket_timeout=2)
                r.execute_command("PING")
                r.close()
                return
            except redis.exceptions.AuthenticationError:
                return
            except redis.exceptions.ResponseError as e:
                if "NOAUTH" in str(e):
                    return
                raise
            except (redis.exceptions.ConnectionError, OSError):
                time.sleep(0.05)
        raise RuntimeError("halo did not become ready:\n" + self.read_log())

    def client(self, **kw):
        kw.setdefault("socket_timeout", 10)
        return redis.Redis(port=self.port, **kw)

    def cli(self, *args, input=None):
        """Run redis-cli against this node; returns stdout text."""
        r = subprocess.run(["redis-cli", "-p", str(self.port)] + [str(a) for a in args],
                           input=input, capture_output=True, timeout=30)
        return r.stdout.decode(errors="replace")

    def kill9(self):
        return self.stop(signal.SIGKILL)

    def restart(self, extra=None):
        self.stop()
        return self.start(extra=extra)


@pytest.fixture
def tmpdir_halo():
    d = tempfile.mkdtemp(prefix="halo-test-")
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def node_factory(tmpdir_halo):
    """Make nodes with custom arguments; all are stopped at the end."""
    nodes = []

    def make(args=None, start=True, subdir=None):
        d = tmpdir_halo if subdir is None else os.path.join(tmpdir_halo, subdir)
        os.makedirs(d, exist_ok=True)
        n = Node(d, args)
        nodes.append(n)
        if start:
            n.start()
        return n

    yield make
    for n in nodes:
        try:
            n.stop()
        except Exception:
            pass


@pytest.fixture
def node(node_factory):
    """A plain node (no persistence)."""
    return node_factory()


@pytest.fixture
def r(node):
    """A redis-py client (RESP2) to a fresh node."""
    c = node.client()
    yield c
    c.close()
