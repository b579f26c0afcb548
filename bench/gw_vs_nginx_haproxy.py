#!/usr/bin/python3
"""gw_vs_nginx_haproxy.py — halo gw against Debian's nginx and haproxy as reverse proxies.

One fixed backend (Debian's nginx, one worker, `return 200 "ok\\n"`, keep-alive) on a
loopback port; in front of it three proxies with matched settings: keep-alive on both
sides, a keep-alive upstream pool, the same worker/thread count N, no access log, and
X-Forwarded-For/-Proto added by each (halo gw always adds them). wrk drives each proxy in
turn, the order alternating every round, and the script prints a markdown table of
median requests/s, p50 and p99 latency, and the ratios halo/nginx and halo/haproxy.
Per-round numbers go to stderr.

Usage: bench/gw_vs_nginx_haproxy.py [--rounds 3] [--duration 10] [--workers 1]
                                    [--only halo,nginx,haproxy[,direct]] [--quick]
                                    [--halo build-release/halo] [--wrk-threads 1]
                                    [--connections 50] [--pin]
"""
import argparse
import http.client
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
PROXIES = ("halo", "nginx", "haproxy", "direct")  # direct = wrk straight at the backend
BODY = b"ok\n"
START_TIMEOUT_S = 15


class BenchError(Exception):
    """A failure the user can act on; printed without a traceback."""


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tail(path, nbytes=2000):
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - nbytes))
            return f.read().decode(errors="replace").strip()
    except OSError:
        return ""


