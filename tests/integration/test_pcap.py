"""
Wireshark in one click (issue 12): the log as a capture, and tcpdump's NFLOG
captures as records.

- GET /packet_logs.pcap?prefix=wan:in read by Debian's tshark has exactly the
  packets of the same REST query (count, order, bytes), with the prefix shown
  by tshark's NFLOG dissector; a packet cut by --snaplen keeps its length.
- tcpdump -i nflog:5 beside the server (a second log rule sends the same
  packets to group 5: the kernel lets one socket bind a group) gives, through
  `packet_logs decode --group 5:allowed`, the records REST gives, apart from
  Seq.
- A 100,000-record export read slowly keeps the server's memory bounded.
"""
import base64
import calendar
import json
import re
import shutil
import signal
import struct
import subprocess
import time

import pytest

from conftest import BINARY, PY, WAN_ROUTER4, WAN_ROUTER6, ns_sh

PCAP_PORT = 7600      # the export test's datagrams
CAPTURE_PORT = 7601   # the tcpdump test's datagrams
BULK_PORT = 7602      # the memory test's datagrams
TCPDUMP_GROUP = 5

tshark = pytest.mark.skipif(not shutil.which("tshark"), reason="tshark is not installed "
                            "(scripts/install-deps.sh --test installs it)")


def ip_bytes(rec):
    """The packet the record was made of, from its IP layer."""
    ip = rec.get("IP") or rec.get("IPv6")
    return base64.b64decode(ip["Contents"]) + base64.b64decode(ip["Payload"] or "")


def read_pcap(data):
    """A pcap file (microsecond, this host's byte order, as libpcap writes it)
    -> (link type, [(ts_sec, ts_usec, caplen, len, frame)])."""
    magic, _, _, _, _, _, link = struct.unpack("=IHHiIII", data[:24])
    assert magic == 0xa1b2c3d4, hex(magic)
    out, off = [], 24
    while off < len(data):
        sec, usec, caplen, length = struct.unpack("=IIII", data[off:off + 16])
        out.append((sec, usec, caplen, length, data[off + 16:off + 16 + caplen]))
        off += 16 + caplen
    assert off == len(data)
    return link, out


def align4(n):
    return (n + 3) & ~3


def nflog_tlvs(frame):
    """An NFLOG frame -> (group, {type: (value, the length its TLV says)})."""
    group = struct.unpack("!H", frame[2:4])[0]
    tlvs, off = {}, 4
    while off + 4 <= len(frame):
        n, t = struct.unpack("=HH", frame[off:off + 4])
        tlvs[t & 0x3fff] = (frame[off + 4:off + n], n - 4)
        off += (n + 3) & ~3
    return group, tlvs


