"""ha.py — harness for replica groups: a ZooKeeper ensemble, a network-namespace
topology, a 3-node halo group, a recorder of acknowledged writes, and the checkers
run after each fault (every acknowledged write present, replicas identical, one
primary per epoch, linearizability of one register).

Used by the fault suite (pytest: import the fixtures by name, e.g.
`from ha import ha_group`) and by bench/failover_vs_sentinel.py (plain Python).
Everything started here is stopped by its own PID or namespace, also on failure
(fixtures, context managers and atexit)."""
import atexit
import collections
import contextlib
import ctypes
import os
import random
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time

import pytest
import redis

from conftest import HALO_BIN, Process, free_port

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
ZK_SCRIPT = os.path.join(ROOT, "scripts", "zk-ensemble.sh")
NETNS_DIR = "/run/netns"

# Refusals a node sends before executing a write: the write did not happen.
# Any other error, a timeout or a dropped connection leaves the outcome unknown.
DEFINITE_WRITE_ERRORS = ("READONLY", "NOREPLICAS")

# INFO replication fields that may carry the node's configuration epoch; the
# first one present is used (the name is the kv adapter's to choose).
EPOCH_FIELDS = ("halo_epoch", "master_repl_epoch", "repl_epoch", "epoch", "config_epoch")


# ----------------------------------------------------------------- a bare RESP2 client

class RespError(Exception):
    """An error reply; str(e) is its text without the '-'."""


