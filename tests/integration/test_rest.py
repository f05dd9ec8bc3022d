"""
REST integration tests of packet_logs: real packets from client namespaces
through SPR's nftables log rules and NFLOG into the real server, queried
over real HTTP (DESIGN.md sections 1, 2, 4, 7).

Most record and filter tests share one module-scoped server and one burst of
traffic (`baseline`): every filter is checked against an independent Python
reading of the same records (`oracle`), restricted to the burst's Seq window
so that other tests' packets never matter.
"""
import base64
import calendar
import ipaddress
import json
import re
import socket
import subprocess
import time
from datetime import datetime, timedelta, timezone
from urllib.parse import urlsplit

import pytest

from conftest import (BINARY, DNS_NAME, DROP_FORWARD_PORT, DROP_INPUT_PORT, HIST_BYTES_PORT,
                      HIST_RECORDS_PORT, MIXED_CASE_PORT, LAN_CLIENT4, LAN_CLIENT6, LAN_ROUTER4, LAN_ROUTER6,
                      RFC3339_NANO, WAN_CLIENT4, WAN_CLIENT6, WAN_ROUTER4, WAN_ROUTER6,
                      Traffic, brief, check_contract_raw, contract_status, netns, ns_sh, run_binary)

ECHO_REQUEST4, ECHO_REPLY4 = 8 << 8, 0
ECHO_REQUEST6, ECHO_REPLY6 = 128 << 8, 129 << 8
PORT_UNREACHABLE4 = (3 << 8) | 3
PORT_UNREACHABLE6 = (1 << 8) | 4


def b64(data):
    return base64.b64encode(data).decode()


# --------------------------------------------------------------- record helpers

def ip_layer(r):
    return r.get("IP") or r.get("IPv6")


def family(r):
    return 4 if "IP" in r else 6 if "IPv6" in r else 0


def addrs(r):
    layer = ip_layer(r)
    if not layer:
        return None, None
    return ipaddress.ip_address(layer["SrcIP"]), ipaddress.ip_address(layer["DstIP"])


def proto(r):
    for key, number in (("TCP", 6), ("UDP", 17), ("ICMPv4", 1), ("ICMPv6", 58)):
        if key in r:
            return number
    if "IP" in r:
        return r["IP"]["Protocol"]
    if "IPv6" in r:
        return r["IPv6"]["NextHeader"]
    return 0


def ports(r):
    l4 = r.get("TCP") or r.get("UDP")
    return (l4["SrcPort"], l4["DstPort"]) if l4 else None


def timestamp(r):
    """(seconds, nanoseconds) of a record's RFC 3339 Timestamp."""
    return parse_rfc3339(r["Timestamp"])


def parse_rfc3339(text):
    m = re.match(r"^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.(\d{1,9}))?Z$", text)
    assert m, f"not RFC 3339 UTC: {text!r}"
    y, mo, d, h, mi, s = map(int, m.groups()[:6])
    frac = (m.group(7) or "").ljust(9, "0")
    return calendar.timegm((y, mo, d, h, mi, s)), int(frac)


def find(recs, prefix=None, kind=None, src=None, dst=None, sport=None, dport=None,
         typecode=None, indev=None, outdev=None, where=None):
    """The records matching every criterion given."""
    out = []
    for r in recs:
        if prefix is not None and r["Prefix"] != prefix:
            continue
        if kind is not None and kind not in r:
            continue
        s, d = addrs(r)
        if src is not None and s != ipaddress.ip_address(src):
            continue
        if dst is not None and d != ipaddress.ip_address(dst):
            continue
        p = ports(r)
        if sport is not None and (not p or p[0] != sport):
            continue
        if dport is not None and (not p or p[1] != dport):
            continue
        if typecode is not None:
            icmp = r.get("ICMPv4") or r.get("ICMPv6")
            if not icmp or icmp["TypeCode"] != typecode:
                continue
        if indev is not None and r["InDev"] != indev:
            continue
        if outdev is not None and r["OutDev"] != outdev:
            continue
        if where is not None and not where(r):
            continue
        out.append(r)
    return out


def one(recs, **kw):
    got = find(recs, **kw)
    assert len(got) == 1, (f"expected exactly one record with {kw}, got {len(got)}:\n"
                           + "\n".join(brief(r) for r in recs))
    return got[0]


# --------------------------------------------------------------- the oracle

def _cidr(text):
    return ipaddress.ip_network(text, strict=False)


def _time_param(text):
    """since/until value -> (sec, nsec), as DESIGN.md section 4 defines them."""
    if len(text) >= 5 and text[4] == "-":
        m = re.match(r"^(.{19})(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d)$", text)
        base = datetime.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S").replace(tzinfo=timezone.utc)
        if m.group(3) != "Z":
            sign = 1 if m.group(3)[0] == "+" else -1
            base -= sign * timedelta(hours=int(m.group(3)[1:3]), minutes=int(m.group(3)[4:6]))
        return calendar.timegm(base.utctimetuple()), int((m.group(2) or "").ljust(9, "0"))
    sec, _, frac = text.partition(".")
    return int(sec), int(frac.ljust(9, "0")) if frac else 0


PROTO_NAMES = {"tcp": 6, "udp": 17, "icmp": 1, "icmpv6": 58}


def oracle(records, params):
    """The records of `records` (newest first) that params select, read
    independently of the server from section 4 of DESIGN.md."""
    prefixes, action, protocol = [], None, None
    ip, src, dst = [], [], []
    port = sport = dport = iface = since = until = None
    limit, before, after, asc = 100, None, None, False
    for key, value in params:
        if key == "prefix":
            for p in value.split(","):
                p = p.strip()
                if p.lower().startswith("nft:"):
                    p = p[4:].strip()
                prefixes.append(p.lower())
        elif key == "action":
            action = value.lower()
        elif key == "proto":
            protocol = PROTO_NAMES.get(value.lower(), None)
            protocol = int(value) if protocol is None else protocol
        elif key in ("ip", "src", "dst"):
            {"ip": ip, "src": src, "dst": dst}[key].append(_cidr(value))
        elif key == "port":
            port = int(value)
        elif key == "sport":
            sport = int(value)
        elif key == "dport":
            dport = int(value)
        elif key == "iface":
            iface = value
        elif key in ("since", "min"):
            since = _time_param(value)
        elif key in ("until", "max"):
            until = _time_param(value)
        elif key in ("limit", "num"):
            limit = int(value)
        elif key == "before":
            before = int(value)
        elif key == "after":
            after = int(value)
        elif key == "order":
            asc = value.lower() == "asc"
        else:
            raise ValueError(key)

    def match(r):
        if prefixes and not any(r["Prefix"].lstrip().lower().startswith(p) for p in prefixes):
            return False
        if action and r["Action"] != action:
            return False
        if protocol is not None and proto(r) != protocol:
            return False
        s, d = addrs(r)
        if ip and not any(s in n or d in n for n in ip if s is not None and n.version == s.version):
            return False
        if src and not any(s in n for n in src if s is not None and n.version == s.version):
            return False
        if dst and not any(d in n for n in dst if d is not None and n.version == d.version):
            return False
        p = ports(r)
        if port is not None and (not p or port not in p):
            return False
        if sport is not None and (not p or p[0] != sport):
            return False
        if dport is not None and (not p or p[1] != dport):
            return False
        if iface is not None and iface not in (r["InDev"], r["OutDev"]):
            return False
        if since is not None and timestamp(r) < since:
            return False
        if until is not None and timestamp(r) > until:
            return False
        if before is not None and r["Seq"] >= before:
            return False
        if after is not None and r["Seq"] <= after:
            return False
        return True

    chosen = sorted((r for r in records if match(r)), key=lambda r: r["Seq"], reverse=not asc)
    return chosen[:limit]


def after(seq):
    """The `after` parameter for "newer than seq": none for 0, which the
    server refuses (a Seq is positive) and which would mean no bound."""
    return [("after", seq)] if seq else []


def seqs(recs):
    return [r["Seq"] for r in recs]


# --------------------------------------------------------------- the baseline burst

