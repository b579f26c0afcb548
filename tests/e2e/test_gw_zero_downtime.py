"""End-to-end tests of `halo gw` operations without downtime: 20 configuration
reloads (SIGHUP and POST /reload) and a process replacement (--takeover) under
continuous client load, with zero failed requests; an invalid reload rejected
while the old configuration serves on; the admin port's /metrics (Prometheus
text), /status (JSON), /healthz and POST /drain. Real `halo gw` processes,
real backends (gw_backend.py), real clients (http.client), loopback only."""
import http.client
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time

import pytest

from conftest import HALO_BIN, Process, free_port
from gw_backend import Backend

RELOADS = 20
LOAD_SECONDS_MAX = 90          # the load threads stop by themselves after this
LOAD_REQUESTS_MAX = 20000      # ... or after this many requests each


# ---- processes ----

class Gw(Process):
    """One `halo gw` process; its log goes to its own file."""

    def __init__(self, d, name, cfg_path, args):
        self.logpath = os.path.join(d, name + ".log")
        self.log = open(self.logpath, "ab")
        self.proc = subprocess.Popen([HALO_BIN, "gw", "-c", cfg_path] + args,
                                     stdout=self.log, stderr=subprocess.STDOUT)

    def wait_log(self, text, count=1, timeout=15.0):
        return Process.wait_log(self, text, timeout=timeout, count=count)

    def wait(self, timeout):
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


@pytest.fixture
def ops():
    """A temp dir, two backends, free ports; every process started is stopped
    (by its own handle) and the temp dir removed, even on failure."""
    d = tempfile.mkdtemp(prefix="halo-gw-zd-")
    backends = [Backend("a").start(), Backend("b").start()]
    gws = []

    class Ops:
        dir = d
        port = free_port()
        admin_port = free_port()
        cfg_path = os.path.join(d, "gw.yaml")
        sock = os.path.join(d, "gw.sock")

        def write(self, weight=1, broken=False, retry=True):
            text = config_text(self.port, self.admin_port, backends, weight, broken, retry)
            tmp = self.cfg_path + ".tmp"
            with open(tmp, "w") as f:
                f.write(text)
            os.replace(tmp, self.cfg_path)  # a reload never reads a half-written file

        def gateway(self, name, args=()):
            g = Gw(d, name, self.cfg_path, list(args))
            gws.append(g)
            return g

    yield Ops()
    for g in gws:
        g.kill()
    for b in backends:
        b.stop()
    shutil.rmtree(d, ignore_errors=True)


def config_text(port, admin_port, backends, weight, broken, retry):
    # broken: "workers: many" on line 2, column 10 -> "gw.yaml:2:10: ..."
    return """# halo gw zero-downtime test
workers: %s
admin: 127.0.0.1:%d
drain_timeout: 10s
listeners:
  - name: public
    address: 127.0.0.1:%d
clusters:
  - name: app
    health_check: { type: http, path: /health, interval: 200ms, timeout: 150ms }
    endpoints:
      - { address: 127.0.0.1:%d, weight: %d }
      - 127.0.0.1:%d
routes:
  - cluster: app
%s""" % ("many" if broken else "2", admin_port, port, backends[0].port, weight,
         backends[1].port, "    retry: { max: 1 }\n" if retry else "")


def admin(ops, method, path, timeout=5):
    c = http.client.HTTPConnection("127.0.0.1", ops.admin_port, timeout=timeout)
    try:
        c.request(method, path)
        r = c.getresponse()
        return r.status, r.getheader("Content-Type", ""), r.read().decode()
    finally:
        c.close()


def wait_ready(g, timeout=15.0):
    g.wait_log("ready:", timeout=timeout)


# ---- the client load ----

