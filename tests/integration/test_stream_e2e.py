"""
The live stream end to end in SPR's topology (DESIGN.md sections 1, 4, 5):
real packets from the wan and lan client namespaces of conftest.py through
SPR's nftables log rules and NFLOG into the real server in the router
namespace; WebSocket clients (Debian's python3-websockets, run in the router
namespace with `ip netns exec`) and stream-json-logs tail it, and what they
get is compared with what REST holds for the same filter over the same Seq
range, byte for byte.

Every test starts its own server (conftest's start_server), so its history
holds only this test's packets and whatever the kernel sends by itself
(IPv6 neighbour discovery): the comparisons are made over Seq windows,
exactly, and tolerate such strays only where the window's edge is not known
to the microsecond (a record between the connection and the first newest_seq
we read).

Every REST answer is checked against openapi.yaml (conftest's Server does it),
every stream message with openapi_check.validate_stream_message, and the 101
of each python client against the contract too.

Run as root:  /usr/bin/python3 -m pytest tests/integration/test_stream_e2e.py
The binaries: PACKET_LOGS_BINARY (default build/packet_logs), STREAM_JSON_LOGS
              (default build/tools/stream-json-logs) of this repo.
"""
import json
import os
import queue
import re
import shutil
import subprocess
import threading
import time
from pathlib import Path

import pytest

from conftest import (BINARY, STREAM_JSON_LOGS, OPENAPI, PY, REPO, SANITIZER_REPORT, LAN_CLIENT6,
                      LAN_ROUTER4, LAN_ROUTER6, WAN_CLIENT4, WAN_ROUTER4, WAN_ROUTER6,
                      brief, check_contract_raw, ns_sh)

pytest.importorskip("websockets")  # Debian's python3-websockets, for the client below

import openapi_check  # noqa: E402  (tests/integration, beside conftest.py)


SANITIZED = "asan" in str(BINARY)

# Ports of this module's traffic (none has a meaning in conftest's rules).
UDP_PORT, TCP_PORT, OTHER_PORT, MARK_PORT = 8201, 8202, 8203, 8209
FLOOD_PORT = 8210

# The jq filters of SPR's inspection script (tests/integration/data/spr-inspect.sh),
# copied exactly, and its pipeline.
F_UDP = '[.Timestamp,"UDP",.Prefix, ([.IP.SrcIP,.UDP.SrcPort|tostring]|join(":")), ([.IP.DstIP,.UDP.DstPort|tostring]|join(":"))]'
F_TCP = '[.Timestamp,"TCP",.Prefix, ([.IP.SrcIP,.TCP.SrcPort|tostring]|join(":")), ([.IP.DstIP,.TCP.DstPort|tostring]|join(":"))]'
JQ_TABLE = ('jq -r -c "if .UDP!=null then $F_UDP elif .TCP!=null then $F_TCP else empty end'
            ' | @csv" | sed \'s/"//g\'')
SEED = REPO / "tests" / "integration" / "data" / "spr-inspect.sh"


# --------------------------------------------------------------- the client