class Baseline:
    """One burst of ICMP, UDP and TCP over IPv4 and IPv6 from both clients,
    to the router and through it; the records it made (window)."""

    def __init__(self, server, traffic, net):
        self.server = server
        W, L = net.wan, net.lan
        self.start = server.newest_seq()
        self.t0 = time.time()
        traffic.ping(L, LAN_ROUTER4)
        traffic.ping(W, WAN_ROUTER4)
        traffic.ping(L, LAN_ROUTER6)
        traffic.ping(W, WAN_ROUTER6)
        traffic.ping(L, WAN_CLIENT4)                                   # forwarded
        traffic.ping(L, WAN_CLIENT6)
        traffic.udp(L, LAN_ROUTER4, 5001, sport=40001, payload=b"udp-v4-from-lan")
        traffic.udp(W, WAN_ROUTER6, 5002, sport=40002, payload=b"udp-v6-from-wan")
        traffic.udp(W, WAN_ROUTER4, 5005, sport=40005)
        traffic.udp(L, LAN_ROUTER6, 5006, sport=40006)
        traffic.udp(L, LAN_ROUTER4, DROP_INPUT_PORT, sport=40003)      # drop:input
        traffic.udp(W, WAN_ROUTER6, DROP_INPUT_PORT, sport=40004)
        traffic.udp(W, LAN_CLIENT4, 5003, sport=40007)                 # forwarded to lan
        traffic.udp(W, LAN_CLIENT6, 5004, sport=40008)
        traffic.udp(L, WAN_CLIENT4, DROP_FORWARD_PORT, sport=40009)    # drop:forward
        traffic.udp(L, WAN_CLIENT6, DROP_FORWARD_PORT, sport=40010)
        traffic.udp(W, WAN_ROUTER4, MIXED_CASE_PORT, sport=40011)     # "Drop:Mixed " too
        assert traffic.tcp(L, LAN_ROUTER4, 6001, sport=41001) == "refused"
        assert traffic.tcp(W, WAN_ROUTER6, 6002, sport=41002) == "refused"
        assert traffic.tcp(L, WAN_CLIENT4, 6003, sport=41003) == "refused"  # forwarded
        assert traffic.tcp(L, WAN_CLIENT6, 6004, sport=41004) == "refused"
        self.expected = [
            dict(prefix="lan:in ", typecode=ECHO_REQUEST4, src=LAN_CLIENT4, dst=LAN_ROUTER4),
            dict(prefix="wan:in ", typecode=ECHO_REQUEST4, src=WAN_CLIENT4, dst=WAN_ROUTER4),
            dict(prefix="lan:in ", typecode=ECHO_REQUEST6, src=LAN_CLIENT6, dst=LAN_ROUTER6),
            dict(prefix="wan:in ", typecode=ECHO_REQUEST6, src=WAN_CLIENT6, dst=WAN_ROUTER6),
            dict(prefix="wan:out ", typecode=ECHO_REQUEST4, src=LAN_CLIENT4, dst=WAN_CLIENT4),
            dict(prefix="lan:out ", typecode=ECHO_REPLY4, src=WAN_CLIENT4, dst=LAN_CLIENT4),
            dict(prefix="wan:out ", typecode=ECHO_REQUEST6, src=LAN_CLIENT6, dst=WAN_CLIENT6),
            dict(prefix="lan:out ", typecode=ECHO_REPLY6, src=WAN_CLIENT6, dst=LAN_CLIENT6),
            dict(prefix="lan:in ", dport=5001, sport=40001),
            dict(prefix="wan:in ", dport=5002, sport=40002),
            dict(prefix="wan:in ", dport=5005, sport=40005),
            dict(prefix="lan:in ", dport=5006, sport=40006),
            dict(prefix="drop:input ", dport=DROP_INPUT_PORT, sport=40003),
            dict(prefix="drop:input ", dport=DROP_INPUT_PORT, sport=40004),
            dict(prefix="lan:out ", dport=5003, sport=40007),
            dict(prefix="wan:out ", typecode=PORT_UNREACHABLE4, src=LAN_CLIENT4),
            dict(prefix="lan:out ", dport=5004, sport=40008),
            dict(prefix="wan:out ", typecode=PORT_UNREACHABLE6, src=LAN_CLIENT6),
            dict(prefix="drop:forward ", dport=DROP_FORWARD_PORT, sport=40009),
            dict(prefix="drop:forward ", dport=DROP_FORWARD_PORT, sport=40010),
            dict(prefix="Drop:Mixed ", dport=MIXED_CASE_PORT, sport=40011),
            dict(prefix="wan:in ", dport=MIXED_CASE_PORT, sport=40011),
            dict(prefix="lan:in ", dport=6001, sport=41001),
            dict(prefix="wan:in ", dport=6002, sport=41002),
            dict(prefix="wan:out ", dport=6003, sport=41003),
            dict(prefix="lan:out ", sport=6003, dport=41003),
            dict(prefix="wan:out ", dport=6004, sport=41004),
            dict(prefix="lan:out ", sport=6004, dport=41004),
        ]
        server.wait_records(
            [*after(self.start), ("limit", 10000)],
            lambda recs: all(find(recs, **e) for e in self.expected),
            what="every record of the baseline burst")
        self.end = server.newest_seq()
        self.t1 = time.time()
        self.window = [*after(self.start), ("before", self.end + 1)]
        self.records = server.records(self.window + [("limit", 10000)])
        assert seqs(self.records) == sorted(seqs(self.records), reverse=True)

    def query(self, params):
        """The server's answer to params, restricted to the burst."""
        return self.server.records(list(params) + self.window)

    def expect(self, params):
        return oracle(self.records, list(params) + self.window)


@pytest.fixture(scope="module")
def baseline(server, traffic, net):
    return Baseline(server, traffic, net)


# =============================================================== records

def test_icmp_v4_ping_from_lan_client_is_lan_in_allowed(baseline):
    r = one(baseline.records, prefix="lan:in ", typecode=ECHO_REQUEST4, src=LAN_CLIENT4)
    assert r["Action"] == "allowed"
    assert (r["InDev"], r["OutDev"]) == ("lan0", "")
    assert r["IP"]["SrcIP"] == LAN_CLIENT4 and r["IP"]["DstIP"] == LAN_ROUTER4
    assert r["IP"]["Version"] == 4 and r["IP"]["Protocol"] == 1
    assert "IPv6" not in r and "TCP" not in r and "UDP" not in r
    assert r["ICMPv4"]["TypeCode"] == ECHO_REQUEST4


def test_icmp_v4_ping_from_wan_client_is_wan_in(baseline):
    r = one(baseline.records, prefix="wan:in ", typecode=ECHO_REQUEST4, src=WAN_CLIENT4)
    assert r["Action"] == "allowed"
    assert (r["InDev"], r["OutDev"]) == ("wan0", "")
    assert r["IP"]["DstIP"] == WAN_ROUTER4


def test_icmpv6_ping_from_lan_client_is_lan_in_with_ipv6_layer(baseline):
    r = one(baseline.records, prefix="lan:in ", typecode=ECHO_REQUEST6, src=LAN_CLIENT6)
    assert r["Action"] == "allowed"
    assert (r["InDev"], r["OutDev"]) == ("lan0", "")
    assert "IP" not in r
    assert r["IPv6"]["Version"] == 6 and r["IPv6"]["NextHeader"] == 58
    assert r["IPv6"]["SrcIP"] == LAN_CLIENT6 and r["IPv6"]["DstIP"] == LAN_ROUTER6
    assert r["ICMPv6"]["TypeCode"] == ECHO_REQUEST6


def test_icmpv6_ping_from_wan_client_is_wan_in(baseline):
    r = one(baseline.records, prefix="wan:in ", typecode=ECHO_REQUEST6, src=WAN_CLIENT6)
    assert (r["InDev"], r["OutDev"], r["Action"]) == ("wan0", "", "allowed")
    assert r["IPv6"]["DstIP"] == WAN_ROUTER6


