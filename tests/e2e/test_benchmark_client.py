"""redis-benchmark, unchanged, against the node: every test it runs gets answers."""
import subprocess


def test_redis_benchmark_all_default_tests(node):
    out = subprocess.run(
        ["redis-benchmark", "-p", str(node.port), "-n", "2000", "-c", "10", "-r", "1000", "-q",
         "--csv"],
        capture_output=True, timeout=300).stdout.decode()
    lines = [l for l in out.splitlines() if l and not l.startswith('"test"')]
    names = {l.split(",")[0].strip('"') for l in lines}
    for expected in ["PING_INLINE", "PING_MBULK", "SET", "GET", "INCR", "LPUSH", "RPUSH", "LPOP",
                     "RPOP", "SADD", "HSET", "SPOP", "ZADD", "ZPOPMIN", "LRANGE_100 (first 100 elements)",
                     "MSET (10 keys)"]:
        assert expected in names, (expected, out)
    for l in lines:
        rps = float(l.split(",")[1].strip('"'))
        assert rps > 0, l
    assert node.client().dbsize() > 0


def test_redis_benchmark_pipelined(node):
    r = subprocess.run(["redis-benchmark", "-p", str(node.port), "-t", "set,get", "-n", "20000",
                        "-P", "16", "-q", "--csv"], capture_output=True, timeout=300)
    assert r.returncode == 0
    assert r.stdout.count(b"\n") >= 2
    assert node.alive()
