"""
stream-json-logs (tools/stream_json_logs.c), the command-line client of the
stream (DESIGN.md section 5), against a real WebSocket server written here
with python3-websockets on 127.0.0.1: it serves records from a list, can
refuse the upgrade with HTTP 400 and a JSON error (as packet_logs answers a
bad parameter), can close early, and records what each client sent.

These tests pin the client's own behaviour; test_stream_e2e.py runs it
against packet_logs' own stream (real NFLOG records, -prefix, -backlog, the
token), and the tests at the end of this file against a real server for the
URL and token taken from the server's variables.

Run as root:  /usr/bin/python3 -m pytest tests/integration/test_stream_json_logs.py
The binary:   STREAM_JSON_LOGS (default: build/tools/stream-json-logs or
              build/stream-json-logs of this repo).
"""
import asyncio
import json
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
import urllib.parse
from http import HTTPStatus

import pytest

from conftest import REPO, SANITIZER_REPORT, STREAM_JSON_LOGS

websockets = pytest.importorskip("websockets")  # Debian's python3-websockets

GOLDEN = REPO / "tests" / "corpus" / "golden"


BINARY = STREAM_JSON_LOGS

# The jq filters of SPR's inspection script (tests/integration/data/spr-inspect.sh),
# copied exactly, and its pipeline.
F_UDP = '[.Timestamp,"UDP",.Prefix, ([.IP.SrcIP,.UDP.SrcPort|tostring]|join(":")), ([.IP.DstIP,.UDP.DstPort|tostring]|join(":"))]'
F_TCP = '[.Timestamp,"TCP",.Prefix, ([.IP.SrcIP,.TCP.SrcPort|tostring]|join(":")), ([.IP.DstIP,.TCP.DstPort|tostring]|join(":"))]'
JQ_TABLE = 'jq -r -c "if .UDP!=null then $F_UDP elif .TCP!=null then $F_TCP else empty end | @csv"'


# --------------------------------------------------------------- records

def _golden(name, pick, count):
    """The first `count` records of golden capture `name` that pick(record) accepts."""
    out = []
    with open(GOLDEN / name) as f:
        for line in f:
            r = json.loads(line)
            if "error" not in r and pick(r):
                out.append(r)
                if len(out) == count:
                    break
    assert len(out) == count, f"{name}: fewer than {count} records"
    return out


def sample_records():
    """Real records of the corpus (IPv4 UDP, IPv4 TCP, and one that is
    neither), with SPR's prefixes, as JSON text the way the server sends it."""
    udp = _golden("HSRP_coup.pcap.jsonl", lambda r: "UDP" in r and "IP" in r, 2)
    tcp = _golden("accecn_handshake.pcap.jsonl", lambda r: "TCP" in r and "IP" in r, 2)
    other = _golden("02-sunrise-sunset-esp.pcap.jsonl",
                    lambda r: "IP" in r and "UDP" not in r and "TCP" not in r, 1)
    records = udp + tcp + other
    prefixes = ["lan:in ", "wan:in ", "drop:input ", "lan:out ", "wan:out "]
    actions = ["allowed", "allowed", "blocked", "allowed", "allowed"]
    for r, p, a in zip(records, prefixes, actions):
        r["Prefix"], r["Action"] = p, a
    return [json.dumps(r, separators=(",", ":")) for r in records]


def expected_rows(messages):
    """What the seed's jq pipeline makes of records: one CSV row per UDP or
    TCP record, as jq's @csv writes strings."""
    rows = []
    for m in messages:
        r = json.loads(m)
        for proto in ("UDP", "TCP"):
            if r.get(proto) is not None:
                cells = [r["Timestamp"], proto, r["Prefix"],
                         f'{r["IP"]["SrcIP"]}:{r[proto]["SrcPort"]}',
                         f'{r["IP"]["DstIP"]}:{r[proto]["DstPort"]}']
                rows.append(",".join('"' + c.replace('"', '""') + '"' for c in cells))
                break
    return rows


# --------------------------------------------------------------- the server