# A WebSocket client, run in a namespace. Argument: one JSON object (url,
# out, and optionally pause, rcvbuf, addr, max_queue, read_limit,
# compression: null to offer no permessage-deflate). Writes
# each message it receives as one line of the file `out`, flushed at once;
# prints events as JSON lines on stdout: open (with the 101's headers),
# closed. Reads nothing until the file `pause` exists, when given; with
# `rcvbuf`, connects its own socket with that SO_RCVBUF so that the kernel
# buffers little for it. Any line (or EOF) on stdin closes it politely.
CLIENT = r'''
import asyncio, json, os, socket, sys
import websockets

def event(**e):
    sys.stdout.write(json.dumps(e) + "\n")
    sys.stdout.flush()

async def main(a):
    kw = dict(max_size=1 << 24, open_timeout=5, ping_interval=None, close_timeout=2)
    for k in ("max_queue", "read_limit", "compression"):
        if k in a:
            kw[k] = a[k]
    if a.get("rcvbuf"):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, a["rcvbuf"])
        s.connect(tuple(a["addr"]))
        s.setblocking(False)
        kw["sock"] = s
    try:
        ws = await websockets.connect(a["url"], **kw)
    except websockets.InvalidStatusCode as e:
        event(event="refused", status=e.status_code)
        return
    event(event="open", headers=list(ws.response_headers.raw_items()))
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    loop.add_reader(sys.stdin.fileno(), stop.set)
    if a.get("pause"):
        while not os.path.exists(a["pause"]) and not stop.is_set():
            await asyncio.sleep(0.02)
    stopping = asyncio.ensure_future(stop.wait())
    with open(a["out"], "w", encoding="utf-8", newline="\n") as out:
        def save(m):
            out.write(m if isinstance(m, str) else "!binary " + m.hex())
            out.write("\n")
            out.flush()
        while True:
            recv = asyncio.ensure_future(ws.recv())
            done, _ = await asyncio.wait({recv, stopping}, return_when=asyncio.FIRST_COMPLETED)
            if recv in done:
                try:
                    save(recv.result())
                except websockets.ConnectionClosed:
                    event(event="closed", code=ws.close_code, reason=ws.close_reason, by="server")
                    return
            if stopping in done:
                if not recv.done():
                    recv.cancel()  # safe: no message is lost
                    try:
                        save(await recv)
                    except (asyncio.CancelledError, websockets.ConnectionClosed):
                        pass
                break
        # close, reading on meanwhile: a record that arrives now must not
        # wait in a full queue in front of the server's close frame
        closing = asyncio.ensure_future(ws.close())
        try:
            while True:
                save(await ws.recv())
        except websockets.ConnectionClosed:
            pass
        await closing
    event(event="closed", code=ws.close_code, reason=ws.close_reason, by="client")

asyncio.run(main(json.loads(sys.argv[1])))
'''


class WsClient:
    """A python3-websockets client in a namespace; its messages in a file."""

    def __init__(self, ns, server, query, out, **opts):
        self.out = Path(out)
        self.url = f"ws://127.0.0.1:{server.port}/packet_logs/stream{query}"
        args = dict(opts, url=self.url, out=str(self.out))
        if opts.get("rcvbuf"):
            args["addr"] = ["127.0.0.1", server.port]
        self.proc = subprocess.Popen(["ip", "netns", "exec", ns, PY, "-c", CLIENT,
                                      json.dumps(args)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
        self.events = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        e = self.event()
        assert e["event"] == "open", f"{self.url}: {e}"
        self.headers = dict(e["headers"])
        # the 101, as the contract has it (Upgrade compared without case)
        headers = dict(self.headers)
        check_contract_raw("/packet_logs/stream", "GET", 101, headers, b"")

    def _read(self):
        for line in self.proc.stdout:
            self.events.put(json.loads(line))
        self.events.put(None)

    def event(self, timeout=10):
        try:
            e = self.events.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"{self.url}: no event from the client in {timeout} s")
        if e is None:
            self.proc.wait(5)
            raise AssertionError(f"{self.url}: the client ended:\n{self.proc.stderr.read()}")
        return e

    def messages(self):
        """The complete messages received so far, in order."""
        try:
            data = self.out.read_bytes()
        except FileNotFoundError:
            return []
        return [m.decode("utf-8") for m in data.split(b"\n")[:-1]]

    def last_seq(self):
        """The Seq of the newest record received so far (0: none)."""
        try:
            data = self.out.read_bytes()
        except FileNotFoundError:
            return 0
        for m in reversed(data.split(b"\n")[:-1]):
            seq = json.loads(m).get("Seq")
            if seq is not None:
                return seq
        return 0

    def wait_seq(self, seq, timeout=10):
        """Until a record with Seq >= seq has arrived."""
        deadline = time.monotonic() + timeout
        while self.last_seq() < seq:
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"{self.url}: Seq {seq} not received in {timeout} s "
                                     f"(newest {self.last_seq()}, {len(self.messages())} "
                                     f"messages); events: {list(self.events.queue)}")
            time.sleep(0.02)

    def close(self):
        """Closes politely; returns the messages."""
        self.proc.stdin.write("stop\n")
        self.proc.stdin.flush()
        e = self.event()
        assert e == {"event": "closed", "code": 1000, "reason": "", "by": "client"}, e
        assert self.proc.wait(10) == 0, self.proc.stderr.read()
        return self.messages()

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)


@pytest.fixture
def ws_client(net, tmp_path):
    """ws_client(server, query, **opts) -> a connected WsClient in the router."""
    clients = []

    def connect(server, query="", **opts):
        c = WsClient(net.router, server, query, tmp_path / f"client{len(clients)}.txt", **opts)
        clients.append(c)
        return c

    yield connect
    for c in clients:
        c.kill()


