"""INFO (Redis-compatible text, parsed by redis-py and redis-cli) and the
Prometheus metrics endpoint (/metrics, /healthz, error statuses, abuse)."""
import math
import re
import socket
import time

import pytest
import redis

from conftest import free_port

DEFAULT_SECTIONS = ["Server", "Clients", "Memory", "Persistence", "Stats", "Replication",
                    "CPU", "Modules", "Cluster", "Keyspace"]
ALL_SECTIONS = DEFAULT_SECTIONS[:8] + ["Commandstats"] + DEFAULT_SECTIONS[8:]


# ---------------------------------------------------------------- helpers

def raw_info(r, *args):
    """INFO's text exactly as sent (redis-py would parse it into a dict)."""
    conn = r.connection_pool.get_connection("INFO")
    try:
        conn.send_command("INFO", *args)
        return conn.read_response().decode()
    finally:
        r.connection_pool.release(conn)


def headers_of(text):
    return [line[2:] for line in text.split("\r\n") if line.startswith("# ")]


def check_info_layout(text):
    """Sections are "# Name\\r\\n" then "field:value\\r\\n" lines, separated by one
    empty line; no bare LF anywhere."""
    assert "\n" not in text.replace("\r\n", "")
    assert text.endswith("\r\n")
    for block in text[:-2].split("\r\n\r\n"):
        lines = block.split("\r\n")
        assert re.fullmatch(r"# [A-Za-z]+", lines[0]), lines[0]
        for line in lines[1:]:
            assert re.fullmatch(r"[a-z0-9_]+:[^\r\n]*", line), line


def resp_command(sock, *args):
    out = b"*%d\r\n" % len(args)
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    sock.sendall(out)


def read_exactly(f, n):
    data = f.read(n)
    assert len(data) == n
    return data


def read_resp(f):
    """A minimal RESP2/3 reader: enough for HELLO and INFO replies."""
    line = f.readline()
    kind, rest = line[:1], line[1:-2]
    if kind in (b"+", b"-", b":", b"_", b"#", b","):
        return line
    if kind in (b"$", b"="):
        n = int(rest)
        if n < 0:
            return None
        data = read_exactly(f, n + 2)[:-2]
        return (kind, data)
    if kind in (b"*", b"%", b"~", b">"):
        n = int(rest) * (2 if kind == b"%" else 1)
        return [read_resp(f) for _ in range(n)]
    raise AssertionError("unexpected reply %r" % line)