class StreamServer:
    """A WebSocket server on 127.0.0.1 in a thread of its own.

    messages: sent in order on each connection (a list of str is sent as one
    fragmented message); then the server reads until the client closes, or
    closes itself with close=(code, reason). refuse=(status, body[, headers])
    answers the upgrade with that HTTP status and body instead. ssl: an
    SSLContext, for wss. Each connection's path, headers and subprotocol go
    to .requests, the messages the client sent to .received, its close code
    to .close_codes."""

    def __init__(self, messages=(), close=None, refuse=None, delay=0.0, ssl=None):
        self.messages = list(messages)
        self.ssl = ssl
        self.close = close
        self.refuse = refuse
        self.delay = delay
        self.requests = []
        self.close_codes = []
        self.received = []
        self.port = None
        self._loop = None
        self._server = None
        self._thread = None
        self._ready = threading.Event()

    async def _process_request(self, path, headers):
        self.requests.append({"path": path, "headers": headers})
        if self.refuse:
            status, body, *more = self.refuse
            return (status, [("Content-Type", "application/json"),
                             ("Content-Length", str(len(body)))] + (more[0] if more else []),
                    body)
        return None

    async def _handler(self, ws, path=None):
        self.requests[-1]["subprotocol"] = ws.subprotocol
        try:
            for m in self.messages:
                await ws.send(m)
                if self.delay:
                    await asyncio.sleep(self.delay)
            if self.close:
                await ws.close(*self.close)
                return
            async for m in ws:
                self.received.append(m)
        except websockets.ConnectionClosed:
            pass
        finally:
            self.close_codes.append(ws.close_code)

    def _run(self):
        self._loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self._loop)
        self._server = self._loop.run_until_complete(websockets.serve(
            self._handler, "127.0.0.1", 0, subprotocols=["packet_logs"],
            process_request=self._process_request, max_size=None, ssl=self.ssl))
        self.port = self._server.sockets[0].getsockname()[1]
        self._ready.set()
        self._loop.run_forever()
        self._server.close()
        self._loop.run_until_complete(self._server.wait_closed())
        self._loop.close()

    def start(self):
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        assert self._ready.wait(5), "the test's WebSocket server did not start"
        return self

    def stop(self):
        if self._loop and self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(5)

    @property
    def url(self):
        return f"{'wss' if self.ssl else 'ws'}://127.0.0.1:{self.port}/packet_logs/stream"

    def query(self, i=0):
        """The query of request i, decoded."""
        return urllib.parse.parse_qs(urllib.parse.urlsplit(self.requests[i]["path"]).query,
                                     keep_blank_values=True)


@pytest.fixture
def stream_server():
    """stream_server(**kw) -> a started StreamServer, stopped at the end."""
    servers = []

    def start(**kw):
        s = StreamServer(**kw).start()
        servers.append(s)
        return s

    yield start
    for s in servers:
        s.stop()


@pytest.fixture(scope="module", autouse=True)
def _binary_present():
    assert BINARY.exists(), (f"no stream-json-logs at {BINARY}: build it (cmake, or gcc as "
                             f"tools/CMakeLists.txt says) or set STREAM_JSON_LOGS")


def run(*args, timeout=20, input=None):
    """Runs stream-json-logs to its end: (status, stdout, stderr, seconds)."""
    # the server's variables would change the defaults (tested at the end)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PACKET_LOGS_")}
    env.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0")
    env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1")
    t0 = time.monotonic()
    res = subprocess.run([str(BINARY), *map(str, args)], capture_output=True, text=True,
                         timeout=timeout, env=env, input=input)
    took = time.monotonic() - t0
    assert not SANITIZER_REPORT.search(res.stderr), f"sanitizer report:\n{res.stderr}"
    return res.returncode, res.stdout, res.stderr, took


