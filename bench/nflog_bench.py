#!/usr/bin/python3
"""NFLOG benchmark (issues 3, 11): packet_logs against ulogd2 and against
the floor (a bare libnetfilter_log loop), same rule, same batching, same run.

In a network namespace of its own, a log rule on the output hook logs UDP
to port 5001 (sent over loopback) to NFLOG group 5 and, with a second log
statement, to group 6. A paced sender (bench/udp_flood.c) sends RATE
packets per second for SECONDS, --repeat times (3). The receivers:
  - the floor on group 6: bench/nflog_floor.c, a bare libnetfilter_log
    receive loop (same batching, 16 MiB buffer, reads each payload,
    nothing more); packets counted in a memory-mapped file;
  - packet_logs on group 5 (--group 5:allowed), records counted in /metrics,
    with its default --coalesce (when a 1 ms wait gathers two batches or
    more at the rate it reads, it waits before reading again, so one
    wakeup reads them all; the floor reads at every wakeup) or the one
    given (--coalesce 0: at every wakeup, as the floor);
    the floor and packet_logs run at the same time, on the same packets,
    so that other work on the machine weighs on both alike: their ratio
    is steady where figures taken one after the other are not;
  - then ulogd2 alone on group 5, NFLOG -> BASE -> IFINDEX -> IP2STR ->
    HWHDR -> JSON to a file, records counted as lines (--no-ulogd: not).
Reported: records received, kernel drops, CPU time of the receiver process
(utime + stime from /proc), CPU per record, per round, and the median
ratios to the floor (target: packet_logs at most 1.5x) and to ulogd2. --perf FILE records
packet_logs' run with `perf record -g` (software clock; this machine has no
hardware counters) into FILE, and the floor's into FILE.floor, for
`perf report`.

Then the REST latency of a filtered page of 100 records from a history of
100,000 (p50, p99), for a filter that fills the page at once and one that
scans the whole history (matching nothing).

Usage (root): bench/nflog_bench.py --binary build/packet_logs
"""
import argparse
import json
import os
import signal
import struct
import subprocess
import sys
import tempfile
import time

import benchlib
from benchlib import cpu_seconds, metric, netns_cmd, sh, wait_quiet

HERE = os.path.dirname(os.path.abspath(__file__))
NS = f"plbench{os.getpid()}"
GROUP = 5
FLOOR_GROUP = 6
PORT = 5001


def in_ns(*args):
    return netns_cmd(NS, *args)


def flood(binary, rate, seconds):
    return benchlib.flood(NS, binary, PORT, rate, seconds)


def http_get(port, path):
    return benchlib.http_get(NS, port, path)


def run_packet_logs(args, flood_bin, http_port, floor):
    """packet_logs on GROUP and the floor on FLOOR_GROUP, both logged by the
    same rule, so both receive the same packets at the same time and share
    whatever else loads the machine: their ratio is steady where figures
    taken one after the other are not (other builds on the 2 cores).
    --repeat rounds of the flood, each measured on its own."""
    proc = subprocess.Popen(in_ns(args.binary, "--group", f"{GROUP}:allowed", "--listen",
                                  f"127.0.0.1:{http_port}", "--qthreshold", str(args.qthreshold),
                                  "--qtimeout", str(args.qtimeout), "--rcvbuf", "64M",
                                  "--history-records", "100000", "--history-bytes", "512M",
                                  "--quiet", *(["--coalesce", str(args.coalesce)]
                                               if args.coalesce is not None else [])),
                            stderr=subprocess.PIPE)
    try:
        for _ in range(100):
            try:
                http_get(http_port, "/healthz")
                break
            except Exception:
                time.sleep(0.1)
        perfs = []
        if args.perf:
            # packet_logs into FILE, the floor into FILE.floor: the same
            # rounds, to compare where each one's time goes
            for pid, out in ((proc.pid, args.perf), (floor.proc.pid, args.perf + ".floor")):
                perfs.append(subprocess.Popen(["perf", "record", "-q", "-e", "cpu-clock", "-g",
                                               "-o", out, "-p", str(pid)],
                                              stderr=subprocess.DEVNULL))

        def records():
            return metric(http_get(http_port, "/metrics").decode(),
                          "packet_logs_records_received_total")
        rounds = []
        for _ in range(args.repeat):
            before, fl_before = cpu_seconds(proc.pid), floor.cpu()
            rec0, fl0 = records(), floor.counts()[0]
            sent = flood(flood_bin, args.rate, args.seconds)
            got = wait_quiet(records) - rec0
            fl_got = wait_quiet(lambda: floor.counts()[0]) - fl0
            cpu, fl_cpu = cpu_seconds(proc.pid) - before, floor.cpu() - fl_before
            rounds.append(({"sent": sent, "records": got, "cpu": cpu},
                           {"sent": sent, "records": fl_got, "cpu": fl_cpu}))
        for perf in perfs:
            perf.send_signal(signal.SIGINT)
            perf.wait(timeout=60)
        text = http_get(http_port, "/metrics").decode()
        drops = metric(text, "packet_logs_kernel_drops_total")
        lost = metric(text, "packet_logs_kernel_lost_total")
        for pl, fl in rounds:
            pl["drops"] = drops + lost
            fl["drops"] = floor.counts()[1]
        latency = rest_latency(http_port, args.requests)
        return rounds, latency
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=10)


