#!/usr/bin/python3
"""Memory benchmark (issue 11): packet_logs' RSS under load stays under the
history's byte bound plus 32 MiB.

The setup of bench/stream_bench.py (its namespace, log rule, stamped UDP
sender and stream clients, imported from it): packet_logs with its default
history bounds (or --history-records/--history-bytes), --clients (10)
stream clients (bench/ws_raw_clients.c: plain clients, the server frames
their messages) following every record, and --rate (100,000) packets/s for
--seconds (60). RSS (VmRSS of /proc/PID/status) is sampled every 0.5 s;
reported: its peak and last, the history's byte bound, the bound + 32 MiB,
records made, kernel drops, what the clients received and were told they
missed ({"Dropped": N}: 10 clients at 100,000 records/s are 1,000,000
messages/s, more than this machine serves; a client that falls behind is
told so, it does not make the server buffer).

Usage (root): bench/memory_bench.py --binary build/packet_logs
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile
import time

import stream_bench as sb
from benchlib import build, lab, sh

MIB = 1 << 20
SLACK = 32 * MIB


def parse_size(text):
    m = re.fullmatch(r"(\d+)([KMG]?)", text)
    return int(m.group(1)) * {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30}[m.group(2)]


def rss_bytes(pid):
    with open(f"/proc/{pid}/status") as f:
        return int(re.search(r"VmRSS:\s+(\d+)", f.read()).group(1)) * 1024


def main():
    ap = argparse.ArgumentParser(description="packet_logs' RSS under 100,000 packets/s")
    ap.add_argument("--binary", required=True)
    ap.add_argument("--rate", type=int, default=100000)
    ap.add_argument("--seconds", type=int, default=60)
    ap.add_argument("--clients", type=int, default=10)
    ap.add_argument("--history-records", default="50000", help="packet_logs' default")
    ap.add_argument("--history-bytes", default="64M", help="packet_logs' default")
    args = ap.parse_args()
    args.binary = os.path.abspath(args.binary)
    bound = parse_size(args.history_bytes)

    workdir = tempfile.mkdtemp(prefix="plmem")
    flood_bin = build(workdir, "stamp_flood")
    clients_bin = build(workdir, "ws_raw_clients")
    server = clients = None
    samples = []
    try:
        lab(sb.NS, [(f"udp dport {sb.PORT}", [("wan:in ", sb.GROUP)])])
        cmd = [args.binary, "--group", f"{sb.GROUP}:allowed", "--listen",
               f"127.0.0.1:{sb.HTTP_PORT}", "--max-clients", "128", "--rcvbuf", "64M",
               "--history-records", str(args.history_records),
               "--history-bytes", args.history_bytes, "--quiet"]
        server = subprocess.Popen(sb.in_ns(*cmd), stderr=subprocess.PIPE)
        for _ in range(100):
            try:
                sb.http_get(sb.HTTP_PORT, "/healthz")
                break
            except subprocess.CalledProcessError:
                time.sleep(0.1)
        idle_rss = rss_bytes(server.pid)
        clients = sb.Clients(clients_bin, args.clients, args.seconds + 60)
        if not clients.ready.wait(30):
            raise RuntimeError("the stream clients did not all connect within 30 s")
        sender = subprocess.Popen(sb.in_ns(flood_bin, "127.0.0.1", str(sb.PORT), str(args.rate),
                                           str(args.seconds)),
                                  stdout=subprocess.PIPE, text=True)
        while sender.poll() is None:
            samples.append(rss_bytes(server.pid))
            time.sleep(0.5)
        for _ in range(6):  # the tail: the clients drain, the history settles
            samples.append(rss_bytes(server.pid))
            time.sleep(0.5)
        m = sb.metrics(sb.HTTP_PORT)
        sent = int(re.search(r"sent=(\d+)", sender.stdout.read()).group(1))
        progress = clients.progress
    finally:
        if clients:
            sb.stop(clients.proc)
        if server:
            sb.stop(server)
        sh("ip", "netns", "del", sb.NS, check=False)

    peak = max(samples)
    print(f"{args.rate} packets/s for {args.seconds} s, {args.clients} stream clients; history "
          f"bounds {args.history_records} records / {args.history_bytes}")
    print(f"  sent {sent}, records made {sb.metric(m, 'packet_logs_records_received_total')}, "
          f"kernel drops {sb.metric(m, 'packet_logs_kernel_drops_total')}, lost "
          f"{sb.metric(m, 'packet_logs_kernel_lost_total')}")
    print(f"  clients received {progress[1]} records, were told of {progress[2]} missed "
          f"(stream drops {sb.metric(m, 'packet_logs_stream_dropped_total')})")
    print(f"  RSS idle {idle_rss / MIB:.1f} MiB; under load peak {peak / MIB:.1f} MiB, last "
          f"{samples[-1] / MIB:.1f} MiB ({len(samples)} samples)")
    print(f"  bound: history bytes {bound / MIB:.0f} MiB + 32 MiB = {(bound + SLACK) / MIB:.0f} MiB")
    ok = peak < bound + SLACK
    print("result:", "ok" if ok else "NOT MET")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
