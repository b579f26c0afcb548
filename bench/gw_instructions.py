#!/usr/bin/python3
"""gw_instructions.py — a proxy's own CPU work per request, halo gw against nginx and
HAProxy as reverse proxies, counted in instructions with valgrind's callgrind. Unlike
requests/s (bench/gw_vs_nginx_haproxy.py), the count does not depend on what else the
machine is doing, so it is the repeatable half of the comparison. Kernel work is not in
the instruction count; the system calls each proxy makes per request are counted
beside it (callgrind --collect-systime), as they are the other half of the cost. Clock
reads (clock_gettime, gettimeofday, time) are left out of that count: under valgrind
they are system calls, natively they are vDSO calls that do not enter the kernel.

One fixed backend (Debian's nginx, one worker, `return 200 "ok\\n"`, not under
valgrind); in front of it, in turn, each proxy runs in the foreground under callgrind
with one worker (halo gw: workers 1; nginx: master_process off; haproxy: nbthread 1,
-db) and the settings of bench/gw_vs_nginx_haproxy.py (its config generators are
imported, not copied). A small client sends exactly N requests `GET /` on K keep-alive
connections, one request in flight per connection, as wrk does, checks every answer is
200 "ok\\n", and closes; the proxy is stopped with its graceful-stop signal. The same is
done with no load (only the readiness probe), and

    instructions per request = (Ir(N requests) - Ir(0 requests)) / N

so start-up, config parsing and shut-down cancel out. K connection set-ups stay in
(amortised over N).

Usage: bench/gw_instructions.py [--requests 50000] [--connections 50] [--browser-headers]
                                [--only halo,nginx,haproxy] [--halo build-release/halo]
                                [--keep-profiles DIR]
A run takes about two minutes; the counts repeat to within 1 % between runs.
With --keep-profiles the callgrind files are kept (DIR/<proxy>.<requests>.callgrind);
read one with `callgrind_annotate --inclusive=yes FILE`.
"""
import argparse
import os
import re
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import gw_vs_nginx_haproxy as gwb  # noqa: E402  (configs, Server, backend)

PROXIES = ("halo", "nginx", "haproxy")
# Graceful stop in the foreground: halo drains, nginx without a master quits after
# its connections, haproxy -db soft-stops. Each exits normally, so callgrind dumps.
STOP_SIGNAL = {"halo": signal.SIGTERM, "nginx": signal.SIGQUIT, "haproxy": signal.SIGUSR1}
START_UNDER_VALGRIND_S = 90
STOP_UNDER_VALGRIND_S = 120
CLIENT_TIMEOUT_S = 900


class BenchError(gwb.BenchError):
    pass


# ---------------------------------------------------------------- the client

class Conn:
    """One keep-alive connection with at most one request in flight."""

    def __init__(self, port, request):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock.setblocking(False)
        self.request = request
        self.inbuf = b""
        self.busy = False

    def send(self):
        self.sock.sendall(self.request)  # under 1 KiB: the socket buffer takes it at once
        self.busy = True

    def take_response(self):
        """A complete response from inbuf, checked, or None if more bytes are needed."""
        end = self.inbuf.find(b"\r\n\r\n")
        if end < 0:
            return None
        head = self.inbuf[:end].decode("latin-1")
        m = re.search(r"\r\ncontent-length:\s*(\d+)", head, re.I)
        if not head.startswith("HTTP/1.1 200 ") or not m:
            raise BenchError("unexpected response head: %r" % head[:200])
        total = end + 4 + int(m.group(1))
        if len(self.inbuf) < total:
            return None
        body = self.inbuf[end + 4:total]
        if body != gwb.BODY:
            raise BenchError("unexpected body %r" % body[:80])
        self.inbuf = self.inbuf[total:]
        self.busy = False
        return True


# --browser-headers: what a browser sends besides Host (about 500 bytes, 9 headers),
# instead of wrk's bare "Host" request.
BROWSER_HEADERS = (
    "User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0\r\n"
    "Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\n"
    "Accept-Language: en-US,en;q=0.5\r\n"
    "Accept-Encoding: gzip, deflate, br\r\n"
    "Referer: http://bench.local/index.html\r\n"
    "Cookie: session=8f14e45fceea167a5a36dedd4bea2543; theme=dark; lang=en\r\n"
    "Upgrade-Insecure-Requests: 1\r\n"
    "Cache-Control: max-age=0\r\n"
    "Connection: keep-alive\r\n")