def rest_latency(port, requests):
    """p50/p99 of filtered pages of 100 from the full history, measured by
    a keep-alive client inside the namespace."""
    code = r"""
import http.client, json, sys, time
port, n = int(sys.argv[1]), int(sys.argv[2])
c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
def timed(path):
    samples = []
    for _ in range(n):
        t = time.perf_counter()
        c.request("GET", path)
        r = c.getresponse(); body = r.read()
        samples.append((time.perf_counter() - t) * 1000)
        assert r.status == 200, body[:200]
    samples.sort()
    return {"p50_ms": samples[len(samples) // 2], "p99_ms": samples[int(len(samples) * 0.99) - 1],
            "records": len(json.loads(body))}
print(json.dumps({
    "page_first_100": timed("/packet_logs?limit=100&prefix=wan:in&proto=udp&dport=5001"),
    "scan_all_no_match": timed("/packet_logs?limit=100&ip=192.0.2.77"),
}))
"""
    out = sh(*in_ns("/usr/bin/python3", "-c", code, str(port), str(requests)),
             capture_output=True, text=True).stdout
    return json.loads(out)


class Floor:
    """bench/nflog_floor.c on FLOOR_GROUP: same batching, 16 MiB buffer."""

    def __init__(self, args, workdir):
        floor_bin = os.path.join(workdir, "nflog_floor")
        sh("cc", "-O2", "-o", floor_bin, os.path.join(HERE, "nflog_floor.c"), "-lnetfilter_log")
        self.count_file = os.path.join(workdir, "floor.count")
        self.proc = subprocess.Popen(in_ns(floor_bin, str(FLOOR_GROUP), str(args.qthreshold),
                                           str(args.qtimeout), self.count_file),
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        time.sleep(0.5)
        if self.proc.poll() is not None:
            raise RuntimeError(f"nflog_floor exited: {self.proc.stderr.read().decode()[:500]}")

    def counts(self):
        """(packets, ENOBUFS) so far."""
        try:
            with open(self.count_file, "rb") as f:
                return struct.unpack("QQ", f.read(16))
        except (FileNotFoundError, struct.error):
            return (0, 0)

    def cpu(self):
        return cpu_seconds(self.proc.pid)

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=10)


def run_ulogd(args, flood_bin, workdir):
    out_file = os.path.join(workdir, "ulogd.json")
    conf = os.path.join(workdir, "ulogd.conf")
    lib = "/usr/lib/x86_64-linux-gnu/ulogd"
    with open(conf, "w") as f:
        f.write(f"""[global]
logfile="{workdir}/ulogd.log"
loglevel=5
plugin="{lib}/ulogd_inppkt_NFLOG.so"
plugin="{lib}/ulogd_raw2packet_BASE.so"
plugin="{lib}/ulogd_filter_IFINDEX.so"
plugin="{lib}/ulogd_filter_IP2STR.so"
plugin="{lib}/ulogd_filter_HWHDR.so"
plugin="{lib}/ulogd_output_JSON.so"
stack=log1:NFLOG,base1:BASE,ifi1:IFINDEX,ip2str1:IP2STR,mac2str1:HWHDR,json1:JSON

[log1]
group={GROUP}
netlink_qthreshold={args.qthreshold}
netlink_qtimeout={max(1, args.qtimeout // 10)}
netlink_socket_buffer_size=67108864
netlink_socket_buffer_maxsize=67108864

[json1]
file="{out_file}"
sync=0
""")
    proc = subprocess.Popen(in_ns("ulogd", "-c", conf), stderr=subprocess.PIPE)
    try:
        time.sleep(1.0)
        if proc.poll() is not None:
            raise RuntimeError(f"ulogd exited: {proc.stderr.read().decode()[:500]}")
        before = cpu_seconds(proc.pid)
        sent = flood(flood_bin, args.rate, args.seconds)

        def lines():
            try:
                with open(out_file, "rb") as f:
                    return sum(chunk.count(b"\n") for chunk in iter(lambda: f.read(1 << 20), b""))
            except FileNotFoundError:
                return 0
        # ulogd buffers its file: the count settles once it has written all
        records = wait_quiet(lines)
        cpu = cpu_seconds(proc.pid) - before
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=10)
    # after exit, its buffers are flushed
    with open(out_file, "rb") as f:
        records = max(records, sum(chunk.count(b"\n") for chunk in iter(lambda: f.read(1 << 20), b"")))
    drops = 0
    try:
        with open(os.path.join(workdir, "ulogd.log")) as f:
            drops = sum(1 for line in f if "Maximum buffer size" in line or "ENOBUFS" in line)
    except FileNotFoundError:
        pass
    return {"sent": sent, "records": records, "drops": drops, "cpu": cpu}