class Resp:
    """One blocking RESP2 connection with explicit timeouts and no hidden
    retries, so a recorder knows exactly which writes were sent. Create it in
    the network namespace the address is reachable from (see in_netns)."""

    def __init__(self, host, port, timeout=2.0, connect_timeout=None):
        self.addr = (host, int(port))
        self.sock = socket.create_connection(self.addr, timeout=connect_timeout or timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock.settimeout(timeout)
        self.buf = b""

    def call(self, *args):
        """Sends one command and returns its reply; an error reply raises RespError."""
        out = [b"*%d\r\n" % len(args)]
        for a in args:
            a = a if isinstance(a, bytes) else str(a).encode()
            out.append(b"$%d\r\n%s\r\n" % (len(a), a))
        self.sock.sendall(b"".join(out))
        reply = self._read()
        if isinstance(reply, RespError):
            raise reply
        return reply

    execute_command = call  # so checkers take redis-py clients and Resp alike

    def _fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("connection closed by %s:%d" % self.addr)
        self.buf += chunk

    def _line(self):
        while b"\r\n" not in self.buf:
            self._fill()
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _read(self):
        line = self._line()
        t, rest = line[:1], line[1:]
        if t == b"+":
            return rest.decode()
        if t == b"-":
            return RespError(rest.decode(errors="replace"))
        if t == b":":
            return int(rest)
        if t == b"$":
            n = int(rest)
            if n < 0:
                return None
            while len(self.buf) < n + 2:
                self._fill()
            data, self.buf = self.buf[:n], self.buf[n + 2:]
            return data
        if t == b"*":
            n = int(rest)
            return None if n < 0 else [self._read() for _ in range(n)]
        raise ConnectionError("unexpected reply line %r from %s:%d" % ((line,) + self.addr))

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def text(v):
    return v.decode(errors="replace") if isinstance(v, bytes) else v


def parse_info(raw):
    """INFO text (bytes or str) as {field: str}."""
    out = {}
    for line in text(raw).splitlines():
        if line and not line.startswith("#") and ":" in line:
            k, v = line.split(":", 1)
            out[k] = v.strip()
    return out


def info_epoch(conn):
    """The configuration epoch a node reports in INFO replication (the first
    of EPOCH_FIELDS present), or None."""
    fields = parse_info(conn.execute_command("INFO", "replication"))
    for name in EPOCH_FIELDS:
        if name in fields:
            try:
                return int(fields[name])
            except ValueError:
                return None
    return None


def ask(addr, *args, timeout=0.5, netns=None):
    """One command on a fresh connection; None on any failure."""
    try:
        with in_netns(netns):
            c = Resp(addr[0], addr[1], timeout=timeout)
        try:
            return c.call(*args)
        finally:
            c.close()
    except (OSError, ConnectionError, RespError, ValueError):
        return None


def sentinel_candidates(endpoints, name, timeout=0.3, netns=None):
    """Asks every endpoint SENTINEL get-master-addr-by-name `name`; the
    distinct answers as (host, port), most named first (ties: first asked)."""
    votes = collections.OrderedDict()
    for ep in endpoints:
        r = ask(ep, "SENTINEL", "get-master-addr-by-name", name, timeout=timeout, netns=netns)
        if isinstance(r, list) and len(r) == 2 and r[0] is not None:
            try:
                addr = (text(r[0]), int(r[1]))
            except ValueError:
                continue
            votes[addr] = votes.get(addr, 0) + 1
    return sorted(votes, key=lambda a: -votes[a])


# ----------------------------------------------------------------- waiting

class WaitTimeout(AssertionError, TimeoutError):
    """wait_until gave up: an assertion failure in tests, a TimeoutError to scripts."""


def wait_until(fn, timeout, what, group=None, interval=0.05):
    """Polls fn until it returns a true value (returned). A connection error or
    an error reply counts as "not yet". WaitTimeout naming what (and the
    group's state, if given) when timeout seconds pass."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = fn()
        except (OSError, ConnectionError, RespError) as e:
            last = e
        else:
            if last:
                return last
        time.sleep(interval)
    raise WaitTimeout("%s: not within %ss (last: %r)%s" % (
        what, timeout, last, "\n" + group.describe() if group else ""))


# ----------------------------------------------------------------- network namespaces

_libc = ctypes.CDLL(None, use_errno=True)
CLONE_NEWNET = 0x40000000


def _setns(fd):
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, "setns: " + os.strerror(err))


@contextlib.contextmanager
def in_netns(name):
    """Runs the block with the calling thread (only it) in network namespace
    `name` (None: unchanged). Sockets created in the block belong to that
    namespace for life; processes started in it start there."""
    if name is None:
        yield
        return
    back = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    try:
        target = os.open(os.path.join(NETNS_DIR, name), os.O_RDONLY)
        try:
            _setns(target)
        finally:
            os.close(target)
        try:
            yield
        finally:
            _setns(back)
    finally:
        os.close(back)


def _ip(*args, check=True):
    r = subprocess.run(["ip"] + [str(a) for a in args], capture_output=True, timeout=30)
    if check and r.returncode != 0:
        raise RuntimeError("ip %s: %s" % (" ".join(map(str, args)), r.stderr.decode().strip()))
    return r


def netns_unavailable():
    """Why network namespaces cannot be used here, or None when they can."""
    if os.geteuid() != 0:
        return "network namespaces need root"
    if shutil.which("ip") is None:
        return "ip (iproute2) is not installed"
    name = "hn%dprobe" % os.getpid()
    r = _ip("netns", "add", name, check=False)
    if r.returncode != 0:
        return "ip netns add failed: " + r.stderr.decode().strip()
    _ip("netns", "del", name, check=False)
    return None


def require_netns():
    reason = netns_unavailable()
    if reason:
        pytest.skip(reason)


def _pid_alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


class Topology:
    """n nodes, each in its own network namespace, on one bridge.

    The bridge lives in a hub namespace of its own, not in the root namespace:
    this machine's own network is 192.0.2.0/24 (eth0 192.0.2.2, gateway
    192.0.2.1), so any 192.0.2.x address in the root namespace would shadow
    the real gateway. The hub holds the bridge (br0) with CLIENT_IP
    (192.0.2.1, the test's clients) and ZK_IP (192.0.2.2, ZooKeeper: run the
    Ensemble with netns=topo.hub, bind=topo.zk_ip). Node i (1-based) is
    namespace hn<pid>-<i> with eth0 = 192.0.2.(10+i)/24 and lo up.

    The test reaches the nodes from the hub: `with topo.hub_net():` (the
    calling thread only), or pass netns=topo.hub to Writers/Group.

    Faults, all undone by heal_all(): cut(i) downs node i's bridge port (node
    i reaches nobody and nobody reaches it); cut_pair(i, j) drops traffic
    between two nodes; cut_zk(i) drops node i's traffic to ZooKeeper only.
    Drops are silent (no RST, no ICMP): routes into a veth whose peer is down
    with ARP off, because this kernel has no iptables, nftables or tc filters."""

    CLIENT_IP = "192.0.2.1"
    ZK_IP = "192.0.2.2"
    STATE_DIR = "/run/halo-topology"

    def __init__(self, n_nodes):
        if not 1 <= n_nodes <= 200:
            raise ValueError("1..200 nodes")
        reason = netns_unavailable()
        if reason:
            raise RuntimeError(reason)
        Topology.sweep_stale()
        self.n = n_nodes
        self.prefix = self._free_prefix()
        self.hub = self.prefix + "-hub"
        self.ns = {i: "%s-%d" % (self.prefix, i) for i in range(1, n_nodes + 1)}
        self.client_ip = self.CLIENT_IP
        self.zk_ip = self.ZK_IP
        self.procs = []
        self.created = []  # namespaces, in creation order
        self.cuts = set()  # ("node", i) | ("pair", i, j) | ("zk", i)
        self.closed = False
        atexit.register(self.close)
        try:
            self._build()
        except BaseException:
            self.close()
            raise

    @staticmethod
    def _free_prefix():
        have = set(os.listdir(NETNS_DIR)) if os.path.isdir(NETNS_DIR) else set()
        base = "hn%d" % os.getpid()
        for k in range(100):
            p = base if k == 0 else "%sk%d" % (base, k)
            if not any(n == p + "-hub" or n.startswith(p + "-") for n in have):
                return p
        raise RuntimeError("no free namespace prefix for %s" % base)

    def node_ip(self, i):
        return "192.0.2.%d" % (10 + i)

    def _add_ns(self, name):
        _ip("netns", "add", name)
        self.created.append(name)
        self._write_state()
        _ip("-n", name, "link", "set", "lo", "up")

    def _build(self):
        self._add_ns(self.hub)
        _ip("-n", self.hub, "link", "add", "br0", "type", "bridge", "forward_delay", "0")
        _ip("-n", self.hub, "addr", "add", self.client_ip + "/24", "dev", "br0")
        _ip("-n", self.hub, "addr", "add", self.zk_ip + "/24", "dev", "br0")
        _ip("-n", self.hub, "link", "set", "br0", "up")
        for i, ns in self.ns.items():
            self._add_ns(ns)
            port = "v%d" % i
            _ip("-n", self.hub, "link", "add", port, "type", "veth", "peer", "name", "eth0",
                "netns", ns)
            _ip("-n", self.hub, "link", "set", port, "master", "br0")
            _ip("-n", self.hub, "link", "set", port, "up")
            _ip("-n", ns, "addr", "add", self.node_ip(i) + "/24", "dev", "eth0")
            _ip("-n", ns, "link", "set", "eth0", "up")
            # The sink: sink0 is up, its peer down, ARP off: what is routed
            # into it vanishes without an error to the sender.
            _ip("-n", ns, "link", "add", "sink0", "type", "veth", "peer", "name", "sink1")
            _ip("-n", ns, "link", "set", "sink0", "arp", "off")
            _ip("-n", ns, "link", "set", "sink0", "up")

    # -- state for sweeping what a killed run left behind

    def _state_path(self):
        return os.path.join(self.STATE_DIR, self.prefix)

    def _write_state(self):
        os.makedirs(self.STATE_DIR, exist_ok=True)
        with open(self._state_path(), "w") as f:
            f.write("%d\n%s\n" % (os.getpid(), " ".join(self.created)))

    @classmethod
    def sweep_stale(cls):
        """Removes the namespaces of topologies whose owning process is gone
        (a test killed with SIGKILL): kills what runs inside them (only this
        harness starts processes there), then deletes them."""
        if not os.path.isdir(cls.STATE_DIR):
            return
        for name in os.listdir(cls.STATE_DIR):
            path = os.path.join(cls.STATE_DIR, name)
            try:
                with open(path) as f:
                    owner = int(f.readline())
                    namespaces = f.readline().split()
            except (OSError, ValueError):
                continue
            if _pid_alive(owner):
                continue
            for ns in namespaces:
                _kill_netns_pids(ns)
                _ip("netns", "del", ns, check=False)
            with contextlib.suppress(OSError):
                os.unlink(path)

    # -- processes

    def run(self, i, argv, **popen_kw):
        """Starts argv in node i's namespace (i == 0: the hub); returns the
        Popen, whose pid is argv's own (ip netns exec execs in place)."""
        ns = self.hub if i == 0 else self.ns[i]
        p = subprocess.Popen(["ip", "netns", "exec", ns] + [str(a) for a in argv], **popen_kw)
        self.procs.append(p)
        return p

    def hub_net(self):
        """Context manager: the calling thread in the hub namespace."""
        return in_netns(self.hub)

    # -- faults

    def _veth(self, i, up):
        _ip("-n", self.hub, "link", "set", "v%d" % i, "up" if up else "down")

    def cut(self, i):
        """Isolates node i from everyone (its bridge port down)."""
        self._veth(i, False)
        self.cuts.add(("node", i))

    def heal(self, i):
        self._veth(i, True)
        self.cuts.discard(("node", i))

    def _sink(self, i, dest, add):
        verb = "replace" if add else "del"
        _ip("-n", self.ns[i], "route", verb, dest + "/32", "dev", "sink0", check=add)

    def cut_pair(self, i, j):
        """Drops traffic between nodes i and j, both ways."""
        self._sink(i, self.node_ip(j), True)
        self._sink(j, self.node_ip(i), True)
        self.cuts.add(("pair", min(i, j), max(i, j)))

    def heal_pair(self, i, j):
        self._sink(i, self.node_ip(j), False)
        self._sink(j, self.node_ip(i), False)
        self.cuts.discard(("pair", min(i, j), max(i, j)))

    def cut_zk(self, i):
        """Drops node i's traffic to ZooKeeper (ZK_IP); clients still reach it."""
        self._sink(i, self.zk_ip, True)
        self.cuts.add(("zk", i))

    def heal_zk(self, i):
        self._sink(i, self.zk_ip, False)
        self.cuts.discard(("zk", i))

    def heal_all(self):
        for c in sorted(self.cuts):
            if c[0] == "node":
                self.heal(c[1])
            elif c[0] == "pair":
                self.heal_pair(c[1], c[2])
            else:
                self.heal_zk(c[1])

    # -- teardown

    def close(self):
        """Kills what it started (and anything left in its namespaces, which
        only its processes can have started), then deletes the namespaces;
        deleting them removes the veths and the bridge. Safe to call twice."""
        if self.closed:
            return
        self.closed = True
        for p in self.procs:
            if p.poll() is None:
                with contextlib.suppress(OSError):
                    p.send_signal(signal.SIGCONT)
                    p.kill()
                with contextlib.suppress(subprocess.TimeoutExpired):
                    p.wait(timeout=10)
        for ns in reversed(self.created):
            _kill_netns_pids(ns)
            _ip("netns", "del", ns, check=False)
        with contextlib.suppress(OSError):
            os.unlink(self._state_path())

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _kill_netns_pids(ns):
    r = _ip("netns", "pids", ns, check=False)
    pids = [int(p) for p in r.stdout.split() if p.isdigit()]
    for pid in pids:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGCONT)
            os.kill(pid, signal.SIGKILL)
    deadline = time.time() + 5
    while pids and time.time() < deadline:
        pids = [p for p in pids if _pid_alive(p) and not _is_zombie(p)]
        time.sleep(0.02)


