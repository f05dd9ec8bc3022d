#!/usr/bin/python3
"""Stream benchmark (issue 4): packet_logs' WebSocket stream, end to end.

In a network namespace of its own, a log rule on the output hook logs UDP
to port 5001 (sent over loopback) to NFLOG group 0 with prefix "wan:in ".
packet_logs (the real binary, --group 0:allowed, its default batching
unless --qthreshold/--qtimeout are given) serves the stream on the
namespace's loopback. A paced sender (bench/stamp_flood.c) stamps each
datagram's payload with its number and its send time (CLOCK_MONOTONIC and
CLOCK_REALTIME: every process here is on this machine, one clock).

1. Latency: one client (Python, websockets) follows
   /packet_logs/stream?prefix=wan:in&proto=udp&dport=5001 while the sender
   sends --latency-rate packets/s (1,000) for --latency-seconds (10). For
   each record it takes the arrival time as the message comes off the
   socket, then decodes UDP.Payload (base64) for the send time: latency per
   packet, send to arrival. p50 and p99; target p99 < 20 ms; records
   received against packets sent (missing numbers, {"Dropped": N}). Also
   split at the record's Timestamp (CLOCK_REALTIME: the kernel's time when
   NFLOG carries one, else packet_logs' time of receipt).

2. Fan-out: --clients (100) clients in one C process (bench/ws_clients.c,
   libwebsockets) follow the same stream while the sender sends --rate
   (10,000) packets/s for --seconds (10). Each client checks that Seq goes up
   by one from record to record (or by N after {"Dropped": N}). A client
   keeps up when it received every record packet_logs made (none dropped, no
   gap) and its last record came within --max-drain (1 s) of the last packet
   sent: records it only got later were queued in the history, not kept up
   with. Reported per client: received, dropped; overall records/s
   delivered; CPU time of packet_logs (/proc/PID/stat) and of the clients'
   process over the run. When not every client keeps up, the highest rate
   where all do is searched (--no-search to skip).

Every run gets a fresh packet_logs (no history to start from). It needs
--max-clients above the default of 64 for 100 clients: the script passes
max(128, clients + 16). Traffic goes only to 127.0.0.1 inside the namespace,
bounded by rate and time; the namespace is removed at the end, failures
included; processes are stopped by their recorded PIDs.

Usage (root): /usr/bin/python3 bench/stream_bench.py --binary build/packet_logs
Exit status 0 when both targets are met, 1 otherwise.
"""
import argparse
import base64
import json
import math
import os
import queue
import re
import shlex
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time

from benchlib import build, cpu_seconds, lab, netns_cmd, sh

HERE = os.path.dirname(os.path.abspath(__file__))
NS = f"plstream{os.getpid()}"
GROUP = 0
PORT = 5001          # UDP, logged
HTTP_PORT = 18081    # packet_logs, inside the namespace
FILTER = "prefix=wan:in&proto=udp&dport=5001"
MAGIC = b"PLSB"
LATENCY_TARGET_MS = 20.0  # issue 11 (was 50 in issue 4)


def in_ns(*args):
    return netns_cmd(NS, *args)


