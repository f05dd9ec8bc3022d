"""
The live stream, GET /packet_logs/stream upgraded to a WebSocket on the one
port (DESIGN.md section 5), end to end: the real binary in a network
namespace of its own, a real nftables log rule on the output hook, real
NFLOG, and Debian's python3-websockets as the client, run inside the
namespace with `ip netns exec`.

Self-contained (nothing from conftest.py): each test starts its own server
in the module's namespace, pls<pid>n<k>, removed at teardown.

The namespace logs UDP sent over its loopback:
    udp dport 9101 -> prefix "wan:in ", group 0
    udp dport 9102 -> prefix "lan:in ", group 0

Run as root:  /usr/bin/python3 -m pytest tests/integration/test_stream.py
The binary:   PACKET_LOGS_BINARY (default: build/packet_logs of this repo).
Slow tests:   PL_SLOW_TESTS=1 also runs the ping test (~65 s).
"""
import contextlib
import ctypes
import http.client
import json
import os
import queue
import re
import signal
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
BINARY = Path(os.environ.get("PACKET_LOGS_BINARY", REPO / "build" / "packet_logs"))
PY = "/usr/bin/python3"
WAN_PORT, LAN_PORT = 9101, 9102
SLOW = os.environ.get("PL_SLOW_TESTS") == "1"

RULES = f"""
table inet plstream {{
  chain output {{
    type filter hook output priority 0; policy accept;
    udp dport {WAN_PORT} log prefix "wan:in " group 0
    udp dport {LAN_PORT} log prefix "lan:in " group 0
  }}
}}
"""

SANITIZER_REPORT = re.compile(
    r"ERROR: (AddressSanitizer|LeakSanitizer|ThreadSanitizer|MemorySanitizer)|"
    r"runtime error:|UndefinedBehaviorSanitizer|SUMMARY: \w+Sanitizer")

# The WebSocket client, run inside the namespace. Arguments: one JSON object.
# Prints one JSON line per event: open, refused, message, summary, idle,
# closed.
CLIENT = r'''
import asyncio, json, os, sys
import websockets

def out(**event):
    sys.stdout.write(json.dumps(event) + "\n")
    sys.stdout.flush()

async def main(a):
    kw = dict(max_size=1 << 24, max_queue=a.get("max_queue", 4096), open_timeout=5,
              ping_interval=None, close_timeout=2)
    if a.get("subprotocols"):
        kw["subprotocols"] = a["subprotocols"]
    if a.get("origin"):
        kw["origin"] = a["origin"]
    if a.get("no_deflate"):  # the server frames such a client's messages itself
        kw["compression"] = None
    try:
        ws = await websockets.connect(a["url"], **kw)
    except websockets.InvalidStatusCode as e:
        out(event="refused", status=e.status_code)
        return
    out(event="open", subprotocol=ws.subprotocol)
    if "send" in a:
        await ws.send(a["send"])
    if a.get("pause"):  # read nothing until this file exists
        while not os.path.exists(a["pause"]):
            await asyncio.sleep(0.02)
    items, n = [], 0
    try:
        while a.get("count") is None or n < a["count"]:
            m = await asyncio.wait_for(ws.recv(), a.get("idle", 5))
            n += 1
            if a.get("summary"):  # only Seq, or {"Dropped": N}
                o = json.loads(m)
                items.append(o if "Dropped" in o else o["Seq"])
            else:
                out(event="message", data=m)
    except asyncio.TimeoutError:
        out(event="idle")
    except websockets.ConnectionClosed as e:
        out(event="closed", code=e.code, reason=e.reason)
        if a.get("summary"):
            out(event="summary", items=items)
        return
    if a.get("summary"):
        out(event="summary", items=items)
    await ws.close()
    out(event="closed", code=ws.close_code, reason=ws.close_reason)

asyncio.run(main(json.loads(sys.argv[1])))
'''


# --------------------------------------------------------------- namespace

_libc = ctypes.CDLL(None, use_errno=True)
CLONE_NEWNET = 0x40000000


@contextlib.contextmanager
def netns(name):
    """Runs the body in namespace `name` (this thread only)."""
    orig = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    try:
        target = os.open(f"/run/netns/{name}", os.O_RDONLY | os.O_CLOEXEC)
        try:
            if _libc.setns(target, CLONE_NEWNET) != 0:
                raise OSError(ctypes.get_errno(), f"setns({name})")
        finally:
            os.close(target)
        try:
            yield
        finally:
            if _libc.setns(orig, CLONE_NEWNET) != 0:
                raise OSError(ctypes.get_errno(), "setns back")
    finally:
        os.close(orig)