@pytest.fixture(scope="module")
def spec():
    return openapi_check.load(str(OPENAPI))


# --------------------------------------------------------------- helpers

def wait_clients(server, n, timeout=5):
    """Until the server counts n stream clients, then a moment for it to have
    placed their cursors (the gauge goes up just before)."""
    deadline = time.monotonic() + timeout
    while server.metrics()["packet_logs_stream_clients"] != n:
        assert time.monotonic() < deadline, f"the server never counted {n} stream clients"
        time.sleep(0.02)
    time.sleep(0.1)


def window(lo, hi):
    """REST parameters for lo < Seq <= hi (lo 0: from the first)."""
    return ([("after", lo)] if lo else []) + [("before", hi + 1)]


def rest_lines(server, params):
    """{Seq: NDJSON line as bytes} of GET /packet_logs for params, oldest
    first, in one page."""
    r = server.get("/packet_logs", [*params, ("order", "asc"), ("limit", 10000)],
                   headers={"Accept": "application/x-ndjson"})
    assert r.status_code == 200, r.text
    assert "Link" not in r.headers, "more than one page"
    lines = r.content.split(b"\n")
    assert lines[-1] == b""
    return {json.loads(line)["Seq"]: line for line in lines[:-1]}


def rest_records(server, params):
    return [json.loads(v) for v in rest_lines(server, params).values()]


def wait_marker(server, src, sport, timeout=5):
    """The Seq of the marker datagram (UDP to MARK_PORT from src:sport): the
    last packet of a burst, sent after every other one."""
    recs = server.wait_records([("dport", MARK_PORT), ("sport", sport), ("src", src)],
                               lambda rs: len(rs) == 1, timeout=timeout,
                               what=f"the marker from {src}:{sport}")
    return recs[0]["Seq"]


def parse_messages(spec, messages):
    """Each message validated against the contract; [(Seq or None, dict, text)]."""
    out = []
    for m in messages:
        assert not m.startswith("!binary"), f"a binary message: {m[:80]}"
        obj = openapi_check.validate_stream_message(spec, m)
        out.append((obj.get("Seq"), obj, m))
    return out


def assert_stream_is_rest(spec, messages, server, params, s_before, s_after, s_end):
    """The stream's messages (a client connected, without backlog, when the
    newest Seq was between s_before and s_after) against REST's records for
    the same params, up to s_end (the last record the test waited for):
    every message a record REST holds for params, byte for byte, in Seq order,
    newer than s_before; every one of REST's newer than s_after there; the
    record s_end there. Returns REST's {Seq: line} for (s_before, s_end]."""
    parsed = parse_messages(spec, messages)
    assert all(seq is not None for seq, _, _ in parsed), \
        f"a message that is not a record: {[m for s, _, m in parsed if s is None]}"
    seqs = [seq for seq, _, _ in parsed]
    assert seqs == sorted(set(seqs)), f"Seqs not increasing: {seqs}"
    assert not seqs or seqs[0] > s_before, f"a record older than the connection: {seqs[0]}"
    rest = rest_lines(server, [*params, *window(s_before, s_end)])
    got = {seq: m for seq, _, m in parsed if seq <= s_end}
    for seq, m in got.items():
        if seq not in rest:
            raise AssertionError(f"the stream sent #{seq}, which REST does not hold for "
                                 f"{params}: {brief(json.loads(m))}")
        assert m.encode("utf-8") == rest[seq], (f"#{seq} differs from REST's:\n"
                                                f"stream: {m}\nREST:   {rest[seq].decode()}")
    missing = [s for s in rest if s > s_after and s not in got]
    assert not missing, (f"the stream lacks {len(missing)} of REST's records for {params}: "
                         + "; ".join(brief(json.loads(rest[s])) for s in missing))
    assert s_end in got, f"the last record #{s_end} never came"
    return rest


def kinds(recs):
    """{(family, layer)} of records: (4, 'UDP'), (6, 'ICMPv6'), ..."""
    out = set()
    for r in recs:
        fam = 4 if "IP" in r else 6 if "IPv6" in r else 0
        for layer in ("TCP", "UDP", "ICMPv4", "ICMPv6"):
            if layer in r:
                out.add((fam, layer))
    return out