def free_port():
    """A TCP port on 127.0.0.1 that nothing listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --------------------------------------------------------------- records out

def test_timeout_prints_every_record_one_per_line_and_exits_0(stream_server):
    messages = sample_records()
    srv = stream_server(messages=messages)
    rc, out, err, took = run("-timeout", 3, "-url", srv.url)
    assert rc == 0, err
    assert out == "".join(m + "\n" for m in messages)
    assert err == ""
    assert 2.9 <= took < 6, took
    # a polite end: the client closed with 1000 and the server saw it
    deadline = time.monotonic() + 2
    while not srv.close_codes and time.monotonic() < deadline:
        time.sleep(0.02)
    assert srv.close_codes == [1000]


def test_seed_jq_table_pipeline_works_on_the_output(stream_server, tmp_path):
    if not shutil.which("jq"):
        subprocess.run(["apt-get", "install", "-y", "-q", "jq"], capture_output=True, timeout=300)
    assert shutil.which("jq"), "jq is missing (apt-get install jq)"
    messages = sample_records()
    srv = stream_server(messages=messages)
    log = tmp_path / "log.json"
    # as the seed's script does: the stream to a file, then jq over it
    rc, out, err, _ = run("-timeout", 2, "-url", srv.url)
    assert rc == 0, err
    log.write_text(out)
    res = subprocess.run(["bash", "-c", f'cat "$F" | {JQ_TABLE}'], capture_output=True,
                         text=True, timeout=30,
                         env={**os.environ, "F": str(log), "F_UDP": F_UDP, "F_TCP": F_TCP})
    assert res.returncode == 0, res.stderr
    rows = res.stdout.splitlines()
    assert rows == expected_rows(messages)
    assert len(rows) == 4  # two UDP, two TCP; the ESP record is left out
    assert rows[0].startswith('"2008-06-19T05:52:16.041638Z","UDP","lan:in ","192.168.0.30:1985"')
    # and live, through a pipe, as `stream-json-logs | jq` is used
    res = subprocess.run(["bash", "-c", f'"$BIN" -timeout 2 -url "$URL" | {JQ_TABLE}'],
                         capture_output=True, text=True, timeout=30,
                         env={**os.environ, "BIN": str(BINARY), "URL": srv.url, "F_UDP": F_UDP,
                              "F_TCP": F_TCP})
    assert res.returncode == 0, res.stderr
    assert res.stdout.splitlines() == expected_rows(messages)


def test_each_record_is_flushed_at_once(stream_server):
    """A reader sees a record while the command still runs (jq follows live)."""
    messages = sample_records()[:1]
    srv = stream_server(messages=messages)
    p = subprocess.Popen([str(BINARY), "-timeout", "10", "-url", srv.url],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        t0 = time.monotonic()
        line = p.stdout.readline()
        assert line == messages[0] + "\n"
        assert time.monotonic() - t0 < 3
        assert p.poll() is None
    finally:
        p.send_signal(signal.SIGTERM)
        p.wait(5)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_timeout_0_runs_until_interrupted_then_exits_0(stream_server, sig):
    messages = sample_records()
    srv = stream_server(messages=messages)
    p = subprocess.Popen([str(BINARY), "-timeout", "0", "-url", srv.url],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(1.5)
    assert p.poll() is None, "ended by itself with -timeout 0"
    p.send_signal(sig)
    out, err = p.communicate(timeout=5)
    assert p.returncode == 0, err
    assert out == "".join(m + "\n" for m in messages)
    assert not SANITIZER_REPORT.search(err), err


def test_dropped_notice_goes_to_stderr_not_stdout(stream_server):
    messages = sample_records()
    srv = stream_server(messages=messages[:2] + ['{"Dropped": 17}'] + messages[2:])
    rc, out, err, _ = run("-timeout", 2, "-url", srv.url)
    assert rc == 0, err
    assert out == "".join(m + "\n" for m in messages)
    assert "stream-json-logs: warning: the server dropped 17 records: reading too slowly" in err


def test_fragmented_and_large_messages_are_reassembled(stream_server):
    big = json.dumps({"Prefix": "lan:in ", "Payload": "A" * (3 << 20)})  # 3 MiB, many lws reads
    parts = sample_records()[0]
    fragments = [parts[:10], parts[10:100], parts[100:]]
    srv = stream_server(messages=[fragments, big, "{}"])
    rc, out, err, _ = run("-timeout", 3, "-url", srv.url)
    assert rc == 0, err
    assert out.split("\n") == [parts, big, "{}", ""]


def test_a_message_over_4_mib_is_an_error(stream_server):
    srv = stream_server(messages=["{}", "x" * ((4 << 20) + 1)])
    rc, out, err, took = run("-timeout", 10, "-url", srv.url)
    assert rc == 1
    assert out == "{}\n"
    assert "larger than 4 MiB" in err
    assert took < 5


# --------------------------------------------------------------- failures

def test_connection_refused_is_an_error_with_a_message():
    url = f"ws://127.0.0.1:{free_port()}/packet_logs/stream"
    rc, out, err, took = run("-timeout", 5, "-url", url)
    assert rc == 1
    assert out == ""
    assert f"cannot connect to {url}" in err and "Connection refused" in err, err
    assert took < 4


def test_http_400_is_an_error_with_the_servers_message(stream_server):
    body = b'{"error":"prefix: more than 64 bytes"}'
    srv = stream_server(refuse=(HTTPStatus.BAD_REQUEST, body))
    rc, out, err, took = run("-timeout", 5, "-url", srv.url, "-prefix", "x" * 100)
    assert rc == 1
    assert out == ""
    assert "HTTP 400" in err and body.decode() in err, err
    assert took < 4


def test_http_401_is_an_error_too(stream_server):
    body = b'{"error":"this server needs a token"}'
    srv = stream_server(refuse=(HTTPStatus.UNAUTHORIZED, body))
    rc, out, err, _ = run("-timeout", 5, "-url", srv.url)
    assert rc == 1
    assert "HTTP 401" in err and "this server needs a token" in err, err


def test_a_redirect_is_reported_not_followed(stream_server, tmp_path):
    """Following it would offer the token to wherever Location points."""
    token = tmp_path / "token"
    token.write_text("s3cret")
    other = stream_server()
    srv = stream_server(refuse=(HTTPStatus.FOUND, b"", [("Location", other.url)]))
    rc, out, err, _ = run("-timeout", 3, "-url", srv.url, "-token-file", token)
    assert rc == 1 and out == ""
    assert "HTTP 302" in err, err
    assert other.requests == []


def test_server_closing_early_is_an_error(stream_server):
    messages = sample_records()[:2]
    srv = stream_server(messages=messages, close=(1001, "going away"))
    rc, out, err, took = run("-timeout", 10, "-url", srv.url)
    assert rc == 1
    assert out == "".join(m + "\n" for m in messages)
    assert "the server closed the stream" in err and "1001" in err and "going away" in err, err
    assert took < 5


def test_no_answer_before_the_timeout_is_an_error():
    """A server that accepts TCP but never answers the upgrade."""
    with socket.socket() as lsock:
        lsock.bind(("127.0.0.1", 0))
        lsock.listen(1)
        url = f"ws://127.0.0.1:{lsock.getsockname()[1]}/packet_logs/stream"
        rc, out, err, took = run("-timeout", 2, "-url", url)
    assert rc == 1
    assert "no answer within 2 s" in err, err
    assert took < 4


# --------------------------------------------------------------- the request

def test_prefix_is_sent_url_encoded(stream_server):
    srv = stream_server()
    rc, _, err, _ = run("-timeout", 1, "-url", srv.url, "-prefix", "drop:input ")
    assert rc == 0, err
    path = srv.requests[0]["path"]
    assert path == "/packet_logs/stream?prefix=drop%3Ainput%20", path
    assert srv.query() == {"prefix": ["drop:input "]}


def test_prefix_and_backlog_keep_the_urls_own_query(stream_server):
    srv = stream_server()
    rc, _, err, _ = run("-timeout", 1, "-url", srv.url + "?action=blocked", "-prefix",
                        "a&b=c/é", "-backlog", 5)
    assert rc == 0, err
    assert srv.query() == {"action": ["blocked"], "prefix": ["a&b=c/é"], "backlog": ["5"]}
    assert srv.requests[0]["path"].startswith("/packet_logs/stream?action=blocked&prefix=a%26b%3Dc%2F%C3%A9&")


def test_token_is_offered_in_sec_websocket_protocol(stream_server, tmp_path):
    token = tmp_path / "token"
    token.write_text("s3cret-Token_0.9~\n")
    srv = stream_server()
    rc, _, err, _ = run("-timeout", 1, "-url", srv.url, "-token-file", token)
    assert rc == 0, err
    headers = srv.requests[0]["headers"]
    assert headers.get_all("Sec-WebSocket-Protocol") == ["packet_logs, bearer.s3cret-Token_0.9~"]
    assert srv.requests[0]["subprotocol"] == "packet_logs"
    assert "Origin" not in headers  # the server checks Origin against Host when given
    assert srv.received == []


@pytest.mark.parametrize("token", [
    "t" * 107,              # "packet_logs, bearer." + 107 > 126 bytes (api/pl_upgrade.h)
    'a"b\\c,d/e(f)',         # not RFC 7230 token characters
])
def test_a_token_that_does_not_fit_the_header_is_the_first_message(stream_server, tmp_path,
                                                                    token):
    f = tmp_path / "token"
    f.write_text(token + "\n")
    messages = sample_records()[:1]
    srv = stream_server(messages=messages)
    rc, out, err, _ = run("-timeout", 1, "-url", srv.url, "-token-file", f)
    assert rc == 0, err
    assert out == messages[0] + "\n"
    assert srv.requests[0]["headers"].get_all("Sec-WebSocket-Protocol") == ["packet_logs"]
    assert srv.received == [json.dumps({"token": token}, separators=(",", ":"))]
    assert json.loads(srv.received[0]) == {"token": token}


def test_the_longest_token_for_the_header_goes_there(stream_server, tmp_path):
    f = tmp_path / "token"
    f.write_text("t" * 106)
    srv = stream_server()
    rc, _, err, _ = run("-timeout", 1, "-url", srv.url, "-token-file", f)
    assert rc == 0, err
    value = srv.requests[0]["headers"]["Sec-WebSocket-Protocol"]
    assert value == "packet_logs, bearer." + "t" * 106 and len(value) == 126
    assert srv.received == []


def test_without_a_token_only_the_protocol_is_offered(stream_server):
    srv = stream_server()
    rc, _, err, _ = run("-timeout", 1, "-url", srv.url)
    assert rc == 0, err
    assert srv.requests[0]["headers"].get_all("Sec-WebSocket-Protocol") == ["packet_logs"]
    assert srv.requests[0]["headers"]["Host"] == f"127.0.0.1:{srv.port}"


@pytest.mark.parametrize("content, why", [
    ("", "holds no token"),
    ("two words\n", "printable, without spaces"),
    ("tab\tinside", "printable, without spaces"),
    ("x" * 256, "longer than 255"),  # the server's own bound (base/pl_token)
])
def test_a_bad_token_file_is_refused(tmp_path, content, why):
    token = tmp_path / "token"
    token.write_text(content)
    rc, out, err, _ = run("-timeout", 1, "-token-file", token)
    assert rc == 2 and out == ""
    assert why in err, err


def test_a_missing_token_file_is_refused(tmp_path):
    rc, _, err, _ = run("-token-file", tmp_path / "nothing")
    assert rc == 2
    assert "No such file" in err, err


# --------------------------------------------------------------- flags

@pytest.mark.parametrize("flag", ["-help", "-h", "--help", "--h"])
def test_help_prints_usage_to_stderr_and_exits_0(flag):
    rc, out, err, _ = run(flag)
    assert rc == 0
    assert out == ""
    assert err.startswith("Usage of stream-json-logs:\n")
    for name in ("-timeout int", "-prefix string", "-url string", "-token-file string",
                 "-backlog N"):
        assert f"  {name}\n" in err, err
    assert '(default "ws://127.0.0.1:8080/packet_logs/stream")' in err
    assert "(default 20)" in err


@pytest.mark.parametrize("args, message", [
    (["-nope"], "flag provided but not defined: -nope"),
    (["--nope=1"], "flag provided but not defined: -nope"),
    (["-timeout", "abc"], 'invalid value "abc" for flag -timeout: parse error'),
    (["-timeout=-1"], 'invalid value "-1" for flag -timeout'),
    (["-timeout", "99999999999"], "value out of range"),
    (["-timeout"], "flag needs an argument: -timeout"),
    (["-backlog", "1x"], 'invalid value "1x" for flag -backlog'),
    (["---timeout", "1"], "bad flag syntax: ---timeout"),
    (["-url", "http://127.0.0.1:8080/packet_logs/stream"], "ws://"),
    (["-url", "ws://127.0.0.1:99999/x"], "port"),
    (["-url", "ws:///packet_logs/stream"], "no host"),
    (["-url", "ws://[::1/x"], "IPv6"),
    (["extra"], "unexpected argument: extra"),
])
def test_bad_flags_and_values_exit_2(args, message):
    rc, out, err, _ = run(*args)
    assert rc == 2
    assert out == ""
    assert message in err, err


def test_go_flag_forms_are_accepted(stream_server):
    """-flag value, -flag=value, --flag value, --flag=value, and "--"."""
    messages = sample_records()[:1]
    srv = stream_server(messages=messages)
    rc, out, err, _ = run("--timeout=1", "--url", srv.url, "-prefix=lan:in ", "--backlog=0",
                          "--")
    assert rc == 0, err
    assert out == messages[0] + "\n"
    assert srv.query() == {"prefix": ["lan:in "], "backlog": ["0"]}


# --------------------------------------------------------------- wss (optional)

def test_wss_with_the_ca_of_ssl_cert_file(stream_server, tmp_path):
    """wss:// works when lws has TLS: the server's certificate is checked
    against SSL_CERT_FILE (default: Debian's bundle), and refused without it."""
    import ssl
    if not shutil.which("openssl"):
        pytest.skip("no openssl command to make a certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-keyout", key, "-out", cert, "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
                   check=True, capture_output=True, timeout=60)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    messages = sample_records()[:2]
    srv = stream_server(messages=messages, ssl=ctx)
    env = {**os.environ, "SSL_CERT_FILE": str(cert)}
    res = subprocess.run([str(BINARY), "-timeout", "2", "-url", srv.url], capture_output=True,
                         text=True, timeout=20, env=env)
    if res.returncode == 2 and "no TLS" in res.stderr:
        pytest.skip("this libwebsockets has no TLS")
    assert res.returncode == 0, res.stderr
    assert res.stdout == "".join(m + "\n" for m in messages)
    rc, out, err, _ = run("-timeout", 2, "-url", srv.url)  # the system's CAs do not know it
    assert rc == 1 and out == ""
    assert "cannot connect to " + srv.url in err, err


# --------------------------------------------------------------- the server's variables
#
# `docker exec CONTAINER stream-json-logs` runs with the container's
# environment: the same PACKET_LOGS_LISTEN / PACKET_LOGS_TOKEN_FILE /
# PACKET_LOGS_TOKEN that started packet_logs. Against the real server in the
# router namespace, started by those variables alone.

from conftest import WAN_ROUTER4  # noqa: E402
from conftest import free_port as free_port_in  # noqa: E402


def clean_env(extra):
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("PACKET_LOGS_") and k != "WANIF"}
    env.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0")
    env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1")
    env.update(extra)
    return env