def sh(*cmd, input=None, check=True):
    res = subprocess.run([str(c) for c in cmd], input=input, capture_output=True, text=True,
                         timeout=30)
    if check and res.returncode:
        raise AssertionError(f"{' '.join(map(str, cmd))}: {res.returncode}\n{res.stderr}")
    return res


from conftest import remove_stale_namespaces  # noqa: E402

_NS_RE = re.compile(r"^pls(\d+)n\d+$")


_ns_counter = [0]


@pytest.fixture(scope="module")
def ns():
    if os.geteuid() != 0:
        pytest.fail("these tests need root (network namespaces, nftables, NFLOG)")
    pytest.importorskip("websockets")
    remove_stale_namespaces(_NS_RE)
    _ns_counter[0] += 1
    name = f"pls{os.getpid()}n{_ns_counter[0]}"
    sh("ip", "netns", "add", name)
    try:
        sh("ip", "-n", name, "link", "set", "lo", "up")
        sh("ip", "netns", "exec", name, "nft", "-f", "-", input=RULES)
        yield name
    finally:
        sh("ip", "netns", "del", name, check=False)


@pytest.fixture(scope="module")
def client_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("stream") / "ws_client.py"
    path.write_text(CLIENT)
    return path


# --------------------------------------------------------------- server

class Server:
    def __init__(self, ns, args=()):
        self.ns = ns
        with netns(ns):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
            s.close()
        self.args = ["--listen", f"127.0.0.1:{self.port}", "--group", "0:allowed",
                     "--qtimeout", "10", *map(str, args)]
        env = {k: v for k, v in os.environ.items() if not k.startswith("PACKET_LOGS_")}
        env.setdefault("ASAN_OPTIONS", "detect_leaks=1")
        env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1")
        self.stderr_file = tempfile.TemporaryFile(mode="w+")
        assert BINARY.exists(), f"no binary at {BINARY} (build it, or set PACKET_LOGS_BINARY)"
        # ip netns exec execs the binary: the pid is packet_logs' own
        self.proc = subprocess.Popen(["ip", "netns", "exec", ns, str(BINARY), *self.args],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=self.stderr_file, env=env)
        deadline = time.monotonic() + 10
        while True:
            assert self.proc.poll() is None, f"packet_logs exited at start:\n{self.stderr()}"
            try:
                if self.get("/healthz")[0] == 200:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, f"no /healthz:\n{self.stderr()}"
            time.sleep(0.02)

    def stderr(self):
        self.stderr_file.seek(0)
        return self.stderr_file.read()

    def get(self, path, headers=None, timeout=5):
        with netns(self.ns):
            c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
            try:
                c.request("GET", path, headers=headers or {})
                r = c.getresponse()
                return r.status, dict(r.getheaders()), r.read()
            finally:
                c.close()

    def health(self):
        return json.loads(self.get("/healthz")[2])

    def metrics(self):
        text = self.get("/metrics")[2].decode()
        return {line.split()[0]: float(line.split()[1]) for line in text.splitlines()
                if line and not line.startswith("#")}

    def records(self, query="prefix=wan:in"):
        """{Seq: the record's NDJSON line} of REST, oldest first."""
        status, _, body = self.get(f"/packet_logs?{query}&order=asc&limit=10000",
                                   {"Accept": "application/x-ndjson"})
        assert status == 200
        lines = body.decode().splitlines()
        return {json.loads(line)["Seq"]: line for line in lines}

    def wait_records(self, n, timeout=20):
        """Waits until the history's newest Seq is at least n and stable."""
        deadline = time.monotonic() + timeout
        last, since = -1, time.monotonic()
        while time.monotonic() < deadline:
            newest = self.health()["newest_seq"]
            if newest != last:
                last, since = newest, time.monotonic()
            elif newest >= n or time.monotonic() - since > 1.5:
                return newest
            time.sleep(0.05)
        return last

    def rss_kib(self):
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0

    def sanitized(self):
        with open(f"/proc/{self.proc.pid}/maps") as f:
            return "libasan" in f.read()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise AssertionError(f"packet_logs did not stop:\n{self.stderr()}")
        err = self.stderr()
        assert not SANITIZER_REPORT.search(err), f"sanitizer report:\n{err}"
        assert rc == 0, f"packet_logs exited with {rc}:\n{err}"


