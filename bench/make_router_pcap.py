#!/usr/bin/python3
"""Writes a large Ethernet capture of router-like traffic for the decode
benchmark: TCP (handshakes, data, options), UDP, DNS queries and answers,
DHCP, ICMP, and IPv6 (TCP, UDP, DNS, ICMPv6), in a fixed mix.
Usage: make_router_pcap.py OUT.pcap [PACKETS]   (default 200000)"""
import random
import struct
import sys

from scapy.all import (BOOTP, DHCP, DNS, DNSQR, DNSRR, ICMP, IP, TCP, UDP, Ether, ICMPv6EchoRequest,
                       ICMPv6ND_NS, IPv6, raw)


def templates():
    lan = Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")
    rng = random.Random(7)
    out = []
    for i in range(40):
        sport = 30000 + i
        c, s = f"192.168.1.{10 + i}", f"93.184.{i}.34"
        out.append(lan / IP(src=c, dst=s) / TCP(sport=sport, dport=443, flags="S",
                                                 options=[("MSS", 1460), ("SAckOK", b""), ("Timestamp", (i, 0)),
                                                          ("NOP", None), ("WScale", 7)]))
        out.append(lan / IP(src=s, dst=c) / TCP(sport=443, dport=sport, flags="SA", seq=i, ack=1))
        out.append(lan / IP(src=c, dst=s) / TCP(sport=sport, dport=443, flags="PA") /
                   bytes(rng.getrandbits(8) for _ in range(rng.choice([40, 300, 1200]))))
        out.append(lan / IP(src=c, dst="192.168.1.1") / UDP(sport=sport, dport=53) /
                   DNS(rd=1, qd=DNSQR(qname=f"host{i}.example.com", qtype="A")))
        out.append(lan / IP(src="192.168.1.1", dst=c) / UDP(sport=53, dport=sport) /
                   DNS(qr=1, rd=1, ra=1, qd=DNSQR(qname=f"host{i}.example.com"),
                       an=DNSRR(rrname=f"host{i}.example.com", type="CNAME", rdata=f"cdn{i}.example.net")
                       / DNSRR(rrname=f"cdn{i}.example.net", rdata=f"93.184.{i}.34", ttl=300)))
        out.append(lan / IP(src=c, dst="10.0.0.5") / UDP(sport=sport, dport=51820) / bytes(148))
        out.append(lan / IP(src=c, dst=s) / ICMP(type=8, id=i, seq=i) / bytes(56))
        v6c, v6s = f"2001:db8:1::{i + 10:x}", f"2001:db8:ffff::{i + 1:x}"
        out.append(lan / IPv6(src=v6c, dst=v6s) / TCP(sport=sport, dport=443, flags="S"))
        out.append(lan / IPv6(src=v6c, dst=v6s) / UDP(sport=sport, dport=443) / bytes(1200))
        out.append(lan / IPv6(src=v6c, dst="2001:db8:1::1") / UDP(sport=sport, dport=53) /
                   DNS(rd=1, qd=DNSQR(qname=f"v6host{i}.example.org", qtype="AAAA")))
        out.append(lan / IPv6(src=v6c, dst=v6s) / ICMPv6EchoRequest(id=i, seq=i) / bytes(56))
        out.append(lan / IPv6(src="fe80::1", dst="ff02::1:ff00:1") / ICMPv6ND_NS(tgt="fe80::2"))
        if i % 4 == 0:
            out.append(lan / IP(src="0.0.0.0", dst="255.255.255.255") / UDP(sport=68, dport=67) /
                       BOOTP(chaddr=bytes([2, 0, 0, 0, 0, i]), xid=i) /
                       DHCP(options=[("message-type", "request"), ("requested_addr", c),
                                     ("hostname", f"laptop{i}"), "end"]))
    return [raw(t) for t in out]


def main():
    path = sys.argv[1]
    count = int(sys.argv[2]) if len(sys.argv) > 2 else 200000
    frames = templates()
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        t = 1764200000.0
        for n in range(count):
            frame = frames[n % len(frames)]
            t += 0.0002
            sec = int(t)
            f.write(struct.pack("<IIII", sec, int((t - sec) * 1e6), len(frame), len(frame)))
            f.write(frame)
    print(f"{path}: {count} packets from {len(frames)} templates")


if __name__ == "__main__":
    main()