def run_in(ns, args, env, timeout=20):
    res = subprocess.run(["ip", "netns", "exec", ns, str(BINARY), *map(str, args)],
                         capture_output=True, text=True, timeout=timeout, env=env,
                         stdin=subprocess.DEVNULL)
    assert not SANITIZER_REPORT.search(res.stderr), f"sanitizer report:\n{res.stderr}"
    return res.returncode, res.stdout, res.stderr


@pytest.fixture
def env_server(net, traffic, tmp_path, start_server):
    """env_server(host, token_var) -> (server, its variables, a logged
    record's source port): packet_logs started by PACKET_LOGS_LISTEN=host:port
    and a token from token_var, one wan:in record made."""
    def start(host, token_var="PACKET_LOGS_TOKEN_FILE"):
        token = "t0ken-" + os.urandom(6).hex()
        token_file = tmp_path / "token"
        token_file.write_text(token + "\n")
        port = free_port_in(net.router)
        listen = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        env = {"PACKET_LOGS_LISTEN": listen,
               token_var: str(token_file) if token_var.endswith("_FILE") else token}
        client_host = {"0.0.0.0": "127.0.0.1", "::": "::1"}.get(host, host)
        s = start_server(net.router, env=env, host=client_host, port=port, token=token,
                         listen=False)
        sport = 40000 + os.getpid() % 20000
        traffic.udp(net.wan, WAN_ROUTER4, 5400, sport=sport)
        s.wait_records([("prefix", "wan:in"), ("sport", sport)], lambda r: len(r) == 1)
        return s, env, sport
    return start