def tshark_fields(path, *fields):
    res = subprocess.run(["tshark", "-r", path, "-T", "fields", "-E", "separator=|",
                          *sum((["-e", f] for f in fields), [])],
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    return [line.split("|") for line in res.stdout.splitlines()]


@tshark
def test_pcap_export_is_the_rest_page_in_tshark(net, traffic, start_server, tmp_path):
    server = start_server(net.router, ["--snaplen", "300"])
    # small datagrams, and large ones the snaplen cuts
    for size in (16, 1200, 40, 1200, 100):
        traffic.udp(net.wan, WAN_ROUTER4, PCAP_PORT, payload=bytes(range(256)) * (size // 256)
                    + bytes(size % 256), count=3)
    traffic.ping(net.wan, WAN_ROUTER4, count=3)
    traffic.ping(net.wan, WAN_ROUTER6, count=2)
    server.wait_records({"prefix": "wan:in", "dport": PCAP_PORT, "limit": 1000},
                        lambda r: len(r) == 15, what="15 datagrams")
    # and the pings' records, which may come after the datagrams'
    server.wait_records({"prefix": "wan:in", "limit": 1000},
                        lambda r: sum("ICMPv4" in x for x in r) >= 3
                        and sum("ICMPv6" in x for x in r) >= 2, what="5 echo requests")
    # one fixed page: records arriving meanwhile fall outside `before`
    newest = server.newest_seq()
    params = {"prefix": "wan:in", "before": newest + 1, "limit": 10000}
    rest = server.records(params)
    assert len(rest) >= 20 and all(r["Prefix"] == "wan:in " for r in rest)
    assert sum(1 for r in rest if r.get("IPv6") and r.get("ICMPv6")) >= 2
    r = server.get("/packet_logs.pcap", params)
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"] == "application/vnd.tcpdump.pcap"
    assert r.headers["Content-Disposition"].startswith('attachment; filename="packet_logs-')
    assert r.headers["Content-Disposition"].endswith('Z.pcap"')
    assert "Link" not in r.headers
    path = tmp_path / "wan.pcap"
    path.write_bytes(r.content)

    # tshark: every packet, in the page's order, with the prefix and group
    rows = tshark_fields(str(path), "frame.len", "frame.cap_len", "nflog.prefix",
                         "nflog.res_id", "ip.src", "ip.id", "nflog.ifindex_indev", "ipv6.src")
    assert len(rows) == len(rest), (len(rows), len(rest))
    link, packets = read_pcap(r.content)
    assert link == 239
    cut = 0
    for rec, row, (sec, usec, caplen, length, frame) in zip(rest, rows, packets):
        flen, fcap, prefix, group, src, ipid, indev, src6 = row
        assert prefix == "wan:in ", row
        assert int(group) == 0 and int(indev) > 0, row
        assert (int(flen), int(fcap)) == (length, caplen)
        if rec.get("IPv6"):  # pings, and the topology's own neighbour discovery
            assert src6 == rec["IPv6"]["SrcIP"], (row, rec)
        elif not rec.get("Truncated"):
            # (tshark's detail view stops at a cut payload: "NFLOG truncated")
            assert src == rec["IP"]["SrcIP"] and int(ipid, 0) == rec["IP"]["Id"], (row, rec)
        # the bytes: the frame's payload is the record's packet, cut or whole
        _, tlvs = nflog_tlvs(frame)
        payload, said = tlvs[9]
        assert payload == ip_bytes(rec)
        assert tlvs[10][0] == b"wan:in \0"
        if rec.get("Truncated"):
            cut += 1
            # the TLV and the capture's len say the whole packet's length
            assert len(payload) == 300 and said == rec["Length"] == rec["IP"]["Length"] > 300
            assert length - caplen == align4(said) - 300
        else:
            assert said == len(payload) and length == caplen
        # the record's time, to the microsecond
        ts = rec["Timestamp"]
        assert time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(sec)) == ts[:19], (sec, ts)
        frac = ts[20:].rstrip("Z")  # Go's RFC 3339 drops trailing zeros
        assert f"{usec:06d}" == (frac + "000000")[:6], (usec, ts)
    assert cut == 6
    # tshark's packet list (no detail tree) dissects the cut ones too
    res = subprocess.run(["tshark", "-r", str(path)], capture_output=True, text=True,
                         timeout=60)
    lines = res.stdout.splitlines()
    assert len(lines) == len(rest)
    assert sum(" UDP 1320 " in line for line in lines) == 6, res.stdout

    # and back: decode reads the export into the records REST gave, but Seq
    res = ns_sh(net.router, str(BINARY), "decode", str(path))
    back = [json.loads(x) for x in res.stdout.splitlines()]
    assert back == [{k: v for k, v in x.items() if k != "Seq"} for x in rest]

    # paging as /packet_logs: the same Link, on .pcap; gzip when accepted
    small = {"prefix": "wan:in", "dport": PCAP_PORT, "limit": 4, "order": "asc"}
    page = server.get("/packet_logs", small)
    cap = server.get("/packet_logs.pcap", small, headers={"Accept-Encoding": "gzip"})
    assert cap.headers["Content-Encoding"] == "gzip"
    assert cap.headers["Link"] == page.headers["Link"].replace("</packet_logs?",
                                                               "</packet_logs.pcap?")
    _, packets = read_pcap(cap.content)  # requests inflates it
    assert [nflog_tlvs(p[4])[1][9][0] for p in packets] == [ip_bytes(x) for x in page.json()]
    # the same query errors as /packet_logs
    bad = server.get("/packet_logs.pcap", {"proto": "nope"})
    assert bad.status_code == 400 and bad.json()["param"] == "proto"


def nflog_frame(group, prefix, payload, ts=None, indev=0):
    """An NFLOG frame as the kernel sends it (TLV lengths in this host's order)."""
    def tlv(t, v):
        return struct.pack("=HH", 4 + len(v), t) + v + bytes(-len(v) % 4)
    out = struct.pack("!BBH", 2, 0, group) + tlv(1, struct.pack("!HBB", 0x0800, 1, 0))
    out += tlv(10, prefix.encode() + b"\0")
    if indev:
        out += tlv(4, struct.pack("!I", indev))
    if ts is not None:
        out += tlv(3, struct.pack("!QQ", ts[0], ts[1]))
    return out + tlv(9, payload)


def write_pcap(path, frames, when=1700000000):
    data = struct.pack("=IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 65535, 239)
    for i, f in enumerate(frames):
        data += struct.pack("=IIII", when + i, 500000, len(f), len(f)) + f
    path.write_bytes(data)


def udp4(sport, dport, body=b"hi"):
    udp = struct.pack("!HHHH", sport, dport, 8 + len(body), 0) + body
    return struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 1, 0, 64, 17, 0,
                       bytes([10, 0, 0, 1]), bytes([10, 0, 0, 2])) + udp


def test_decode_maps_nflog_groups_as_the_server(tmp_path):
    path = tmp_path / "groups.pcap"
    write_pcap(path, [nflog_frame(0, "wan:in ", udp4(1000, 53)),
                      nflog_frame(1, "drop:input ", udp4(1001, 9999), ts=(1600000000, 250)),
                      nflog_frame(7, "lan:out ", udp4(1002, 80), indev=1)])
    def decode(*args):
        res = subprocess.run([str(BINARY), "decode", *args, str(path)], capture_output=True,
                             text=True, timeout=30)
        assert res.returncode == 0, res.stderr
        return [json.loads(x) for x in res.stdout.splitlines()]
    recs = decode()
    # the server's default groups: 0 allowed, 1 blocked; others allowed
    assert [(r["Prefix"], r["Action"]) for r in recs] == [
        ("wan:in ", "allowed"), ("drop:input ", "blocked"), ("lan:out ", "allowed")]
    # the kernel's time when the frame has it, else the capture's
    assert recs[0]["Timestamp"] == "2023-11-14T22:13:20.5Z"
    assert recs[1]["Timestamp"] == "2020-09-13T12:26:40.00025Z"
    # interface indexes named on this machine (1 is lo), as the server names them
    assert recs[2]["InDev"] == "lo" and recs[0]["InDev"] == ""
    assert "Seq" not in recs[0]
    recs = decode("--group", "7:dropped", "--group", "1:allowed", "--seq")
    assert [(r["Action"], r["Seq"]) for r in recs] == [
        ("allowed", 1), ("allowed", 2), ("dropped", 3)]


def test_decode_group_option_is_checked(net, tmp_path):
    res = ns_sh(net.router, str(BINARY), "decode", "--group", "5:no good", str(tmp_path / "x"),
                check=False)
    assert res.returncode == 2 and "--group" in res.stderr, res.stderr


def test_pcap_export_needs_the_token(net, start_server, tmp_path):
    token = "pcap-T0ken_for-tests"
    path = tmp_path / "token"
    path.write_text(token + "\n")
    path.chmod(0o600)
    s = start_server(net.router, ["--token-file", path, "--group", "23:allowed"],
                     host=WAN_ROUTER4)
    r = s.get("/packet_logs.pcap", client_ns=net.wan, auth=False)
    assert r.status_code == 401 and r.headers["WWW-Authenticate"].startswith("Bearer"), r.text
    r = s.get("/packet_logs.pcap", client_ns=net.wan,
              headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200 and r.content[:4] == struct.pack("=I", 0xa1b2c3d4), r.content


# The second log rule: the same packets as SPR's wan:in rule, to tcpdump's group.
CAPTURE_RULES = f"""
table inet pcap_test {{
  chain input {{
    type filter hook input priority 10; policy accept;
    iifname "wan0" log prefix "wan:in " group {TCPDUMP_GROUP}
  }}
}}
"""


def test_tcpdump_nflog_capture_decodes_to_the_rest_records(net, traffic, start_server, tmp_path):
    ns_sh(net.router, "nft", "-f", "-", input=CAPTURE_RULES)
    path = tmp_path / "nflog.pcap"
    dump = None
    try:
        server = start_server(net.router)
        dump = net.spawn(net.router, "tcpdump", "-U", "-n", "-i", f"nflog:{TCPDUMP_GROUP}",
                         "-w", str(path), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                         text=True)
        line = dump.stderr.readline()
        assert "listening on" in line, line + dump.stderr.read()
        traffic.udp(net.wan, WAN_ROUTER4, CAPTURE_PORT, payload=b"captured twice", count=5)
        traffic.udp(net.wan, WAN_ROUTER4, CAPTURE_PORT, payload=bytes(700), count=2)
        # a DNS-less, ICMP and TCP mix through the same rules
        traffic.tcp(net.wan, WAN_ROUTER4, CAPTURE_PORT)
        params = {"prefix": "wan:in", "port": CAPTURE_PORT, "order": "asc", "limit": 1000}
        rest = server.wait_records(params, lambda r: len(r) == 8, what="8 packets")
        # tcpdump has them once its file holds 8 packets
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            data = path.read_bytes() if path.exists() else b""
            if len(data) > 24 and len([p for p in read_pcap(data)[1]
                                       if struct.pack("!H", CAPTURE_PORT)
                                       in p[4]]) >= 8:
                break
            time.sleep(0.1)
    finally:
        if dump:
            dump.send_signal(signal.SIGINT)
            dump.wait(10)
        ns_sh(net.router, "nft", "delete", "table", "inet", "pcap_test", check=False)

    res = ns_sh(net.router, str(BINARY), "decode", "--group", f"{TCPDUMP_GROUP}:allowed",
                str(path))
    decoded = [json.loads(x) for x in res.stdout.splitlines()]
    mine = [d for d in decoded
            if (d.get("UDP") or d.get("TCP") or {}).get("DstPort") == CAPTURE_PORT]
    assert len(mine) == len(rest) == 8, (len(mine), [d.get("Prefix") for d in decoded])
    skew = []
    for got, want in zip(mine, rest):
        assert "Seq" not in got
        strip = {k: v for k, v in want.items() if k not in ("Seq", "Timestamp")}
        assert {k: v for k, v in got.items() if k != "Timestamp"} == strip
        skew.append(abs(rfc3339(got["Timestamp"]) - rfc3339(want["Timestamp"])))
    # Timestamp: both are the kernel's NFULA_TIMESTAMP, but the kernel stamps
    # each NFLOG message as a log statement makes it (the packet's receive
    # time when the host timestamps packets, else the clock at that
    # statement): the two rules' copies are microseconds apart.
    print(f"Timestamp differences capture/server: {[round(x * 1e6) for x in skew]} us")
    assert max(skew) < 0.01, skew


def rfc3339(text):
    """'2026-11-29T08:43:05.15161Z' -> seconds (float)."""
    whole, _, frac = text.rstrip("Z").partition(".")
    return calendar.timegm(time.strptime(whole, "%Y-%m-%dT%H:%M:%S")) + float("0." + (frac or "0"))


_SLOW_READER = r"""
import socket, sys, time
host, port, path, rate, out = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), sys.argv[5]
s = socket.create_connection((host, port), timeout=60)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)
s.sendall(f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode())
data = b""
start = time.monotonic()
while True:
    b = s.recv(4096)
    if not b:
        break
    data += b
    # at most `rate` bytes a second
    ahead = len(data) / rate - (time.monotonic() - start)
    if ahead > 0:
        time.sleep(ahead)
open(out, "wb").write(data)
"""


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


def dechunk(body):
    out, off = b"", 0
    while True:
        end = body.index(b"\r\n", off)
        n = int(body[off:end], 16)
        if n == 0:
            return out
        out += body[end + 2:end + 2 + n]
        off = end + 2 + n + 2


RSS_BOUND_MB = 10  # the growth of the server's RSS while exporting (the pages: 34 MB)


@pytest.mark.timing
def test_a_100000_record_export_streams_with_bounded_memory(net, traffic, start_server,
                                                            tmp_path):
    server = start_server(net.router, ["--history-records", "110000", "--history-bytes", "1G"])
    total = 100000
    # in steps the NFLOG socket keeps up with
    for sent in range(0, total, 10000):
        traffic.udp(net.wan, WAN_ROUTER4, BULK_PORT, payload=bytes(200), count=10000)
        m = server.settled()
    # a packet the kernel could not queue is counted, never silently missing:
    # the pages hold every other one (a loaded machine may lose a few)
    lost = m.get("packet_logs_kernel_lost_total", 0)
    assert lost < total // 100, m
    total -= lost
    # the 100,000 records as ten pages of 10,000 (limit's maximum): their
    # cursors from the Link headers of HEAD requests (the page is fixed by
    # the read-ahead, no body is sent)
    queries, cursor = [], server.newest_seq() + 1
    for i in range(10):
        q = f"/packet_logs.pcap?dport={BULK_PORT}&limit=10000&before={cursor}"
        queries.append(q)
        link = server.request("HEAD", q).headers.get("Link", "")
        if i < 9:
            cursor = int(re.search(r"before=(\d+)>", link).group(1))
        else:
            assert not link, link  # nothing older matches
    # each page read by a client that takes 500 KB a second, all at once
    pid = server.proc.pid
    base = rss_kb(pid)
    readers = []
    for i, q in enumerate(queries):
        readers.append(net.spawn(net.router, PY, "-c", _SLOW_READER, "127.0.0.1", server.port,
                                 q, 500 * 1000, tmp_path / f"page{i}",
                                 stderr=subprocess.PIPE))
    peak = base
    deadline = time.monotonic() + 300
    while any(r.poll() is None for r in readers):
        assert time.monotonic() < deadline, "the slow readers did not finish in 300 s"
        peak = max(peak, rss_kb(pid))
        time.sleep(0.05)
    seqs_seen, size = 0, 0
    for i, r in enumerate(readers):
        err = r.communicate(timeout=120)[1]
        assert r.returncode == 0, err
        head, _, body = (tmp_path / f"page{i}").read_bytes().partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200"), (head, err)
        data = dechunk(body)
        size += len(data)
        link, packets = read_pcap(data)
        assert link == 239 and len(packets) == (10000 if i < 9 else total - 90000)
        seqs_seen += len(packets)
    assert seqs_seen == total
    growth = (peak - base) / 1024
    print(f"100,000 records, {size / 1e6:.1f} MB of pcap in 10 slow reads: server RSS "
          f"{base / 1024:.0f} MB before, peak +{growth:.1f} MB")
    assert growth < RSS_BOUND_MB, f"RSS grew {growth:.1f} MB exporting {size / 1e6:.1f} MB"
