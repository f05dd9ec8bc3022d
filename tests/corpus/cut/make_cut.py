#!/usr/bin/python3
"""Makes tests/corpus/cut/: captures whose packets were cut by a snaplen, as
NFLOG's copy range (--snaplen) cuts them, and the reference encoder's
records of the cut bytes (the parity rule holds for cut packets too).

- cut versions of a few corpus captures (DNS, DNS over TCP, TCP options,
  BGP over TCP, ICMPv6, DHCPv4, NTP) at snaplens that end inside the IP
  header's options, the transport header and the application payload;
- bulk.pcap: synthetic bulk traffic as a router's FORWARD chain sees it
  with GSO/GRO (IPv4 and IPv6 TCP segments of 1500 bytes, 9000-byte jumbo
  frames, 64 KB super-packets, BIG TCP packets whose length field is 0,
  a cut UDP datagram and a cut DNS-over-TCP segment), cut at --snaplen's
  default of 1600 bytes (1614 with the Ethernet header).

Each capture keeps each packet's original length in its record header, so
tests/parity/check_parity.py --cut can check Truncated and Length.

Usage: make_cut.py SPR_JSON   (SPR_JSON: sh tests/reference/build.sh /tmp/spr_json)
"""
import os
import struct
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "..", "pcap")

# capture -> the snaplens (bytes of each frame, Ethernet header included)
CUTS = {
    "edns-opts.pcap": [60, 100],
    "dnssec.pcap": [90],
    "dns_tcp.pcap": [70, 120],
    "mptcp-aa-v1.pcap": [40, 60, 80],
    "bgp-4byte-asn.pcap": [80],
    "icmpv6.pcap": [60, 90],
    "dhcpv4v6-rfc5970-rfc8572.pcap": [300],
    "ntp.pcap": [50],
    "print-flags.pcap": [100],
}


def read_pcap(path):
    """(endian, header fields, [(ts_sec, ts_frac, orig_len, data)]) of a classic pcap."""
    with open(path, "rb") as f:
        raw = f.read()
    magic = raw[:4]
    endian = {b"\xd4\xc3\xb2\xa1": "<", b"\xa1\xb2\xc3\xd4": ">",
              b"\x4d\x3c\xb2\xa1": "<", b"\xa1\xb2\x3c\x4d": ">"}[magic]
    header = struct.unpack(endian + "IHHiIII", raw[:24])
    packets, off = [], 24
    while off + 16 <= len(raw):
        ts, frac, incl, orig = struct.unpack(endian + "IIII", raw[off:off + 16])
        packets.append((ts, frac, orig, raw[off + 16:off + 16 + incl]))
        off += 16 + incl
    return endian, header, packets


def write_pcap(path, endian, header, snaplen, packets):
    magic, major, minor, zone, sigfigs, _, link = header
    with open(path, "wb") as f:
        f.write(struct.pack(endian + "IHHiIII", magic, major, minor, zone, sigfigs, snaplen, link))
        for ts, frac, orig, data in packets:
            cut = data[:snaplen]
            f.write(struct.pack(endian + "IIII", ts, frac, len(cut), orig))
            f.write(cut)


ETH4 = bytes.fromhex("020000000002" "020000000001" "0800")
ETH6 = bytes.fromhex("020000000002" "020000000001" "86dd")


def ipv4(proto, payload, total=None):
    length = 20 + len(payload) if total is None else total
    hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, length & 0xffff, 0x1234, 0x4000, 63, proto, 0,
                      bytes([10, 99, 0, 2]), bytes([10, 99, 1, 2]))
    return hdr + payload


def ipv6(nexthdr, payload, length=None):
    plen = len(payload) if length is None else length
    hdr = struct.pack("!IHBB16s16s", 0x60000000, plen & 0xffff, nexthdr, 63,
                      bytes.fromhex("fd990000000000000000000000000002"),
                      bytes.fromhex("fd990001000000000000000000000002"))
    return hdr + payload


def tcp(sport, dport, size, flags=0x10):
    # with the timestamp option, as Linux sends bulk data
    opts = bytes([1, 1, 8, 10]) + struct.pack("!II", 123456, 654321)
    hdr = struct.pack("!HHIIBBHHH", sport, dport, 1000, 2000, (5 + len(opts) // 4) << 4, flags,
                      502, 0, 0) + opts
    return hdr + bytes((i * 7) & 0xff for i in range(size))


def udp(sport, dport, size):
    return struct.pack("!HHHH", sport, dport, 8 + size, 0) + bytes(i & 0xff for i in range(size))


def dns_answer(size):
    """A DNS-over-TCP message (2-byte length first) padded to size bytes."""
    msg = struct.pack("!HHHHHH", 0x4242, 0x8180, 1, 0, 0, 0) + b"\x07example\x04test\x00"
    msg += struct.pack("!HH", 16, 1)
    msg += bytes(size - 2 - len(msg))
    return struct.pack("!H", len(msg)) + msg


def bulk_packets():
    out = []
    mss = 1448
    frames = [
        ETH4 + ipv4(6, tcp(45000, 443, mss)),             # one full-size segment: whole
        ETH4 + ipv4(6, tcp(443, 45000, 0)),               # its ACK
        ETH4 + ipv4(6, tcp(45000, 8080, 2 * mss)),        # GSO of two segments
        ETH4 + ipv4(6, tcp(45000, 8080, 9000 - 52)),      # a jumbo frame
        ETH4 + ipv4(6, tcp(45000, 8080, 65535 - 52)),     # a 64 KB super-packet
        ETH4 + ipv4(6, tcp(45000, 8080, 70000), total=0),  # BIG TCP: length 0
        ETH6 + ipv6(6, tcp(45000, 443, mss - 20)),        # IPv6 full-size: whole
        ETH6 + ipv6(6, tcp(45000, 8080, 64000)),          # IPv6 super-packet
        ETH6 + ipv6(6, tcp(45000, 8080, 80000), length=0),  # IPv6 BIG TCP
        ETH4 + ipv4(17, udp(5000, 5001, 8000)),           # a big UDP datagram
        ETH4 + ipv4(6, tcp(53, 45001, 0, flags=0x18) + dns_answer(3000)),  # DNS over TCP
    ]
    for i, frame in enumerate(frames):
        out.append((1700000000 + i, 1000 * i, len(frame), frame))
    return out


def main():
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    spr_json = sys.argv[1]
    os.makedirs(os.path.join(HERE, "pcap"), exist_ok=True)
    os.makedirs(os.path.join(HERE, "golden"), exist_ok=True)
    written = []
    for name, snaplens in CUTS.items():
        endian, header, packets = read_pcap(os.path.join(CORPUS, name))
        for snaplen in snaplens:
            out = f"{name[:-5]}.cut{snaplen}.pcap"
            write_pcap(os.path.join(HERE, "pcap", out), endian, header, snaplen, packets)
            written.append(out)
    header = (0xa1b2c3d4, 2, 4, 0, 0, 262144, 1)
    write_pcap(os.path.join(HERE, "pcap", "bulk.cut1614.pcap"), "<", header, 1614,
               bulk_packets())
    written.append("bulk.cut1614.pcap")
    for out in written:
        with open(os.path.join(HERE, "golden", out + ".jsonl"), "w") as f:
            subprocess.run([spr_json, os.path.join(HERE, "pcap", out)], stdout=f, check=True)
    print(f"make_cut: {len(written)} captures in {HERE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
