"""
Bulk traffic cannot flush the history (issue 8, item 2): --snaplen.

200 MB of bulk TCP go through the router (the sender's veth has TSO/GSO, so
the FORWARD chain logs super-packets of up to 64 KB, as on a real router
with GRO). With the default snaplen the history keeps the 10,000 records
that were there before, and its mean record stays under 6 KiB; the records
of cut packets say so and how long the packet was. With --snaplen 0 the
packets are kept whole, as SPR keeps them.
"""
import base64
import shutil
import subprocess
import time

from conftest import LAN_CLIENT4, LAN_ROUTER4, PY, WAN_CLIENT4, ns_sh

BULK_PORT = 7400
MARK_PORT = 7401

_SINK = r"""
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2])))
s.listen(1)
print('ready', flush=True)
c, _ = s.accept()
n = 0
while True:
    b = c.recv(1 << 20)
    if not b:
        break
    n += len(b)
print(n, flush=True)
"""

_SOURCE = r"""
import socket, sys
total = int(sys.argv[3])
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=30)
chunk = bytes(range(256)) * 4096
sent = 0
while sent < total:
    s.sendall(chunk[:min(len(chunk), total - sent)])
    sent += min(len(chunk), total - sent)
s.shutdown(socket.SHUT_WR)
s.recv(1)
print(sent)
"""


def offloads(net):
    """GSO/TSO (and GRO) on every veth of the path, where ethtool is there;
    veth has TSO and GSO on by default, and the test checks that
    super-packets reached NFLOG either way."""
    if not shutil.which("ethtool"):
        return
    for ns, dev in ((net.lan, "eth0"), (net.router, "lan0"), (net.router, "wan0"),
                    (net.wan, "eth0")):
        ns_sh(ns, "ethtool", "-K", dev, "tso", "on", "gso", "on", "gro", "on", check=False)


def bulk(net, megabytes):
    """Sends megabytes of TCP from the LAN client to the WAN client through
    the router; returns the seconds it took."""
    sink = net.spawn(net.wan, PY, "-c", _SINK, WAN_CLIENT4, BULK_PORT, stdout=subprocess.PIPE,
                     stderr=subprocess.PIPE, text=True)
    assert sink.stdout.readline().strip() == "ready", sink.stderr.read()
    total = megabytes * 1000 * 1000
    start = time.monotonic()
    res = ns_sh(net.lan, PY, "-c", _SOURCE, WAN_CLIENT4, BULK_PORT, total, timeout=120)
    took = time.monotonic() - start
    assert int(res.stdout) == total
    assert int(sink.stdout.readline()) == total
    sink.wait(10)
    return took


def settle(server, timeout=30):
    """Waits until the records counter stops moving (the server caught up)."""
    deadline = time.monotonic() + timeout
    last = -1
    while time.monotonic() < deadline:
        now = server.metrics()["packet_logs_records_received_total"]
        if now == last:
            return server.metrics()
        last = now
        time.sleep(0.5)
    raise AssertionError("the records counter did not settle")


def raw_length(rec):
    ip = rec.get("IP") or rec.get("IPv6")
    return len(base64.b64decode(ip["Contents"])) + len(base64.b64decode(ip["Payload"] or ""))


def test_bulk_tcp_does_not_flush_the_history(net, traffic, start_server):
    server = start_server(net.router)
    offloads(net)
    # what a person wants to keep: 10,000 records before the download
    traffic.udp(net.lan, LAN_ROUTER4, MARK_PORT, count=10000)
    server.wait_records({"dport": MARK_PORT, "limit": 10000}, lambda r: len(r) == 10000,
                        timeout=30, what="10,000 records before the bulk")
    took = bulk(net, 200)
    m = settle(server)
    records = int(m["packet_logs_history_records"])
    size = int(m["packet_logs_history_bytes"])
    evicted = int(m["packet_logs_history_evictions_total"])
    print(f"200 MB in {took:.1f} s; history {records} records, {size} bytes, mean "
          f"{size / records:.0f} B, evicted {evicted}, kernel drops "
          f"{int(m['packet_logs_kernel_drops_total'])}")
    assert records >= 10000, m
    assert size / records <= 6 * 1024, m
    # none of the records from before was evicted
    marks = server.records({"dport": MARK_PORT, "limit": 10000})
    assert len(marks) == 10000
    # super-packets reached NFLOG, were cut to 1600 bytes, and say so
    flow = server.records({"port": BULK_PORT, "proto": "tcp", "limit": 10000})
    cut = [r for r in flow if r.get("Truncated")]
    assert cut, "no super-packet reached NFLOG: is GSO off on the veths?"
    assert max(r["Length"] for r in cut) > 16000, max(r["Length"] for r in cut)
    for r in cut:
        assert raw_length(r) == 1600 and r["Length"] == r["IP"]["Length"] > 1600, r["Length"]
    assert all(raw_length(r) == r["IP"]["Length"] for r in flow if not r.get("Truncated"))


def test_snaplen_0_keeps_whole_packets(net, start_server):
    server = start_server(net.router, ["--snaplen", "0"])
    offloads(net)
    bulk(net, 20)
    settle(server)
    flow = server.records({"port": BULK_PORT, "proto": "tcp", "limit": 10000})
    assert flow and not any(r.get("Truncated") for r in flow)
    big = [r for r in flow if raw_length(r) > 1600]
    assert big, "no packet over 1600 bytes: is GSO off on the veths?"
    for r in big:
        assert r["IP"]["Length"] == raw_length(r)
    assert max(raw_length(r) for r in big) > 16000


def test_snaplen_option(net, start_server):
    """--snaplen and PACKET_LOGS_SNAPLEN set the copy range; a packet
    longer than it is cut there."""
    for args, env in ((["--snaplen", "200"], None), ([], {"PACKET_LOGS_SNAPLEN": "200"})):
        server = start_server(net.router, args, env=env)
        ns_sh(net.lan, PY, "-c", "import socket; s=socket.socket(socket.AF_INET,"
              "socket.SOCK_DGRAM); s.sendto(bytes(1000), (%r, %d))" % (LAN_ROUTER4, MARK_PORT))
        rec = server.wait_records({"dport": MARK_PORT, "src": LAN_CLIENT4}, lambda r: r,
                                  what="the datagram")[0]
        assert rec["Truncated"] is True and rec["Length"] == 1028, rec
        assert raw_length(rec) == 200
        server.stop()