ALL_KINDS = {(4, "UDP"), (6, "UDP"), (4, "TCP"), (6, "TCP"), (4, "ICMPv4"), (6, "ICMPv6")}


def mixed_burst(net, traffic, sport_base):
    """UDP, TCP and ICMP over IPv4 and IPv6 from the wan client and from the
    lan client to the router (wan:in, lan:in), and UDP forwarded from lan to
    wan (wan:out, and its port unreachable lan:out)."""
    for i, (ns, r4, r6) in enumerate(((net.wan, WAN_ROUTER4, WAN_ROUTER6),
                                      (net.lan, LAN_ROUTER4, LAN_ROUTER6))):
        sport = sport_base + 10 * i
        traffic.udp(ns, r4, UDP_PORT, sport=sport)
        traffic.udp(ns, r6, UDP_PORT, sport=sport + 1)
        traffic.udp(ns, r4, OTHER_PORT, sport=sport + 2)
        assert traffic.tcp(ns, r4, TCP_PORT, sport=sport + 3) == "refused"
        assert traffic.tcp(ns, r6, UDP_PORT, sport=sport + 4) == "refused"  # TCP, not UDP
        traffic.ping(ns, r4)
        traffic.ping(ns, r6)
    traffic.udp(net.lan, WAN_CLIENT4, UDP_PORT, sport=sport_base + 20)  # forwarded to wan


# =============================================================== 0. the 101

def test_101_upgrade_header_as_the_contract(net, start_server, ws_client):
    server = start_server(net.router)
    client = ws_client(server)
    check_contract_raw("/packet_logs/stream", "GET", 101, client.headers, b"")


# =============================================================== 1. one filter

def test_wan_in_client_gets_exactly_rests_wan_in_records(net, traffic, start_server,
                                                         ws_client, spec):
    """A client tailing prefix=wan:in while both clients send UDP, TCP and
    ICMP over IPv4 and IPv6: exactly REST's prefix=wan:in records of the same
    Seq range, byte for byte, and none of the lan:in ones."""
    server = start_server(net.router)
    s_before = server.newest_seq()
    client = ws_client(server, "?prefix=wan:in")
    wait_clients(server, 1)
    s_after = server.newest_seq()

    mixed_burst(net, traffic, 43100)
    traffic.udp(net.wan, WAN_ROUTER4, MARK_PORT, sport=43199)  # the last wan:in
    s_end = wait_marker(server, WAN_CLIENT4, 43199)
    client.wait_seq(s_end)
    messages = client.close()

    rest = assert_stream_is_rest(spec, messages, server, [("prefix", "wan:in")],
                                 s_before, s_after, s_end)
    wan = [json.loads(v) for v in rest.values()]
    assert kinds(wan) >= ALL_KINDS, f"the burst's wan:in records: {kinds(wan)}"
    assert all(r["Prefix"] == "wan:in " and r["InDev"] == "wan0" for r in wan)
    # the other prefixes were there, in the same range, and not sent
    lan = rest_records(server, [("prefix", "lan:in"), *window(s_after, s_end)])
    assert kinds(lan) >= ALL_KINDS, f"the burst's lan:in records: {kinds(lan)}"
    sent = {json.loads(m)["Seq"] for m in messages}
    assert not sent & {r["Seq"] for r in lan}, "the stream sent lan:in records"
    others = rest_records(server, [("prefix", "wan:out,lan:out"), *window(s_after, s_end)])
    assert others and not sent & {r["Seq"] for r in others}


# =============================================================== 2. two filters