def http(port, request, timeout=10):
    """Send raw request bytes; read the whole response (the server closes).
    Returns (status, headers dict with lower-case names, body bytes)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(request)
        data = b""
        while True:
            try:
                chunk = s.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    m = re.fullmatch(r"HTTP/1\.1 (\d{3}) [A-Za-z ]+", lines[0])
    assert m, lines[0]
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    return int(m.group(1)), headers, body


def get(port, path, method="GET"):
    return http(port, ("%s %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n" % (method, path, port)).encode())


NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
LABEL = r'[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*"'
VALUE = r"[-+]?(?:[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?|Inf)|NaN"
SAMPLE_RE = re.compile(r"(%s)(\{%s(?:,%s)*\})? (%s)" % (NAME, LABEL, LABEL, VALUE))
HELP_RE = re.compile(r"# HELP (%s) [^\n]*" % NAME)
TYPE_RE = re.compile(r"# TYPE (%s) (counter|gauge|histogram|summary|untyped)" % NAME)


def parse_prom(body):
    """Validate Prometheus text format 0.0.4 line by line; return
    ({family: type}, {(name, labels string): float})."""
    text = body.decode("utf-8")
    assert text.endswith("\n")
    types, helps, samples = {}, set(), {}
    for line in text[:-1].split("\n"):
        if line.startswith("# HELP "):
            m = HELP_RE.fullmatch(line)
            assert m, line
            assert m.group(1) not in helps, "duplicate HELP " + line
            helps.add(m.group(1))
        elif line.startswith("# TYPE "):
            m = TYPE_RE.fullmatch(line)
            assert m, line
            assert m.group(1) not in types, "duplicate TYPE " + line
            types[m.group(1)] = m.group(2)
        else:
            m = SAMPLE_RE.fullmatch(line)
            assert m, "bad sample line %r" % line
            name, labels, value = m.group(1), m.group(2) or "", m.group(3)
            family = re.sub(r"_(bucket|sum|count)$", "", name)
            assert name in types or (family in types and types[family] == "histogram"), \
                "sample before its TYPE: " + line
            assert (name, labels) not in samples, "duplicate series " + line
            samples[(name, labels)] = float(value.replace("Inf", "inf"))
    assert set(types) == helps
    assert all(n.startswith("halo_kv_") for n in types)
    return types, samples


def scrape(port):
    status, headers, body = get(port, "/metrics")
    assert status == 200
    assert headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
    assert int(headers["content-length"]) == len(body)
    return parse_prom(body)


def cmd_value(samples, family, cmd):
    return samples.get((family, '{cmd="%s"}' % cmd), 0.0)


@pytest.fixture
def mnode(node_factory):
    """A node with the metrics endpoint on a free port (node.mport)."""
    port = free_port()
    n = node_factory(args=["--metrics-port", str(port)])
    n.mport = port
    return n


# ---------------------------------------------------------------- INFO

def test_info_default_parses(node, r):
    info = r.info()
    assert info["redis_version"] == "7.0.15"
    assert info["redis_mode"] == "standalone"
    assert isinstance(info["halo_version"], str) or isinstance(info["halo_version"], float)
    assert info["process_id"] == node.proc.pid
    assert info["tcp_port"] == node.port
    assert len(info["run_id"]) == 40
    assert info["master_replid"] == info["run_id"]
    assert info["role"] == "master" and info["connected_slaves"] == 0
    assert info["connected_clients"] >= 1
    assert info["maxclients"] == 10000
    assert info["blocked_clients"] == 0
    assert info["used_memory"] > 0 and info["used_memory_rss"] > 0
    assert info["maxmemory"] == 0 and info["maxmemory_human"] == "0B"
    assert info["maxmemory_policy"] == "noeviction"
    assert info["aof_enabled"] == 0 and info["loading"] == 0
    assert info["aof_last_write_status"] == "ok"
    assert "aof_current_size" not in info
    assert info["used_cpu_user"] >= 0 and info["used_cpu_sys"] >= 0
    assert info["executable"].endswith("halo")
    assert info["uptime_in_days"] == 0 and info["hz"] == 10
    text = raw_info(r)
    check_info_layout(text)
    assert headers_of(text) == DEFAULT_SECTIONS


@pytest.mark.parametrize("arg", ["all", "everything", "ALL", "Everything"])
def test_info_all_sections(r, arg):
    r.set("k", "v")
    text = raw_info(r, arg)
    check_info_layout(text)
    assert headers_of(text) == ALL_SECTIONS
    info = r.info(arg)
    assert info["cmdstat_set"]["calls"] == 1
    assert info["db0"]["keys"] == 1


def test_info_default_keyword_and_multiple(r):
    assert headers_of(raw_info(r, "default")) == DEFAULT_SECTIONS
    assert headers_of(raw_info(r, "default", "commandstats")) == ALL_SECTIONS
    # Output follows Redis's order whatever the order of the arguments.
    assert headers_of(raw_info(r, "keyspace", "SERVER", "cpu")) == ["Server", "CPU", "Keyspace"]
    assert headers_of(raw_info(r, "server", "nosuch")) == ["Server"]


SECTION_FIELDS = {
    "server": ["redis_version", "halo_version", "redis_mode", "os", "arch_bits", "process_id",
               "run_id", "tcp_port", "uptime_in_seconds", "uptime_in_days", "hz", "executable",
               "config_file"],
    "clients": ["connected_clients", "blocked_clients", "maxclients",
                "client_recent_max_output_buffer", "client_recent_max_input_buffer"],
    "memory": ["used_memory", "used_memory_human", "used_memory_rss", "maxmemory",
               "maxmemory_human", "maxmemory_policy", "mem_fragmentation_ratio"],
    "persistence": ["loading", "aof_enabled", "aof_rewrite_in_progress",
                    "aof_last_bgrewrite_status", "aof_last_write_status"],
    "stats": ["total_connections_received", "total_commands_processed",
              "instantaneous_ops_per_sec", "total_net_input_bytes", "total_net_output_bytes",
              "rejected_connections", "expired_keys", "evicted_keys", "keyspace_hits",
              "keyspace_misses", "pubsub_channels", "pubsub_patterns"],
    "replication": ["role", "connected_slaves", "master_replid", "master_repl_offset"],
    "cpu": ["used_cpu_sys", "used_cpu_user", "used_cpu_sys_children", "used_cpu_user_children"],
    "cluster": ["cluster_enabled"],
}


@pytest.mark.parametrize("section", sorted(SECTION_FIELDS))
def test_info_each_section(r, section):
    info = r.info(section)
    for field in SECTION_FIELDS[section]:
        assert field in info, field
    text = raw_info(r, section.upper())
    check_info_layout(text)
    assert len(headers_of(text)) == 1
    assert headers_of(text)[0].lower() == section


def test_info_keyspace(r):
    assert raw_info(r, "keyspace") == "# Keyspace\r\n"
    assert r.info("keyspace") == {}
    r.set("a", "1")
    r.set("b", "2", ex=100)
    r.set("c", "3", px=100000)
    assert r.info("keyspace") == {"db0": {"keys": 3, "expires": 2, "avg_ttl": 0}}
    assert raw_info(r, "keyspace") == "# Keyspace\r\ndb0:keys=3,expires=2,avg_ttl=0\r\n"


def test_info_commandstats(r):
    for i in range(3):
        r.set("k%d" % i, i)
    r.get("k1")
    r.get("missing")
    with pytest.raises(redis.ResponseError, match="wrong number of arguments for 'get'"):
        r.execute_command("GET")
    stats = r.info("commandstats")
    assert stats["cmdstat_set"]["calls"] == 3
    assert stats["cmdstat_get"]["calls"] == 2
    assert stats["cmdstat_get"]["rejected_calls"] == 1
    assert stats["cmdstat_get"]["failed_calls"] == 0
    assert stats["cmdstat_set"]["usec"] >= 0
    assert isinstance(stats["cmdstat_set"]["usec_per_call"], float)
    assert "cmdstat_del" not in stats
    line = [l for l in raw_info(r, "commandstats").split("\r\n") if l.startswith("cmdstat_set:")][0]
    assert re.fullmatch(r"cmdstat_set:calls=3,usec=\d+,usec_per_call=\d+\.\d\d,"
                        r"rejected_calls=0,failed_calls=0", line)
    names = [l.split(":")[0] for l in raw_info(r, "commandstats").split("\r\n")[1:] if l]
    assert names == sorted(names)


def test_info_stats_counters(node, r):
    before = r.info("stats")
    r.set("x", "1")
    r.get("x")
    r.get("nope")
    after = r.info("stats")
    assert after["keyspace_hits"] == before["keyspace_hits"] + 1
    assert after["keyspace_misses"] == before["keyspace_misses"] + 1
    # The INFO before counts too: 4 commands between the two reads.
    assert after["total_commands_processed"] == before["total_commands_processed"] + 4
    assert after["total_net_input_bytes"] > before["total_net_input_bytes"]
    assert after["total_net_output_bytes"] > before["total_net_output_bytes"]
    c2 = node.client()
    c2.ping()
    assert r.info("stats")["total_connections_received"] > after["total_connections_received"]
    assert r.info("clients")["connected_clients"] >= 2
    c2.close()


def test_info_instantaneous_ops(r):
    # The cron samples the command counter every 100 ms (hz 10) into a ring of
    # 16; the rate is taken between the oldest and newest samples.
    time.sleep(0.25)  # a sample from before the burst
    pipe = r.pipeline(transaction=False)
    for i in range(2000):
        pipe.ping()
    pipe.execute()
    time.sleep(0.25)  # and one after it
    assert r.info("stats")["instantaneous_ops_per_sec"] > 0


def test_info_bad_section_is_empty(r):
    assert raw_info(r, "nosuchsection") == ""
    assert r.info("nosuchsection") == {}


def test_info_resp3_verbatim(node):
    with socket.create_connection(("127.0.0.1", node.port), timeout=10) as s:
        f = s.makefile("rb")
        resp_command(s, "HELLO", "3")
        assert isinstance(read_resp(f), list)
        resp_command(s, "INFO", "server")
        kind, data = read_resp(f)
        assert kind == b"="
        assert data.startswith(b"txt:# Server\r\nredis_version:7.0.15\r\n")
        resp_command(s, "INFO", "bogus")
        assert read_resp(f) == (b"=", b"txt:")


def test_info_redis_cli(node, r):
    r.set("a", "b")
    out = node.cli("info", "server")
    assert "redis_version:7.0.15" in out
    assert "# Server" in out and "# Clients" not in out
    out = node.cli("info", "keyspace")
    assert "db0:keys=1,expires=0,avg_ttl=0" in out


# ---------------------------------------------------------------- /metrics

REQUIRED = {
    "halo_kv_connected_clients": "gauge",
    "halo_kv_connections_received_total": "counter",
    "halo_kv_commands_processed_total": "counter",
    "halo_kv_commands_total": "counter",
    "halo_kv_command_duration_seconds": "histogram",
    "halo_kv_used_memory_bytes": "gauge",
    "halo_kv_rss_bytes": "gauge",
    "halo_kv_maxmemory_bytes": "gauge",
    "halo_kv_keys": "gauge",
    "halo_kv_keys_with_expiry": "gauge",
    "halo_kv_expired_keys_total": "counter",
    "halo_kv_evicted_keys_total": "counter",
    "halo_kv_keyspace_hits_total": "counter",
    "halo_kv_keyspace_misses_total": "counter",
    "halo_kv_net_input_bytes_total": "counter",
    "halo_kv_net_output_bytes_total": "counter",
    "halo_kv_rejected_connections_total": "counter",
    "halo_kv_protocol_errors_total": "counter",
    "halo_kv_blocked_clients": "gauge",
    "halo_kv_pubsub_channels": "gauge",
    "halo_kv_aof_enabled": "gauge",
    "halo_kv_aof_rewrite_in_progress": "gauge",
    "halo_kv_aof_current_size_bytes": "gauge",
    "halo_kv_aof_last_write_ok": "gauge",
    "halo_kv_aof_fsyncs_total": "counter",
    "halo_kv_uptime_seconds": "gauge",
}


def test_metrics_format_and_families(mnode):
    types, samples = scrape(mnode.mport)
    for name, kind in REQUIRED.items():
        assert types.get(name) == kind, name
    assert samples[("halo_kv_aof_enabled", "")] == 0
    assert samples[("halo_kv_aof_last_write_ok", "")] == 1
    assert samples[("halo_kv_keys", "")] == 0
    assert samples[("halo_kv_uptime_seconds", "")] >= 0


def test_metrics_counters_increase(mnode):
    r = mnode.client()
    _, s1 = scrape(mnode.mport)
    for i in range(10):
        r.set("k%d" % i, "v", ex=1000 if i < 4 else None)
    for i in range(5):
        r.get("k%d" % i)
    r.get("missing")
    _, s2 = scrape(mnode.mport)
    assert cmd_value(s2, "halo_kv_commands_total", "set") == cmd_value(s1, "halo_kv_commands_total", "set") + 10
    assert cmd_value(s2, "halo_kv_commands_total", "get") == cmd_value(s1, "halo_kv_commands_total", "get") + 6
    assert s2[("halo_kv_commands_processed_total", "")] >= s1[("halo_kv_commands_processed_total", "")] + 16
    assert s2[("halo_kv_keyspace_hits_total", "")] == s1[("halo_kv_keyspace_hits_total", "")] + 5
    assert s2[("halo_kv_keyspace_misses_total", "")] == s1[("halo_kv_keyspace_misses_total", "")] + 1
    assert s2[("halo_kv_net_input_bytes_total", "")] > s1[("halo_kv_net_input_bytes_total", "")]
    assert s2[("halo_kv_keys", "")] == 10
    assert s2[("halo_kv_keys_with_expiry", "")] == 4
    assert s2[("halo_kv_connected_clients", "")] >= 1
    assert s2[("halo_kv_connections_received_total", "")] >= 1
    r.close()


def test_metrics_histogram(mnode):
    r = mnode.client()
    for i in range(50):
        r.set("k", i)
        r.get("k")
    _, s = scrape(mnode.mport)
    buckets = []
    for (name, labels), value in s.items():
        if name == "halo_kv_command_duration_seconds_bucket":
            le = re.fullmatch(r'\{le="([^"]+)"\}', labels).group(1)
            buckets.append((math.inf if le == "+Inf" else float(le), value))
    assert len(buckets) >= 2
    bounds = [b for b, _ in buckets]
    assert bounds == sorted(bounds) and bounds[-1] == math.inf
    counts = [c for _, c in buckets]
    assert all(a <= b for a, b in zip(counts, counts[1:])), "buckets are cumulative"
    count = s[("halo_kv_command_duration_seconds_count", "")]
    assert counts[-1] == count
    calls = sum(v for (name, _), v in s.items() if name == "halo_kv_commands_total")
    assert count == calls >= 100
    total_s = sum(v for (name, _), v in s.items() if name == "halo_kv_command_seconds_total")
    assert s[("halo_kv_command_duration_seconds_sum", "")] == pytest.approx(total_s, rel=1e-6, abs=1e-6)
    r.close()


def test_healthz_and_head(mnode):
    status, headers, body = get(mnode.mport, "/healthz")
    assert (status, body) == (200, b"ok\n")
    assert headers["connection"] == "close"
    status, headers, body = get(mnode.mport, "/metrics", method="HEAD")
    assert status == 200 and body == b"" and int(headers["content-length"]) > 0
    # Bare LF line endings and a query string are accepted.
    status, _, body = http(mnode.mport, b"GET /metrics?x=1 HTTP/1.0\n\n")
    assert status == 200 and b"halo_kv_keys " in body


def test_http_error_statuses(mnode):
    p = mnode.mport
    assert get(p, "/")[0] == 404
    assert get(p, "/metricsx")[0] == 404
    status, headers, _ = get(p, "/metrics", method="POST")
    assert status == 405 and headers["allow"] == "GET, HEAD"
    assert get(p, "/metrics", method="DELETE")[0] == 405
    assert http(p, b"garbage\r\n\r\n")[0] == 400
    assert http(p, b"GET /metrics\r\n\r\n")[0] == 400
    assert http(p, b"GET / HTTP/1.1\r\nBad Header: x\r\n\r\n")[0] == 400
    assert http(p, b"*1\r\n$4\r\nPING\r\n")[0] == 400
    assert http(p, b"GET /metrics HTTP/2.0\r\n\r\n")[0] == 505
    big = b"GET /metrics HTTP/1.1\r\nX-Big: " + b"a" * 9000 + b"\r\n\r\n"
    status, _, body = http(p, big)
    assert status == 431 and body.startswith(b"431")
    # Many headers that add up past the limit, too.
    many = b"GET /metrics HTTP/1.1\r\n" + b"X-A: bbbbbbbbbbbbbbbbbbbbbbbbbbbbbb\r\n" * 400 + b"\r\n"
    assert http(p, many)[0] == 431
    # Still healthy afterwards.
    assert get(p, "/healthz")[0] == 200


def test_slow_client_does_not_block(mnode):
    slow = socket.create_connection(("127.0.0.1", mnode.mport))
    slow.sendall(b"GET /metr")
    t0 = time.time()
    status, _, _ = get(mnode.mport, "/metrics")
    assert status == 200
    assert time.time() - t0 < 2
    # The slow client is cut off by the read timeout (5 s) without an answer.
    slow.settimeout(10)
    t0 = time.time()
    try:
        assert slow.recv(100) == b""
    except ConnectionResetError:
        pass
    assert 3 < time.time() - t0 < 9
    slow.close()


def test_abuse_does_not_affect_redis_port(mnode):
    r = mnode.client()
    r.set("k", "v")
    p = mnode.mport
    # Garbage floods are refused at their first bytes; the endpoint survives.
    for _ in range(5):
        with socket.create_connection(("127.0.0.1", p), timeout=5) as s:
            try:
                s.sendall(bytes(range(256)) * 512)
                assert s.recv(12).startswith(b"HTTP/1.1 400")
            except (BrokenPipeError, ConnectionResetError):
                pass
    holders = []
    for _ in range(80):  # more than the 64 connections the endpoint keeps
        s = socket.create_connection(("127.0.0.1", p))
        try:
            s.sendall(b"GET /metrics HTTP/1.1\r\nX: ")
        except (BrokenPipeError, ConnectionResetError):
            pass  # refused at once: over the cap
        holders.append(s)
    t0 = time.time()
    for _ in range(100):
        assert r.get("k") == b"v"
    assert r.ping()
    assert time.time() - t0 < 2
    assert mnode.cli("ping").strip() == "PONG"
    for s in holders:
        s.close()
    # Once the abusers are gone, scrapes work again and the refusals were counted.
    deadline = time.time() + 5
    while True:
        try:
            _, samples = scrape(p)
            break
        except (AssertionError, ConnectionError, OSError):
            assert time.time() < deadline
            time.sleep(0.05)
    assert samples[("halo_kv_metrics_rejected_connections_total", "")] >= 16
    r.close()
    assert mnode.stop() == 0, mnode.read_log()


def test_shutdown_with_open_metrics_connections(mnode):
    """Connections in every state are closed and freed at shutdown (the
    sanitizer build fails the exit code on a leak)."""
    idle = socket.create_connection(("127.0.0.1", mnode.mport))
    partial = socket.create_connection(("127.0.0.1", mnode.mport))
    partial.sendall(b"GET /metrics HTTP/1.1\r\n")
    unread = socket.create_connection(("127.0.0.1", mnode.mport))
    unread.sendall(b"GET /metrics HTTP/1.1\r\n\r\n")  # response never read
    assert get(mnode.mport, "/healthz")[0] == 200
    assert mnode.stop() == 0, mnode.read_log()
    for s in (idle, partial, unread):
        s.close()


def test_aof_fields(node_factory):
    port = free_port()
    n = node_factory(args=["--appendonly", "yes", "--metrics-port", str(port)])
    r = n.client()
    for i in range(20):
        r.set("k%d" % i, "v" * 100)
    info = r.info("persistence")
    assert info["aof_enabled"] == 1
    assert info["aof_last_write_status"] == "ok"
    assert info["aof_rewrite_in_progress"] == 0
    assert info["aof_current_size"] > 2000
    assert info["aof_base_size"] >= 0
    _, s = scrape(port)
    assert s[("halo_kv_aof_enabled", "")] == 1
    assert s[("halo_kv_aof_last_write_ok", "")] == 1
    assert s[("halo_kv_aof_current_size_bytes", "")] == info["aof_current_size"]
    r.close()