def machine_busy():
    """(busy, total) jiffies of all CPUs, from /proc/stat."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    idle = v[3] + v[4]  # idle, iowait
    total = sum(v[:8])  # without guest time (counted in user already)
    return total - idle, total


def busy_share(before, after):
    """CPU-seconds all CPUs were busy between two machine_busy() readings."""
    tick = os.sysconf("SC_CLK_TCK")
    return (after[0] - before[0]) / tick


def http_get(port, path):
    """GET inside the namespace (the server listens on its loopback)."""
    code = ("import sys,urllib.request;"
            f"r=urllib.request.urlopen('http://127.0.0.1:{port}'+sys.argv[1],timeout=10);"
            "sys.stdout.buffer.write(r.read())")
    return sh(*in_ns("/usr/bin/python3", "-c", code, path), capture_output=True).stdout


def metrics(port):
    out = {}
    for line in http_get(port, "/metrics").decode().splitlines():
        m = re.match(r"^([a-z_]+)(\{[^}]*\})? ([0-9.eE+-]+)$", line)
        if m:
            out[m.group(1) + (m.group(2) or "")] = float(m.group(3))
    return out


def metric(m, name):
    return int(m.get(name, 0))


def pct(sorted_values, p):
    """Nearest-rank percentile of a sorted list."""
    if not sorted_values:
        return float("nan")
    k = max(0, min(len(sorted_values) - 1, math.ceil(p / 100 * len(sorted_values)) - 1))
    return sorted_values[k]


def stop(proc, timeout=10):
    """SIGTERM to this process (by its PID), SIGKILL if it lingers."""
    if proc is None or proc.poll() is not None:
        return
    try:
        os.kill(proc.pid, signal.SIGTERM)
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=5)
    except ProcessLookupError:
        pass


class Server:
    """packet_logs in the namespace, fresh for each run."""

    def __init__(self, args, max_clients):
        cmd = [args.binary, "--group", f"{GROUP}:allowed", "--listen", f"127.0.0.1:{HTTP_PORT}",
               "--max-clients", str(max_clients), "--quiet"]
        if args.qthreshold is not None:
            cmd += ["--qthreshold", str(args.qthreshold)]
        if args.qtimeout is not None:
            cmd += ["--qtimeout", str(args.qtimeout)]
        self.cmd = cmd
        self.proc = subprocess.Popen(in_ns(*cmd), stderr=subprocess.PIPE)
        for _ in range(100):
            if self.proc.poll() is not None:
                raise RuntimeError("packet_logs exited: " + self.proc.stderr.read().decode()[:500])
            try:
                http_get(HTTP_PORT, "/healthz")
                return
            except subprocess.CalledProcessError:
                time.sleep(0.1)
        stop(self.proc)
        raise RuntimeError("packet_logs did not answer /healthz")

    @property
    def pid(self):
        return self.proc.pid  # ip netns exec execs the binary: same PID

    def close(self):
        stop(self.proc)


def flood(flood_bin, rate, seconds):
    import resource
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = sh(*in_ns(flood_bin, "127.0.0.1", str(PORT), str(rate), str(seconds)),
             capture_output=True, text=True).stdout
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    m = re.search(r"sent=(\d+) errors=(\d+) first_mono_ns=(\d+) last_mono_ns=(\d+)", out)
    return {"sent": int(m.group(1)), "errors": int(m.group(2)),
            "first_ns": int(m.group(3)), "last_ns": int(m.group(4)), "cpu": cpu}


# --------------------------------------------------------------- 1. latency

def parse_rfc3339_ns(text):
    """'2024-05-01T10:00:00.123456789Z' -> ns since the epoch (UTC only)."""
    m = re.match(r"^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.(\d{1,9}))?Z$", text)
    if not m:
        return None
    import calendar
    secs = calendar.timegm(tuple(int(m.group(i)) for i in range(1, 7)))
    frac = (m.group(7) or "").ljust(9, "0")
    return secs * 1_000_000_000 + int(frac or 0)


def latency_client_main(port, path, expect, max_seconds, idle_seconds):
    """Runs inside the namespace: follows the stream, prints 'ready', then
    one JSON line: per record (number, sent mono, arrival mono, sent real,
    Timestamp, arrival real), Dropped notices, other messages."""
    import asyncio
    import websockets

    async def run():
        uri = f"ws://127.0.0.1:{port}{path}"
        async with websockets.connect(uri, subprotocols=["packet_logs"], compression=None,
                                      max_size=1 << 22, ping_interval=None) as ws:
            print("ready", flush=True)
            raw = []
            dropped, notices = 0, 0
            deadline = time.monotonic() + max_seconds
            last_seen = None
            while True:
                now = time.monotonic()
                if now >= deadline:
                    break
                wait = deadline - now
                if last_seen is not None:
                    wait = min(wait, idle_seconds)
                try:
                    msg = await asyncio.wait_for(ws.recv(), wait)
                except asyncio.TimeoutError:
                    break
                arrive_mono, arrive_real = time.monotonic_ns(), time.time_ns()
                raw.append((msg, arrive_mono, arrive_real))
                last_seen = arrive_mono
                if len(raw) >= expect and expect:
                    # the last one may be followed by nothing: stop when all came
                    break
            samples, other = [], 0
            for msg, arrive_mono, arrive_real in raw:
                rec = json.loads(msg)
                if "Dropped" in rec and len(rec) == 1:
                    dropped += rec["Dropped"]
                    notices += 1
                    continue
                try:
                    payload = base64.b64decode(rec["UDP"]["Payload"])
                    magic, number, sent_mono, sent_real = struct.unpack_from("<4sQQQ", payload)
                    if magic != MAGIC:
                        raise ValueError
                except (KeyError, TypeError, ValueError, struct.error):
                    other += 1
                    continue
                ts = parse_rfc3339_ns(rec.get("Timestamp", ""))
                samples.append((number, sent_mono, arrive_mono, sent_real, ts, arrive_real,
                                rec.get("Seq")))
            print(json.dumps({"samples": samples, "dropped": dropped, "notices": notices,
                              "other": other}), flush=True)

    asyncio.run(run())


def run_latency(args, flood_bin):
    server = Server(args, 64)
    client = None
    try:
        expect = args.latency_rate * args.latency_seconds
        path = f"/packet_logs/stream?{FILTER}"
        client = subprocess.Popen(
            in_ns("/usr/bin/python3", os.path.abspath(__file__), "--latency-client",
                  str(HTTP_PORT), path, str(expect), str(args.latency_seconds + 30), "3"),
            stdout=subprocess.PIPE, text=True)
        line = client.stdout.readline()
        if line.strip() != "ready":
            raise RuntimeError(f"latency client did not start: {line!r}")
        time.sleep(0.2)
        cpu0, mach0, t0 = cpu_seconds(server.pid), machine_busy(), time.monotonic()
        sent = flood(flood_bin, args.latency_rate, args.latency_seconds)
        out = client.stdout.readline()
        if not out.startswith("{"):
            raise RuntimeError(f"latency client gave no result: {out!r}")
        client.wait(timeout=30)
        cpu, busy = cpu_seconds(server.pid) - cpu0, busy_share(mach0, machine_busy())
        wall = time.monotonic() - t0
        m = metrics(HTTP_PORT)
    finally:
        stop(client)
        server.close()
    res = json.loads(out)
    samples = res["samples"]
    lat = sorted((a - s) / 1e6 for _, s, a, _, _, _, _ in samples)
    to_ts = sorted((ts - sr) / 1e6 for _, _, _, sr, ts, _, _ in samples if ts)
    from_ts = sorted((ar - ts) / 1e6 for _, _, _, _, ts, ar, _ in samples if ts)
    numbers = {n for n, *_ in samples}
    missing = sent["sent"] - len(numbers & set(range(sent["sent"])))
    return {
        "sent": sent["sent"], "send_errors": sent["errors"], "received": len(samples),
        "unique": len(numbers), "missing": missing, "dropped": res["dropped"],
        "notices": res["notices"], "other": res["other"],
        "p50_ms": pct(lat, 50), "p99_ms": pct(lat, 99), "max_ms": lat[-1] if lat else float("nan"),
        "min_ms": lat[0] if lat else float("nan"),
        "to_ts_p50": pct(to_ts, 50), "to_ts_p99": pct(to_ts, 99),
        "from_ts_p50": pct(from_ts, 50), "from_ts_p99": pct(from_ts, 99),
        "server_records": metric(m, "packet_logs_records_received_total"),
        "kernel_drops": metric(m, "packet_logs_kernel_drops_total"),
        "cpu": cpu, "cmd": server.cmd, "machine_busy": busy, "wall": wall,
        # per record: number, latency ms, send -> Timestamp ms (for --json)
        "series": [(n, round((a - s) / 1e6, 3), round((ts - sr) / 1e6, 3) if ts else None)
                   for n, s, a, sr, ts, _, _ in sorted(samples)],
    }


# --------------------------------------------------------------- 2. fan-out

class Clients:
    """bench/ws_clients in the namespace; its progress lines read by a thread."""

    def __init__(self, clients_bin, n, max_seconds):
        self.name = os.path.basename(clients_bin)
        self.proc = subprocess.Popen(
            in_ns(clients_bin, str(HTTP_PORT), f"/packet_logs/stream?{FILTER}", str(n),
                  str(max_seconds)),
            stdout=subprocess.PIPE, text=True)
        self.ready = threading.Event()
        self.lock = threading.Lock()
        self.progress = (0, 0, 0)  # ns, records, dropped
        self.summary = None
        self.lines = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            if line.startswith("ready"):
                self.ready.set()
            elif line.startswith("progress"):
                _, ns, rec, drop = line.split()
                with self.lock:
                    self.progress = (int(ns), int(rec), int(drop))
            elif line.startswith("{"):
                self.summary = json.loads(line)

    def records(self):
        with self.lock:
            return self.progress[1]

    def finish(self):
        stop(self.proc, timeout=15)
        for _ in range(50):
            if self.summary is not None:
                break
            time.sleep(0.1)
        return self.summary


def run_fanout(args, flood_bin, clients_bin, rate, probe=False):
    """One run; a probe (of the search) stops waiting for stragglers once
    they are past --max-drain: its verdict is known, its counts partial."""
    server = Server(args, max(128, args.clients + 16))
    clients = None
    try:
        clients = Clients(clients_bin, args.clients, args.seconds + 120)
        if not clients.ready.wait(30):
            raise RuntimeError("the stream clients did not all connect within 30 s")
        time.sleep(0.3)
        m0 = metrics(HTTP_PORT)
        cpu0, ccpu0 = cpu_seconds(server.pid), cpu_seconds(clients.proc.pid)
        mach0 = machine_busy()
        t0 = time.monotonic_ns()
        sent = flood(flood_bin, rate, args.seconds)
        t_sent = time.monotonic_ns()
        # until every client has every record, or nothing moves for 2 s
        expected = sent["sent"] * args.clients
        last, still_since = -1, time.monotonic()
        cut = args.max_drain + 1.0 if probe else 120.0
        stopped_early = False
        while time.monotonic() - still_since < 2.0:
            now = clients.records()
            if now >= expected:
                break
            if time.monotonic() - t_sent / 1e9 >= cut:
                stopped_early = True
                break
            if now != last:
                last, still_since = now, time.monotonic()
            time.sleep(0.05)
        cpu1, ccpu1 = cpu_seconds(server.pid), cpu_seconds(clients.proc.pid)
        busy = busy_share(mach0, machine_busy())
        flood_cpu = sent["cpu"]
        t1 = time.monotonic_ns()
        m = metrics(HTTP_PORT)
        summary = clients.finish()
    finally:
        if clients:
            stop(clients.proc)
        server.close()
    if summary is None:
        raise RuntimeError("no summary from ws_clients")
    made = metric(m, "packet_logs_records_received_total")
    per = summary["per_client"]
    last_packet = sent["last_ns"]
    keeps_up = []
    for c in per:
        complete = (c["received"] == made and c["dropped"] == 0 and c["gap_records"] == 0
                    and c["backwards"] == 0 and c["unparsed"] == 0 and c["first_seq"] == 1
                    and not c["closed_early"])
        drain = (c["last_ns"] - last_packet) / 1e9 if c["last_ns"] else float("inf")
        c["complete"] = complete
        c["drain_s"] = drain
        keeps_up.append(complete and drain <= args.max_drain)
    delivered = summary["records"]
    last_msg = summary["last_msg_ns"] or t1
    span = (last_msg - sent["first_ns"]) / 1e9
    return {
        "rate": rate, "sent": sent["sent"], "send_errors": sent["errors"], "made": made,
        "kernel_drops": metric(m, "packet_logs_kernel_drops_total"),
        "server_stream_drops": metric(m, "packet_logs_stream_dropped_total")
        - metric(m0, "packet_logs_stream_dropped_total"),
        "clients": args.clients, "open": summary["ever_open"], "per_client": per,
        "keep_up": sum(keeps_up), "complete": sum(1 for c in per if c["complete"]),
        "delivered": delivered, "dropped": summary["dropped"],
        "delivered_per_s": delivered / span if span > 0 else float("nan"),
        "send_s": (sent["last_ns"] - sent["first_ns"]) / 1e9,
        "drain_max_s": max(c["drain_s"] for c in per),
        "cpu": cpu1 - cpu0, "wall": (t1 - t0) / 1e9, "clients_cpu": ccpu1 - ccpu0,
        "sender_cpu": flood_cpu, "machine_busy": busy, "client_impl": clients.name,
        "stopped_early": stopped_early, "cmd": server.cmd,
    }


def print_fanout(r, args):
    print(f"  {r['clients']} clients ({r['open']} opened), {r['rate']} packets/s for "
          f"{r['send_s']:.2f} s: sent {r['sent']}, packet_logs made {r['made']} records, "
          f"kernel drops {r['kernel_drops']}")
    print("  per client (received/dropped; * = did not keep up):")
    cells = []
    for i, c in enumerate(r["per_client"]):
        mark = "" if c["complete"] and c["drain_s"] <= args.max_drain else "*"
        extra = f" gap {c['gap_records']}" if c["gap_records"] else ""
        cells.append(f"c{i:02d} {c['received']}/{c['dropped']}{extra}{mark}")
    for i in range(0, len(cells), 5):
        print("    " + "  ".join(f"{x:24s}" for x in cells[i:i + 5]).rstrip())
    print(f"  delivered {r['delivered']} records to the clients, {r['delivered_per_s']:.0f} "
          f"records/s (first packet to last record); dropped {r['dropped']} "
          f"(server's stream drops {r['server_stream_drops']})")
    print(f"  the last client's last record came {r['drain_max_s']:.2f} s after the last packet")
    print(f"  complete (every record, none dropped, no gap): {r['complete']}/{r['clients']}; "
          f"kept up (complete, last record within {args.max_drain:g} s): "
          f"{r['keep_up']}/{r['clients']}")
    print(f"  CPU over {r['wall']:.1f} s: packet_logs {r['cpu']:.2f} s "
          f"({100 * r['cpu'] / r['wall']:.0f}% of a core, "
          f"{r['cpu'] / max(1, r['delivered']) * 1e6:.2f} us per record delivered), "
          f"{r['client_impl']} {r['clients_cpu']:.2f} s ({100 * r['clients_cpu'] / r['wall']:.0f}%), "
          f"sender {r['sender_cpu']:.2f} s")
    others = r["machine_busy"] - r["cpu"] - r["clients_cpu"] - r["sender_cpu"]
    print(f"  machine: {r['machine_busy']:.1f} CPU-s busy of {r['wall'] * os.cpu_count():.1f} "
          f"({os.cpu_count()} CPUs); outside these three processes (kernel threads, other "
          f"users' work): {max(0.0, others):.1f} CPU-s")


# --------------------------------------------------------------- main

def main():
    ap = argparse.ArgumentParser(description="packet_logs' WebSocket stream: latency and fan-out")
    ap.add_argument("--binary", default=os.path.join(HERE, "..", "build", "packet_logs"))
    ap.add_argument("--latency-rate", type=int, default=1000)
    ap.add_argument("--latency-seconds", type=int, default=10)
    ap.add_argument("--clients", type=int, default=100)
    ap.add_argument("--rate", type=int, default=10000)
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--max-drain", type=float, default=1.0,
                    help="seconds after the last packet within which a client that keeps up "
                         "has its last record")
    ap.add_argument("--client-impl", choices=("lws", "raw"), default="lws",
                    help="stream clients: lws (bench/ws_clients.c, libwebsockets) or raw "
                         "(bench/ws_raw_clients.c, epoll and a block frame parser)")
    ap.add_argument("--qthreshold", type=int, help="passed to packet_logs (default: its own, 16)")
    ap.add_argument("--qtimeout", type=int, help="ms, passed to packet_logs (default: its own, 10)")
    ap.add_argument("--no-latency", action="store_true")
    ap.add_argument("--no-fanout", action="store_true")
    ap.add_argument("--no-search", action="store_true",
                    help="do not search for the highest rate all clients keep up with")
    ap.add_argument("--json", help="write every result to this file")
    args = ap.parse_args()
    args.binary = os.path.abspath(args.binary)
    if os.geteuid() != 0:
        print("stream_bench: run as root (network namespace, nftables, NFLOG)", file=sys.stderr)
        return 2
    if args.rate > 1000000 or args.latency_rate > 1000000 or args.seconds > 600 \
            or args.latency_seconds > 600 or not 1 <= args.clients <= 4000:
        print("stream_bench: rates up to 1,000,000/s, up to 600 s, 1 to 4000 clients",
              file=sys.stderr)
        return 2

    workdir = tempfile.mkdtemp(prefix="plstream")
    flood_bin = build(workdir, "stamp_flood")
    if args.client_impl == "lws":
        clients_bin = os.path.join(workdir, "ws_clients")
        lws = shlex.split(sh("pkg-config", "--cflags", "--libs", "libwebsockets",
                             capture_output=True, text=True).stdout)
        sh("cc", "-O2", "-Wall", "-o", clients_bin, os.path.join(HERE, "ws_clients.c"), *lws)
    else:
        clients_bin = build(workdir, "ws_raw_clients")

    results = {"argv": sys.argv}
    lat = None
    fan = None
    search = []
    try:
        lab(NS, [(f"udp dport {PORT}", [("wan:in ", GROUP)])])
        if not args.no_latency:
            lat = run_latency(args, flood_bin)
            results["latency"] = lat
        if not args.no_fanout:
            fan = run_fanout(args, flood_bin, clients_bin, args.rate)
            results["fanout"] = fan
            if fan["keep_up"] < args.clients and not args.no_search:
                # the highest rate (in steps of 250/s) at which every client keeps up
                lo, hi = 0, args.rate
                while hi - lo > max(250, args.rate // 40):
                    mid = (lo + hi) // 2 // 250 * 250 or 250
                    if mid <= lo:
                        break
                    r = run_fanout(args, flood_bin, clients_bin, mid, probe=True)
                    search.append(r)
                    if r["keep_up"] == args.clients:
                        lo = mid
                    else:
                        hi = mid
                results["search"] = search
                results["highest_kept_up_rate"] = lo
    finally:
        sh("ip", "netns", "del", NS, check=False)
        shutil.rmtree(workdir, ignore_errors=True)
        if args.json:
            with open(args.json, "w") as f:
                json.dump(results, f, indent=1)

    load = open("/proc/loadavg").read().split()[:3]
    print(f"stream benchmark: ns {NS}, rule 'udp dport {PORT} log prefix \"wan:in \" group {GROUP}' "
          f"(output hook, loopback); {os.cpu_count()} CPUs; load average {' '.join(load)}")
    print(f"reproduce (as root, in {os.getcwd()}): /usr/bin/python3 "
          f"{' '.join(shlex.quote(a) for a in sys.argv)}")
    ok = True
    if lat:
        q = "defaults (16 packets / 10 ms)" if args.qthreshold is None and args.qtimeout is None \
            else f"--qthreshold {args.qthreshold} --qtimeout {args.qtimeout}"
        met = lat["p99_ms"] < LATENCY_TARGET_MS and lat["missing"] == 0 and lat["dropped"] == 0
        ok &= met
        print(f"1. latency, packet sent -> record at a WebSocket client; {args.latency_rate} "
              f"packets/s for {args.latency_seconds} s; batching {q}")
        print(f"  sent {lat['sent']}, records received {lat['received']} ({lat['missing']} missing, "
              f"{lat['dropped']} dropped, {lat['other']} other); packet_logs made "
              f"{lat['server_records']}, kernel drops {lat['kernel_drops']}")
        print(f"  latency p50 {lat['p50_ms']:.2f} ms, p99 {lat['p99_ms']:.2f} ms "
              f"(min {lat['min_ms']:.2f}, max {lat['max_ms']:.2f}); target p99 < "
              f"{LATENCY_TARGET_MS:g} ms: {'ok' if met else 'NOT MET'}")
        print(f"  split at the record's Timestamp: send -> Timestamp p50 {lat['to_ts_p50']:.2f} / "
              f"p99 {lat['to_ts_p99']:.2f} ms, Timestamp -> client p50 {lat['from_ts_p50']:.2f} / "
              f"p99 {lat['from_ts_p99']:.2f} ms")
        print(f"  CPU over {lat['wall']:.1f} s: packet_logs {lat['cpu']:.2f} s; machine busy "
              f"{lat['machine_busy']:.1f} CPU-s of {lat['wall'] * os.cpu_count():.1f}")
    if fan:
        met = fan["keep_up"] == args.clients and fan["made"] == fan["sent"]
        ok &= met
        print(f"2. fan-out: {args.clients} clients at {args.rate} records/s; target: every "
              f"client receives every record: {'ok' if met else 'NOT MET'}")
        print_fanout(fan, args)
        if search:
            print(f"  search for the highest rate all {args.clients} clients keep up with:")
            for r in search:
                print(f"    {r['rate']:6d}/s: kept up {r['keep_up']}/{r['clients']}, complete "
                      f"{r['complete']}, {r['delivered_per_s']:.0f} records/s delivered, last record "
                      f"{r['drain_max_s']:.2f} s after{' (stopped waiting)' if r['stopped_early'] else ''}, "
                      f"CPU-s: packet_logs {r['cpu']:.2f}, clients {r['clients_cpu']:.2f}, "
                      f"machine {r['machine_busy']:.1f} of {r['wall'] * os.cpu_count():.1f}")
            print(f"  highest rate kept up with (of those tried): "
                  f"{results['highest_kept_up_rate']}/s" if results["highest_kept_up_rate"]
                  else "  no rate tried was kept up with")
    print("result:", "ok" if ok else "NOT MET")
    return 0 if ok else 1


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--latency-client":
        port, path, expect, max_s, idle = sys.argv[2:7]
        latency_client_main(int(port), path, int(expect), float(max_s), float(idle))
        sys.exit(0)
    sys.exit(main())