def _is_zombie(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except (OSError, IndexError):
        return True


# ----------------------------------------------------------------- ZooKeeper

class Ensemble:
    """A local ZooKeeper ensemble through scripts/zk-ensemble.sh. Members are
    1-based. With netns (say topo.hub) every member runs in that namespace,
    listening on bind (say topo.zk_ip). The script's watchdog stops the JVMs
    once this process is gone, even after SIGKILL."""

    def __init__(self, tmpdir, n=3, bind=None, netns=None):
        self.dir = os.path.join(tmpdir, "zk")
        self.n = n
        self.bind = bind
        self.netns = netns
        self.connstr = None
        self.started = False

    def _run(self, *args, timeout=90):
        env = dict(os.environ, HALO_ZK_OWNER_PID=str(os.getpid()))
        if self.bind:
            env["ZK_BIND"] = self.bind
        cmd = ["/bin/bash", ZK_SCRIPT] + [str(a) for a in args]
        if self.netns:
            cmd = ["ip", "netns", "exec", self.netns] + cmd
        r = subprocess.run(cmd, env=env, capture_output=True, timeout=timeout)
        if r.returncode != 0:
            raise RuntimeError("zk-ensemble.sh %s failed (%d): %s"
                               % (" ".join(map(str, args)), r.returncode,
                                  r.stderr.decode(errors="replace").strip()))
        return r.stdout.decode().strip()

    def start(self):
        self.started = True
        atexit.register(self.stop)
        out = self._run("start", self.dir, self.n)
        self.connstr = out.splitlines()[-1]
        return self

    def stop(self):
        if self.started:
            self.started = False
            self._run("stop", self.dir)

    def kill(self, i):
        self._run("kill", self.dir, i)

    def pause(self, i):
        self._run("pause", self.dir, i)

    def resume(self, i):
        self._run("resume", self.dir, i)

    def restart(self, i):
        self._run("restart", self.dir, i)

    def status(self):
        """[{member, port, pid, mode}] as the script reports them."""
        rows = []
        for line in self._run("status", self.dir).splitlines():
            i, port, pid, mode = line.split()
            rows.append({"member": int(i), "port": int(port),
                         "pid": None if pid == "-" else int(pid), "mode": mode})
        return rows

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


# ----------------------------------------------------------------- halo nodes and groups

def has_replication(halo_bin=None):
    """True when the binary knows the replicated-mode directives."""
    try:
        with open(halo_bin or HALO_BIN, "rb") as f:
            return b"repl-zk" in f.read()
    except OSError:
        return False


def require_replication(halo_bin=None):
    if not has_replication(halo_bin):
        pytest.skip("%s has no replicated mode (repl-zk) yet" % (halo_bin or HALO_BIN))


class HaNode(Process):
    """One `halo kv` of a group: node id, address, its own data directory and
    log; on loopback, or inside a Topology namespace."""

    def __init__(self, node_id, host, port, datadir, args, topo=None, index=None,
                 halo_bin=None):
        self.id = node_id
        self.host = host
        self.port = port
        self.dir = datadir
        self.args = list(args)
        self.topo = topo
        self.index = index
        self.halo_bin = halo_bin or HALO_BIN
        self.paused = False
        self.proc = None
        self.logpath = os.path.join(datadir, "halo.log")
        os.makedirs(datadir, exist_ok=True)

    @property
    def addr(self):
        return (self.host, self.port)

    @property
    def netns(self):
        return self.topo.hub if self.topo else None

    def command(self):
        return [self.halo_bin, "kv", "--port", str(self.port), "--bind", self.host,
                "--dir", self.dir] + self.args

    def start(self, wait=True):
        self.log = open(self.logpath, "ab")
        self.log.write(b"==== start %s\n" % " ".join(self.command()).encode())
        self.log.flush()
        if self.topo:
            self.proc = self.topo.run(self.index, self.command(), stdout=self.log,
                                      stderr=subprocess.STDOUT)
        else:
            self.proc = subprocess.Popen(self.command(), stdout=self.log, stderr=subprocess.STDOUT)
        self.paused = False
        if wait:
            self.wait_ready()
        return self

    def wait_ready(self, timeout=30):
        """Until the node answers PING with anything (even an error)."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("%s exited with %s:\n%s"
                                   % (self.id, self.proc.returncode, self.read_log()[-4000:]))
            try:
                with in_netns(self.netns):
                    c = Resp(self.host, self.port, timeout=2)
                try:
                    c.call("PING")
                except RespError:
                    pass
                finally:
                    c.close()
                return
            except (OSError, ConnectionError):
                time.sleep(0.05)
        raise RuntimeError("%s not ready:\n%s" % (self.id, self.read_log()[-4000:]))

    def pid(self):
        return self.proc.pid if self.alive() else None

    def kill9(self):
        return self.stop(signal.SIGKILL)

    def pause(self):
        """SIGSTOP: the process stays, stops answering and heartbeating."""
        self.proc.send_signal(signal.SIGSTOP)
        self.paused = True

    def cont(self):
        self.proc.send_signal(signal.SIGCONT)
        self.paused = False

    def stop(self, sig=signal.SIGTERM, timeout=30):
        if self.alive() and self.paused:
            with contextlib.suppress(OSError):
                self.proc.send_signal(signal.SIGCONT)
        self.paused = False
        return super().stop(sig, timeout)

    def restart(self, wait=True):
        self.stop()
        return self.start(wait=wait)

    def resp(self, timeout=2.0):
        """A Resp connection from where the test's clients live."""
        with in_netns(self.netns):
            return Resp(self.host, self.port, timeout=timeout)

    def call(self, *args, timeout=2.0):
        c = self.resp(timeout)
        try:
            return c.call(*args)
        finally:
            c.close()

    def client(self, **kw):
        """A redis-py client on one connection, connected now (inside the
        hub for a Topology: reconnects after an error would happen in the
        caller's namespace, so use it inside topo.hub_net() there)."""
        kw.setdefault("socket_timeout", 5)
        with in_netns(self.netns):
            c = redis.Redis(host=self.host, port=self.port, single_connection_client=True, **kw)
        return c

    def role(self, timeout=0.5):
        """ROLE reply with text fields, or None when the node does not answer."""
        if not self.alive() or self.paused:
            return None
        r = ask(self.addr, "ROLE", timeout=timeout, netns=self.netns)
        if not isinstance(r, list) or not r:
            return None
        return [text(x) if not isinstance(x, list) else x for x in r]


class Group:
    """n `halo kv` nodes n1..nN of group gid in replicated mode (appendonly yes,
    appendfsync always, a data directory each). On loopback (free ports) or,
    with topology, node i in namespace i on 192.0.2.(10+i):port.

    extra: directives for every node (e.g. ["--repl-session-timeout", "600"]).
    cluster: the ZooKeeper root under /halo (unique per Group by default, so
    groups of one run never meet)."""

    _count = 0

    def __init__(self, tmpdir, zk_connstr, n=3, topology=None, halo_bin=None, gid="g1",
                 cluster=None, extra=(), port=7000):
        Group._count += 1
        self.gid = gid
        self.cluster = cluster or "t%d-%d" % (os.getpid(), Group._count)
        self.topo = topology
        self.ids = ["n%d" % i for i in range(1, n + 1)]
        self.nodes = []
        for i, nid in enumerate(self.ids, start=1):
            host = topology.node_ip(i) if topology else "127.0.0.1"
            p = port if topology else free_port()
            args = ["--appendonly", "yes", "--appendfsync", "always",
                    "--repl-zk", zk_connstr, "--repl-cluster", self.cluster,
                    "--repl-group", gid, "--repl-node-id", nid,
                    "--repl-members", ",".join(self.ids),
                    "--repl-announce", "%s:%d" % (host, p)] + list(extra)
            self.nodes.append(HaNode(nid, host, p, os.path.join(tmpdir, nid), args,
                                     topo=topology, index=i, halo_bin=halo_bin))
        self.by_id = {nd.id: nd for nd in self.nodes}
        self.by_addr = {nd.addr: nd for nd in self.nodes}
        atexit.register(self.stop)

    @property
    def netns(self):
        return self.topo.hub if self.topo else None

    def __getitem__(self, key):
        """group["n2"] or group[2] (1-based)."""
        return self.by_id[key] if isinstance(key, str) else self.nodes[key - 1]

    def start(self, wait_primary=True, timeout=60):
        for nd in self.nodes:
            nd.start(wait=False)
        for nd in self.nodes:
            nd.wait_ready()
        if wait_primary:
            self.wait_primary(timeout)
        return self

    def stop(self):
        for nd in self.nodes:
            with contextlib.suppress(Exception):
                nd.stop()

    def live(self):
        return [nd for nd in self.nodes if nd.alive() and not nd.paused]

    def node_of(self, addr):
        """The node id at addr, or "host:port" for an address not ours."""
        nd = self.by_addr.get((text(addr[0]), int(addr[1])))
        return nd.id if nd else "%s:%s" % addr

    def candidates(self):
        """Primary addresses named by SENTINEL get-master-addr-by-name on the live nodes."""
        return sentinel_candidates([nd.addr for nd in self.live()], self.gid, netns=self.netns)

    def primary(self, exclude=()):
        """The node that live nodes name as primary and that says ROLE master,
        or None. exclude: node ids never to return (say, a deposed primary)."""
        for addr in self.candidates():
            nd = self.by_addr.get(addr)
            if nd is None or nd.id in exclude:
                continue
            role = nd.role()
            if role and role[0] == "master":
                return nd
        return None

    def wait_primary(self, timeout=30, exclude=()):
        deadline = time.time() + timeout
        while time.time() < deadline:
            p = self.primary(exclude)
            if p:
                return p
            time.sleep(0.05)
        raise AssertionError("no primary within %ss (excluding %s)\n%s"
                             % (timeout, list(exclude), self.describe()))

    def replicas_connected(self, primary):
        """Ids of the live nodes whose ROLE says connected to primary."""
        out = []
        for nd in self.live():
            if nd is primary:
                continue
            r = nd.role()
            if (r and r[0] == "slave" and (text(r[1]), int(r[2])) == primary.addr
                    and text(r[3]) == "connected"):
                out.append(nd.id)
        return out

    def isr_size(self, node):
        """The in-sync set's size as node reports it (INFO replication
        halo_isr_size), or None when it does not say."""
        r = ask(node.addr, "INFO", "replication", netns=self.netns)
        v = parse_info(r).get("halo_isr_size") if r is not None else None
        return int(v) if v is not None and v.isdigit() else None

    def wait_healthy(self, timeout=60, converge=True):
        """Until one primary has every other node connected as replica by ROLE,
        lists them all in its own ROLE, has them all in its in-sync set (when
        INFO says), and (converge) all DEBUG DIGESTs agree. Returns it."""
        deadline = time.time() + timeout
        want = len(self.nodes) - 1
        while time.time() < deadline:
            p = self.primary()
            if p and len(self.replicas_connected(p)) == want:
                role = p.role()
                isr = self.isr_size(p)
                if (role and len(role) > 2 and isinstance(role[2], list) and len(role[2]) >= want
                        and isr in (None, want + 1)):
                    if not converge or len(set(self.digests().values())) == 1:
                        return p
            time.sleep(0.1)
        raise AssertionError("group not healthy within %ss\n%s" % (timeout, self.describe()))

    def digests(self):
        """{node id: DEBUG DIGEST} of the live nodes (None when one fails)."""
        out = {}
        for nd in self.live():
            try:
                c = nd.resp()
                try:
                    with contextlib.suppress(RespError):
                        c.call("READONLY")
                    out[nd.id] = text(c.call("DEBUG", "DIGEST"))
                finally:
                    c.close()
            except (OSError, ConnectionError, RespError):
                out[nd.id] = None
        return out

    def clients(self, nodes=None):
        """Resp connections to nodes (default: the live ones), for check_acked."""
        return [nd.resp(timeout=10) for nd in (nodes or self.live())]

    def check_acked(self, writes, nodes=None, converge_timeout=30.0):
        """check_acked over the live nodes (or the given ones), then
        check_one_primary_per_epoch; returns check_acked's summary."""
        nodes = nodes or self.live()
        conns = self.clients(nodes)
        try:
            out = check_acked(writes, conns, converge_timeout, [nd.id for nd in nodes])
        finally:
            for c in conns:
                c.close()
        out["epochs"] = check_one_primary_per_epoch(writes)
        return out

    SANITIZER_MARKS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:",
                       "WARNING: ThreadSanitizer")

    def sanitizer_reports(self):
        """{node id: first lines of each sanitizer report in its log} for the
        nodes whose log (every run of the node) has one; {} when clean."""
        out = {}
        for nd in self.nodes:
            lines = nd.read_log().splitlines()
            hits = [i for i, ln in enumerate(lines) if any(m in ln for m in self.SANITIZER_MARKS)]
            if hits:
                out[nd.id] = "\n".join(lines[hits[0]:hits[0] + 30])
        return out

    def describe(self):
        """Each node's state and log tail, for failure messages."""
        lines = []
        for nd in self.nodes:
            state = "dead" if not nd.alive() else ("paused" if nd.paused else "up")
            lines.append("-- %s %s:%d %s role=%s" % (nd.id, nd.host, nd.port, state,
                                                    nd.role() if state == "up" else None))
            lines.extend("   " + ln for ln in nd.read_log().splitlines()[-15:])
        return "\n".join(lines)

    def discoverer(self):
        """A discover() for Writers and RegisterWorkload: the candidates named
        by the live nodes."""
        return self.candidates


