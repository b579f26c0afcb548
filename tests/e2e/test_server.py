"""Connection and server commands: PING, ECHO, AUTH, HELLO, CLIENT, COMMAND, CONFIG, SELECT, ..."""
import socket
import time

import pytest
import redis


def err(r, *args):
    with pytest.raises(redis.ResponseError) as e:
        r.execute_command(*args)
    return str(e.value)


def raw(port, data, read_until=None, timeout=5):
    """Send bytes on a fresh socket and return what comes back until close/timeout."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    s.sendall(data)
    out = b""
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            chunk = s.recv(65536)
        except socket.timeout:
            break
        if not chunk:
            break
        out += chunk
        if read_until is not None and read_until in out:
            break
    s.close()
    return out


def test_ping_echo_select_time_dbsize(r):
    assert r.ping() is True
    assert raw(r.connection_pool.connection_kwargs["port"], b"PING hi\r\n", read_until=b"hi\r\n") == b"$2\r\nhi\r\n"
    assert r.echo("x") == b"x"
    assert r.execute_command("SELECT", "0") is True
    assert err(r, "SELECT", "1") == "DB index is out of range"
    sec, usec = r.time()
    assert abs(sec - time.time()) < 5 and 0 <= usec < 1000000
    r.set("a", 1)
    r.set("b", 2)
    assert r.dbsize() == 2
    assert r.flushdb() is True
    assert r.dbsize() == 0
    r.set("a", 1)
    assert r.flushall() is True
    assert r.dbsize() == 0
    assert err(r, "FLUSHALL", "bogus") == "syntax error"


def test_unknown_and_arity_errors(r):
    assert err(r, "NOSUCH", "a", "b") == "unknown command 'NOSUCH', with args beginning with: 'a' 'b' "
    assert err(r, "GET") == "wrong number of arguments for 'get' command"
    assert err(r, "GET", "a", "b") == "wrong number of arguments for 'get' command"


def test_inline_protocol(node):
    out = raw(node.port, b"PING\r\nSET k \"hello world\"\r\nGET k\r\nQUIT\r\n", read_until=b"+OK\r\n+OK")
    assert out.startswith(b"+PONG\r\n+OK\r\n$11\r\nhello world\r\n+OK\r\n")


def test_pipelining(node):
    cmds = b"".join(b"*3\r\n$3\r\nSET\r\n$%d\r\nk%d\r\n$1\r\nv\r\n" % (len(str(i)) + 1, i) for i in range(1000))
    out = raw(node.port, cmds + b"*1\r\n$4\r\nQUIT\r\n", read_until=b"+OK\r\n" * 1001)
    assert out.count(b"+OK\r\n") == 1001
    assert node.client().dbsize() == 1000


def test_auth(node_factory):
    n = node_factory(["--requirepass", "s3cret"])
    c = redis.Redis(port=n.port)
    with pytest.raises(redis.AuthenticationError):
        c.get("x")
    with pytest.raises(redis.ResponseError) as e:
        redis.Redis(port=n.port, password="wrong").ping()
    assert "WRONGPASS" in str(e.value)
    ok = redis.Redis(port=n.port, password="s3cret")
    assert ok.ping()
    assert ok.execute_command("AUTH", "default", "s3cret") is True
    assert raw(n.port, b"AUTH nope\r\n", read_until=b"\r\n") == \
        b"-WRONGPASS invalid username-password pair or user is disabled.\r\n"
    assert raw(n.port, b"GET x\r\n", read_until=b"\r\n") == b"-NOAUTH Authentication required.\r\n"
    assert raw(n.port, b"HELLO 3 AUTH default s3cret\r\n", read_until=b"modules").startswith(b"%7\r\n")


def test_auth_without_password(r):
    assert err(r, "AUTH", "x").startswith("AUTH <password> called without any password configured")


def test_hello_resp3(node):
    out = raw(node.port, b"HELLO 3\r\nSET d 1.5\r\nGET nokey\r\n", read_until=b"_\r\n")
    assert out.startswith(b"%7\r\n$6\r\nserver\r\n$5\r\nredis\r\n")
    assert out.endswith(b"+OK\r\n_\r\n")
    assert raw(node.port, b"HELLO 4\r\n", read_until=b"\r\n") == b"-NOPROTO unsupported protocol version\r\n"
    out = raw(node.port, b"HELLO 2\r\nGET nokey\r\n", read_until=b"$-1\r\n")
    assert out.startswith(b"*14\r\n") and out.endswith(b"$-1\r\n")


def test_client_commands(node):
    a = node.client()
    b = node.client()
    assert a.client_setname("alpha") is True
    assert a.client_getname() == "alpha"
    assert b.client_getname() is None
    with pytest.raises(redis.ResponseError) as e:
        a.client_setname("has space")
    assert "Client names cannot contain spaces" in str(e.value)
    ida = a.client_id()
    idb = b.client_id()
    assert ida != idb
    names = [c["name"] for c in a.client_list()]
    assert "alpha" in names
    assert len(a.client_list(client_id=[str(idb)])) == 1
    s = socket.create_connection(("127.0.0.1", node.port), timeout=5)
    s.sendall(b"CLIENT ID\r\n")
    ids = int(s.recv(100)[1:].strip())
    assert a.client_kill_filter(_id=ids) == 1
    assert s.recv(100) == b""  # the server closed it
    s.close()
    assert err(a, "CLIENT", "KILL", "1.2.3.4:5") == "No such client"
    assert err(a, "CLIENT", "NOPE").startswith("unknown subcommand or wrong number of arguments for 'NOPE'")
    info = a.execute_command("CLIENT", "INFO")
    assert b"name=alpha" in info


def test_command_introspection(r, node):
    count = r.command_count()
    assert count > 100
    out = raw(node.port, b"COMMAND INFO get nosuch\r\n", read_until=b"*-1\r\n")
    assert out.startswith(b"*2\r\n*10\r\n$3\r\nget\r\n:2\r\n") and out.endswith(b"*-1\r\n")
    docs = raw(node.port, b"COMMAND DOCS set\r\n", read_until=b"complexity")
    assert docs.startswith(b"*2\r\n$3\r\nset\r\n")
    assert node.cli("COMMAND", "GETKEYS", "MSET", "a", "1", "b", "2").split() == ["a", "b"]
    # redis-cli fetches COMMAND DOCS for hints at start-up; it must not choke.
    assert node.cli("PING").strip() == "PONG"


def test_config_get_set(r):
    assert r.config_get("maxmemory") == {"maxmemory": "0"}
    assert r.config_set("maxmemory", "10mb") is True
    assert r.config_get("maxmemory") == {"maxmemory": "10485760"}
    assert r.config_set("maxmemory-policy", "allkeys-lru") is True
    assert r.config_get("maxmemory-policy") == {"maxmemory-policy": "allkeys-lru"}
    assert "argument(s) must be one of the following" in err(r, "CONFIG", "SET", "maxmemory-policy", "bogus")
    assert r.config_get("maxmemory-policy") == {"maxmemory-policy": "allkeys-lru"}
    assert "can't set immutable config" in err(r, "CONFIG", "SET", "port", "1234")
    assert "Unknown option" in err(r, "CONFIG", "SET", "nosuch", "1")
    assert "must be between" in err(r, "CONFIG", "SET", "hz", "100000")
    got = r.config_get("max*")
    assert "maxclients" in got and "maxmemory-samples" in got
    assert r.config_set("timeout", "0") is True


def test_quit_closes(node):
    out = raw(node.port, b"QUIT\r\nPING\r\n")
    assert out == b"+OK\r\n"


def test_maxclients(node_factory):
    n = node_factory(["--maxclients", "2"])
    a, b = n.client(), n.client()
    # The readiness probe's connection may still be closing on the server side.
    deadline = time.time() + 5
    while True:
        try:
            a.ping()
            b.ping()
            break
        except redis.ConnectionError:
            if time.time() > deadline:
                raise
            time.sleep(0.05)
    out = raw(n.port, b"PING\r\n", read_until=b"\r\n")
    assert out == b"-ERR max number of clients reached\r\n"
    assert a.ping()


def test_idle_timeout(node_factory):
    n = node_factory(["--timeout", "1"])
    s = socket.create_connection(("127.0.0.1", n.port), timeout=5)
    s.sendall(b"PING\r\n")
    assert s.recv(100) == b"+PONG\r\n"
    deadline = time.time() + 5
    closed = False
    while time.time() < deadline:
        try:
            if s.recv(100) == b"":
                closed = True
                break
        except socket.timeout:
            break
    assert closed, "idle client was not closed"
    assert n.client().ping()


def test_shutdown_command(node):
    c = node.client()
    try:
        c.execute_command("SHUTDOWN")
    except redis.ConnectionError:
        pass
    node.proc.wait(timeout=10)
    assert node.proc.returncode == 0
