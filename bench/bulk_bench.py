#!/usr/bin/python3
"""Bulk downloads beside a viewer: while K clients download pages of 10,000
records as fast as they can read them, how long does a viewer wait for a
page of 100 records and for /healthz? (Records are rendered when read, so
every bulk byte is work of the HTTP side.)

In a network namespace of its own, a log rule logs UDP to port 5001 (over
loopback) to NFLOG group 5; the paced sender (bench/udp_flood.c) makes
RECORDS records. Then, for each K of --clients (0, 2, 8 by default), for
--seconds: K bulk clients loop on GET /packet_logs?limit=10000 (the whole
body read), while one viewer asks for /packet_logs?limit=100 and /healthz
in turn every 20 ms. Reported: the viewer's p50, p99 and max per path,
and the records per second the bulk clients got.

Usage (root): bench/bulk_bench.py --binary build/packet_logs [--args ...]
"""
import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

from benchlib import build, flood, http_get, lab, metric, netns_cmd, sh, wait_quiet

NS = f"plbulk{os.getpid()}"
PORT = 5001
HTTP_PORT = 8087

BULK = r"""
import http.client, sys, time
port, seconds = int(sys.argv[1]), float(sys.argv[2])
stop = time.monotonic() + seconds
pages = size = 0
while time.monotonic() < stop:
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    c.request("GET", "/packet_logs?limit=10000")
    r = c.getresponse()
    while True:
        chunk = r.read(65536)
        if not chunk:
            break
        size += len(chunk)
    c.close()
    if r.status != 200:
        raise SystemExit(f"bulk: {r.status}")
    pages += 1
print(pages, size)
"""

VIEWER = r"""
import http.client, json, sys, time
port, seconds = int(sys.argv[1]), float(sys.argv[2])
stop = time.monotonic() + seconds
samples = {"/packet_logs?limit=100": [], "/healthz": []}
while time.monotonic() < stop:
    for path, s in samples.items():
        t = time.perf_counter()
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        c.request("GET", path)
        r = c.getresponse()
        r.read()
        c.close()
        if r.status != 200:
            raise SystemExit(f"{path}: {r.status}")
        s.append((time.perf_counter() - t) * 1000)
    time.sleep(0.02)
print(json.dumps(samples))
"""


def in_ns(*args):
    return netns_cmd(NS, *args)


def pct(values, p):
    v = sorted(values)
    return v[min(len(v) - 1, int(len(v) * p / 100))]


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--binary", required=True)
    ap.add_argument("--records", type=int, default=50000)
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--clients", default="0,2,8", help="bulk clients per round, comma-separated")
    ap.add_argument("--args", nargs=argparse.REMAINDER, default=[],
                    help="more packet_logs options (the rest of the command line)")
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("bulk_bench: run as root (network namespace, nftables)")
    binary = os.path.abspath(args.binary)
    workdir = tempfile.mkdtemp(prefix="plbulk")
    flood_bin = build(workdir, "udp_flood")
    proc = None
    try:
        lab(NS, [(f"udp dport {PORT}", [("lan:in ", 5)])])
        proc = subprocess.Popen(in_ns(binary, "--group", "5:allowed", "--listen",
                                      f"127.0.0.1:{HTTP_PORT}", "--history-records",
                                      str(args.records), "--history-bytes", "1G", "--quiet",
                                      *args.args))
        for _ in range(100):
            try:
                http_get(NS, HTTP_PORT, "/healthz")
                break
            except Exception:
                time.sleep(0.1)

        def records():
            return metric(http_get(NS, HTTP_PORT, "/metrics").decode(),
                          "packet_logs_history_records")
        flood(NS, flood_bin, PORT, 50000, max(1, args.records // 50000))
        held = wait_quiet(records)
        print(f"history: {held} records; each round {args.seconds:g} s; the viewer asks every 20 ms")
        for k in [int(x) for x in args.clients.split(",")]:
            # each client a process of its own: one Python process's threads
            # would wait for each other's GIL, not for packet_logs
            bulk = [subprocess.Popen(in_ns("/usr/bin/python3", "-c", BULK, str(HTTP_PORT),
                                           str(args.seconds)), stdout=subprocess.PIPE, text=True)
                    for _ in range(k)]
            viewer = sh(*in_ns("/usr/bin/python3", "-c", VIEWER, str(HTTP_PORT),
                               str(args.seconds)), capture_output=True, text=True).stdout
            pages = size = 0
            for b in bulk:
                p, n = b.communicate(timeout=120)[0].split()
                pages, size = pages + int(p), size + int(n)
            parts = []
            for path, s in json.loads(viewer).items():
                parts.append(f"{path} p50 {pct(s, 50):.1f} ms, p99 {pct(s, 99):.1f} ms, "
                             f"max {max(s):.1f} ms ({len(s)})")
            rate = pages * 10000 / args.seconds
            mb = size / args.seconds / 1e6
            print(f"{k} bulk clients ({rate:,.0f} records/s, {mb:.1f} MB/s to them): "
                  + "; ".join(parts))
    finally:
        if proc:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=30)
        sh("ip", "netns", "del", NS, check=False)


if __name__ == "__main__":
    main()
