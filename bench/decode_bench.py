#!/usr/bin/python3
"""Benchmark: CPU time of `packet_logs decode` against the reference encoder
(`spr_json FILE.pcap`, gopacket + encoding/json) on the same capture, both
printing every record (to /dev/null). Best of --runs for each.
Target (issue 2): packet_logs at most a fifth of the reference's CPU time.
Usage: bench/decode_bench.py --binary build/packet_logs [--pcap F] [--runs 3]"""
import argparse
import os
import resource
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def cpu_seconds(cmd):
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    with open(os.devnull, "wb") as null:
        subprocess.run(cmd, stdout=null, check=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", required=True)
    ap.add_argument("--pcap", default=os.path.join(HERE, "out", "router.pcap"))
    ap.add_argument("--packets", type=int, default=200000)
    ap.add_argument("--reference", default=os.path.join(HERE, "out", "spr_json"))
    ap.add_argument("--reference-dir", default=os.path.join(HERE, "..", "tests", "reference"))
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    os.makedirs(os.path.dirname(args.pcap), exist_ok=True)
    if not os.path.exists(args.pcap):
        subprocess.run([sys.executable, os.path.join(HERE, "make_router_pcap.py"), args.pcap,
                        str(args.packets)], check=True)
    if not os.path.exists(args.reference):
        subprocess.run(["sh", os.path.join(args.reference_dir, "build.sh"), args.reference],
                       check=True)
    records = subprocess.run([args.binary, "decode", args.pcap], capture_output=True,
                             check=True).stdout.count(b"\n")
    ours = min(cpu_seconds([args.binary, "decode", args.pcap]) for _ in range(args.runs))
    ref = min(cpu_seconds([args.reference, args.pcap]) for _ in range(args.runs))
    print(f"capture: {args.pcap} ({records} records)")
    print(f"packet_logs decode: {ours:.3f} s CPU ({ours / records * 1e9:.0f} ns/record)")
    print(f"reference spr_json: {ref:.3f} s CPU ({ref / records * 1e9:.0f} ns/record)")
    print(f"ratio: packet_logs uses {ours / ref:.3f} of the reference's CPU time "
          f"({ref / ours:.1f}x faster; target: at most 0.200)")
    return 0 if ours / ref <= 0.2 else 1


if __name__ == "__main__":
    sys.exit(main())