def test_two_clients_with_different_filters_each_get_theirs(net, traffic, start_server,
                                                            ws_client, spec):
    """prefix=lan:in and proto=udp&dport=N, connected at once: each gets
    exactly what REST answers for its filter over the same range."""
    server = start_server(net.router)
    s_before = server.newest_seq()
    lan_client = ws_client(server, "?prefix=lan:in")
    udp_client = ws_client(server, f"?proto=udp&dport={UDP_PORT}")
    wait_clients(server, 2)
    s_after = server.newest_seq()

    mixed_burst(net, traffic, 43200)
    # forwarded from wan to the lan client: lan:out, UDP to UDP_PORT
    traffic.udp(net.wan, LAN_CLIENT6, UDP_PORT, sport=43230)
    # the last record of both filters: lan:in, UDP to UDP_PORT
    traffic.udp(net.lan, LAN_ROUTER4, UDP_PORT, sport=43299)
    s_end = server.wait_records([("dport", UDP_PORT), ("sport", 43299)],
                                lambda rs: len(rs) == 1, what="the last datagram")[0]["Seq"]
    lan_client.wait_seq(s_end)
    udp_client.wait_seq(s_end)
    lan_messages, udp_messages = lan_client.close(), udp_client.close()

    lan = assert_stream_is_rest(spec, lan_messages, server, [("prefix", "lan:in")],
                                s_before, s_after, s_end)
    udp = assert_stream_is_rest(spec, udp_messages, server,
                                [("proto", "udp"), ("dport", UDP_PORT)],
                                s_before, s_after, s_end)
    lan_recs = [json.loads(v) for v in lan.values()]
    udp_recs = [json.loads(v) for v in udp.values()]
    assert kinds(lan_recs) >= ALL_KINDS
    assert all(r["Prefix"] == "lan:in " for r in lan_recs)
    assert all(r["UDP"]["DstPort"] == UDP_PORT for r in udp_recs)
    # the UDP filter crosses prefixes: wan:in, lan:in and both forwarded ones
    assert {r["Prefix"] for r in udp_recs} >= {"wan:in ", "lan:in ", "lan:out ", "wan:out "}
    assert kinds(udp_recs) == {(4, "UDP"), (6, "UDP")}
    # and the two differ: each got records the other did not
    assert set(lan) - set(udp) and set(udp) - set(lan)


# =============================================================== 3. a slow client

# A paced sender: count datagrams of size bytes to dst:dport (an address of
# the topology), rate a second, in bursts of 100. Prints how many it sent.
SENDER = r'''
import socket, sys, time
dst, dport, count, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[5])
rate = float(sys.argv[4])
s = socket.socket(socket.AF_INET6 if ":" in dst else socket.AF_INET, socket.SOCK_DGRAM)
payload = bytes(i % 251 for i in range(size))
t0, sent = time.monotonic(), 0
while sent < count:
    for _ in range(min(100, count - sent)):
        s.sendto(payload, (dst, dport))
        sent += 1
    ahead = t0 + sent / rate - time.monotonic()
    if ahead > 0:
        time.sleep(ahead)
print(sent)
'''

FLOOD_COUNT = 20_000
FLOOD_RATE = 5_000          # datagrams a second
FLOOD_PAYLOAD = 300         # bytes; a record is about 1.4 kB of JSON
RSS_BOUND_KIB = 64 * 1024


def rss_kib(pid, field="VmRSS"):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise AssertionError(f"no {field} for {pid}")


