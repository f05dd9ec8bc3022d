#!/usr/bin/python3
"""Parity of `packet_logs decode` with the reference encoder (DESIGN.md s.2).

For every capture of the corpus and every line of its golden file:
- a golden record: ours must have each of its keys with a deep-equal value,
  except Prefix, Action, InDev, OutDev (the reference fixes those);
- a golden error: we must still make a record, with `Error` unless we
  decoded the packet fully (some rejections are gopacket's own limits).
Exits 1 on any difference, printing the first differing path of each.
"""
import argparse
import json
import os
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


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--binary", required=True, help="the packet_logs binary")
    parser.add_argument("--corpus", required=True, help="the folder holding pcap/ and golden/")
    parser.add_argument("--only", help="check only captures whose name contains this")
    parser.add_argument("--show", type=int, default=20, help="differences to print")
    args = parser.parse_args()

    pcap_dir = os.path.join(args.corpus, "pcap")
    golden_dir = os.path.join(args.corpus, "golden")
    names = sorted(os.listdir(pcap_dir))
    if args.only:
        names = [n for n in names if args.only in n]
    if not names:
        print(f"no captures in {pcap_dir}", file=sys.stderr)
        return 2

    records = matched = rejected = rejected_error = rejected_decoded = 0
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
    print(f"parity: {matched + rejected_error + rejected_decoded} passed, {len(failures)} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