def drive(port, n, k, extra=""):
    """Send exactly n requests over k keep-alive connections; returns seconds taken."""
    request = ("GET / HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n%s\r\n" % (port, extra)).encode()
    conns = [Conn(port, request) for _ in range(min(k, n))]
    sel = selectors.DefaultSelector()
    sent = done = 0
    start = time.monotonic()
    try:
        for c in conns:
            sel.register(c.sock, selectors.EVENT_READ, c)
            c.send()
            sent += 1
        while done < n:
            if time.monotonic() - start > CLIENT_TIMEOUT_S:
                raise BenchError("%d of %d responses after %d s" % (done, n, CLIENT_TIMEOUT_S))
            for key, _ in sel.select(timeout=5):
                c = key.data
                data = c.sock.recv(65536)
                if not data:
                    raise BenchError("the proxy closed a connection after %d responses" % done)
                c.inbuf += data
                while c.busy and c.take_response():
                    done += 1
                    if sent < n:
                        c.send()
                        sent += 1
        return time.monotonic() - start
    finally:
        sel.close()
        for c in conns:
            c.sock.close()


# ---------------------------------------------------------------- proxies under callgrind

def proxy_cmd(kind, args, s, backend_port):
    if kind == "halo":
        conf = s.write("gw.yaml", gwb.halo_conf(s.port, backend_port, 1))
        gwb.check_halo_config(args.halo, conf)
        return [args.halo, "gw", "-c", conf]
    if kind == "nginx":
        conf = s.write("nginx.conf", gwb.nginx_proxy_conf(s.dir, s.port, backend_port, 1))
        return [args.nginx, "-p", s.dir, "-c", conf, "-g", "daemon off; master_process off;"]
    conf = s.write("haproxy.cfg", gwb.haproxy_conf(s.dir, s.port, backend_port, 1))
    return [args.haproxy, "-f", conf, "-db"]


def read_totals(path):
    """{event: total} from a callgrind output file (its 'events:' and 'totals:' lines)."""
    events = totals = None
    with open(path) as f:
        for line in f:
            if line.startswith("events:"):
                events = line.split()[1:]
            elif line.startswith(("totals:", "summary:")):
                totals = [int(x) for x in line.split()[1:]]
    if not events or not totals:
        raise BenchError("no totals in %s" % path)
    return dict(zip(events, totals))


CLOCK_FUNCTIONS = re.compile(r":(clock_gettime|__clock_gettime|gettimeofday|__gettimeofday\w*|time)(@|\s|$)")


def clock_calls(path):
    """System calls made by the clock functions (self cost), from callgrind_annotate."""
    r = subprocess.run(["callgrind_annotate", "--sort=sysCount", "--threshold=100", path],
                       capture_output=True, timeout=300)
    n = 0
    for line in r.stdout.decode(errors="replace").splitlines():
        fields = re.sub(r"\(\s*[\d.]+%\)", "", line).split()
        if len(fields) >= 4 and CLOCK_FUNCTIONS.search(fields[3]) and fields[1] != ".":
            n += int(fields[1].replace(",", ""))
    return n


def stop_profiled(kind, s):
    """Graceful stop and wait for callgrind's dump; SIGKILL only as a last resort."""
    if s.proc is None:
        return
    if s.proc.poll() is None:
        try:
            s.proc.send_signal(STOP_SIGNAL[kind])
            s.proc.wait(STOP_UNDER_VALGRIND_S)
        except subprocess.TimeoutExpired:
            pass
    s.stop()  # kills what is left of the process group, closes the log