@pytest.fixture
def start_server(ns):
    started = []

    def start(*args):
        s = Server(ns, args)
        started.append(s)
        return s

    yield start
    for s in started:
        s.stop()


# --------------------------------------------------------------- clients

class Client:
    """A python3-websockets client in the namespace; its events as dicts."""

    def __init__(self, ns, client_file, url, **args):
        args["url"] = url
        self.proc = subprocess.Popen(["ip", "netns", "exec", ns, PY, str(client_file),
                                      json.dumps(args)],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
        self.events = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            self.events.put(json.loads(line))
        self.events.put(None)

    def next(self, timeout=10):
        try:
            e = self.events.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError("no event from the client in time")
        assert e is not None, f"the client ended:\n{self.proc.stderr.read()}"
        return e

    def expect(self, kind, timeout=10):
        e = self.next(timeout)
        assert e["event"] == kind, f"want {kind}, got {e}"
        return e

    def messages(self, timeout=30):
        """Messages until the client stops (idle, closed); then the last event."""
        got = []
        while True:
            e = self.next(timeout)
            if e["event"] == "open":
                continue
            if e["event"] != "message":
                return got, e
            got.append(e["data"])

    def finish(self, timeout=30):
        self.proc.wait(timeout)


def url(server, query=""):
    return f"ws://127.0.0.1:{server.port}/packet_logs/stream{query}"


def send_udp(ns, port, count, payload=b"packet_logs stream test"):
    with netns(ns):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            for _ in range(count):
                s.sendto(payload, ("127.0.0.1", port))
        finally:
            s.close()


def raw_upgrade(server, target, extra=""):
    """A WebSocket upgrade written by hand; returns (status, headers, body)
    of the answer, read until the server closes (or 101's head)."""
    with netns(server.ns):
        s = socket.create_connection(("127.0.0.1", server.port), timeout=5)
    try:
        s.sendall((f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n"
                   "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                   "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
                   f"{extra}\r\n").encode())
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
            if data.startswith(b"HTTP/1.1 101") and b"\r\n\r\n" in data:
                break
    finally:
        s.close()
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.lower(): v.strip() for k, v in (l.split(":", 1) for l in lines[1:])}
    return status, headers, body


# --------------------------------------------------------------- tests

def test_backlog_then_live_byte_for_byte(ns, client_file, start_server):
    """backlog=5: the newest 5 matching records, oldest first, then live ones,
    without a gap or a duplicate; each message byte for byte REST's JSON."""
    server = start_server()
    for _ in range(10):
        send_udp(ns, WAN_PORT, 1)
        send_udp(ns, LAN_PORT, 1)
    server.wait_records(20)
    client = Client(ns, client_file, url(server, "?prefix=wan:in&backlog=5"), idle=2)
    client.expect("open")
    time.sleep(0.5)  # the server has placed the cursor
    for _ in range(10):
        send_udp(ns, LAN_PORT, 1)
        send_udp(ns, WAN_PORT, 1)
    got, last = client.messages()
    assert last["event"] == "idle"
    wan = server.records("prefix=wan:in")
    assert len(wan) == 20
    seqs = [json.loads(m)["Seq"] for m in got]
    assert seqs == sorted(wan)[-15:], "the newest 5 before, then the 10 live, in order"
    for m in got:
        assert m == wan[json.loads(m)["Seq"]], "a message differs from REST's record"
    for m in got:
        assert json.loads(m)["Prefix"] == "wan:in "


def test_no_backlog_is_live_only(ns, client_file, start_server):
    server = start_server()
    send_udp(ns, LAN_PORT, 3)
    server.wait_records(3)
    client = Client(ns, client_file, url(server, "?prefix=lan:in"), idle=1.5)
    client.expect("open")
    time.sleep(0.3)
    send_udp(ns, WAN_PORT, 3)
    send_udp(ns, LAN_PORT, 3)
    got, _ = client.messages()
    lan = server.records("prefix=lan:in")
    assert [json.loads(m)["Seq"] for m in got] == sorted(lan)[-3:]
    assert all(m == lan[json.loads(m)["Seq"]] for m in got)