@pytest.mark.parametrize("host", ["0.0.0.0", "::"])
def test_the_servers_variables_give_the_url_and_the_token(net, env_server, host):
    """A wildcard listen address is reached on loopback; the token file's
    token is offered: no flag needed, as in `docker exec CONTAINER
    stream-json-logs`."""
    server, env, sport = env_server(host)
    rc, out, err = run_in(net.router, ["-timeout", 2, "-prefix", "wan:in", "-backlog", 50],
                          clean_env(env))
    assert rc == 0, err
    assert err == "", err
    records = [json.loads(line) for line in out.splitlines()]
    assert any(r.get("UDP", {}).get("SrcPort") == sport for r in records), out


def test_the_servers_token_variable_is_read_too(net, env_server):
    server, env, sport = env_server("0.0.0.0", token_var="PACKET_LOGS_TOKEN")
    rc, out, err = run_in(net.router, ["-timeout", 2, "-prefix", "wan:in", "-backlog", 50],
                          clean_env(env))
    assert rc == 0 and err == "", err
    assert any(json.loads(line).get("UDP", {}).get("SrcPort") == sport
               for line in out.splitlines()), out


def test_flags_win_and_an_explicit_url_gets_no_token_from_the_variables(net, env_server,
                                                                        tmp_path):
    server, env, sport = env_server("0.0.0.0")
    url = f"ws://127.0.0.1:{server.port}/packet_logs/stream"
    # -url: the variables' token stays home; the server holds a client without
    # one until its first message brings the token, so -backlog gives nothing
    rc, out, err = run_in(net.router, ["-timeout", 2, "-url", url, "-backlog", 50],
                          clean_env(env))
    assert rc == 0 and out == "", (out, err)
    # -url and -token-file: both from the flags
    rc, out, err = run_in(net.router, ["-timeout", 2, "-url", url, "-token-file",
                                       env["PACKET_LOGS_TOKEN_FILE"], "-backlog", 50],
                          clean_env(env))
    assert rc == 0 and err == "", err
    assert any(json.loads(line).get("UDP", {}).get("SrcPort") == sport
               for line in out.splitlines()), out
    # -token-file wins over the variable's file
    wrong = tmp_path / "wrong"
    wrong.write_text("not-the-token\n")
    rc, out, err = run_in(net.router, ["-timeout", 2, "-token-file", wrong], clean_env(env))
    assert rc == 1 and "HTTP 401" in err, err
    # -url wins over PACKET_LOGS_LISTEN: a port where nothing listens
    dead = f"ws://127.0.0.1:{free_port_in(net.router)}/packet_logs/stream"
    rc, out, err = run_in(net.router, ["-timeout", 2, "-url", dead], clean_env(env))
    assert rc == 1 and f"cannot connect to {dead}" in err, err