@pytest.mark.timing
def test_slow_client_gets_dropped_others_unaffected_memory_bounded(net, traffic, start_server,
                                                                    ws_client, spec, tmp_path):
    """With --history-records 2000 and 20,000 datagrams from the wan client:
    a client that reads nothing meanwhile hears {"Dropped": N} and carries on
    to the newest record, every Seq accounted for; a reading client on the
    same server gets every record, without a Dropped; RSS stays bounded."""
    server = start_server(net.router, ["--history-records", 2000])
    pid = server.proc.pid  # ip netns exec execs the binary
    with open(f"/proc/{pid}/comm") as f:
        assert f.read().strip() == "packet_logs"
    pause = tmp_path / "read-now"
    s_before = server.newest_seq()
    # uncompressed: deflated, the whole flood fits in the kernel's socket
    # buffers and the client would never fall behind
    slow = ws_client(server, "", pause=str(pause), rcvbuf=4096, max_queue=1, read_limit=4096,
                     compression=None)
    reader = ws_client(server, "")
    wait_clients(server, 2)
    s_after = server.newest_seq()

    samples = []
    done = threading.Event()

    def sample():
        while not done.wait(0.05):
            samples.append(rss_kib(pid))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        res = ns_sh(net.wan, PY, "-c", SENDER, WAN_ROUTER4, FLOOD_PORT, FLOOD_COUNT, FLOOD_RATE,
                    FLOOD_PAYLOAD, timeout=60)
        assert int(res.stdout) == FLOOD_COUNT
        traffic.udp(net.wan, WAN_ROUTER4, MARK_PORT, sport=43399)
        s_end = wait_marker(server, WAN_CLIENT4, 43399, timeout=20)
        reader.wait_seq(s_end, timeout=60)
    finally:
        done.set()
        sampler.join()
    samples.append(rss_kib(pid))
    peak = rss_kib(pid, "VmHWM")
    metrics = server.metrics()
    pause.touch()
    slow.wait_seq(s_end, timeout=60)
    slow_messages, reader_messages = slow.close(), reader.close()
    assert metrics["packet_logs_kernel_drops_total"] == 0, "NFLOG lost packets: pace slower"

    # the reading client: every record from its first on, no Dropped
    parsed = parse_messages(spec, reader_messages)
    assert not [o for s, o, _ in parsed if s is None], "the reading client got a Dropped"
    seqs = [s for s, _, _ in parsed if s <= s_end]
    assert seqs and s_before < seqs[0] <= s_after + 1
    assert seqs == list(range(seqs[0], s_end + 1)), "the reading client missed records"
    flood = [o for s, o, _ in parsed if o.get("UDP") and o["UDP"]["DstPort"] == FLOOD_PORT]
    assert len(flood) == FLOOD_COUNT
    assert all(o["Prefix"] == "wan:in " for o in flood)
    rest = rest_lines(server, window(0, s_end))
    assert 1900 <= len(rest) <= 2000
    for s, _, m in parsed:
        if s in rest:
            assert m.encode("utf-8") == rest[s], f"#{s} differs from REST's"

    # the slow client: Dropped, then on to the newest, every Seq accounted for
    items = parse_messages(spec, slow_messages)
    drops = [o["Dropped"] for s, o, _ in items if s is None]
    assert drops, "the slow client was never told it missed records"
    first = next(i for i, (s, _, _) in enumerate(items) if s is not None)
    start = items[first][0] - sum(drops[:first])  # its cursor when it connected
    assert s_before < start <= s_after + 1, (start, s_before, s_after)
    expected = start
    for s, o, m in items:
        if s is None:
            expected += o["Dropped"]
        elif s <= s_end:
            assert s == expected, f"expected #{expected} next, got #{s}"
            expected = s + 1
    assert expected == s_end + 1
    last_drop = max(i for i, (s, _, _) in enumerate(items) if s is None)
    after_drop = [(s, m) for s, _, m in items[last_drop + 1:] if s <= s_end]
    assert len(after_drop) > 1000, "the slow client did not carry on from the oldest record"
    assert after_drop[0][0] <= min(rest) + 100, "it did not go on from the oldest held"
    for s, m in after_drop:
        if s in rest:
            assert m.encode("utf-8") == rest[s], f"#{s} differs from REST's"
    assert metrics["packet_logs_stream_dropped_total"] <= sum(drops)
    assert server.metrics()["packet_logs_stream_dropped_total"] == sum(drops)

    # the history is the queue: memory does not follow the slow client's lag
    print(f"slow client: {len(items)} messages, Dropped {drops}; RSS samples "
          f"{min(samples)}..{max(samples)} KiB, VmHWM {peak} KiB")
    if not SANITIZED:
        assert max(samples) < RSS_BOUND_KIB, f"VmRSS reached {max(samples)} KiB"
        assert peak < RSS_BOUND_KIB, f"VmHWM {peak} KiB"


# =============================================================== 4. stream-json-logs

def run_env():
    env = dict(os.environ)
    env.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0")
    env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1")
    return env


def start_tool(net, server, *args):
    """stream-json-logs in the router namespace, against server."""
    assert STREAM_JSON_LOGS.exists(), (f"no stream-json-logs at {STREAM_JSON_LOGS}: build it "
                                       f"or set STREAM_JSON_LOGS")
    url = f"ws://127.0.0.1:{server.port}/packet_logs/stream"
    return subprocess.Popen(["ip", "netns", "exec", net.router, str(STREAM_JSON_LOGS),
                             *map(str, args), "-url", url],
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=run_env())


def finish_tool(p, timeout=15):
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        out, err = p.communicate()
        raise AssertionError(f"stream-json-logs did not end:\n{err}")
    assert not SANITIZER_REPORT.search(err), f"sanitizer report:\n{err}"
    return p.returncode, out, err