def main():
    ap = argparse.ArgumentParser(description="packet_logs vs ulogd2 over NFLOG")
    ap.add_argument("--binary", required=True)
    ap.add_argument("--rate", type=int, default=100000)
    ap.add_argument("--seconds", type=int, default=5)
    ap.add_argument("--qthreshold", type=int, default=16)
    ap.add_argument("--qtimeout", type=int, default=10, help="ms")
    ap.add_argument("--requests", type=int, default=200)
    ap.add_argument("--repeat", type=int, default=3, help="rounds of the flood; the median counts")
    ap.add_argument("--coalesce", type=int,
                    help="packet_logs' --coalesce (ms); 0 reads at every wakeup, as the "
                         "floor does (default: packet_logs' own default)")
    ap.add_argument("--perf", help="perf record packet_logs' run into this file, the "
                                   "floor's into FILE.floor")
    ap.add_argument("--no-ulogd", action="store_true", help="skip ulogd2 (profiling runs)")
    args = ap.parse_args()
    args.binary = os.path.abspath(args.binary)

    workdir = tempfile.mkdtemp(prefix="plbench")
    flood_bin = benchlib.build(workdir, "udp_flood")
    try:
        benchlib.lab(NS, [(f"udp dport {PORT}", [("wan:in ", GROUP), ("wan:in ", FLOOR_GROUP)])])
        floor = Floor(args, workdir)
        try:
            rounds, latency = run_packet_logs(args, flood_bin, 18080, floor)
        finally:
            floor.stop()
        # ulogd2 alone on the group (the floor's group is still logged: a
        # rule with no listener costs the sender, not the receiver)
        ul = None if args.no_ulogd else run_ulogd(args, flood_bin, workdir)
    finally:
        sh("ip", "netns", "del", NS, check=False)

    print(f"rule: udp dport {PORT} log group {GROUP} and group {FLOOR_GROUP} (the floor, at the same "
          f"time); {args.rate} packets/s for {args.seconds} s, {args.repeat} rounds; "
          f"batching {args.qthreshold} packets / {args.qtimeout} ms; packet_logs "
          f"--coalesce {'default (1 ms)' if args.coalesce is None else args.coalesce}")

    def per(r):
        return r["cpu"] / r["records"] * 1e6 if r["records"] else float("nan")
    for i, (pl, fl) in enumerate(rounds):
        for name, r in (("floor", fl), ("packet_logs", pl)):
            print(f"round {i + 1} {name:12s} sent {r['sent']}, records {r['records']}, "
                  f"kernel drops/lost {r['drops']}, CPU {r['cpu']:.2f} s, {per(r):.2f} us/record")
    ratios = sorted(per(pl) / per(fl) for pl, fl in rounds)
    floor_ratio = ratios[len(ratios) // 2]
    pl = sorted((r[0] for r in rounds), key=per)[len(rounds) // 2]
    fl = sorted((r[1] for r in rounds), key=per)[len(rounds) // 2]
    print(f"ratio: packet_logs CPU per record = {floor_ratio:.2f} x the floor's, median of "
          f"{', '.join(f'{r:.2f}' for r in ratios)} (target: at most 1.5)")
    ratio = 0.0
    if ul:
        print(f"ulogd2       sent {ul['sent']}, records {ul['records']}, kernel drops {ul['drops']}, "
              f"CPU {ul['cpu']:.2f} s, {per(ul):.2f} us/record (alone, after)")
        ratio = per(pl) / per(ul)
        print(f"ratio: packet_logs CPU per record (median round) = {ratio:.3f} x ulogd2's "
              f"(target: at most 0.333)")
    pl["latency"] = latency
    for name, lat in pl["latency"].items():
        print(f"REST {name}: p50 {lat['p50_ms']:.2f} ms, p99 {lat['p99_ms']:.2f} ms "
              f"({lat['records']} records per page, {args.requests} requests)")
    ok = (all(p["records"] == p["sent"] and p["drops"] == 0 for p, _ in rounds)
          and ratio <= 1 / 3 and floor_ratio <= 1.5)
    print("result:", "ok" if ok else "NOT MET")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