@pytest.mark.parametrize("client, server_addr, request_tc, reply_tc", [
    (LAN_CLIENT4, WAN_CLIENT4, ECHO_REQUEST4, ECHO_REPLY4),
    (LAN_CLIENT6, WAN_CLIENT6, ECHO_REQUEST6, ECHO_REPLY6),
], ids=["v4", "v6"])
def test_forwarded_ping_is_wan_out_and_its_reply_lan_out(baseline, client, server_addr,
                                                         request_tc, reply_tc):
    out = one(baseline.records, prefix="wan:out ", typecode=request_tc, src=client,
              dst=server_addr)
    assert (out["InDev"], out["OutDev"], out["Action"]) == ("lan0", "wan0", "allowed")
    back = one(baseline.records, prefix="lan:out ", typecode=reply_tc, src=server_addr,
               dst=client)
    assert (back["InDev"], back["OutDev"], back["Action"]) == ("wan0", "lan0", "allowed")
    assert back["Seq"] > out["Seq"]


def test_udp_v4_from_lan_client_has_ports_length_and_payload(baseline):
    r = one(baseline.records, prefix="lan:in ", sport=40001, dport=5001)
    payload = b"udp-v4-from-lan"
    assert r["Action"] == "allowed" and r["InDev"] == "lan0"
    assert r["IP"]["SrcIP"] == LAN_CLIENT4 and r["IP"]["DstIP"] == LAN_ROUTER4
    assert r["IP"]["Protocol"] == 17 and r["IP"]["Length"] == 20 + 8 + len(payload)
    assert r["UDP"]["SrcPort"] == 40001 and r["UDP"]["DstPort"] == 5001
    assert r["UDP"]["Length"] == 8 + len(payload)
    assert r["UDP"]["Payload"] == b64(payload)
    assert base64.b64decode(r["UDP"]["Contents"])[:4] == bytes([40001 >> 8, 40001 & 255,
                                                                5001 >> 8, 5001 & 255])


def test_udp_v6_from_wan_client_is_wan_in_with_ipv6_and_ports(baseline):
    r = one(baseline.records, prefix="wan:in ", sport=40002, dport=5002)
    assert r["Action"] == "allowed" and r["InDev"] == "wan0" and r["OutDev"] == ""
    assert r["IPv6"]["SrcIP"] == WAN_CLIENT6 and r["IPv6"]["DstIP"] == WAN_ROUTER6
    assert r["IPv6"]["NextHeader"] == 17
    assert r["UDP"]["Payload"] == b64(b"udp-v6-from-wan")


@pytest.mark.parametrize("sport, src, indev", [(40003, LAN_CLIENT4, "lan0"),
                                               (40004, WAN_CLIENT6, "wan0")], ids=["v4", "v6"])
def test_udp_to_dropped_port_is_drop_input_blocked(baseline, sport, src, indev):
    r = one(baseline.records, prefix="drop:input ", sport=sport, dport=DROP_INPUT_PORT)
    assert r["Action"] == "blocked"
    assert (r["InDev"], r["OutDev"]) == (indev, "")
    assert str(addrs(r)[0]) == src
    # dropped before SPR's other rules: no wan:in / lan:in record of it
    assert not find(baseline.records, sport=sport, where=lambda x: x["Prefix"] != "drop:input ")


@pytest.mark.parametrize("sport, dst", [(40009, WAN_CLIENT4), (40010, WAN_CLIENT6)],
                         ids=["v4", "v6"])
def test_udp_dropped_in_forward_is_drop_forward_blocked(baseline, sport, dst):
    r = one(baseline.records, prefix="drop:forward ", sport=sport, dport=DROP_FORWARD_PORT)
    assert (r["Action"], r["InDev"], r["OutDev"]) == ("blocked", "lan0", "wan0")
    assert str(addrs(r)[1]) == dst


@pytest.mark.parametrize("sport, dport, dst, unreachable, client", [
    (40007, 5003, LAN_CLIENT4, PORT_UNREACHABLE4, LAN_CLIENT4),
    (40008, 5004, LAN_CLIENT6, PORT_UNREACHABLE6, LAN_CLIENT6),
], ids=["v4", "v6"])
def test_udp_forwarded_to_lan_is_lan_out_and_icmp_error_wan_out(baseline, sport, dport, dst,
                                                                unreachable, client):
    r = one(baseline.records, prefix="lan:out ", sport=sport, dport=dport)
    assert (r["Action"], r["InDev"], r["OutDev"]) == ("allowed", "wan0", "lan0")
    assert str(addrs(r)[1]) == dst
    err = find(baseline.records, prefix="wan:out ", typecode=unreachable, src=client)
    assert err and err[0]["Seq"] > r["Seq"]
    assert (err[0]["InDev"], err[0]["OutDev"]) == ("lan0", "wan0")


@pytest.mark.parametrize("sport, dport, prefix, indev, src, dst", [
    (41001, 6001, "lan:in ", "lan0", LAN_CLIENT4, LAN_ROUTER4),
    (41002, 6002, "wan:in ", "wan0", WAN_CLIENT6, WAN_ROUTER6),
], ids=["v4-lan", "v6-wan"])
def test_tcp_syn_to_closed_port_on_router_is_logged(baseline, sport, dport, prefix, indev,
                                                    src, dst):
    r = one(baseline.records, prefix=prefix, sport=sport, dport=dport)
    assert (r["Action"], r["InDev"], r["OutDev"]) == ("allowed", indev, "")
    assert r["TCP"]["SYN"] is True and r["TCP"]["ACK"] is False and r["TCP"]["RST"] is False
    assert r["TCP"]["DataOffset"] >= 5
    assert "UDP" not in r
    s, d = addrs(r)
    assert (str(s), str(d)) == (src, dst)


@pytest.mark.parametrize("sport, dport", [(41003, 6003), (41004, 6004)], ids=["v4", "v6"])
def test_tcp_forwarded_syn_is_wan_out_and_rst_lan_out(baseline, sport, dport):
    syn = one(baseline.records, prefix="wan:out ", sport=sport, dport=dport)
    assert syn["TCP"]["SYN"] and not syn["TCP"]["ACK"]
    assert (syn["InDev"], syn["OutDev"]) == ("lan0", "wan0")
    rst = one(baseline.records, prefix="lan:out ", sport=dport, dport=sport)
    assert rst["TCP"]["RST"] is True
    assert (rst["InDev"], rst["OutDev"]) == ("wan0", "lan0")
    assert rst["Seq"] > syn["Seq"]


def test_seq_unique_increasing_and_timestamps_rfc3339_nano(baseline):
    recs = baseline.records
    s = seqs(recs)
    assert len(set(s)) == len(s)
    assert s == sorted(s, reverse=True)
    assert min(s) > baseline.start and max(s) <= baseline.end
    for r in recs:
        assert RFC3339_NANO.match(r["Timestamp"]), r["Timestamp"]
        sec, nsec = timestamp(r)
        assert baseline.t0 - 5 <= sec + nsec / 1e9 <= baseline.t1 + 5, r["Timestamp"]
        assert isinstance(r["Seq"], int)
        assert r["Prefix"].endswith(" ")  # as the kernel gave it


def test_records_keep_spr_field_order(baseline):
    """The keys in SPR's order: layers, then Prefix, Action, Timestamp,
    InDev, OutDev (DESIGN.md section 2), then Seq."""
    r = one(baseline.records, prefix="lan:in ", sport=40001)
    keys = list(r)  # json.loads keeps the server's order
    tail = [k for k in keys if k in ("Prefix", "Action", "Timestamp", "InDev", "OutDev", "Seq")]
    assert tail == ["Prefix", "Action", "Timestamp", "InDev", "OutDev", "Seq"]
    assert keys.index("UDP") < keys.index("IP") < keys.index("Prefix")


# =============================================================== DNS

def _dns_answer(recs, dst):
    return find(recs, prefix="wan:in ", sport=53, dst=dst, where=lambda r: "DNS" in r)


@pytest.mark.parametrize("resolver, router", [(WAN_CLIENT4, WAN_ROUTER4),
                                              (WAN_CLIENT6, WAN_ROUTER6)], ids=["v4", "v6"])