def jq_table(text, tmp_path):
    """The seed's pipeline over a log file holding text."""
    if not shutil.which("jq"):
        subprocess.run(["apt-get", "install", "-y", "-q", "jq"], capture_output=True, timeout=300)
    assert shutil.which("jq"), "jq is missing (apt-get install jq)"
    log = tmp_path / "log.json"
    log.write_text(text)
    res = subprocess.run(["bash", "-c", f'cat "$F" | {JQ_TABLE}'], capture_output=True,
                         text=True, timeout=30,
                         env={**os.environ, "F": str(log), "F_UDP": F_UDP, "F_TCP": F_TCP})
    assert res.returncode == 0, res.stderr
    return res.stdout.splitlines()


def expected_rows(records):
    """The seed's table rows, computed here: timestamp, UDP/TCP, prefix,
    src:port, dst:port, for the records with a UDP or TCP layer. jq's
    `tostring` makes an absent .IP (an IPv6 record) "null"."""
    rows = []
    for r in records:
        for proto in ("UDP", "TCP"):
            if r.get(proto) is not None:
                ip = r.get("IP") or {}
                src, dst = ip.get("SrcIP", "null"), ip.get("DstIP", "null")
                rows.append(f'{r["Timestamp"]},{proto},{r["Prefix"]},'
                            f'{src}:{r[proto]["SrcPort"]},{dst}:{r[proto]["DstPort"]}')
                break
    return rows


def test_seed_filters_are_copied_exactly():
    text = SEED.read_text()
    assert f"F_UDP='{F_UDP}'" in text and f"F_TCP='{F_TCP}'" in text
    assert 'jq -r -c "if .UDP!=null then $F_UDP elif .TCP!=null then $F_TCP else empty end' \
           ' | @csv"' in text and "sed 's/\"//g'" in text


def test_stream_json_logs_prints_rests_records_and_the_seed_table_works(net, traffic,
                                                                         start_server, spec,
                                                                         tmp_path):
    """stream-json-logs -timeout 3 -prefix wan:in in the router while the wan
    client sends UDP and TCP (and the lan client too): exits 0, one record a
    line, REST's wan:in records byte for byte; the seed's jq table of them
    is the rows computed here. Then -backlog 5: the 5 newest first."""
    server = start_server(net.router)
    s_before = server.newest_seq()
    t0 = time.monotonic()
    p = start_tool(net, server, "-timeout", 3, "-prefix", "wan:in")
    wait_clients(server, 1)
    s_after = server.newest_seq()
    W, L = net.wan, net.lan
    traffic.udp(W, WAN_ROUTER4, UDP_PORT, sport=43401)
    traffic.udp(W, WAN_ROUTER6, UDP_PORT, sport=43402)
    assert traffic.tcp(W, WAN_ROUTER4, TCP_PORT, sport=43403) == "refused"
    assert traffic.tcp(W, WAN_ROUTER6, TCP_PORT, sport=43404) == "refused"
    traffic.ping(W, WAN_ROUTER4)                                   # no row: neither UDP nor TCP
    traffic.udp(L, LAN_ROUTER4, UDP_PORT, sport=43405)             # lan:in: not asked for
    assert traffic.tcp(L, LAN_ROUTER6, TCP_PORT, sport=43406) == "refused"
    traffic.udp(L, WAN_CLIENT4, UDP_PORT, sport=43407)             # wan:out: not asked for
    traffic.udp(W, WAN_ROUTER4, MARK_PORT, sport=43499)
    s_end = wait_marker(server, WAN_CLIENT4, 43499)
    assert time.monotonic() - t0 < 2.5, "the traffic took too long for -timeout 3"
    rc, out, err = finish_tool(p)
    took = time.monotonic() - t0
    assert rc == 0, err
    assert err == "", err
    assert 2.9 <= took < 6, took
    assert out.endswith("\n")
    lines = out[:-1].split("\n")

    rest = assert_stream_is_rest(spec, lines, server, [("prefix", "wan:in")],
                                 s_before, s_after, s_end)
    wan = [json.loads(v) for v in rest.values()]
    assert kinds(wan) >= {(4, "UDP"), (6, "UDP"), (4, "TCP"), (6, "TCP"), (4, "ICMPv4")}
    # the seed's table of what it printed, and the same computed from REST
    printed = [json.loads(line) for line in lines]
    rows = jq_table(out, tmp_path)
    assert rows == expected_rows(printed) == expected_rows(wan)
    by_port = {row.split(",")[3].rsplit(":", 1)[1]: row for row in rows}
    udp4 = next(r for r in wan if "IP" in r and r.get("UDP", {}).get("SrcPort") == 43401)
    assert by_port["43401"] == (f'{udp4["Timestamp"]},UDP,wan:in ,{WAN_CLIENT4}:43401,'
                                f'{WAN_ROUTER4}:{UDP_PORT}')
    tcp4 = next(r for r in wan if "IP" in r and r.get("TCP", {}).get("SrcPort") == 43403)
    assert by_port["43403"] == (f'{tcp4["Timestamp"]},TCP,wan:in ,{WAN_CLIENT4}:43403,'
                                f'{WAN_ROUTER4}:{TCP_PORT}')
    assert by_port["43402"].split(",")[1:] == ["UDP", "wan:in ", "null:43402",
                                               f"null:{UDP_PORT}"]  # IPv6: no .IP
    assert not [row for row in rows if re.search(r":4340[567],", row)]
    assert rest_records(server, [("prefix", "wan:out"), ("sport", 43407)])
    assert len(rows) == len([r for r in wan if "UDP" in r or "TCP" in r]) >= 5

    # -backlog 5: the 5 newest wan:in records first, oldest first, then live
    s_before = server.newest_seq()
    p = start_tool(net, server, "-timeout", 2, "-prefix", "wan:in", "-backlog", 5)
    wait_clients(server, 1)
    s_after = server.newest_seq()
    traffic.udp(W, WAN_ROUTER4, UDP_PORT, sport=43411)
    traffic.udp(W, WAN_ROUTER4, MARK_PORT, sport=43412)
    s_end = wait_marker(server, WAN_CLIENT4, 43412)
    rc, out, err = finish_tool(p)
    assert rc == 0 and err == "", err
    lines = out[:-1].split("\n")
    parsed = parse_messages(spec, lines)
    assert all(s is not None for s, _, _ in parsed), "a Dropped"
    wan = rest_lines(server, [("prefix", "wan:in"), *window(0, s_end)])
    order = list(wan)
    seqs = [s for s, _, _ in parsed if s <= s_end]
    assert seqs[0] in wan, f"#{seqs[0]} is not one of REST's wan:in records"
    i = order.index(seqs[0])
    assert seqs == order[i:i + len(seqs)], "not REST's wan:in records, in order, without a gap"
    assert order[i + 4] <= s_after and order[i + 5] > s_before, \
        "the first 5 are not the newest 5 of the history"
    assert seqs[-1] == s_end and len(seqs) >= 7
    for s, _, m in parsed[:len(seqs)]:
        assert m.encode("utf-8") == wan[s]


