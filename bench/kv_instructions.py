#!/usr/bin/python3
"""kv_instructions.py — CPU work per request, halo kv against redis-server, counted
in instructions with valgrind's callgrind. Unlike requests/s, the count does not
depend on what else the machine is doing, so it is the repeatable half of the
comparison (kernel time — syscalls — is not counted; both servers make the same
read/write calls per batch).

Each server runs under callgrind, redis-benchmark sends N pipelined requests
(-P 16, -c 50, -r 100000), the server shuts down, and the total user-space
instruction count divided by N is reported (start-up included, amortised).

Usage: bench/kv_instructions.py [--requests 200000] [--tests set,get,...]
"""
import argparse
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TESTS = ["set", "get", "incr", "lpush", "lpop", "sadd", "hset", "zadd", "mset"]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def count(kind, binary, test, n, work):
    port = free_port()
    out = os.path.join(work, "%s.%s.callgrind" % (kind, test))
    if kind == "halo":
        cmd = [binary, "kv", "--port", str(port), "--bind", "127.0.0.1", "--dir", work,
               "--appendonly", "no"]
    else:
        cmd = [binary, "--port", str(port), "--bind", "127.0.0.1", "--dir", work, "--save", "",
               "--appendonly", "no"]
    proc = subprocess.Popen(["valgrind", "--tool=callgrind", "--callgrind-out-file=" + out] + cmd,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 60
        while subprocess.run(["redis-cli", "-p", str(port), "PING"],
                             capture_output=True).stdout.strip() != b"PONG":
            if time.time() > deadline or proc.poll() is not None:
                raise RuntimeError("%s did not start under valgrind" % kind)
            time.sleep(0.2)
        subprocess.run(["redis-benchmark", "-p", str(port), "-t", test, "-n", str(n), "-c", "50",
                        "-P", "16", "-r", "100000", "-q"], capture_output=True, timeout=1800)
        subprocess.run(["redis-cli", "-p", str(port), "SHUTDOWN", "NOSAVE"], capture_output=True)
        proc.wait(120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    text = subprocess.run(["callgrind_annotate", out], capture_output=True).stdout.decode()
    m = re.search(r"([\d,]+) \(100\.0%\)\s+PROGRAM TOTALS", text) or re.search(r"([\d,]+)\s+PROGRAM TOTALS", text)
    if not m:
        raise RuntimeError("no totals in callgrind output for %s %s" % (kind, test))
    return int(m.group(1).replace(",", "")) / n


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=200000)
    ap.add_argument("--tests", default=",".join(TESTS))
    ap.add_argument("--halo", default=os.path.join(ROOT, "build-release", "halo"))
    ap.add_argument("--redis", default=shutil.which("redis-server") or "/usr/bin/redis-server")
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="halo-cg-")
    try:
        print("| command (-P 16) | halo instr/request | redis instr/request | halo/redis |")
        print("|---|---:|---:|---:|")
        for test in args.tests.split(","):
            h = count("halo", args.halo, test, args.requests, work)
            r = count("redis", args.redis, test, args.requests, work)
            print("| %s | %.0f | %.0f | %.2f |" % (test.upper(), h, r, h / r), flush=True)
        print("\n%d requests per command, -c 50, -r 100000; user-space instructions from callgrind"
              % args.requests)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