def test_dns_answer_is_logged_with_its_answers(server, traffic, net, dns_responder, resolver,
                                               router):
    start = server.newest_seq()
    assert traffic.dns_query(net.router, resolver) > 0
    recs = server.wait_records([*after(start), ("sport", 53)],
                               lambda rs: _dns_answer(rs, router), what="the DNS answer")
    r = _dns_answer(recs, router)[0]
    assert (r["Action"], r["InDev"], r["OutDev"]) == ("allowed", "wan0", "")
    assert str(addrs(r)[0]) == resolver
    dns = r["DNS"]
    assert dns["QR"] is True and dns["ID"] == 0x4242 and dns["ResponseCode"] == 0
    assert (dns["QDCount"], dns["ANCount"]) == (1, 2)
    assert dns["Questions"] == [{"Name": b64(DNS_NAME.encode()), "Type": 1, "Class": 1}]
    answers = dns["Answers"]
    assert [(a["Type"], a["IP"], a["TTL"], a["Name"]) for a in answers] == [
        (1, WAN_CLIENT4, 300, b64(DNS_NAME.encode())),
        (28, WAN_CLIENT6, 300, b64(DNS_NAME.encode())),
    ]
    assert dns["Authorities"] is None


def test_recent_domain_src_and_dst_learnt_from_dns_answers(server, traffic, net, dns_responder):
    start = server.newest_seq()
    traffic.dns_query(net.router, WAN_CLIENT4)
    server.wait_records([*after(start), ("sport", 53)],
                        lambda rs: _dns_answer(rs, WAN_ROUTER4), what="the DNS answer")
    traffic.ping(net.wan, WAN_ROUTER4)
    traffic.ping(net.wan, WAN_ROUTER6)
    traffic.ping(net.lan, WAN_CLIENT4)
    traffic.ping(net.lan, WAN_CLIENT6)
    want = [dict(prefix="wan:in ", typecode=ECHO_REQUEST4, src=WAN_CLIENT4),
            dict(prefix="wan:in ", typecode=ECHO_REQUEST6, src=WAN_CLIENT6),
            dict(prefix="wan:out ", typecode=ECHO_REQUEST4, dst=WAN_CLIENT4),
            dict(prefix="lan:out ", typecode=ECHO_REPLY4, src=WAN_CLIENT4),
            dict(prefix="wan:out ", typecode=ECHO_REQUEST6, dst=WAN_CLIENT6)]
    recs = server.wait_records([*after(start), ("limit", 10000)],
                               lambda rs: all(find(rs, **w) for w in want), what="the pings")
    for w in want[:2] + want[3:4]:
        r = find(recs, **w)[0]
        assert r.get("RecentDomainSrc") == DNS_NAME, brief(r)
    for w in (want[2], want[4]):
        r = find(recs, **w)[0]
        assert r.get("RecentDomainDst") == DNS_NAME, brief(r)
        assert "RecentDomainSrc" not in r  # the lan client's address was never answered
    # the keys sit where SPR puts them: before Prefix
    r = find(recs, **want[0])[0]
    keys = list(r)
    assert keys.index("RecentDomainSrc") < keys.index("Prefix")


# =============================================================== filters

def _has(**kw):
    return lambda recs: bool(find(recs, **kw))


def _empty(recs):
    return not recs


FILTER_CASES = [
    # prefix
    ("prefix-plain", [("prefix", "lan:in")], _has(prefix="lan:in ", sport=40001)),
    ("prefix-comma-list", [("prefix", "lan:in,wan:in")], _has(prefix="wan:in ", sport=40002)),
    ("prefix-repeated", [("prefix", "lan:in"), ("prefix", "wan:in")],
     _has(prefix="lan:in ", sport=40001)),
    ("prefix-nft-topic", [("prefix", "nft:wan:out")], _has(prefix="wan:out ", sport=41003)),
    ("prefix-drop-matches-every-drop", [("prefix", "drop:")],
     lambda rs: find(rs, prefix="drop:input ") and find(rs, prefix="drop:forward ")
     and find(rs, prefix="Drop:Mixed ")),
    ("prefix-nft-drop", [("prefix", "nft:drop:")], _has(prefix="drop:forward ")),
    ("prefix-drop-input-only", [("prefix", "drop:input")], _has(prefix="drop:input ")),
    ("prefix-case-insensitive", [("prefix", "WAN:In")], _has(prefix="wan:in ", sport=40002)),
    ("prefix-record-in-mixed-case", [("prefix", "drop:mixed")],
     lambda rs: seqs(rs) == seqs(find(rs, prefix="Drop:Mixed ")) and len(rs) == 1),
    ("prefix-starts-with", [("prefix", "lan")],
     lambda rs: find(rs, prefix="lan:in ") and find(rs, prefix="lan:out ")),
    ("prefix-spaces-trimmed", [("prefix", " lan:out ")], _has(prefix="lan:out ")),
    ("prefix-nft-alone-is-every-record", [("prefix", "nft:")], _has(prefix="drop:input ")),
    ("prefix-unknown", [("prefix", "drop:geo")], _empty),
    # action
    ("action-allowed", [("action", "allowed")], _has(prefix="lan:in ", sport=40001)),
    ("action-blocked", [("action", "blocked")],
     lambda rs: len(rs) == 5 and all(r["Prefix"].lower().startswith("drop:") for r in rs)),
    ("action-case-insensitive", [("action", "BLOCKED")], _has(prefix="drop:input ")),
    # proto
    ("proto-tcp", [("proto", "tcp")], _has(sport=41001)),
    ("proto-6", [("proto", "6")], _has(sport=41001)),
    ("proto-udp", [("proto", "udp")], _has(sport=40001)),
    ("proto-17", [("proto", "17")], _has(sport=40002)),
    ("proto-UDP-upper", [("proto", "UDP")], _has(sport=40002)),
    ("proto-icmp", [("proto", "icmp")], _has(typecode=ECHO_REQUEST4)),
    ("proto-1", [("proto", "1")], _has(typecode=PORT_UNREACHABLE4)),
    ("proto-icmpv6", [("proto", "icmpv6")], _has(typecode=ECHO_REQUEST6)),
    ("proto-58", [("proto", "58")], _has(typecode=ECHO_REPLY6)),
    ("proto-unused-number", [("proto", "132")], _empty),
    # addresses
    ("ip-v4-single", [("ip", LAN_CLIENT4)], _has(dst=LAN_CLIENT4, sport=40007)),
    ("ip-v4-cidr", [("ip", "10.99.1.0/24")], _has(src=LAN_CLIENT4, dst=WAN_CLIENT4)),
    ("ip-v4-wide-cidr", [("ip", "10.99.0.0/16")], _has(src=WAN_CLIENT4, dst=WAN_ROUTER4)),
    ("ip-v4-host-bits-ignored", [("ip", "10.99.0.77/24")], _has(src=WAN_CLIENT4)),
    ("ip-v4-cidr-23", [("ip", "10.99.0.0/23")],
     lambda rs: find(rs, src=WAN_CLIENT4) and find(rs, src=LAN_CLIENT4)),
    ("ip-v4-cidr-25-other-half", [("ip", "10.99.0.128/25")], _empty),
    ("dst-v4-cidr-30", [("dst", "10.99.1.0/30")],
     lambda rs: find(rs, dst=LAN_ROUTER4) and find(rs, dst=LAN_CLIENT4)),
    ("ip-v6-single", [("ip", LAN_CLIENT6)], _has(src=LAN_CLIENT6, dst=LAN_ROUTER6)),
    ("ip-v6-cidr", [("ip", "fd99:1::/64")], _has(dst=LAN_CLIENT6, sport=40008)),
    ("ip-v6-wide-cidr", [("ip", "fd99::/16")], _has(src=WAN_CLIENT6, dst=WAN_ROUTER6)),
    ("ip-v6-cidr-31", [("ip", "fd99::/31")],
     lambda rs: find(rs, src=WAN_CLIENT6) and find(rs, src=LAN_CLIENT6)),
    ("ip-v6-cidr-31-other", [("ip", "fd99:2::/31")], _empty),
    ("ip-v6-cidr-127", [("src", "fd99:1::2/127")], _has(src=LAN_CLIENT6, dport=5006)),
    ("ip-repeated-v4-and-v6", [("ip", WAN_ROUTER4), ("ip", WAN_ROUTER6)],
     lambda rs: find(rs, dst=WAN_ROUTER4) and find(rs, dst=WAN_ROUTER6)),
    ("ip-zero-prefix-v4-is-every-v4", [("ip", "0.0.0.0/0")],
     lambda rs: rs and all(family(r) == 4 for r in rs)),
    ("ip-other-network", [("ip", "192.0.2.0/24")], _empty),
    ("src-v4", [("src", WAN_CLIENT4)], _has(src=WAN_CLIENT4, typecode=ECHO_REPLY4)),
    ("src-v6-cidr", [("src", "fd99::/64")], _has(src=WAN_CLIENT6, dport=5002)),
    ("dst-v4", [("dst", LAN_ROUTER4)], _has(dst=LAN_ROUTER4, dport=5001)),
    ("dst-v6", [("dst", WAN_ROUTER6)], _has(dport=6002)),
    ("dst-v4-cidr", [("dst", "10.99.0.0/24")], _has(dst=WAN_CLIENT4, dport=6003)),
    ("src-and-dst", [("src", LAN_CLIENT4), ("dst", WAN_CLIENT4)], _has(dport=6003)),
    # ports
    ("port-either-side", [("port", "6003")],
     lambda rs: find(rs, dport=6003) and find(rs, sport=6003)),
    ("port-source-side", [("port", "40001")], _has(sport=40001)),
    ("sport", [("sport", "41003")], _has(prefix="wan:out ", dport=6003)),
    ("dport", [("dport", "5001")], _has(sport=40001)),
    ("dport-drop", [("dport", str(DROP_INPUT_PORT))], _has(prefix="drop:input ")),
    ("sport-and-dport", [("sport", "6004"), ("dport", "41004")], _has(prefix="lan:out ")),
    ("port-none", [("port", "1")], _empty),
    # interfaces
    ("iface-lan0", [("iface", "lan0")], _has(prefix="lan:in ", sport=40001)),
    ("iface-wan0-in-or-out", [("iface", "wan0")],
     lambda rs: find(rs, indev="wan0") and find(rs, outdev="wan0")),
    ("iface-unknown", [("iface", "eth7")], _empty),
    # together
    ("combined", [("prefix", "wan:out"), ("proto", "tcp"), ("dst", WAN_CLIENT4),
                  ("dport", "6003"), ("action", "allowed"), ("iface", "lan0")],
     lambda rs: len(rs) == 1 and rs[0]["TCP"]["SrcPort"] == 41003),
    ("combined-blocked-v6", [("action", "blocked"), ("ip", "fd99::/16")],
     lambda rs: len(rs) == 2 and find(rs, sport=40004) and find(rs, sport=40010)),
]