def count(kind, args, work, backend, n):
    """Run one proxy under callgrind with n requests; returns its event totals."""
    s = gwb.Server("%s-%d" % (kind, n), work)
    out = os.path.join(args.profiles, "%s.%d.callgrind" % (kind, n))
    cmd = ["valgrind", "--tool=callgrind", "--collect-systime=yes",
           "--callgrind-out-file=" + out] + proxy_cmd(kind, args, s, backend.port)
    try:
        s.start(cmd)
        s.wait_ok()
        extra = BROWSER_HEADERS if args.browser_headers else ""
        secs = drive(s.port, n, args.connections, extra) if n else 0.0
        stop_profiled(kind, s)
    finally:
        s.stop()
    if not os.path.exists(out):
        raise BenchError("%s left no callgrind output:\n%s" % (kind, s.log_tail()))
    t = read_totals(out)
    t["clock"] = clock_calls(out)
    t["sysCount"] = t.get("sysCount", 0) - t["clock"]
    print("%-8s %6d requests  %14d Ir  %7d syscalls  %7d clock reads  %.1f s under callgrind"
          % (kind, n, t.get("Ir", 0), t["sysCount"], t["clock"], secs), file=sys.stderr, flush=True)
    return t


def per_request(kind, args, work, backend):
    base = count(kind, args, work, backend, 0)
    load = count(kind, args, work, backend, args.requests)
    return {ev: (load.get(ev, 0) - base.get(ev, 0)) / args.requests
            for ev in ("Ir", "sysCount", "clock")}


# ---------------------------------------------------------------- main

def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--requests", type=int, default=50000)
    ap.add_argument("--connections", type=int, default=50)
    ap.add_argument("--only", default=",".join(PROXIES))
    ap.add_argument("--halo", default=os.path.join(gwb.ROOT, "build-release", "halo"))
    ap.add_argument("--nginx", default="/usr/sbin/nginx")
    ap.add_argument("--haproxy", default="/usr/sbin/haproxy")
    ap.add_argument("--browser-headers", action="store_true",
                    help="send 9 browser headers (User-Agent, Accept, Cookie, ...) besides Host")
    ap.add_argument("--keep-profiles", metavar="DIR",
                    help="keep the callgrind files in DIR (created if missing)")
    args = ap.parse_args()
    kinds = [k.strip() for k in args.only.split(",") if k.strip()]
    if not kinds or any(k not in PROXIES for k in kinds) or len(set(kinds)) != len(kinds):
        ap.error("--only takes distinct names from %s" % ",".join(PROXIES))
    if args.requests < 1 or args.connections < 1:
        ap.error("--requests and --connections must be >= 1")
    if shutil.which("valgrind") is None:
        ap.error("valgrind is not installed (Debian: apt-get install valgrind)")
    return args, kinds


def print_table(res, kinds, args):
    print("| proxy | instructions/request | syscalls/request | clock reads/request |")
    print("|---|---:|---:|---:|")
    for k in kinds:
        print("| %s | %.0f | %.2f | %.2f |" % (k, res[k]["Ir"], res[k]["sysCount"], res[k]["clock"]))
    if "halo" in res:
        for p in ("nginx", "haproxy"):
            if p in res:
                print("\nhalo/%s: %.2f instructions, %.2f syscalls"
                      % (p, res["halo"]["Ir"] / res[p]["Ir"],
                         res["halo"]["sysCount"] / res[p]["sysCount"]), end="")
        print()
    print("\n%d requests on %d keep-alive connections, GET /%s -> 200 \"ok\\n\", one worker per "
          "proxy; user-space instructions (callgrind Ir), system calls other than clock reads, "
          "and clock reads (vDSO outside valgrind), each minus a 0-request run and divided by "
          "the request count" % (args.requests, args.connections,
                                 " with 9 browser headers" if args.browser_headers else ""))


def on_sigterm(signum, frame):
    raise KeyboardInterrupt


def main():
    args, kinds = parse_args()
    signal.signal(signal.SIGTERM, on_sigterm)
    gwb.START_TIMEOUT_S = START_UNDER_VALGRIND_S  # wait_ok reads it; valgrind starts slowly
    work = tempfile.mkdtemp(prefix="halo-gwcg-")
    args.profiles = args.keep_profiles or work
    os.makedirs(args.profiles, exist_ok=True)
    backend = gwb.start_backend(work, None)
    try:
        backend.wait_ok()
        res = {k: per_request(k, args, work, backend) for k in kinds}
        print_table(res, kinds, args)
        return 0
    except gwb.BenchError as e:
        print("gw_instructions: %s" % e, file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("gw_instructions: interrupted; all processes stopped", file=sys.stderr)
        return 130
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        backend.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
