#!/usr/bin/python3
"""NATS benchmark (issue 10): packet_logs publishing every record to a
local JetStream, against packet_logs without --nats, same rule, same run.

In a network namespace of its own, a log rule on the output hook logs UDP
to port 5001 (sent over loopback) to NFLOG group 5; a paced sender
(bench/udp_flood.c) sends RATE packets per second for SECONDS. One
nats-server (Debian's package) with JetStream, its store in a temp dir,
listens on the namespace's loopback. packet_logs runs twice in turn:
  - without --nats: records counted in /metrics;
  - with --nats: records, records published (acknowledged by JetStream)
    and lost, from /metrics.
Reported: records, published, lost, kernel drops, CPU time of packet_logs
(utime + stime) per record in both runs, their ratio (target: at most 2),
the CPU of nats-server, and the records published per second.

Usage (root): bench/nats_bench.py --binary build/packet_logs
"""
import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

from benchlib import cpu_seconds, netns_cmd, sh

HERE = os.path.dirname(os.path.abspath(__file__))
NS = f"plnbench{os.getpid()}"
GROUP = 5
PORT = 5001
NATS_PORT = 14222


def in_ns(*args):
    return netns_cmd(NS, *args)


def flood(binary, rate, seconds):
    out = sh(*in_ns(binary, "127.0.0.1", str(PORT), str(rate), str(seconds)),
             capture_output=True, text=True).stdout
    return int(re.search(r"sent=(\d+)", out).group(1))


def http_get(port, path):
    code = ("import sys,urllib.request;"
            f"r=urllib.request.urlopen('http://127.0.0.1:{port}'+sys.argv[1],timeout=10);"
            "sys.stdout.buffer.write(r.read())")
    return sh(*in_ns("/usr/bin/python3", "-c", code, path), capture_output=True).stdout


def metric(text, name):
    m = re.search(rf"^{name} (\d+)$", text, re.M)
    return int(m.group(1)) if m else 0


def wait_quiet(read_count, timeout=60.0):
    last, still = -1, 0
    end = time.time() + timeout
    while time.time() < end:
        now = read_count()
        still = still + 1 if now == last else 0
        if still >= 4:
            return now
        last = now
        time.sleep(0.25)
    return last


def run(args, flood_bin, http_port, nats_pid, extra):
    proc = subprocess.Popen(in_ns(args.binary, "--group", f"{GROUP}:allowed", "--listen",
                                  f"127.0.0.1:{http_port}", "--qthreshold", "16",
                                  "--qtimeout", "10", "--rcvbuf", "64M",
                                  "--history-records", "100000", "--history-bytes", "512M",
                                  "--quiet", *extra),
                            stderr=subprocess.PIPE)
    try:
        for _ in range(100):
            try:
                http_get(http_port, "/healthz")
                break
            except Exception:
                time.sleep(0.1)
        before = cpu_seconds(proc.pid)
        nats_before = cpu_seconds(nats_pid)
        start = time.time()
        sent = flood(flood_bin, args.rate, args.seconds)
        name = "packet_logs_nats_published_total" if extra else "packet_logs_records_received_total"
        done = wait_quiet(lambda: metric(http_get(http_port, "/metrics").decode(), name))
        text = http_get(http_port, "/metrics").decode()
        # published per second: from the flood's start until the count stopped
        # moving, less the quiet time wait_quiet needs to see it still (1 s)
        elapsed = time.time() - start - 1.0
        return {"sent": sent,
                "records": metric(text, "packet_logs_records_received_total"),
                "published": metric(text, "packet_logs_nats_published_total"),
                "lost": metric(text, "packet_logs_nats_lost_total"),
                "drops": metric(text, "packet_logs_kernel_drops_total"),
                "cpu": cpu_seconds(proc.pid) - before,
                "nats_cpu": cpu_seconds(nats_pid) - nats_before,
                "rate": done / elapsed if elapsed > 0 else 0}
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=15)


def main():
    ap = argparse.ArgumentParser(description="packet_logs with and without --nats")
    ap.add_argument("--binary", required=True)
    ap.add_argument("--rate", type=int, default=100000)
    ap.add_argument("--seconds", type=int, default=5)
    args = ap.parse_args()
    args.binary = os.path.abspath(args.binary)
    nats_server = shutil.which("nats-server") or "/usr/sbin/nats-server"

    workdir = tempfile.mkdtemp(prefix="plnbench")
    flood_bin = os.path.join(workdir, "udp_flood")
    sh("cc", "-O2", "-o", flood_bin, os.path.join(HERE, "udp_flood.c"))
    with open(os.path.join(workdir, "nats.conf"), "w") as f:
        f.write(f'listen: "127.0.0.1:{NATS_PORT}"\njetstream {{ store_dir: "{workdir}/js" }}\n')
    sh("ip", "netns", "add", NS)
    nats = None
    try:
        sh(*in_ns("ip", "link", "set", "lo", "up"))
        rules = (f'table inet bench {{\n chain out {{\n  type filter hook output priority 0;\n'
                 f'  udp dport {PORT} log prefix "wan:in " group {GROUP}\n }}\n}}\n')
        sh(*in_ns("nft", "-f", "-"), input=rules.encode())
        nats = subprocess.Popen(in_ns(nats_server, "-c", os.path.join(workdir, "nats.conf")),
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(1)
        plain = run(args, flood_bin, 18081, nats.pid, [])
        pub = run(args, flood_bin, 18082, nats.pid,
                  ["--nats", f"nats://127.0.0.1:{NATS_PORT}", "--host-name", "bench"])
    finally:
        if nats:
            nats.kill()
            nats.wait()
        sh("ip", "netns", "del", NS, check=False)
        shutil.rmtree(workdir, ignore_errors=True)

    print(f"rule: udp dport {PORT} log group {GROUP}; {args.rate} packets/s for {args.seconds} s")
    for name, r in (("plain", plain), ("--nats", pub)):
        per = r["cpu"] / r["records"] * 1e6 if r["records"] else float("nan")
        print(f"{name:8s} sent {r['sent']}, records {r['records']}, published {r['published']}, "
              f"lost {r['lost']}, kernel drops {r['drops']}, CPU {r['cpu']:.2f} s, "
              f"{per:.2f} us/record; nats-server CPU {r['nats_cpu']:.2f} s")
    ratio = (pub["cpu"] / pub["records"]) / (plain["cpu"] / plain["records"])
    print(f"published {pub['rate']:.0f} records/s (flood start to the last acknowledgment)")
    print(f"ratio: CPU per record with --nats = {ratio:.2f} x without (target: at most 2)")
    ok = (pub["published"] == pub["records"] == pub["sent"] and pub["lost"] == 0 and
          pub["drops"] == 0 and ratio <= 2)
    print("result:", "ok" if ok else "NOT MET")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