@pytest.mark.parametrize("params, check", [c[1:] for c in FILTER_CASES],
                         ids=[c[0] for c in FILTER_CASES])
def test_filter(baseline, params, check):
    params = list(params) + [("limit", "10000")]
    got = baseline.query(params)
    want = baseline.expect(params)
    assert seqs(got) == seqs(want), (
        "server:\n" + "\n".join(map(brief, got)) + "\noracle:\n" + "\n".join(map(brief, want)))
    assert check(got), "\n".join(map(brief, got))


def _pick_timestamps(baseline):
    """Three records' timestamps from the middle of the burst, distinct."""
    stamps = sorted({timestamp(r) for r in baseline.records})
    assert len(stamps) >= 5, "the burst should span several timestamps"
    return stamps[len(stamps) // 4], stamps[len(stamps) // 2], stamps[3 * len(stamps) // 4]


def _rfc3339(sec, nsec, offset_minutes=0):
    t = datetime.fromtimestamp(sec, timezone.utc) + timedelta(minutes=offset_minutes)
    text = t.strftime("%Y-%m-%dT%H:%M:%S")
    if nsec:
        text += "." + f"{nsec:09d}"
    if offset_minutes == 0:
        return text + "Z"
    sign = "+" if offset_minutes > 0 else "-"
    m = abs(offset_minutes)
    return f"{text}{sign}{m // 60:02d}:{m % 60:02d}"


def _time_cases(baseline):
    lo, mid, hi = _pick_timestamps(baseline)
    unix_mid = str(mid[0])
    cases = [
        [("since", _rfc3339(*mid))],
        [("until", _rfc3339(*mid))],
        [("since", _rfc3339(*lo)), ("until", _rfc3339(*hi))],
        [("since", _rfc3339(*mid, offset_minutes=120))],
        [("until", _rfc3339(*mid, offset_minutes=-330))],
        [("since", unix_mid)],
        [("until", unix_mid)],
        [("since", f"{mid[0]}.{mid[1]:09d}")],
        [("since", f"{lo[0]}.{lo[1]:09d}"), ("until", f"{hi[0]}.{hi[1]:09d}")],
        [("min", _rfc3339(*lo)), ("max", _rfc3339(*hi))],
        [("min", str(lo[0])), ("max", str(hi[0] + 1))],
        [("since", _rfc3339(*mid)), ("until", _rfc3339(*mid))],
        [("since", str(int(baseline.t1) + 3600))],
        [("until", "2000-01-01T00:00:00Z")],
    ]
    return cases


def test_filter_since_until_rfc3339_unix_seconds_and_spr_min_max(baseline):
    for params in _time_cases(baseline):
        params = params + [("limit", "10000")]
        got = baseline.query(params)
        want = baseline.expect(params)
        assert seqs(got) == seqs(want), f"{params}: server {seqs(got)} != oracle {seqs(want)}"
    lo, mid, hi = _pick_timestamps(baseline)
    exact = baseline.query([("since", _rfc3339(*mid)), ("until", _rfc3339(*mid))])
    assert exact and all(timestamp(r) == mid for r in exact)
    assert baseline.query([("since", _rfc3339(*hi)), ("until", _rfc3339(*lo))]) == []


def test_limit_and_spr_num(baseline):
    everything = baseline.records
    assert len(everything) > 10
    assert seqs(baseline.query([("limit", "3")])) == seqs(everything[:3])
    assert seqs(baseline.query([("num", "3")])) == seqs(everything[:3])
    assert seqs(baseline.query([("limit", "1")])) == seqs(everything[:1])
    assert seqs(baseline.query([("limit", "3"), ("order", "asc")])) == seqs(everything[-3:])[::-1]
    assert seqs(baseline.query([("limit", "5"), ("num", "5")])) == seqs(everything[:5])
    # the default is 100
    h1 = baseline.server.health()["records"]
    n = len(baseline.server.records())
    h2 = baseline.server.health()["records"]
    assert min(100, h1) <= n <= min(100, h2)


def test_before_and_after_cursors(baseline):
    s = seqs(baseline.records)
    mid = s[len(s) // 2]
    got = baseline.server.records([("before", mid), *after(baseline.start), ("limit", 10000)])
    assert seqs(got) == [x for x in s if x < mid]
    got = baseline.server.records([("after", mid), ("before", baseline.end + 1),
                                   ("limit", 10000)])
    assert seqs(got) == [x for x in s if x > mid]
    got = baseline.server.records([("after", mid), ("before", baseline.end + 1),
                                   ("order", "asc"), ("limit", 10000)])
    assert seqs(got) == sorted(x for x in s if x > mid)
    assert baseline.server.records([("before", 1)]) == []
    assert baseline.server.records([("after", mid), ("before", mid + 1)]) == []


def test_order_asc_and_desc(baseline):
    desc = baseline.query([("limit", "10000"), ("order", "desc")])
    asc = baseline.query([("limit", "10000"), ("order", "asc")])
    default = baseline.query([("limit", "10000")])
    assert seqs(desc) == seqs(default) == seqs(baseline.records)
    assert seqs(asc) == seqs(desc)[::-1]
    assert seqs(baseline.query([("limit", "10000"), ("order", "ASC")])) == seqs(asc)


def test_ndjson_is_one_record_a_line_same_bytes_as_the_array(baseline):
    server = baseline.server
    params = baseline.window + [("limit", "10000")]
    arr = server.get("/packet_logs", params)
    nd = server.get("/packet_logs", params, headers={"Accept": "application/x-ndjson"})
    assert nd.status_code == 200
    assert nd.headers["Content-Type"].startswith("application/x-ndjson")
    assert arr.headers["Content-Type"].startswith("application/json")
    body = nd.content
    assert body.endswith(b"\n")
    lines = body[:-1].split(b"\n")
    assert [json.loads(x) for x in lines] == arr.json()
    assert b"[" + b",".join(lines) + b"]" == arr.content
    # and empty: no line at all
    empty = server.get("/packet_logs", [("iface", "nothing0")],
                       headers={"Accept": "application/x-ndjson"})
    assert empty.status_code == 200 and empty.content == b""


# =============================================================== paging

PAGE_PORT = 7100
PAGE_COUNT = 23


@pytest.fixture(scope="module")
def paging_burst(server, traffic, net):
    """PAGE_COUNT datagrams lan -> router on PAGE_PORT: (start seq, their seqs)."""
    start = server.newest_seq()
    traffic.udp(net.lan, LAN_ROUTER4, PAGE_PORT, sport=42100, count=PAGE_COUNT)
    recs = server.wait_records([("dport", PAGE_PORT), *after(start), ("limit", 10000)],
                               lambda rs: len(rs) >= PAGE_COUNT, what="the paging burst")
    assert len(recs) == PAGE_COUNT
    return start, seqs(recs)


def _follow(server, first_params, max_pages=50):
    """Pages from first_params following Link rel=next; returns the pages."""
    pages = []
    r = server.get("/packet_logs", first_params)
    while True:
        assert r.status_code == 200, r.text
        pages.append(r.json())
        nxt = r.links.get("next")
        if not nxt:
            assert "Link" not in r.headers, r.headers
            return pages
        assert len(pages) < max_pages, "the Link header never ends"
        url = urlsplit(nxt["url"])
        assert url.path == "/packet_logs" and not url.netloc, nxt["url"]
        r = server.get(url.path + "?" + url.query)


@pytest.mark.parametrize("order", ["desc", "asc"])
def test_paging_by_link_header_gives_every_record_once(server, paging_burst, order):
    start, all_seqs = paging_burst
    params = [("dport", PAGE_PORT), ("limit", 5)] + ([("order", "asc")] if order == "asc" else [])
    pages = _follow(server, params)
    assert [len(p) for p in pages] == [5, 5, 5, 5, 3]
    got = [s for p in pages for s in seqs(p)]
    want = all_seqs if order == "desc" else all_seqs[::-1]
    assert got == want
    for page in pages:
        assert all(r["UDP"]["DstPort"] == PAGE_PORT for r in page)


def test_paging_no_link_when_the_page_holds_the_last_record(server, paging_burst):
    start, all_seqs = paging_burst
    full = server.get("/packet_logs", [("dport", PAGE_PORT), ("limit", PAGE_COUNT)])
    assert seqs(full.json()) == all_seqs and "Link" not in full.headers
    short = server.get("/packet_logs", [("dport", PAGE_PORT), ("limit", PAGE_COUNT - 1)])
    assert len(short.json()) == PAGE_COUNT - 1
    link = short.headers["Link"]
    assert link.endswith('; rel="next"') and f"before={all_seqs[-2]}" in link, link
    last = _follow(server, [("dport", PAGE_PORT), ("limit", PAGE_COUNT - 1)])
    assert [len(p) for p in last] == [PAGE_COUNT - 1, 1]


def test_paging_a_window_keeps_its_other_bound(server, paging_burst):
    """after=A with the default order pages down with before=...; every page
    must still hold only records newer than A (and the reverse for asc)."""
    start, all_seqs = paging_burst
    a = all_seqs[15]  # 15 records are newer than it
    pages = _follow(server, [("dport", PAGE_PORT), ("after", a), ("limit", 4)])
    got = [s for p in pages for s in seqs(p)]
    assert got == [s for s in all_seqs if s > a], (
        f"pages {[seqs(p) for p in pages]} leave the window after={a}")
    b = all_seqs[7]
    pages = _follow(server, [("dport", PAGE_PORT), ("before", b), ("order", "asc"),
                             ("limit", 4), *after(start)])
    got = [s for p in pages for s in seqs(p)]
    assert got == sorted(s for s in all_seqs if s < b), (
        f"pages {[seqs(p) for p in pages]} leave the window before={b}")


def test_paging_a_long_query_keeps_every_filter(server, paging_burst):
    """A query of many long prefixes: the Link must still carry all of it."""
    start, all_seqs = paging_burst
    long_prefixes = [f"no-such-prefix-{i:02d}-" + "x" * 45 for i in range(15)]  # 63 each
    params = [("prefix", p) for p in long_prefixes] + [("prefix", "lan:in"),
                                                       ("dport", PAGE_PORT), ("limit", 6)]
    pages = _follow(server, params)
    got = [s for p in pages for s in seqs(p)]
    assert got == all_seqs, f"pages: {[[brief(r) for r in p] for p in pages]}"


def _link_cases(baseline):
    lo, mid, hi = _pick_timestamps(baseline)
    return {
        "prefixes-with-odd-bytes": [("prefix", "lan:in"), ("prefix", "a&b=c#d%e+f g"),
                                    ("prefix", "wan")],
        "since-until-nanoseconds-and-offset": [("since", _rfc3339(*lo, offset_minutes=90)),
                                               ("until", f"{hi[0]}.{hi[1]:09d}")],
        "v6-cidr-and-proto-number": [("ip", "fd99::/31"), ("proto", "58")],
        "v4-cidrs-repeated": [("src", "10.99.1.0/25"), ("src", "10.99.0.0/25")],
        "iface-action-port": [("iface", "wan0"), ("action", "allowed"), ("port", "6003")],
        "num-and-asc": [("order", "ASC"), ("prefix", "nft:lan:out")],
        "min-max": [("min", str(lo[0])), ("max", str(hi[0] + 1))],
    }


@pytest.mark.parametrize("case", ["prefixes-with-odd-bytes", "since-until-nanoseconds-and-offset",
                                  "v6-cidr-and-proto-number", "v4-cidrs-repeated",
                                  "iface-action-port", "num-and-asc", "min-max"])
def test_paging_link_carries_each_kind_of_filter(baseline, case):
    """Pages of one record joined give what one big page gives: the Link's
    canonical query means the same as the query that was sent. (Records
    outside the burst are left out on both sides: the window's own bounds
    are the business of test_paging_a_window_keeps_its_other_bound.)"""
    params = _link_cases(baseline)[case]
    asc = any(k == "order" and v.lower() == "asc" for k, v in params)
    params += [*after(baseline.start)] if asc else [("before", baseline.end + 1)]

    def inside(seq):
        return baseline.start < seq <= baseline.end

    full = [r for r in baseline.server.records(params + [("limit", 10000)]) if inside(r["Seq"])]
    assert len(full) >= 2, "the case should span several pages"
    pages = _follow(baseline.server, params + [("limit", 1)], max_pages=1000)
    assert all(len(p) <= 1 for p in pages)
    got = [r["Seq"] for p in pages for r in p if inside(r["Seq"])]
    assert got == seqs(full), f"{case}: pages {[seqs(p) for p in pages]}"


# =============================================================== the other endpoints

def test_healthz(server, baseline):
    h = server.health()
    assert h["status"] == "ok"
    assert h["newest_seq"] >= baseline.end
    assert h["records"] == h["newest_seq"]  # nothing evicted yet
    assert h["uptime_seconds"] >= 0
    head = server.request("HEAD", "/healthz")
    assert head.status_code == 200 and head.content == b""
    head = server.request("HEAD", "/packet_logs", params=[("limit", "2")])
    assert head.status_code == 200 and head.content == b""
    assert head.headers["Content-Type"].startswith("application/json")


def test_metrics_prometheus_text_with_counters(server, baseline):
    r = server.get("/metrics")
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith("text/plain")
    text = r.text
    m = server.metrics()
    names = ["packet_logs_records_received_total", "packet_logs_kernel_drops_total",
             "packet_logs_parse_errors_total", "packet_logs_history_records",
             "packet_logs_history_bytes", "packet_logs_history_evictions_total",
             "packet_logs_stream_clients", "packet_logs_stream_dropped_total"]
    for name in names:
        assert name in m, f"{name} missing from /metrics"
        kind = "counter" if name.endswith("_total") else "gauge"
        assert f"# TYPE {name} {kind}\n" in text, name
        assert f"# HELP {name} " in text, name
    h = server.health()
    assert m["packet_logs_records_received_total"] >= baseline.end
    assert m["packet_logs_records_received_total"] <= h["newest_seq"]
    assert m["packet_logs_history_records"] <= h["records"]
    assert m["packet_logs_history_evictions_total"] == 0
    assert m["packet_logs_kernel_drops_total"] == 0
    assert m["packet_logs_parse_errors_total"] == 0
    assert m["packet_logs_history_bytes"] > sum(len(json.dumps(r)) for r in baseline.records) / 2


def test_prefixes_count_each_prefix_and_action(server, baseline):
    before = server.get("/packet_logs/prefixes").json()
    history = server.records([("limit", 10000)])
    after = server.get("/packet_logs/prefixes").json()
    counts = {}
    for r in history:
        counts[(r["Prefix"], r["Action"])] = counts.get((r["Prefix"], r["Action"]), 0) + 1
    first = {(e["Prefix"], e["Action"]): e for e in before}
    last = {(e["Prefix"], e["Action"]): e for e in after}
    for key in [("lan:in ", "allowed"), ("wan:in ", "allowed"), ("lan:out ", "allowed"),
                ("wan:out ", "allowed"), ("drop:input ", "blocked"),
                ("drop:forward ", "blocked")]:
        assert key in first, f"{key} missing from {before}"
        assert first[key]["Count"] <= counts[key] <= last[key]["Count"], key
        assert RFC3339_NANO.match(first[key]["Last"])
    assert set(counts) <= set(last)
    assert [e["Count"] for e in after] == sorted((e["Count"] for e in after), reverse=True)
    newest_drop = find(history, prefix="drop:forward ")[0]
    assert last[("drop:forward ", "blocked")]["Last"] == newest_drop["Timestamp"]


# =============================================================== history bounds

def _wait_metric(server, name, value, timeout=5):
    deadline = time.monotonic() + timeout
    while True:
        m = server.metrics()
        if m.get(name) == value:
            return m
        assert time.monotonic() < deadline, f"{name} is {m.get(name)}, waited for {value}"
        time.sleep(0.02)


def test_history_records_bound_keeps_the_newest_50_of_80(net, traffic, start_server):
    s = start_server(net.router, ["--group", "11:allowed", "--history-records", "50"])
    traffic.udp(net.lan, LAN_ROUTER4, HIST_RECORDS_PORT, sport=42001, count=80)
    m = _wait_metric(s, "packet_logs_records_received_total", 80)
    recs = s.records([("limit", 10000)])
    assert seqs(recs) == list(range(80, 30, -1))
    assert all(r["Prefix"] == "hist:records " and r["UDP"]["DstPort"] == HIST_RECORDS_PORT
               for r in recs)
    assert m["packet_logs_history_records"] == 50
    assert m["packet_logs_history_evictions_total"] == 30
    h = s.health()
    assert (h["records"], h["newest_seq"]) == (50, 80)
    assert s.records([("before", 31)]) == []
    assert seqs(s.records([("after", 10), ("order", "asc"), ("limit", 3)])) == [31, 32, 33]
    prefixes = s.get("/packet_logs/prefixes").json()
    assert [(p["Prefix"], p["Action"], p["Count"]) for p in prefixes] == [
        ("hist:records ", "allowed", 80)]
    assert prefixes[0]["Last"] == recs[0]["Timestamp"]


def test_history_bytes_bound_evicts_the_oldest(net, traffic, start_server):
    bound = 65536
    s = start_server(net.router, ["--group", "12:allowed", "--history-bytes", "64K"])
    payload = bytes(range(256)) * 5  # 1280 bytes: records of about 4 KB
    traffic.udp(net.lan, LAN_ROUTER4, HIST_BYTES_PORT, sport=42002, payload=payload, count=60)
    m = _wait_metric(s, "packet_logs_records_received_total", 60)
    recs = s.records([("limit", 10000)])
    kept = len(recs)
    assert 5 < kept < 60
    assert seqs(recs) == list(range(60, 60 - kept, -1))  # the newest, none missing
    assert all(r["UDP"]["Payload"] == b64(payload) for r in recs)
    held = m["packet_logs_history_bytes"]
    assert held <= bound
    # a record holds its packet (IP and UDP headers, the payload), not its JSON
    assert kept * (len(payload) + 28) <= held < sum(len(json.dumps(r)) for r in recs)
    assert held + 1.5 * held / kept > bound, "evicted more than the bound asks"
    assert m["packet_logs_history_records"] == kept
    assert m["packet_logs_history_evictions_total"] == 60 - kept
    assert s.health()["records"] == kept


# =============================================================== errors

BAD_PARAMS = [
    ("limit", "0"), ("limit", "10001"), ("limit", "abc"), ("limit", "-1"), ("limit", ""),
    ("num", "1e3"), ("proto", "sctpx"), ("proto", "256"), ("ip", "10.0.0.0/33"),
    ("ip", "not-an-address"), ("src", "fd99::/129"), ("dst", "10.99.0"), ("port", "65536"),
    ("sport", "-5"), ("dport", "http"), ("since", "yesterday"), ("until", "2024-13-01T00:00:00Z"),
    ("min", "2024-05-01"), ("order", "up"), ("action", "maybe"), ("before", "0"),
    ("after", "x"), ("iface", "an-interface-name-too-long"), ("iface", ""), ("prefix", ""),
    ("prefix", "x" * 80), ("backlog", "5"), ("foo", "1"), ("Limit", "5"), ("token", "abc"),
]


@pytest.mark.parametrize("key, value", BAD_PARAMS,
                         ids=[f"{k}={v[:12]}" for k, v in BAD_PARAMS])
def test_bad_or_unknown_parameter_is_400_naming_it(server, key, value):
    r = server.get("/packet_logs", [(key, value)])
    assert r.status_code == 400, r.text
    assert r.headers["Content-Type"].startswith("application/json")
    body = r.json()
    assert body["param"] == key
    assert isinstance(body["error"], str) and body["error"]


def test_conflicting_repeats_are_400(server):
    for params, name in (([("limit", "5"), ("limit", "6")], "limit"),
                         ([("num", "5"), ("limit", "6")], "limit"),
                         ([("order", "asc"), ("order", "desc")], "order"),
                         ([("since", "1"), ("min", "2")], "min")):
        r = server.get("/packet_logs", params)
        assert r.status_code == 400 and r.json()["param"] == name, (params, r.text)
    r = server.get("/packet_logs", [("limit", "5"), ("limit", "5")])
    assert r.status_code == 200 and len(r.json()) <= 5


@pytest.mark.parametrize("path", ["/packet_logs/prefixes", "/healthz", "/metrics"])
def test_endpoints_without_parameters_refuse_one(server, path):
    r = server.get(path, [("verbose", "1")])
    assert r.status_code == 400
    assert r.json()["param"] == "verbose"


@pytest.mark.parametrize("path", ["/nope", "/packet_logs/nope", "/packet_logsx", "/api/v1/x"])
def test_unknown_path_is_404_json(server, path):
    r = server.get(path)
    assert r.status_code == 404
    assert r.headers["Content-Type"].startswith("application/json")
    assert r.json()["error"]


@pytest.mark.parametrize("method, path", [("POST", "/packet_logs"), ("DELETE", "/packet_logs"),
                                          ("PUT", "/healthz"), ("DELETE", "/metrics"),
                                          ("POST", "/packet_logs/prefixes")])
def test_other_methods_are_405_with_allow(server, method, path):
    r = server.request(method, path, data=b"{}" if method != "DELETE" else None)
    assert r.status_code == 405
    assert r.headers["Allow"].replace(" ", "") == "GET,HEAD,OPTIONS"
    assert r.headers["Content-Type"].startswith("application/json")
    assert r.json()["error"]


def _raw_http(server, data, read_timeout=5):
    """Sends raw bytes to the server from its namespace; returns the reply."""
    with netns(server.ns):
        s = socket.create_connection((server.host, server.port), timeout=read_timeout)
    try:
        try:
            s.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            pass
        reply = b""
        while True:
            try:
                chunk = s.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            reply += chunk
        return reply
    finally:
        s.close()


def _parse_reply(reply):
    head, _, body = reply.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.strip().lower(): v.strip() for k, v in
               (line.split(":", 1) for line in lines[1:] if ":" in line)}
    return status, headers, body


def test_huge_request_head_is_431(server):
    head = (b"GET /healthz HTTP/1.1\r\nHost: x\r\n" +
            b"".join(b"X-Filler-%d: %s\r\n" % (i, b"a" * 1000) for i in range(20)))
    reply = _raw_http(server, head)  # no blank line: the head never ends
    status, headers, body = _parse_reply(reply)
    assert status == 431, reply[:300]
    assert headers["content-type"].startswith("application/json")
    assert json.loads(body)["error"]
    check_contract_raw("/healthz", "GET", status, headers, body)
    # and a request head just under the limit is served
    ok = server.get("/healthz", headers={"X-Filler": "a" * 8000})
    assert ok.status_code == 200


def test_get_with_a_large_body_is_413(server):
    r = server.get("/packet_logs", data=b"x" * 4096,
                   headers={"Content-Type": "application/octet-stream"})
    assert r.status_code == 413
    assert r.json()["error"]
    small = server.get("/healthz", data=b"x" * 100)
    assert small.status_code == 200


# =============================================================== startup and auth

@pytest.mark.parametrize("listen", [f"{WAN_ROUTER4}:8081", f"[{WAN_ROUTER6}]:8081",
                                    "0.0.0.0:8081"])
def test_non_loopback_listen_without_token_is_refused(net, listen):
    status, err = run_binary(net.router, ["--listen", listen])
    assert status == 2, err
    assert "--listen" in err and ("--token-file" in err or "token" in err), err


def test_token_file_requires_bearer_token(net, start_server, tmp_path):
    token = "s3cret-T0ken_for-tests"
    path = tmp_path / "token"
    path.write_text(token + "\n")
    path.chmod(0o600)
    s = start_server(net.router, ["--token-file", path, "--group", "21:allowed"],
                     host=WAN_ROUTER4)
    for p in ("/packet_logs", "/metrics", "/packet_logs/prefixes"):
        r = s.get(p, client_ns=net.wan)
        assert r.status_code == 401, (p, r.text)
        assert r.json()["error"]
        assert r.headers["WWW-Authenticate"].startswith("Bearer")
        r = s.get(p, client_ns=net.wan, headers={"Authorization": "Bearer wrong-token"})
        assert r.status_code == 401, p
        r = s.get(p, client_ns=net.wan, headers={"Authorization": f"Bearer {token}x"})
        assert r.status_code == 401, p
        r = s.get(p, client_ns=net.wan, headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 200, (p, r.text)
    assert s.get("/healthz", client_ns=net.wan).status_code == 200  # no token needed


def test_insecure_no_auth_serves_a_non_loopback_address(net, start_server):
    s = start_server(net.router, ["--insecure-no-auth", "--group", "22:allowed"],
                     host=WAN_ROUTER4)
    r = s.get("/packet_logs", client_ns=net.wan)
    assert r.status_code == 200 and r.json() == []
    assert s.get("/healthz", client_ns=net.lan).status_code == 200


BAD_OPTIONS = [
    (["--history-records", "abc"], "--history-records"),
    (["--history-records", "0"], "--history-records"),
    (["--history-records"], "--history-records"),
    (["--history-bytes", "1K"], "--history-bytes"),
    (["--history-bytes", "lots"], "--history-bytes"),
    (["--qtimeout", "99999"], "--qtimeout"),
    (["--qthreshold", "0"], "--qthreshold"),
    (["--coalesce", "101"], "--coalesce"),
    (["--group", "x:allowed"], "--group"),
    (["--group", "0:not allowed!"], "--group"),
    (["--group", "70000"], "--group"),
    (["--listen", "127.0.0.1:0"], "--listen"),
    (["--listen", "127.0.0.1:99999"], "--listen"),
    (["--listen", "nonsense"], "--listen"),
    (["--token-file", "/nonexistent/packet_logs.token"], "--token-file"),
    (["--rcvbuf", "1"], "--rcvbuf"),
    (["--bogus-option"], "--bogus-option"),
]


@pytest.mark.parametrize("args, named", BAD_OPTIONS, ids=[" ".join(a) for a, _ in BAD_OPTIONS])
def test_bad_option_value_exits_2_naming_the_option(net, args, named):
    status, err = run_binary(net.router, ["--listen", "127.0.0.1:8099", *args])
    assert status == 2, err
    assert named in err, err


def test_bad_environment_value_exits_2_naming_the_variable(net):
    status, err = run_binary(net.router, [], env={"PACKET_LOGS_HISTORY_RECORDS": "many"})
    assert status == 2 and "PACKET_LOGS_HISTORY_RECORDS" in err, err


def test_help_lists_the_options():
    res = subprocess.run([str(BINARY), "--help"], capture_output=True, text=True, timeout=10)
    assert res.returncode == 0
    for flag in ("--listen", "--group", "--history-records", "--history-bytes", "--token-file",
                 "--insecure-no-auth", "--rules", "--qthreshold", "--qtimeout", "--quiet"):
        assert flag in res.stdout, flag


def test_second_instance_on_the_same_groups_fails_clearly(server, net, traffic):
    status, err = run_binary(net.router, ["--listen", "127.0.0.1:8098"])
    assert status != 0, err
    assert "group 0" in err and ("bound by another" in err or "busy" in err.lower()), err
    # the first one still receives its records
    start = server.newest_seq()
    traffic.udp(net.lan, LAN_ROUTER4, 5099, sport=40099)
    server.wait_records([*after(start), ("dport", 5099)], lambda rs: len(rs) == 1)


def _tables(ns):
    return ns_sh(ns, "nft", "list", "tables").stdout


@pytest.mark.parametrize("wanif", ["wan0", None], ids=["WANIF=wan0", "no-WANIF"])
def test_rules_option_installs_spr_log_rules_and_removes_them_on_exit(bare_net, start_server,
                                                                      wanif):
    net = bare_net
    traffic = Traffic(net)
    assert "packet_logs" not in _tables(net.router)
    s = start_server(net.router, ["--rules"], env={"WANIF": wanif} if wanif else {})
    assert "table inet packet_logs" in _tables(net.router)
    traffic.ping(net.wan, WAN_ROUTER4)
    traffic.ping(net.lan, LAN_ROUTER6)
    traffic.ping(net.lan, WAN_CLIENT4)
    wan = "wan" if wanif else "lan"
    want = [dict(prefix=f"{wan}:in ", typecode=ECHO_REQUEST4, src=WAN_CLIENT4, indev="wan0"),
            dict(prefix="lan:in ", typecode=ECHO_REQUEST6, src=LAN_CLIENT6, indev="lan0"),
            dict(prefix=f"{wan}:out ", typecode=ECHO_REQUEST4, dst=WAN_CLIENT4, outdev="wan0"),
            dict(prefix="lan:out ", typecode=ECHO_REPLY4, dst=LAN_CLIENT4, outdev="lan0")]
    recs = s.wait_records([("limit", 10000)], lambda rs: all(find(rs, **w) for w in want),
                          what="records of --rules")
    assert all(r["Action"] == "allowed" for r in recs)
    if not wanif:
        assert not find(recs, where=lambda r: r["Prefix"].startswith("wan:"))
    # the test's own HTTP over loopback is not logged: no feedback loop
    assert not find(recs, where=lambda r: r["InDev"] == "lo"), "loopback logged"
    s.stop()
    assert "packet_logs" not in _tables(net.router)


def test_openapi_contract_checker_present():
    loaded, why = contract_status()
    assert loaded, f"tests/integration/openapi_check.py is not usable: {why}"