def test_backlog_larger_than_history_matches(ns, client_file, start_server):
    server = start_server()
    send_udp(ns, WAN_PORT, 4)
    send_udp(ns, LAN_PORT, 4)
    server.wait_records(8)
    client = Client(ns, client_file, url(server, "?prefix=wan:in&backlog=100"), idle=1.5)
    got, last = client.messages()
    assert last["event"] == "idle"
    assert [json.loads(m)["Seq"] for m in got] == sorted(server.records("prefix=wan:in"))


@pytest.mark.parametrize("query,param", [
    ("?backlog=abc", "backlog"),
    ("?backlog=10001", "backlog"),
    ("?foo=1", "foo"),
    ("?limit=5", "limit"),
    ("?prefix=%zz", "prefix"),
    ("?ip=300.0.0.1", "ip"),
    ("?token=x", "token"),
])
def test_bad_parameter_is_400_json_and_no_upgrade(ns, client_file, start_server, query, param):
    server = start_server()
    status, headers, body = raw_upgrade(server, "/packet_logs/stream" + query)
    assert status == 400
    assert headers["content-type"] == "application/json"
    assert int(headers["content-length"]) == len(body)
    answer = json.loads(body)
    assert answer["param"] == param and answer["error"]
    assert "sec-websocket-accept" not in headers
    # and the library client sees a refused upgrade
    client = Client(ns, client_file, url(server, query))
    assert client.expect("refused")["status"] == 400


def test_other_paths_are_404(ns, start_server):
    server = start_server()
    for target in ("/packet_logs/streamx", "/packet_logs", "/"):
        status, headers, body = raw_upgrade(server, target)
        assert status == 404 and json.loads(body)["error"]


def test_foreign_origin_is_403(ns, client_file, start_server):
    server = start_server()
    status, headers, body = raw_upgrade(server, "/packet_logs/stream",
                                        "Origin: http://evil.example\r\n")
    assert status == 403
    assert json.loads(body)["param"] == "Origin"
    client = Client(ns, client_file, url(server), origin="http://evil.example:8080")
    assert client.expect("refused")["status"] == 403
    # the page's own origin is welcome
    client = Client(ns, client_file, url(server), origin=f"http://127.0.0.1:{server.port}",
                    idle=0.5)
    client.expect("open")


def test_origins_allowed_by_cors_may_open_the_stream(ns, client_file, start_server):
    """A dashboard on another origin that --cors-origin lets use the API
    may also follow the stream; other origins still may not."""
    server = start_server("--cors-origin", "https://grafana.example,http://home.example:3000")
    status, headers, body = raw_upgrade(server, "/packet_logs/stream",
                                        "Origin: https://grafana.example\r\n")
    assert status == 101, body
    client = Client(ns, client_file, url(server), origin="http://home.example:3000", idle=0.5)
    client.expect("open")
    status, headers, body = raw_upgrade(server, "/packet_logs/stream",
                                        "Origin: http://home.example:3001\r\n")
    assert status == 403 and json.loads(body)["param"] == "Origin"


@pytest.mark.timing
def test_slow_client_hears_dropped_and_continues(ns, client_file, start_server):
    """A client that reads nothing while 100,000 records pass: the history
    (2000 records) moves past its cursor; it gets {"Dropped": N} and carries
    on from the oldest record, every Seq accounted for; memory stays bounded."""
    server = start_server("--history-records", "2000")
    pause = Path(tempfile.mkdtemp()) / "read-now"
    slow = Client(ns, client_file, url(server, "?prefix=wan:in"), max_queue=1, pause=str(pause),
                  summary=True, idle=3)
    slow.expect("open")
    time.sleep(0.3)
    rss_before = server.rss_kib()
    send_udp(ns, WAN_PORT, 100_000)
    newest = server.wait_records(100_000, timeout=60)
    rss_after = server.rss_kib()
    pause.touch()
    closed_or_idle = slow.next(120)
    assert closed_or_idle["event"] == "idle", closed_or_idle
    items = slow.expect("summary")["items"]

    drops = [i["Dropped"] for i in items if isinstance(i, dict)]
    assert drops, "the slow client was never told it missed records"
    assert all(n > 0 for n in drops)
    # every Seq from the first message on was either sent or counted missed
    expected = None
    for item in items:
        if isinstance(item, dict):
            if expected is not None:
                expected += item["Dropped"]
            continue
        if expected is not None:
            assert item == expected, f"expected Seq {expected}, got {item}"
        expected = item + 1
    assert expected == newest + 1, "the client caught up to the newest record"
    assert server.metrics()["packet_logs_stream_dropped_total"] == sum(drops)
    # the ring is the queue: no per-client backlog grows in the server (a
    # sanitizer build holds freed memory in quarantine: not measured there)
    print(f"RSS {rss_before} KiB before, {rss_after} KiB after 100,000 records")
    if not server.sanitized():
        assert rss_after - rss_before < 16 * 1024, f"RSS grew {rss_after - rss_before} KiB"