# ----------------------------------------------------------------- recording writes

class Write:
    """One SET of a writer: status "ok" (acknowledged), "fail" (refused
    before execution) or "unknown"; node: the id of the node it was sent to."""

    __slots__ = ("key", "value", "node", "addr", "epoch", "t_invoke", "t_complete",
                 "status", "error")

    def __init__(self, key, value, node, addr, epoch, t_invoke):
        self.key, self.value, self.node, self.addr = key, value, node, addr
        self.epoch, self.t_invoke = epoch, t_invoke
        self.t_complete = None
        self.status = None
        self.error = None

    def __repr__(self):
        return "Write(%s=%s on %s epoch %s: %s%s)" % (
            self.key, self.value, self.node, self.epoch, self.status,
            " " + self.error if self.error else "")


def classify_error(msg):
    """'fail' for refusals that happen before execution, else 'unknown'."""
    return "fail" if msg.split(" ", 1)[0] in DEFINITE_WRITE_ERRORS else "unknown"


def _candidates(discover):
    found = discover()
    if found is None:
        return []
    if isinstance(found, tuple):
        return [found]
    return list(found)


class Writers:
    """n threads that SET unique keys "<prefix>:<thread>:<seq>" to unique values
    against the primary, for at most `duration` seconds and `max_writes` writes
    per thread, and record every write with its outcome.

    discover(): the primary's address, a list of candidates, or None (e.g.
    group.discoverer()). After any error a thread asks again and tries the
    candidates in order. node_of(addr) names a node; epoch_fn(conn), when
    given, reads the connected node's epoch (e.g. info_epoch) on connecting
    and every epoch_every seconds: a write records the epoch last read from
    its node before it was sent. netns: the namespace the threads live in.
    A thread sleeps error_pause after a failed write and retry_pause when no
    candidate accepts a connection."""

    def __init__(self, discover, n_threads=4, duration=10.0, max_writes=1_000_000,
                 prefix="w", node_of=None, epoch_fn=None, epoch_every=0.1, netns=None,
                 op_timeout=2.0, connect_timeout=0.5, error_pause=0.005, retry_pause=0.02):
        self.discover = discover
        self.n_threads = n_threads
        self.duration = duration
        self.max_writes = max_writes
        self.prefix = prefix
        self.node_of = node_of or (lambda a: "%s:%s" % a)
        self.epoch_fn = epoch_fn
        self.epoch_every = epoch_every
        self.netns = netns
        self.op_timeout = op_timeout
        self.connect_timeout = connect_timeout
        self.error_pause = error_pause
        self.retry_pause = retry_pause
        self.token = "%x" % random.getrandbits(32)
        self.lock = threading.Lock()
        self.writes = []
        self.errors = collections.Counter()
        self.stopping = threading.Event()
        self.threads = []
        self.t_start = None

    def start(self):
        self.t_start = time.monotonic()
        for t in range(self.n_threads):
            th = threading.Thread(target=self._thread, args=(t,), daemon=True,
                                  name="writer-%d" % t)
            th.start()
            self.threads.append(th)
        return self

    def stop(self, timeout=None):
        """Stops the threads and waits for them (at most timeout, default
        op_timeout + connect_timeout + 5 s); returns self."""
        self.stopping.set()
        return self.join(timeout)

    def join(self, timeout=None):
        limit = timeout if timeout is not None else self.op_timeout + self.connect_timeout + 5
        deadline = time.monotonic() + limit
        for th in self.threads:
            th.join(max(0.0, deadline - time.monotonic()))
        stuck = [th.name for th in self.threads if th.is_alive()]
        if stuck:
            raise AssertionError("writer threads did not stop: %s" % stuck)
        return self

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stopping.set()
        with contextlib.suppress(AssertionError):
            self.join()

    # -- the thread

    def _connect(self):
        for addr in _candidates(self.discover):
            try:
                conn = Resp(addr[0], addr[1], timeout=self.op_timeout,
                            connect_timeout=self.connect_timeout)
            except OSError:
                continue
            try:
                epoch = self.epoch_fn(conn) if self.epoch_fn else None
            except (OSError, ConnectionError, RespError):
                conn.close()
                continue
            return conn, (text(addr[0]), int(addr[1])), epoch
        return None, None, None

    def _thread(self, tid):
        with in_netns(self.netns):
            self._loop(tid)

    def _loop(self, tid):
        deadline = self.t_start + self.duration
        conn, addr, epoch, t_epoch = None, None, None, 0.0
        seq = 0
        while not self.stopping.is_set() and time.monotonic() < deadline and seq < self.max_writes:
            if conn is None:
                conn, addr, epoch = self._connect()
                t_epoch = time.monotonic()
                if conn is None:
                    self.errors["no primary"] += 1
                    time.sleep(self.retry_pause)
                    continue
            if self.epoch_fn and time.monotonic() - t_epoch > self.epoch_every:
                try:
                    epoch, t_epoch = self.epoch_fn(conn), time.monotonic()
                except (OSError, ConnectionError, RespError):
                    conn.close()
                    conn = None
                    continue
            key = "%s:%d:%d" % (self.prefix, tid, seq)
            value = "%s:%d:%d" % (self.token, tid, seq)
            seq += 1
            w = Write(key, value, self.node_of(addr), addr, epoch, time.monotonic())
            try:
                reply = conn.call("SET", key, value)
                w.status = "ok" if reply == "OK" else "unknown"
                if reply != "OK":
                    w.error = "reply %r" % (reply,)
            except RespError as e:
                w.status, w.error = classify_error(str(e)), str(e)
            except (OSError, ConnectionError) as e:
                w.status, w.error = "unknown", "%s: %s" % (type(e).__name__, e)
            w.t_complete = time.monotonic()
            with self.lock:
                self.writes.append(w)
            if w.status != "ok":
                self.errors[(w.error or "").split(" ", 1)[0]] += 1
                conn.close()
                conn = None
                time.sleep(self.error_pause)
        if conn is not None:
            conn.close()

    # -- results

    def snapshot(self):
        with self.lock:
            return list(self.writes)

    @property
    def acked(self):
        return [w for w in self.snapshot() if w.status == "ok"]

    @property
    def unknown(self):
        return [w for w in self.snapshot() if w.status == "unknown"]

    def wait_acked(self, count, timeout=10.0):
        """Until at least count writes are acknowledged."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(self.acked) >= count:
                return
            time.sleep(0.01)
        raise AssertionError("%d acknowledged writes within %ss, wanted %d (errors: %s)"
                             % (len(self.acked), timeout, count, dict(self.errors)))

    def first_ack_after(self, t, exclude_addr=None):
        """The first write invoked after monotonic time t and acknowledged by a
        node other than exclude_addr, or None."""
        best = None
        for w in self.snapshot():
            if w.status == "ok" and w.t_invoke >= t and w.addr != exclude_addr:
                if best is None or w.t_complete < best.t_complete:
                    best = w
        return best

    def summary(self):
        ws = self.snapshot()
        c = collections.Counter(w.status for w in ws)
        return "%d writes: %d acknowledged, %d refused, %d unknown; errors %s" % (
            len(ws), c["ok"], c["fail"], c["unknown"], dict(self.errors))


# ----------------------------------------------------------------- checkers

def _readonly(client):
    """READONLY on this connection (replicas serve reads only after it)."""
    with contextlib.suppress(Exception):
        client.execute_command("READONLY")


def sentinel_write(master, key, value, deadline, errors):
    """SET through a Sentinel-managed client, retrying what a failover makes
    fail; True once acknowledged, False when the outcome stayed unknown."""
    while time.monotonic() < deadline:
        try:
            return bool(master.set(key, value))
        except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError,
                redis.exceptions.ReadOnlyError) as e:
            errors[type(e).__name__] = errors.get(type(e).__name__, 0) + 1
            time.sleep(0.05)
        except redis.exceptions.ResponseError as e:
            if not str(e).startswith(("READONLY", "NOREPLICAS")):
                raise
            errors[str(e).split()[0]] = errors.get(str(e).split()[0], 0) + 1
            time.sleep(0.05)
    return False


def assert_keys_on(nodes, prefix, acked):
    """Every node holds "<prefix>:<k>" = "v<k>" for each k in acked (the
    Sentinel-client tests' writes)."""
    for nd in nodes:
        c = nd.resp()
        try:
            _readonly(c)
            vals = c.call("MGET", *["%s:%d" % (prefix, k) for k in acked])
        finally:
            c.close()
        missing = [k for k, v in zip(acked, vals) if v != b"v%d" % k]
        assert not missing, "%s lacks acknowledged keys %s" % (nd.id, missing[:10])


def wait_digests_equal(clients, timeout=30.0, labels=None):
    """Polls DEBUG DIGEST of every client until all agree; returns the digest.
    Raises AssertionError listing each node's last digest on timeout."""
    labels = labels or ["client%d" % i for i in range(len(clients))]
    for c in clients:
        _readonly(c)
    deadline = time.monotonic() + timeout
    while True:
        digests = []
        for c in clients:
            try:
                digests.append(text(c.execute_command("DEBUG", "DIGEST")))
            except Exception as e:  # noqa: BLE001 - reported below
                digests.append("error: %s" % e)
        if len(set(digests)) == 1 and not digests[0].startswith("error"):
            return digests[0]
        if time.monotonic() >= deadline:
            raise AssertionError("keyspaces did not converge within %ss: %s" % (
                timeout, ", ".join("%s=%s" % kv for kv in zip(labels, digests))))
        time.sleep(0.1)


def missing_acked(writes, client, batch=500):
    """The acknowledged writes whose key is absent from client or holds
    another value: [(write, found value)]."""
    acked = [w for w in writes if w.status == "ok"]
    _readonly(client)
    bad = []
    for i in range(0, len(acked), batch):
        chunk = acked[i:i + batch]
        values = client.execute_command("MGET", *[w.key for w in chunk])
        for w, v in zip(chunk, values):
            if text(v) != w.value:
                bad.append((w, text(v)))
    return bad


def check_acked(writes, clients, converge_timeout=30.0, labels=None):
    """Every acknowledged write in `writes` is present with its value on every
    client (the primary and the replicas to check), after their DEBUG DIGESTs
    agree. Raises AssertionError with counts and examples; returns
    {"acked": n, "unknown": n, "digest": d}."""
    labels = labels or ["client%d" % i for i in range(len(clients))]
    acked = [w for w in writes if w.status == "ok"]
    problems = []
    digest = None
    try:
        digest = wait_digests_equal(clients, converge_timeout, labels)
    except AssertionError as e:
        problems.append(str(e))
    for label, c in zip(labels, clients):
        bad = missing_acked(acked, c)
        if bad:
            missing = [w for w, v in bad if v is None]
            wrong = [(w, v) for w, v in bad if v is not None]
            problems.append("%s: %d of %d acknowledged writes missing, %d with another value; "
                            "e.g. missing %s; wrong %s" % (
                                label, len(missing), len(acked), len(wrong),
                                missing[:5], [(w.key, w.value, v) for w, v in wrong[:5]]))
    if problems:
        raise AssertionError("acknowledged writes check failed:\n  " + "\n  ".join(problems))
    return {"acked": len(acked), "unknown": sum(w.status == "unknown" for w in writes),
            "digest": digest}


def epoch_conflicts(writes):
    """{epoch: sorted node ids} for every epoch in which more than one node
    acknowledged writes (writes without an epoch are ignored)."""
    by_epoch = collections.defaultdict(set)
    for w in writes:
        if w.status == "ok" and w.epoch is not None:
            by_epoch[w.epoch].add(w.node)
    return {e: sorted(ns) for e, ns in by_epoch.items() if len(ns) > 1}


def check_one_primary_per_epoch(writes):
    bad = epoch_conflicts(writes)
    if bad:
        raise AssertionError("several primaries acknowledged writes in one epoch: %s" % bad)
    return sorted({w.epoch for w in writes if w.status == "ok" and w.epoch is not None})


# ----------------------------------------------------------------- linearizability of a register

class Op:
    """One operation on the register: kind "read" or "write"; value written
    or read; invoke/complete monotonic times; status "ok", "fail" (did not
    happen) or "unknown" (may have happened, at any time after invoke)."""

    __slots__ = ("process", "kind", "value", "invoke", "complete", "status")

    def __init__(self, process, kind, value=None, invoke=0.0, complete=None, status=None):
        self.process, self.kind, self.value = process, kind, value
        self.invoke, self.complete, self.status = invoke, complete, status

    def __repr__(self):
        v = "%s(%r)" % (self.kind, self.value)
        end = "..." if self.complete is None else "%.6f" % self.complete
        return "p%s %s [%.6f, %s] %s" % (self.process, v, self.invoke, end, self.status)


class History:
    """A thread-safe log of register operations."""

    def __init__(self):
        self.lock = threading.Lock()
        self.ops = []

    def invoke(self, process, kind, value=None):
        op = Op(process, kind, value, time.monotonic())
        with self.lock:
            self.ops.append(op)
        return op

    def complete(self, op, status, value=None):
        op.complete = time.monotonic()
        op.status = status
        if op.kind == "read" and status == "ok":
            op.value = value

    def snapshot(self):
        with self.lock:
            return list(self.ops)


class LinResult:
    """ok: True, False, or None (search budget exhausted: inconclusive)."""

    def __init__(self, ok, ops, steps, detail=""):
        self.ok, self.ops, self.steps, self.detail = ok, ops, steps, detail

    def __bool__(self):
        return self.ok is True

    def __repr__(self):
        return "LinResult(ok=%s, %d ops, %d steps%s)" % (
            self.ok, len(self.ops), self.steps, ": " + self.detail if self.detail else "")


def _prepare(ops):
    """The ops the search must place: ok reads; ok writes; unknown writes
    whose value some ok read returned (an unknown write nobody read can be
    taken as never having happened, which is always allowed)."""
    read_values = {op.value for op in ops if op.kind == "read" and op.status == "ok"}
    kept = []
    for op in ops:
        if op.status == "ok":
            if op.complete is None or op.complete < op.invoke:
                raise ValueError("ok op without a sane completion: %r" % (op,))
            kept.append(op)
        elif op.status in ("unknown", None) and op.kind == "write" and op.value in read_values:
            kept.append(op)
    return kept


def check_linearizable(ops, initial=None, max_steps=10_000_000):
    """Wing & Gong's search with Lowe's memoisation (WGL) over one register:
    can every op be placed at one instant inside its [invoke, complete]
    interval (unknown writes: anywhere after invoke, or nowhere) so that
    every read returns the last value written before it (initial at first)?
    Writes must write unique values. Ops touching at the same instant are
    taken as concurrent. Returns a LinResult."""
    ops = _prepare(ops)
    inf = float("inf")
    # Entries: 2k = call of op k, 2k+1 = its return; sorted by time, calls first on ties.
    times = []
    for k, op in enumerate(ops):
        end = op.complete if op.status == "ok" else inf
        times.append((op.invoke, 0, 2 * k))
        times.append((end, 1, 2 * k + 1))
    times.sort()
    order = [e for _, _, e in times]
    n_entries = len(order)
    head = n_entries  # sentinel
    nxt = [-1] * (n_entries + 1)
    prv = [-1] * (n_entries + 1)
    prev = head
    for e in order:
        nxt[prev], prv[e] = e, prev
        prev = e
    nxt[prev] = -1
    finite_left = sum(1 for op in ops if op.status == "ok")

    def lift(e):  # unlink call e and its return e+1
        for x in (e, e + 1):
            prv_x, nxt_x = prv[x], nxt[x]
            nxt[prv_x] = nxt_x
            if nxt_x != -1:
                prv[nxt_x] = prv_x

    def unlift(e):  # relink in reverse order of lift
        for x in (e + 1, e):
            nxt[prv[x]] = x
            if nxt[x] != -1:
                prv[nxt[x]] = x

    state, linearized, cache, stack = initial, 0, set(), []
    best_depth, best_block = -1, None
    entry = nxt[head]
    steps = 0
    while finite_left > 0:
        steps += 1
        if steps > max_steps:
            return LinResult(None, ops, steps, "search budget of %d steps exhausted" % max_steps)
        if entry == -1:  # cannot happen while finite returns remain; be safe
            is_return, op = True, None
        else:
            op = ops[entry >> 1]
            is_return = entry & 1
        if not is_return:
            k = entry >> 1
            if op.kind == "write":
                ok, new_state = True, op.value
            else:
                ok, new_state = state == op.value, state
            if ok:
                new_lin = linearized | (1 << k)
                if (new_lin, new_state) not in cache:
                    cache.add((new_lin, new_state))
                    stack.append((entry, state))
                    state, linearized = new_state, new_lin
                    if op.status == "ok":
                        finite_left -= 1
                    lift(entry)
                    entry = nxt[head]
                    continue
            entry = nxt[entry]
            continue
        # A return reached: its op cannot be placed before it. Backtrack.
        if len(stack) > best_depth and op is not None:
            best_depth, best_block = len(stack), (op, state)
        # A read placed where it was consistent need not be tried later: it
        # leaves the state alone, and every op that returned before its
        # invoke is already placed, so any order with it later works with it
        # here too. Pop past such reads to the last write.
        while stack:
            entry, state = stack.pop()
            k = entry >> 1
            linearized &= ~(1 << k)
            if ops[k].status == "ok":
                finite_left += 1
            unlift(entry)
            if ops[k].kind == "write":
                break
        else:
            break
        entry = nxt[entry]
    else:
        return LinResult(True, ops, steps)
    if best_block is None:
        return LinResult(False, ops, steps, "no op could be placed")
    op, st = best_block
    concurrent = [o for o in ops if o is not op and o.invoke <= (op.complete or inf)
                  and (o.complete if o.status == "ok" else inf) >= op.invoke]
    detail = ("no order places %r (after at best %d of %d ops, the register held %r); "
              "ops overlapping it: %s" % (op, best_depth, len(ops), st, concurrent[:8]))
    return LinResult(False, ops, steps, detail)


def assert_linearizable(ops, initial=None, max_steps=10_000_000):
    r = check_linearizable(ops, initial, max_steps)
    if r.ok is not True:
        raise AssertionError("register history (%d ops) is %s: %s" % (
            len(ops), "not linearizable" if r.ok is False else "undecided", r.detail))
    return r


class RegisterWorkload:
    """n client threads doing random GET/SET (unique values) on one key on
    the primary for `duration` seconds (at most max_ops each), recorded in a
    History for check_linearizable. A read refused or failed says nothing
    (fail); a write refused before execution is fail; any other write
    error or timeout is unknown. After an error a client rediscovers."""

    def __init__(self, discover, key="lin:reg", n_clients=3, duration=5.0, max_ops=20000,
                 read_ratio=0.5, netns=None, op_timeout=1.0, connect_timeout=0.5):
        self.discover, self.key = discover, key
        self.n_clients, self.duration, self.max_ops = n_clients, duration, max_ops
        self.read_ratio, self.netns = read_ratio, netns
        self.op_timeout, self.connect_timeout = op_timeout, connect_timeout
        self.history = History()
        self.stopping = threading.Event()
        self.threads = []
        self.token = "%x" % random.getrandbits(32)

    def start(self):
        self.t_end = time.monotonic() + self.duration
        for p in range(self.n_clients):
            th = threading.Thread(target=self._thread, args=(p,), daemon=True, name="reg-%d" % p)
            th.start()
            self.threads.append(th)
        return self

    def stop(self):
        self.stopping.set()
        deadline = time.monotonic() + self.op_timeout + self.connect_timeout + 5
        for th in self.threads:
            th.join(max(0.0, deadline - time.monotonic()))
        if any(th.is_alive() for th in self.threads):
            raise AssertionError("register clients did not stop")
        return self.history

    def _thread(self, p):
        with in_netns(self.netns):
            self._loop(p)

    def _connect(self):
        for addr in _candidates(self.discover):
            try:
                return Resp(addr[0], addr[1], timeout=self.op_timeout,
                            connect_timeout=self.connect_timeout)
            except OSError:
                continue
        return None

    def _loop(self, p):
        rnd = random.Random(p)
        conn, n = None, 0
        while not self.stopping.is_set() and time.monotonic() < self.t_end and n < self.max_ops:
            if conn is None:
                conn = self._connect()
                if conn is None:
                    time.sleep(0.02)
                    continue
            n += 1
            if rnd.random() < self.read_ratio:
                op = self.history.invoke(p, "read")
                args = ("GET", self.key)
            else:
                op = self.history.invoke(p, "write", "%s-%d-%d" % (self.token, p, n))
                args = ("SET", self.key, op.value)
            try:
                reply = conn.call(*args)
            except RespError as e:
                status = "fail" if op.kind == "read" else classify_error(str(e))
                self.history.complete(op, status)
            except (OSError, ConnectionError):
                self.history.complete(op, "fail" if op.kind == "read" else "unknown")
            else:
                if op.kind == "read":
                    self.history.complete(op, "ok", text(reply))
                else:
                    self.history.complete(op, "ok" if reply == "OK" else "unknown")
                continue
            conn.close()
            conn = None
            time.sleep(0.005)
        if conn is not None:
            conn.close()


# ----------------------------------------------------------------- pytest fixtures
# Import them by name into a test module, with the fixtures they depend on:
#   from ha import ha_tmpdir, ha_ensemble, ha_group  # noqa: F401

@pytest.fixture
def ha_tmpdir():
    d = tempfile.mkdtemp(prefix="halo-ha-")
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def ha_ensemble(ha_tmpdir):
    """A 3-member ZooKeeper ensemble on loopback."""
    ens = Ensemble(ha_tmpdir, 3)
    try:
        yield ens.start()
    finally:
        ens.stop()


@pytest.fixture
def ha_group(ha_tmpdir, ha_ensemble):
    """A started 3-node group on loopback (skips if halo has no replicated mode)."""
    require_replication()
    g = Group(ha_tmpdir, ha_ensemble.connstr)
    try:
        yield g.start()
    finally:
        g.stop()


@pytest.fixture
def ha_topology():
    """3 node namespaces and a hub (skips if namespaces are unavailable)."""
    require_netns()
    topo = Topology(3)
    try:
        yield topo
    finally:
        topo.close()


@pytest.fixture
def ha_netns_group(ha_tmpdir, ha_topology):
    """(topology, ensemble, group): ZooKeeper in the hub on ZK_IP, node i in
    namespace i. Faults through the topology; clients through group helpers
    (they enter the hub) or inside topo.hub_net()."""
    require_replication()
    ens = Ensemble(ha_tmpdir, 3, bind=ha_topology.zk_ip, netns=ha_topology.hub)
    g = None
    try:
        ens.start()
        g = Group(ha_tmpdir, ens.connstr, topology=ha_topology)
        yield ha_topology, ens, g.start()
    finally:
        if g:
            g.stop()
        ens.stop()


# ----------------------------------------------------------------- shared fixtures
# Test modules use them by importing them (`from ha import zk, group`): pytest
# finds fixtures in a test module's namespace.

# Short timeouts keep failover (about one session timeout) and ISR shrinks fast.
SESSION_MS = 1000
REPL_TIMEOUT_MS = 500
FAST = ["--repl-session-timeout", str(SESSION_MS), "--repl-timeout", str(REPL_TIMEOUT_MS)]


@contextlib.contextmanager
def healthy_group(connstr, extra, prefix="halo-hag-", setup=None, n=3):
    """A started, healthy group of n nodes with fresh data directories; on exit it
    is stopped, its temp dir removed, and any sanitizer report in the nodes'
    logs fails the test. Each node's state and log tail is printed (pytest
    shows it only when the test failed). setup(g) runs before the start (to
    add node arguments)."""
    d = tempfile.mkdtemp(prefix=prefix)
    g = Group(d, connstr, n=n, extra=extra)
    if setup is not None:
        setup(g)
    try:
        g.start()
        g.wait_healthy(30)
        yield g
    finally:
        print(g.describe())
        g.stop()
        reports = g.sanitizer_reports()
        shutil.rmtree(d, ignore_errors=True)
    assert not reports, "sanitizer reports in node logs:\n%s" % reports


@pytest.fixture(scope="module")
def zk():
    """One 3-member ZooKeeper ensemble for the module; every group gets its own cluster root."""
    require_replication()
    d = tempfile.mkdtemp(prefix="halo-hazk-")
    ens = Ensemble(d, 3)
    try:
        yield ens.start()
    finally:
        ens.stop()
        shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def group(zk):
    """A started, healthy 3-node group with FAST timeouts."""
    with healthy_group(zk.connstr, FAST) as g:
        yield g


def info(node, timeout=0.5):
    """INFO replication of node as a dict ({} when it does not answer)."""
    r = ask(node.addr, "INFO", "replication", timeout=timeout, netns=node.netns)
    return parse_info(r) if r is not None else {}


def primary_only_epoch(conn):
    """Writers' epoch_fn: the epoch of a node that is primary now (a writer
    does not write to a node that has not taken the role yet, so no write is
    recorded with an epoch older than the one it was acknowledged in)."""
    fields = parse_info(conn.call("INFO", "replication"))
    if fields.get("halo_role") != "primary":
        raise RespError("not a primary: %s" % fields.get("halo_role"))
    return int(fields["halo_epoch"])
