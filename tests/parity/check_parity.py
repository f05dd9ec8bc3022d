#!/usr/bin/python3
"""Parity of `packet_logs decode` with the reference encoder (DESIGN.md s.2).

For every capture of the corpus and every line of its golden file:
- a golden record: ours must have each of its keys with a deep-equal value,
  except Prefix, Action, InDev, OutDev (the reference fixes those);
- a golden error: we must still make a record, with `Error` unless we
  decoded the packet fully (some rejections are gopacket's own limits).
With --cut (tests/corpus/cut: captures cut by a snaplen), also: a packet
the capture cut short of its IP header's length has "Truncated": true and
"Length" equal to that length (no Length when the header gives 0, as
GSO/GRO packets over 64 KiB have); a packet not cut has neither.
Exits 1 on any difference, printing the first differing path of each.
"""
import argparse
import json
import os
import struct
import subprocess
import sys

FIXED = {"Prefix", "Action", "InDev", "OutDev"}


def first_difference(ours, golden, path="$"):
    """The path of the first place where golden is not matched, or None."""
    if isinstance(golden, dict):
        if not isinstance(ours, dict):
            return f"{path}: expected an object, got {json.dumps(ours)[:80]}"
        for key, value in golden.items():
            if key not in ours:
                return f"{path}.{key}: missing"
            where = first_difference(ours[key], value, f"{path}.{key}")
            if where:
                return where
        if set(ours) != set(golden) and path != "$":
            extra = sorted(set(ours) - set(golden))
            return f"{path}: extra keys {extra}"
        return None
    if isinstance(golden, list):
        if not isinstance(ours, list) or len(ours) != len(golden):
            return f"{path}: expected {json.dumps(golden)[:120]}, got {json.dumps(ours)[:120]}"
        for i, (a, b) in enumerate(zip(ours, golden)):
            where = first_difference(a, b, f"{path}[{i}]")
            if where:
                return where
        return None
    if ours != golden or type(ours) is not type(golden):
        return f"{path}: expected {json.dumps(golden)[:120]}, got {json.dumps(ours)[:120]}"
    return None


def cut_expectations(path):
    """For each IP packet of a classic pcap, in decode's order: None when the
    capture did not cut its IP bytes, else the Length its record must show
    (0: the IP header does not give one). Read here from the capture's
    record headers and the IP header, independently of the decoder."""
    with open(path, "rb") as f:
        raw = f.read()
    endian = "<" if raw[:4] in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
    link = struct.unpack(endian + "I", raw[20:24])[0]
    out, off = [], 24
    while off + 16 <= len(raw):
        incl, orig = struct.unpack(endian + "II", raw[off + 8:off + 16])
        data = raw[off + 16:off + 16 + incl]
        off += 16 + incl
        hw = 0
        if link == 1:
            if len(data) < 14 or data[12:14] not in (b"\x08\x00", b"\x86\xdd"):
                continue
            hw = 14
        l3 = data[hw:]
        if incl >= orig or len(l3) < 1:
            out.append(None)
            continue
        if l3[0] >> 4 == 4 and len(l3) >= 4:
            claimed = struct.unpack("!H", l3[2:4])[0]
        elif l3[0] >> 4 == 6 and len(l3) >= 6:
            plen = struct.unpack("!H", l3[4:6])[0]
            claimed = 40 + plen if plen else 0
        else:
            claimed = 0
        if claimed and claimed <= len(l3):
            out.append(None)  # the capture cut only the link layer's padding
        else:
            assert claimed <= orig - hw, f"{path}: IP length {claimed} > frame {orig}"
            out.append(claimed)
    return out


def check_cut(mine, expected):
    """Where a record of a cut packet differs from what it must say, or None."""
    if expected is None:
        if "Truncated" in mine or "Length" in mine:
            return f"$.Truncated: not cut, got {mine.get('Truncated')} {mine.get('Length')}"
        return None
    if mine.get("Truncated") is not True:
        return f"$.Truncated: expected true, got {mine.get('Truncated')}"
    if expected and mine.get("Length") != expected:
        return f"$.Length: expected {expected}, got {mine.get('Length')}"
    if not expected and "Length" in mine:
        return f"$.Length: the IP header gives none, got {mine['Length']}"
    return None


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--binary", required=True, help="the packet_logs binary")
    parser.add_argument("--corpus", required=True, help="the folder holding pcap/ and golden/")
    parser.add_argument("--only", help="check only captures whose name contains this")
    parser.add_argument("--show", type=int, default=20, help="differences to print")
    parser.add_argument("--cut", action="store_true",
                        help="the captures were cut by a snaplen: check Truncated and Length")
    args = parser.parse_args()

    pcap_dir = os.path.join(args.corpus, "pcap")
    golden_dir = os.path.join(args.corpus, "golden")
    names = sorted(os.listdir(pcap_dir))
    if args.only:
        names = [n for n in names if args.only in n]
    if not names:
        print(f"no captures in {pcap_dir}", file=sys.stderr)
        return 2

    records = matched = rejected = rejected_error = rejected_decoded = cut = 0
    failures = []
    for name in names:
        with open(os.path.join(golden_dir, name + ".jsonl")) as f:
            golden = [json.loads(line) for line in f if line.strip()]
        run = subprocess.run([args.binary, "decode", os.path.join(pcap_dir, name)],
                             capture_output=True, timeout=120)
        if run.returncode != 0:
            failures.append(f"{name}: exit {run.returncode}: {run.stderr.decode()[:200]}")
            continue
        ours = [json.loads(line) for line in run.stdout.decode().splitlines()]
        if args.cut:
            expected = cut_expectations(os.path.join(pcap_dir, name))
            if len(expected) != len(ours):
                failures.append(f"{name}: {len(ours)} records, the capture has {len(expected)}")
                continue
            for i, (mine, want) in enumerate(zip(ours, expected), 1):
                where = check_cut(mine, want)
                if where:
                    failures.append(f"{name}:{i}: {where}")
            cut += sum(1 for want in expected if want is not None)
        if len(ours) != len(golden):
            failures.append(f"{name}: {len(ours)} records, the reference has {len(golden)} lines")
            continue
        for i, (mine, ref) in enumerate(zip(ours, golden), 1):
            if "error" in ref:
                rejected += 1
                if not isinstance(mine, dict) or "Timestamp" not in mine:
                    failures.append(f"{name}:{i}: no record for a rejected packet")
                elif "Error" in mine:
                    rejected_error += 1
                else:
                    rejected_decoded += 1
                continue
            records += 1
            ref = {k: v for k, v in ref.items() if k not in FIXED}
            where = first_difference(mine, ref)
            if where:
                failures.append(f"{name}:{i}: {where}")
            else:
                matched += 1

    for line in failures[: args.show]:
        print(line)
    if len(failures) > args.show:
        print(f"... and {len(failures) - args.show} more")
    print(f"captures: {len(names)}; golden records matched: {matched}/{records}; "
          f"rejected by the reference: {rejected} (ours: {rejected_error} with Error, "
          f"{rejected_decoded} decoded fully)")
    if args.cut:
        print(f"packets cut by the capture's snaplen: {cut} (Truncated and Length checked)")
    print(f"parity: {matched + rejected_error + rejected_decoded} passed, {len(failures)} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