def get_once(port, timeout=1.0):
    """One GET / on 127.0.0.1:port; returns (status, body) or raises OSError."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", "/", headers={"Host": "bench.local"})
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


# ---------------------------------------------------------------- configurations

def nginx_user_line():
    # As root, nginx would run its workers as nobody, who cannot read a 0700 temp dir.
    return "user root root;\n" if os.geteuid() == 0 else ""


def nginx_common(prefix, workers):
    return (
        nginx_user_line()
        + "worker_processes %d;\n" % workers
        + "pid %s/nginx.pid;\n" % prefix
        + "error_log %s/error.log warn;\n" % prefix
        + "events { worker_connections 4096; }\n"
    )


def nginx_temp_paths(prefix):
    return "".join("    %s_temp_path %s/%s_temp;\n" % (t, prefix, t)
                   for t in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))


def backend_conf(prefix, port):
    return nginx_common(prefix, 1) + (
        "http {\n"
        "    access_log off;\n"
        + nginx_temp_paths(prefix)
        + "    keepalive_timeout 120s;\n"
        "    keepalive_requests 10000000;\n"
        "    server {\n"
        "        listen 127.0.0.1:%d backlog=4096;\n"
        "        location / { default_type text/plain; return 200 \"ok\\n\"; }\n"
        "    }\n"
        "}\n" % port)


def nginx_proxy_conf(prefix, port, backend_port, workers):
    return nginx_common(prefix, workers) + (
        "http {\n"
        "    access_log off;\n"
        + nginx_temp_paths(prefix)
        + "    keepalive_timeout 120s;\n"
        "    keepalive_requests 10000000;\n"
        "    upstream backend {\n"
        "        server 127.0.0.1:%d;\n"
        "        keepalive 64;\n"
        "        keepalive_requests 10000000;\n"
        "        keepalive_timeout 120s;\n"
        "    }\n"
        "    server {\n"
        "        listen 127.0.0.1:%d backlog=4096;\n"
        "        location / {\n"
        "            proxy_pass http://backend;\n"
        "            proxy_http_version 1.1;\n"
        "            proxy_set_header Connection \"\";\n"
        "            proxy_set_header Host $host;\n"
        "            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;\n"
        "            proxy_set_header X-Forwarded-Proto $scheme;\n"
        "            proxy_connect_timeout 1s;\n"
        "            proxy_read_timeout 15s;\n"
        "        }\n"
        "    }\n"
        "}\n" % (backend_port, port))


def haproxy_conf(prefix, port, backend_port, workers):
    return (
        "global\n"
        "    nbthread %d\n"
        "    maxconn 4096\n"
        "    pidfile %s/haproxy.pid\n"
        "defaults\n"
        "    mode http\n"
        "    no log\n"
        "    option http-keep-alive\n"
        "    option forwardfor\n"
        "    http-reuse always\n"
        "    timeout connect 1s\n"
        "    timeout client 60s\n"
        "    timeout server 15s\n"
        "    timeout http-request 10s\n"
        "    timeout http-keep-alive 60s\n"
        "frontend fe\n"
        "    bind 127.0.0.1:%d\n"
        "    http-request set-header X-Forwarded-Proto http\n"
        "    default_backend be\n"
        "backend be\n"
        "    server s1 127.0.0.1:%d\n" % (workers, prefix, port, backend_port))


def halo_conf(port, backend_port, workers):
    """halo gw YAML; key names follow src/gw/gw_config.h (see docs/gw-config.md)."""
    return (
        "workers: %d\n"
        "access_log: off\n"
        "listeners:\n"
        "  - name: bench\n"
        "    address: 127.0.0.1:%d\n"
        "routes:\n"
        "  - match: { path_prefix: / }\n"
        "    cluster: backend\n"
        "clusters:\n"
        "  - name: backend\n"
        "    lb: round_robin\n"
        "    endpoints:\n"
        "      - address: 127.0.0.1:%d\n"
        "    pool:\n"
        "      max_connections: 128\n"
        "      idle_timeout: 30s\n" % (workers, port, backend_port))


# ---------------------------------------------------------------- processes

class Server:
    """One process with its own directory, config and log; started and stopped by PID."""

    def __init__(self, name, workdir, pin_cpu=None):
        self.name = name
        self.dir = os.path.join(workdir, name)
        os.makedirs(self.dir)
        self.port = free_port()
        self.log = os.path.join(self.dir, "output.log")
        self.pin_cpu = pin_cpu
        self.proc = None
        self.logf = None

    def write(self, filename, text):
        path = os.path.join(self.dir, filename)
        with open(path, "w") as f:
            f.write(text)
        return path

    def start(self, cmd):
        if self.pin_cpu is not None:
            cmd = ["taskset", "-c", str(self.pin_cpu)] + cmd
        self.logf = open(self.log, "wb")
        # Own session: a terminal Ctrl-C reaches only this script, which then stops
        # everything in order; the process group lets stop() reach nginx's workers too.
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=self.logf,
                                     stderr=subprocess.STDOUT, start_new_session=True)

    def wait_ok(self):
        """Wait until GET / answers 200 "ok\\n"; raise BenchError with the log otherwise."""
        deadline = time.monotonic() + START_TIMEOUT_S
        last = "no answer"
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise BenchError("%s failed to start (exit code %d):\n%s"
                                 % (self.name, self.proc.returncode, self.log_tail()))
            try:
                status, body = get_once(self.port)
                if status == 200 and body == BODY:
                    return
                last = "answered %d %r" % (status, body[:80])
            except (OSError, http.client.HTTPException) as e:
                last = str(e)
            time.sleep(0.05)
        raise BenchError("%s did not answer 200 %r on port %d within %d s (%s):\n%s"
                         % (self.name, BODY, self.port, START_TIMEOUT_S, last, self.log_tail()))

    def log_tail(self):
        parts = [tail(self.log)]
        err = os.path.join(self.dir, "error.log")
        if os.path.exists(err):
            parts.append(tail(err))
        return "\n".join(p for p in parts if p) or "(no output)"

    def stop(self):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            try:
                self.proc.send_signal(signal.SIGTERM)
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                pass
        # Whatever survived in the process group (nginx workers, say) is ours: kill it.
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            pass
        self.proc = None
        if self.logf:
            self.logf.close()
            self.logf = None


def start_backend(workdir, pin_cpu):
    s = Server("backend", workdir, pin_cpu)
    conf = s.write("nginx.conf", backend_conf(s.dir, s.port))
    s.start(["/usr/sbin/nginx", "-p", s.dir, "-c", conf, "-g", "daemon off;"])
    return s


def start_proxy(kind, args, workdir, backend):
    s = Server(kind, workdir, args.proxy_cpu)
    if kind == "nginx":
        conf = s.write("nginx.conf", nginx_proxy_conf(s.dir, s.port, backend.port, args.workers))
        s.start([args.nginx, "-p", s.dir, "-c", conf, "-g", "daemon off;"])
    elif kind == "haproxy":
        conf = s.write("haproxy.cfg", haproxy_conf(s.dir, s.port, backend.port, args.workers))
        s.start([args.haproxy, "-f", conf, "-db"])
    elif kind == "halo":
        if args.halo_config:
            with open(args.halo_config) as f:
                text = f.read().replace("{PORT}", str(s.port)).replace(
                    "{BACKEND_PORT}", str(backend.port)).replace("{WORKERS}", str(args.workers))
        else:
            text = halo_conf(s.port, backend.port, args.workers)
        conf = s.write("gw.yaml", text)
        check_halo_config(args.halo, conf)
        s.start([args.halo, "gw", "-c", conf])
    return s


def check_halo_config(binary, conf):
    if not os.access(binary, os.X_OK):
        raise BenchError("halo binary %s not found; build it (cmake --build build-release) or "
                         "pass --halo, or leave it out with --only nginx,haproxy" % binary)
    try:
        r = subprocess.run([binary, "gw", "-t", "-c", conf], capture_output=True, timeout=20)
    except subprocess.TimeoutExpired:
        raise BenchError("`halo gw -t -c %s` did not finish within 20 s" % conf)
    if r.returncode != 0:
        out = (r.stdout + r.stderr).decode(errors="replace").strip()
        raise BenchError("halo gw rejected or could not check its config (exit code %d):\n%s\n"
                         "config was:\n%s\n(to run the peers alone: --only nginx,haproxy)"
                         % (r.returncode, out, open(conf).read()))


# ---------------------------------------------------------------- wrk

UNITS_US = {"us": 1.0, "ms": 1e3, "s": 1e6, "m": 60e6, "h": 3600e6}


def to_us(text):
    m = re.fullmatch(r"([0-9.]+)(us|ms|s|m|h)", text)
    if not m:
        raise ValueError("unknown latency %r" % text)
    return float(m.group(1)) * UNITS_US[m.group(2)]


def parse_wrk(out):
    """Requests/s, p50/p99 in microseconds, and error counts from `wrk --latency` output."""
    res = {"errors": 0, "non2xx": 0}
    m = re.search(r"^Requests/sec:\s+([0-9.]+)", out, re.M)
    if not m:
        raise BenchError("no Requests/sec in wrk output:\n" + out)
    res["rps"] = float(m.group(1))
    for pct in ("50", "99"):
        m = re.search(r"^\s+%s(?:\.0+)?%%\s+(\S+)" % pct, out, re.M)
        if not m:
            raise BenchError("no %s%% latency in wrk output (--latency missing?):\n%s" % (pct, out))
        res["p" + pct] = to_us(m.group(1))
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if m:
        res["errors"] = sum(int(g) for g in m.groups())
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if m:
        res["non2xx"] = int(m.group(1))
    return res


def run_wrk(args, port, duration):
    cmd = ["wrk", "-t%d" % args.wrk_threads, "-c%d" % args.connections, "-d%ds" % duration,
           "--latency", "http://127.0.0.1:%d/" % port]
    if args.wrk_cpu is not None:
        cmd = ["taskset", "-c", str(args.wrk_cpu)] + cmd
    try:
        r = subprocess.run(cmd, capture_output=True, timeout=duration + 30)
    except subprocess.TimeoutExpired:
        raise BenchError("wrk did not finish within %d s" % (duration + 30))
    if r.returncode != 0:
        raise BenchError("wrk failed (exit code %d): %s" % (r.returncode, r.stderr.decode(errors="replace")))
    return parse_wrk(r.stdout.decode(errors="replace"))


# ---------------------------------------------------------------- report

def fmt_us(us):
    return "%.0f µs" % us if us < 1000 else "%.2f ms" % (us / 1000)


def summarize(results, kinds):
    med = {}
    for k in kinds:
        rs = results[k]
        med[k] = {key: statistics.median(r[key] for r in rs) for key in ("rps", "p50", "p99")}
        med[k]["errors"] = sum(r["errors"] + r["non2xx"] for r in rs)
    return med


def print_table(med, kinds, args):
    print("\n| proxy | req/s (median) | p50 | p99 | errors |")
    print("|---|---:|---:|---:|---:|")
    for k in kinds:
        m = med[k]
        label = "none (wrk → backend)" if k == "direct" else k
        print("| %s | %.0f | %s | %s | %d |" % (label, m["rps"], fmt_us(m["p50"]), fmt_us(m["p99"]),
                                                m["errors"]))
    if "halo" in med:
        peers = [p for p in ("nginx", "haproxy") if p in med]
        if peers:
            print("\n| ratio | throughput (≥ 1.0 is better) | p99 (≤ 1.0 is better) |")
            print("|---|---:|---:|")
            for p in peers:
                print("| halo/%s | %.2f | %.2f |" % (p, med["halo"]["rps"] / med[p]["rps"],
                                                    med["halo"]["p99"] / med[p]["p99"]))
    print("\nrounds=%d, wrk -t%d -c%d -d%ds --latency, %d worker(s)/thread(s) per proxy, "
          "backend: nginx 1 worker return 200; medians over rounds; errors = socket errors + "
          "non-2xx summed over rounds"
          % (args.rounds, args.wrk_threads, args.connections, args.duration, args.workers))


# ---------------------------------------------------------------- main

def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[1],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--duration", type=int, default=10, help="seconds per wrk run")
    ap.add_argument("--warmup", type=int, default=2, help="seconds of wrk per proxy before round 1")
    ap.add_argument("--workers", type=int, default=1,
                    help="worker processes/threads for every proxy (the same N for all)")
    ap.add_argument("--wrk-threads", type=int, default=1)
    ap.add_argument("--connections", type=int, default=50)
    ap.add_argument("--only", default="halo,nginx,haproxy",
                    help="comma list from halo,nginx,haproxy,direct (direct: wrk to the backend)")
    ap.add_argument("--halo", default=os.path.join(ROOT, "build-release", "halo"))
    ap.add_argument("--halo-config", help="YAML template for halo gw instead of the built-in one; "
                    "{PORT}, {BACKEND_PORT} and {WORKERS} are substituted")
    ap.add_argument("--nginx", default="/usr/sbin/nginx")
    ap.add_argument("--haproxy", default="/usr/sbin/haproxy")
    ap.add_argument("--pin", action="store_true",
                    help="pin proxies to CPU 0 and the backend and wrk to the last CPU")
    ap.add_argument("--quick", action="store_true", help="1 round of 3 s, 1 s warm-up (smoke run)")
    ap.add_argument("--keep", action="store_true", help="keep the temp dir (configs and logs)")
    args = ap.parse_args()
    if args.quick:
        args.rounds, args.duration, args.warmup = 1, 3, 1
    kinds = [k.strip() for k in args.only.split(",") if k.strip()]
    bad = [k for k in kinds if k not in PROXIES]
    if bad or not kinds or len(set(kinds)) != len(kinds):
        ap.error("--only takes distinct names from %s" % ",".join(PROXIES))
    if min(args.rounds, args.duration, args.workers, args.wrk_threads, args.connections) < 1:
        ap.error("--rounds, --duration, --workers, --wrk-threads and --connections must be >= 1")
    last = (os.cpu_count() or 1) - 1
    args.proxy_cpu = 0 if args.pin else None
    args.wrk_cpu = last if args.pin else None
    args.backend_cpu = last if args.pin else None
    return args, kinds


def on_sigterm(signum, frame):
    raise KeyboardInterrupt


def bench(args, kinds, work):
    servers = {}
    try:
        servers["backend"] = start_backend(work, args.backend_cpu)
        servers["backend"].wait_ok()
        for k in kinds:
            if k == "direct":
                continue
            servers[k] = start_proxy(k, args, work, servers["backend"])
            servers[k].wait_ok()
            print("%s answers 200 on port %d" % (k, servers[k].port), file=sys.stderr, flush=True)
        port = {k: servers["backend" if k == "direct" else k].port for k in kinds}
        if args.warmup > 0:
            for k in kinds:
                run_wrk(args, port[k], args.warmup)
        results = {k: [] for k in kinds}
        for rnd in range(args.rounds):
            # Alternate: forward order on even rounds, reversed on odd ones.
            order = kinds if rnd % 2 == 0 else kinds[::-1]
            for k in order:
                r = run_wrk(args, port[k], args.duration)
                results[k].append(r)
                print("round %d  %-8s %10.0f req/s  p50 %-9s p99 %-9s errors %d non-2xx %d"
                      % (rnd + 1, k, r["rps"], fmt_us(r["p50"]), fmt_us(r["p99"]), r["errors"],
                         r["non2xx"]), file=sys.stderr, flush=True)
            for name, s in servers.items():
                if s.proc.poll() is not None:
                    raise BenchError("%s exited during the run (exit code %d):\n%s"
                                     % (name, s.proc.returncode, s.log_tail()))
        return results
    finally:
        # A second Ctrl-C must not cut the clean-up short.
        old = signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        for s in servers.values():
            s.stop()
        signal.signal(signal.SIGINT, old)
        signal.signal(signal.SIGTERM, on_sigterm)


def main():
    args, kinds = parse_args()
    signal.signal(signal.SIGTERM, on_sigterm)
    work = tempfile.mkdtemp(prefix="halo-gwbench-")
    try:
        results = bench(args, kinds, work)
        print_table(summarize(results, kinds), kinds, args)
        return 0
    except BenchError as e:
        print("gw_vs_nginx_haproxy: %s" % e, file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("gw_vs_nginx_haproxy: interrupted; all processes stopped", file=sys.stderr)
        return 130
    finally:
        if args.keep:
            print("configs and logs kept in %s" % work, file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