@pytest.mark.parametrize("listen, why", [
    ("8080", "expected ADDRESS:PORT"),
    ("127.0.0.1:0", "the port must be a number from 1 to 65535"),
    ("127.0.0.1:http", "the port must be a number from 1 to 65535"),
    ("router.lan:8080", "must be an IPv4 or IPv6 address"),
    ("[::1:8080", "expected ADDRESS:PORT"),
])
def test_a_bad_listen_variable_stops_with_its_name(listen, why):
    res = subprocess.run([str(BINARY), "-timeout", "1"], capture_output=True, text=True,
                         timeout=20, env=clean_env({"PACKET_LOGS_LISTEN": listen}))
    assert res.returncode == 2, res.stderr
    assert res.stderr.startswith(f"stream-json-logs: PACKET_LOGS_LISTEN={listen}: "), res.stderr
    assert why in res.stderr, res.stderr


def test_a_bad_token_variable_stops_with_its_name(tmp_path):
    missing = tmp_path / "nope"
    res = subprocess.run([str(BINARY), "-timeout", "1"], capture_output=True, text=True,
                         timeout=20, env=clean_env({"PACKET_LOGS_TOKEN_FILE": str(missing)}))
    assert res.returncode == 2, res.stderr
    assert f"PACKET_LOGS_TOKEN_FILE: {missing}: No such file" in res.stderr, res.stderr
    res = subprocess.run([str(BINARY), "-timeout", "1"], capture_output=True, text=True,
                         timeout=20, env=clean_env({"PACKET_LOGS_TOKEN": "has space"}))
    assert res.returncode == 2, res.stderr
    assert "PACKET_LOGS_TOKEN: the token must be printable" in res.stderr, res.stderr