@pytest.mark.timing
def test_dropped_message_shape(ns, client_file, start_server):
    server = start_server("--history-records", "100")
    pause = Path(tempfile.mkdtemp()) / "read-now"
    slow = Client(ns, client_file, url(server), max_queue=1, pause=str(pause), idle=2)
    slow.expect("open")
    time.sleep(0.3)
    send_udp(ns, WAN_PORT, 20_000, payload=b"x" * 1200)
    server.wait_records(20_000, timeout=60)
    pause.touch()
    got, _ = slow.messages(60)
    dropped = [m for m in got if m.startswith('{"Dropped"')]
    assert dropped and all(re.fullmatch(r'\{"Dropped":[1-9][0-9]*\}', m) for m in dropped)


def test_token_as_subprotocol(ns, client_file, start_server):
    server = start_server("--token", "s3cret-token")
    client = Client(ns, client_file, url(server), subprotocols=["packet_logs",
                                                                 "bearer.s3cret-token"], idle=1.5)
    assert client.expect("open")["subprotocol"] == "packet_logs"
    time.sleep(0.3)
    send_udp(ns, WAN_PORT, 3)
    got, _ = client.messages()
    assert len(got) == 3
    wrong = Client(ns, client_file, url(server), subprotocols=["packet_logs", "bearer.nope"])
    assert wrong.expect("refused")["status"] == 401
    status, _, body = raw_upgrade(server, "/packet_logs/stream",
                                  "Sec-WebSocket-Protocol: packet_logs, bearer.nope\r\n")
    assert status == 401 and json.loads(body)["param"] == "Sec-WebSocket-Protocol"


def test_token_as_first_message(ns, client_file, start_server):
    server = start_server("--token", "s3cret-token")
    client = Client(ns, client_file, url(server, "?backlog=2"), send='{"token":"s3cret-token"}',
                    idle=1.5)
    client.expect("open")
    time.sleep(0.3)
    send_udp(ns, WAN_PORT, 2)
    got, _ = client.messages()
    assert len(got) == 2


def test_nothing_is_sent_before_the_token(ns, client_file, start_server):
    server = start_server("--token", "s3cret-token")
    send_udp(ns, WAN_PORT, 3)
    server.wait_records(3)
    client = Client(ns, client_file, url(server, "?backlog=3"), idle=1.5)
    client.expect("open")
    send_udp(ns, WAN_PORT, 3)
    got, last = client.messages()
    assert got == [] and last["event"] == "idle"


@pytest.mark.parametrize("first", ['{"token":"wrong"}', "hello", '{"token":1}', "{}"])
def test_bad_first_message_closes_1008(ns, client_file, start_server, first):
    server = start_server("--token", "s3cret-token")
    client = Client(ns, client_file, url(server), send=first)
    client.expect("open")
    closed = client.expect("closed")
    assert closed["code"] == 1008 and closed["reason"]


def test_client_messages_are_ignored(ns, client_file, start_server):
    server = start_server()
    client = Client(ns, client_file, url(server), send="hello, server", idle=1.5)
    client.expect("open")
    time.sleep(0.3)
    send_udp(ns, WAN_PORT, 2)
    got, last = client.messages()
    assert len(got) == 2 and last["event"] == "idle"


def test_client_limit_and_gauge(ns, client_file, start_server):
    server = start_server("--max-clients", "1")
    first = Client(ns, client_file, url(server), idle=3)
    first.expect("open")
    time.sleep(0.2)
    assert server.metrics()["packet_logs_stream_clients"] == 1
    status, headers, body = raw_upgrade(server, "/packet_logs/stream")
    assert status == 503 and json.loads(body)["error"]
    assert "its maximum of 1 client;" in json.loads(body)["error"]  # "1 client", not "1 clients"
    assert first.expect("idle", 10)
    first.expect("closed")
    first.finish()
    time.sleep(0.3)
    assert server.metrics()["packet_logs_stream_clients"] == 0
    again = Client(ns, client_file, url(server), idle=0.5)
    again.expect("open")


