#!/usr/bin/python3
"""kv_vs_redis.py — halo kv against Debian's redis-server on the same machine.

Starts both servers with comparable settings (no persistence, one database,
loopback), runs redis-benchmark against each, alternating, for several rounds,
and prints medians and the halo/redis ratio per command and pipeline depth.
Then loads one million 100-byte values into each and compares RSS.

Usage: bench/kv_vs_redis.py [--rounds 3] [--requests 200000] [--pipelined-requests 2000000]
                            [--halo build-release/halo] [--quick]
"""
import argparse
import os
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
TESTS = ["set", "get", "incr", "lpush", "lpop", "sadd", "hset", "zadd", "mset"]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ready(port, proc, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("server exited early")
        r = subprocess.run(["redis-cli", "-p", str(port), "PING"], capture_output=True)
        if r.stdout.strip() == b"PONG":
            return
        time.sleep(0.05)
    raise RuntimeError("server not ready on port %d" % port)


class Server:
    def __init__(self, kind, binary, workdir):
        self.kind = kind
        self.port = free_port()
        self.dir = os.path.join(workdir, kind)
        os.makedirs(self.dir, exist_ok=True)
        if kind == "redis":
            self.cmd = [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", self.dir,
                        "--save", "", "--appendonly", "no", "--databases", "1",
                        "--loglevel", "warning"]
        else:
            self.cmd = [binary, "kv", "--port", str(self.port), "--bind", "127.0.0.1",
                        "--dir", self.dir, "--appendonly", "no", "--loglevel", "warning"]
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen(self.cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_ready(self.port, self.proc)

    def flush(self):
        subprocess.run(["redis-cli", "-p", str(self.port), "FLUSHALL"], capture_output=True)

    def rss_kb(self):
        with open("/proc/%d/status" % self.proc.pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def run_benchmark(server, test, pipeline, requests):
    """One redis-benchmark run; returns requests per second."""
    cmd = ["redis-benchmark", "-p", str(server.port), "-t", test, "-n", str(requests),
           "-c", "50", "-P", str(pipeline), "-r", "100000", "-d", "3", "--csv", "-q"]
    out = subprocess.run(cmd, capture_output=True, timeout=600).stdout.decode()
    for line in out.splitlines():
        parts = [p.strip('"') for p in line.split(",")]
        if len(parts) >= 2 and parts[0] != "test":
            try:
                return float(parts[1])
            except ValueError:
                continue
    raise RuntimeError("no result from redis-benchmark: %r" % out)


def load_million(server, n=1000000, size=100):
    """Load n keys of `size`-byte values through a pipelined raw socket."""
    value = b"v" * size
    s = socket.create_connection(("127.0.0.1", server.port))
    batch = 10000
    for start in range(0, n, batch):
        buf = bytearray()
        for i in range(start, min(n, start + batch)):
            key = b"key:%012d" % i
            buf += b"*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n" % (len(key), key, size, value)
        s.sendall(buf)
        need = 5 * (min(n, start + batch) - start)
        got = 0
        while got < need:
            chunk = s.recv(1 << 20)
            if not chunk:
                raise RuntimeError("connection closed while loading")
            got += len(chunk)
    s.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--requests", type=int, default=200000)
    ap.add_argument("--pipelined-requests", type=int, default=2000000)
    ap.add_argument("--halo", default=os.path.join(ROOT, "build-release", "halo"))
    ap.add_argument("--redis", default=shutil.which("redis-server") or "/usr/bin/redis-server")
    ap.add_argument("--tests", default=",".join(TESTS))
    ap.add_argument("--quick", action="store_true", help="1 round, fewer requests (smoke run)")
    ap.add_argument("--skip-memory", action="store_true")
    args = ap.parse_args()
    if args.quick:
        args.rounds, args.requests, args.pipelined_requests = 1, 20000, 100000
    tests = args.tests.split(",")
    work = tempfile.mkdtemp(prefix="halo-bench-")
    servers = {"halo": Server("halo", args.halo, work), "redis": Server("redis", args.redis, work)}
    results = {}  # (test, pipeline, kind) -> [rps...]
    try:
        for s in servers.values():
            s.start()
        for rnd in range(args.rounds):
            # Alternate which server goes first each round.
            order = ["halo", "redis"] if rnd % 2 == 0 else ["redis", "halo"]
            for pipeline in (1, 16):
                n = args.requests if pipeline == 1 else args.pipelined_requests
                for test in tests:
                    for kind in order:
                        rps = run_benchmark(servers[kind], test, pipeline, n)
                        results.setdefault((test, pipeline, kind), []).append(rps)
                        print("round %d  %-6s -P %-2d %-5s %12.0f req/s" % (rnd + 1, test, pipeline, kind, rps),
                              file=sys.stderr, flush=True)
            for s in servers.values():
                s.flush()
        print("\n| command | pipeline | halo req/s | redis req/s | halo/redis |")
        print("|---|---|---:|---:|---:|")
        for pipeline in (1, 16):
            for test in tests:
                h = statistics.median(results[(test, pipeline, "halo")])
                r = statistics.median(results[(test, pipeline, "redis")])
                print("| %s | -P %d | %.0f | %.0f | %.2f |" % (test.upper(), pipeline, h, r, h / r))
        if not args.skip_memory:
            mem = {}
            for kind in ("halo", "redis"):
                s = servers[kind]
                s.flush()
                s.stop()
                s.start()
                base = s.rss_kb()
                load_million(s)
                time.sleep(0.5)
                mem[kind] = (base, s.rss_kb())
            print("\n| server | RSS empty | RSS with 1M x 100-byte values | per key |")
            print("|---|---:|---:|---:|")
            for kind in ("halo", "redis"):
                base, full = mem[kind]
                print("| %s | %.1f MiB | %.1f MiB | %.0f bytes |" % (kind, base / 1024, full / 1024,
                                                                    (full - base) * 1024 / 1e6))
            print("\nmemory ratio halo/redis: %.2f" % (mem["halo"][1] / mem["redis"][1]))
        print("\nrounds=%d, -c 50, -r 100000, -d 3; -P 1 runs %d requests, -P 16 runs %d requests; medians"
              % (args.rounds, args.requests, args.pipelined_requests))
    finally:
        for s in servers.values():
            s.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