class Load:
    """Threads sending GET requests until stopped (bounded in time and count):
    some open a new connection per request, some keep one connection alive.
    A failure is any request that does not end with a 200 from a backend.
    The keep-alive clients do what every HTTP client (curl, urllib3, browsers)
    does and RFC 9112 section 9.3.1 allows: a request on a reused connection
    that the server closed before sending any response byte is sent once more
    on a new connection. Those are counted as stale retries, not failures."""

    def __init__(self, port, fresh=3, keepalive=3):
        self.port = port
        self.stop_ev = threading.Event()
        self.lock = threading.Lock()
        self.ok = 0
        self.errors = []
        self.stale_retries = 0
        self.threads = [threading.Thread(target=self._fresh, daemon=True) for _ in range(fresh)]
        self.threads += [threading.Thread(target=self._keepalive, daemon=True)
                         for _ in range(keepalive)]
        self.deadline = time.time() + LOAD_SECONDS_MAX

    def start(self):
        for t in self.threads:
            t.start()
        return self

    def stop(self):
        self.stop_ev.set()
        for t in self.threads:
            t.join(timeout=30)
        assert not any(t.is_alive() for t in self.threads), "a load thread hung"

    def _running(self, n):
        return not self.stop_ev.is_set() and n < LOAD_REQUESTS_MAX and time.time() < self.deadline

    def _record(self, err):
        with self.lock:
            if err is None:
                self.ok += 1
            else:
                self.errors.append("%.3f %s" % (time.time(), err))

    def count(self):
        with self.lock:
            return self.ok, len(self.errors)

    def _fresh(self):
        n = 0
        while self._running(n):
            n += 1
            c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
            try:
                c.request("GET", "/fresh/%d" % n)
                r = c.getresponse()
                body = r.read()
                self._record(None if r.status == 200 and body.endswith(b"\n")
                             else "fresh: status %d %r" % (r.status, body[:80]))
            except Exception as e:  # noqa: BLE001 - every failure counts
                self._record("fresh: %r" % e)
            finally:
                c.close()

    def _keepalive(self):
        holder, n = [None], 0
        while self._running(n):
            n += 1
            self._record(self._keepalive_one(holder, n))
        if holder[0]:
            holder[0].close()

    def _keepalive_one(self, holder, n):
        for _ in range(2):
            reused = holder[0] is not None
            if holder[0] is None:
                holder[0] = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
            c = holder[0]
            try:
                c.request("GET", "/ka/%d" % n)
                r = c.getresponse()
                body = r.read()
                if r.will_close:
                    c.close()
                    holder[0] = None
                return None if r.status == 200 else "keep-alive: status %d %r" % (r.status,
                                                                                 body[:80])
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError) as e:
                c.close()
                holder[0] = None
                if not reused:
                    return "keep-alive: new connection: %r" % e
                with self.lock:
                    self.stale_retries += 1
            except Exception as e:  # noqa: BLE001
                c.close()
                holder[0] = None
                return "keep-alive: %r" % e
        return "keep-alive: failed twice"


def wait_progress(load, more, timeout=10.0):
    """Wait until the load has completed `more` further requests."""
    start = load.count()[0]
    deadline = time.time() + timeout
    while time.time() < deadline:
        if load.count()[0] >= start + more:
            return
        time.sleep(0.02)
    raise AssertionError("the load made no progress: %s" % (load.errors[:5],))


# ---- Prometheus text format ----

SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$')
LABEL = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*(,|$)')


def parse_prometheus(text):
    """Parse exposition format 0.0.4 strictly; returns {(name, labels): value}
    and {family: type}. Raises on any malformed line."""
    samples, types = {}, {}
    assert text.endswith("\n")
    for line in text.splitlines():
        if line.startswith("# HELP "):
            assert len(line.split(" ", 3)) == 4, line
            continue
        if line.startswith("# TYPE "):
            _, _, name, typ = line.split(" ")
            assert typ in ("counter", "gauge", "histogram", "summary", "untyped"), line
            assert name not in types, "family %s declared twice" % name
            types[name] = typ
            continue
        assert line and not line.startswith("#"), "unexpected line %r" % line
        m = SAMPLE.match(line)
        assert m, "malformed sample %r" % line
        name, labels, value = m.group(1), m.group(3) or "", m.group(4)
        pairs, pos = [], 0
        while pos < len(labels):
            lm = LABEL.match(labels, pos)
            assert lm, "malformed labels in %r" % line
            pairs.append((lm.group(1), lm.group(2)))
            pos = lm.end()
        family = re.sub(r'_(bucket|sum|count)$', '', name)
        assert name in types or family in types, "sample %s before its TYPE" % name
        key = (name, tuple(sorted(pairs)))
        assert key not in samples, "duplicate sample %r" % line
        samples[key] = float(value)
    return samples, types


def metric_sum(samples, name, **labels):
    return sum(v for (n, ls), v in samples.items()
               if n == name and all((k, val) in ls for k, val in labels.items()))


# ---- tests ----