def test_stream_json_logs_exits_non_zero_when_the_server_stops(net, traffic, start_server, spec):
    """-timeout 0 runs until the stream ends: the server's SIGTERM ends it,
    with a message on stderr and a non-zero status."""
    server = start_server(net.router)
    t_start = time.monotonic()
    p = start_tool(net, server, "-timeout", 0, "-prefix", "wan:in")
    try:
        wait_clients(server, 1)
        traffic.udp(net.wan, WAN_ROUTER4, MARK_PORT, sport=43501)
        s_end = wait_marker(server, WAN_CLIENT4, 43501)
        rest = rest_lines(server, [("prefix", "wan:in"), *window(0, s_end)])
        time.sleep(max(0.0, 1.5 - (time.monotonic() - t_start)))
        assert p.poll() is None, "ended by itself with -timeout 0"
        server.stop()  # SIGTERM; asserts the server's own clean exit
        t0 = time.monotonic()
        rc, out, err = finish_tool(p, timeout=10)
    finally:
        if p.poll() is None:
            p.kill()
    assert time.monotonic() - t0 < 5
    assert rc != 0, f"exit status 0 when the server went away; stderr: {err!r}"
    assert err.strip(), "no message on stderr"
    assert "stream-json-logs" in err and "closed" in err, err
    print(f"status {rc}; stderr: {err.strip()}")
    lines = out[:-1].split("\n") if out else []
    for seq, record, m in parse_messages(spec, lines):
        if seq <= s_end:
            assert m.encode("utf-8") == rest[seq]
        else:  # came after REST was asked (the kernel's own packets)
            assert record["Prefix"] == "wan:in "
    assert s_end in [json.loads(line)["Seq"] for line in lines]