def test_stop_closes_clients_with_1001(ns, client_file, start_server):
    server = start_server()
    client = Client(ns, client_file, url(server), idle=20)
    client.expect("open")
    time.sleep(0.2)
    t0 = time.monotonic()
    server.stop()
    assert time.monotonic() - t0 < 3
    closed = client.expect("closed")
    assert closed["code"] == 1001


def test_many_clients_see_every_record(ns, client_file, start_server):
    server = start_server()
    clients = [Client(ns, client_file, url(server, "?prefix=wan:in"), summary=True, idle=2)
               for _ in range(8)]
    for c in clients:
        c.expect("open")
    time.sleep(0.3)
    send_udp(ns, WAN_PORT, 5000)
    newest = server.wait_records(5000)
    wan = sorted(server.records("prefix=wan:in"))
    for c in clients:
        c.expect("idle", 60)
        items = c.expect("summary")["items"]
        assert items == wan[-len(items):] and items[-1] == newest
        assert len(items) == 5000


@pytest.mark.parametrize("no_deflate", [True, False], ids=["plain", "deflate"])
def test_every_frame_length_byte_for_byte(ns, client_file, start_server, no_deflate):
    """Records of every WebSocket length form (7-bit, 16-bit, and over 64 KiB:
    64-bit), mixed, to a client without permessage-deflate (whose messages
    the server frames itself, many to a send) and to one with it: each
    message byte for byte REST's record, none missing, in order."""
    server = start_server("--snaplen", "0")
    client = Client(ns, client_file, url(server, "?prefix=wan:in"), no_deflate=no_deflate,
                    idle=3)
    client.expect("open")
    time.sleep(0.3)
    for size in (1, 40000, 20, 60000, 300, 5):
        send_udp(ns, WAN_PORT, 3, payload=b"x" * size)
    got, last = client.messages()
    assert last["event"] == "idle"
    wan = server.records("prefix=wan:in")
    assert len(wan) == 18 and len(got) == 18
    assert [json.loads(m)["Seq"] for m in got] == sorted(wan)
    assert max(len(m) for m in got) > 65535, "a record needs a 64-bit length"
    for m in got:
        assert m == wan[json.loads(m)["Seq"]], "a message differs from REST's record"


@pytest.mark.skipif(not SLOW, reason="waits for the server's ping (set PL_SLOW_TESTS=1)")
def test_idle_client_is_pinged_then_closed(ns, start_server):
    """A client that never answers pings: pinged after 30 s of silence,
    closed 30 s after that."""
    server = start_server()
    with netns(ns):
        s = socket.create_connection(("127.0.0.1", server.port), timeout=70)
    s.sendall((f"GET /packet_logs/stream HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
               "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
               "Sec-WebSocket-Version: 13\r\n\r\n").encode())
    t0 = time.monotonic()
    data = b""
    while b"\r\n\r\n" not in data:
        data += s.recv(4096)
    rest = data.partition(b"\r\n\r\n")[2]
    ping_at = closed_at = None
    while closed_at is None:
        while len(rest) < 2:
            chunk = s.recv(4096)
            if not chunk:
                closed_at = time.monotonic() - t0
                break
            rest += chunk
        if closed_at is not None:
            break
        opcode, length = rest[0] & 0x0F, rest[1] & 0x7F
        rest = rest[2 + length:]
        if opcode == 0x9 and ping_at is None:
            ping_at = time.monotonic() - t0
    s.close()
    assert ping_at is not None and 29 <= ping_at <= 33, ping_at
    assert 58 <= closed_at <= 64, closed_at


def test_token_deadline(ns, client_file, start_server):
    """No token message within 3 s: a close frame with 1008, as the
    contract says (not a dropped connection, 1006)."""
    server = start_server("--token", "s3cret-token")
    client = Client(ns, client_file, url(server), idle=20)
    client.expect("open")
    t0 = time.monotonic()
    e = client.next(20)
    assert e["event"] == "closed" and e["code"] == 1008, e
    assert 2 <= time.monotonic() - t0 <= 6