def test_reloads_and_takeover_lose_no_request(ops):
    ops.write(weight=1)
    old = ops.gateway("old", ["--handover", ops.sock])
    wait_ready(old)
    old.wait_log("a successor may take over")
    load = Load(ops.port).start()
    try:
        wait_progress(load, 50)
        # 20 reloads of a changing configuration, alternating SIGHUP and POST /reload
        for i in range(RELOADS):
            ops.write(weight=1 + i % 5, retry=i % 3 != 0)
            if i % 2 == 0:
                old.proc.send_signal(signal.SIGHUP)
                old.wait_log("configuration reloaded", count=i + 1)
            else:
                st, _, body = admin(ops, "POST", "/reload")
                assert (st, body) == (200, "reloaded\n")
            wait_progress(load, 20)

        # an invalid configuration is refused with file:line:col; the old one serves on
        ops.write(broken=True)
        st, _, body = admin(ops, "POST", "/reload")
        assert st == 400
        assert re.search(r"gw\.yaml:2:10: ", body), body
        old.proc.send_signal(signal.SIGHUP)
        old.wait_log("reload failed, still serving the previous configuration")
        assert re.search(r"reload failed, still serving the previous configuration: "
                         r"\S*gw\.yaml:2:10: ", old.read_log())
        wait_progress(load, 50)
        samples, _ = parse_prometheus(admin(ops, "GET", "/metrics")[2])
        assert metric_sum(samples, "halo_gw_config_reloads_total", result="ok") == RELOADS
        assert metric_sum(samples, "halo_gw_config_reloads_total", result="failed") == 2
        ops.write(weight=2)

        # process replacement: the new process takes the sockets over, the old drains
        new = ops.gateway("new", ["--takeover", ops.sock])
        new.wait_log("hand-over: the old process confirmed and drains")
        assert old.wait(timeout=30) == 0, old.read_log()[-4000:]
        old.log.close()
        assert "taken over by a new process" in old.read_log()
        wait_progress(load, 200)
        st, _, body = admin(ops, "GET", "/status")   # the admin port moved too
        assert st == 200
        assert json.loads(body)["clusters"][0]["name"] == "app"
    finally:
        load.stop()
    assert load.errors == [], "%d failed requests, first: %s" % (len(load.errors),
                                                                 load.errors[:10])
    print("requests ok: %d, stale keep-alive retries: %d" % (load.ok, load.stale_retries))
    assert load.ok >= 50 + RELOADS * 20 + 50 + 200, load.ok  # what wait_progress waited for
    new.proc.send_signal(signal.SIGTERM)
    assert new.wait(timeout=30) == 0, new.read_log()[-4000:]


def test_admin_metrics_status_healthz_and_drain(ops):
    ops.write()
    g = ops.gateway("gw")
    wait_ready(g)
    g.wait_log("admin: ")
    st, ctype, text = admin(ops, "GET", "/metrics")
    assert st == 200 and ctype.startswith("text/plain; version=0.0.4")
    before, types = parse_prometheus(text)
    assert types["halo_gw_downstream_requests_total"] == "counter"
    assert types["halo_gw_config_reloads_total"] == "counter"

    n = 25
    for i in range(n):
        c = http.client.HTTPConnection("127.0.0.1", ops.port, timeout=10)
        c.request("GET", "/m/%d" % i)
        r = c.getresponse()
        r.read()
        c.close()
        assert r.status == 200
    after, _ = parse_prometheus(admin(ops, "GET", "/metrics")[2])
    for name in ("halo_gw_downstream_requests_total", "halo_gw_route_requests_total",
                 "halo_gw_cluster_requests_total", "halo_gw_endpoint_requests_total",
                 "halo_gw_route_request_duration_seconds_count",
                 "halo_gw_cluster_response_head_duration_seconds_count",
                 "halo_gw_endpoint_response_head_duration_seconds_count"):
        assert metric_sum(after, name) - metric_sum(before, name) >= n, name
    assert metric_sum(after, "halo_gw_admin_requests_total") > \
        metric_sum(before, "halo_gw_admin_requests_total")

    # a reload is counted; per-route counters live in the configuration
    # snapshot and restart (a counter reset), process-wide ones do not
    st, _, body = admin(ops, "POST", "/reload")
    assert (st, body) == (200, "reloaded\n")
    reloaded, _ = parse_prometheus(admin(ops, "GET", "/metrics")[2])
    assert metric_sum(reloaded, "halo_gw_config_reloads_total", result="ok") == 1
    assert metric_sum(reloaded, "halo_gw_config_last_reload_timestamp_seconds") > 0
    assert metric_sum(reloaded, "halo_gw_route_requests_total") == 0
    assert metric_sum(reloaded, "halo_gw_downstream_requests_total") == \
        metric_sum(after, "halo_gw_downstream_requests_total")

    st, ctype, body = admin(ops, "GET", "/status")
    assert st == 200 and "json" in ctype
    status = json.loads(body)
    assert isinstance(status, dict)
    [cluster] = status["clusters"]
    assert cluster["name"] == "app" and len(cluster["endpoints"]) == 2

    assert admin(ops, "GET", "/healthz")[::2] == (200, "ok\n")
    assert admin(ops, "GET", "/nope")[0] == 404
    assert admin(ops, "POST", "/drain")[::2] == (202, "draining\n")
    rc = g.wait(timeout=15)
    assert rc == 0, g.read_log()[-4000:]
    assert "POST /drain: no longer accepting" in g.read_log()
