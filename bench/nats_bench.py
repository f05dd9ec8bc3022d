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
the CPU of nats-server per message, and the records published per second.

The stream is the one packet_logs creates, unless --storage or
--duplicate-window ask for another: then the bench creates it first
through the JetStream API (packet_logs uses an existing stream as it is).
--perf FILE records `perf record -g` of packet_logs during the --nats run.

--server-only measures nats-server alone: a client of the text protocol
sends RATE messages/s of a record's size for SECONDS (HPUB with a
Nats-Msg-Id and a reply subject for the PubAck, as packet_logs does;
--no-ack and --no-msg-id leave either out) and reads the acknowledgments;
reported: nats-server's CPU per message.

--client-floor measures the client library alone: bench/nats_floor.c
publishes RATE messages/s for SECONDS in each of its modes (plain, header,
acks, js: see there); reported: its CPU per message, and nats-server's.

Usage (root): bench/nats_bench.py --binary build/packet_logs [--repeat N]
"""
import argparse
import ctypes
import json
import os
import socket
import statistics
import threading
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import benchlib
from benchlib import cpu_seconds, metric, netns_cmd, sh

HERE = os.path.dirname(os.path.abspath(__file__))
NS = f"plnbench{os.getpid()}"
GROUP = 5
PORT = 5001
NATS_PORT = 14222


def in_ns(*args):
    return netns_cmd(NS, *args)


_libc = ctypes.CDLL(None, use_errno=True)


def connect_in_ns(port):
    """A TCP connection to 127.0.0.1:port in the namespace (setns for this
    thread while the socket is made)."""
    orig = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    target = os.open(f"/run/netns/{NS}", os.O_RDONLY)
    try:
        if _libc.setns(target, 0x40000000) != 0:
            raise OSError(ctypes.get_errno(), "setns")
        return socket.create_connection(("127.0.0.1", port), timeout=10)
    finally:
        _libc.setns(orig, 0x40000000)
        os.close(orig)
        os.close(target)


def nats_request(subject, payload):
    """One request to the JetStream API over the text protocol."""
    sock = connect_in_ns(NATS_PORT)
    try:
        f = sock.makefile("rb")
        f.readline()  # INFO
        body = json.dumps(payload).encode()
        sock.sendall(b'CONNECT {"verbose":false,"headers":true}\r\nSUB _bench.r 1\r\n'
                     + f"PUB {subject} _bench.r {len(body)}\r\n".encode() + body + b"\r\n")
        while True:
            line = f.readline().split()
            if line and line[0] == b"MSG":
                return json.loads(f.read(int(line[-1]) + 2)[:-2])
            if line and line[0] == b"PING":
                sock.sendall(b"PONG\r\n")
    finally:
        sock.close()


def create_stream(args):
    cfg = {"name": "PACKET_LOGS", "subjects": ["packet_logs.>"], "storage": args.storage,
           "num_replicas": 1, "max_bytes": 1 << 30, "retention": "limits", "discard": "old"}
    if args.duplicate_window is not None:
        cfg["duplicate_window"] = int(args.duplicate_window * 1e9)
    r = nats_request("$JS.API.STREAM.CREATE.PACKET_LOGS", cfg)
    if "error" in r:
        raise SystemExit(f"creating the stream: {r['error']}")
    return r["config"]


def stream_messages():
    return nats_request("$JS.API.STREAM.INFO.PACKET_LOGS", {})["state"]["messages"]


def server_only(args, nats_pid):
    """nats-server alone: RATE messages/s like packet_logs' for SECONDS."""
    payload = b'{"x":"' + b"y" * 440 + b'"}'  # a record's size (~450 bytes)
    sock = connect_in_ns(NATS_PORT)
    sock.recv(4096)  # INFO
    sock.sendall(b'CONNECT {"verbose":false,"headers":true}\r\nSUB _bench.ack.* 1\r\n')
    acks = [0]
    done = threading.Event()

    def reader():
        buf = b""
        while not done.is_set():
            try:
                chunk = sock.recv(1 << 20)
            except OSError:
                return
            if not chunk:
                return
            buf += chunk
            acks[0] += buf.count(b"MSG _bench.ack")
            buf = buf[-64:] if b"MSG _bench.ack" not in buf[-64:] else b""
            if b"PING\r\n" in chunk:
                sock.sendall(b"PONG\r\n")

    t = threading.Thread(target=reader, daemon=True)
    t.start()
    start_msgs = stream_messages()
    before = cpu_seconds(nats_pid)
    chunk = max(1, args.rate // 100)  # every 10 ms
    total = args.rate * args.seconds
    start = time.monotonic()
    seq = 0
    run_id = time.monotonic_ns()  # ids of two runs never collide
    while seq < total:
        frames = []
        for _ in range(min(chunk, total - seq)):
            seq += 1
            hdr = b"NATS/1.0\r\n"
            if not args.no_msg_id:
                hdr += b"Nats-Msg-Id: bench.%d.%d\r\n" % (run_id, seq)
            hdr += b"\r\n"
            reply = b" _bench.ack.%d" % seq if not args.no_ack else b""
            frames.append(b"HPUB packet_logs.bench.wan:in%s %d %d\r\n%s%s\r\n"
                          % (reply, len(hdr), len(hdr) + len(payload), hdr, payload))
        sock.sendall(b"".join(frames))
        ahead = start + seq / args.rate - time.monotonic()
        if ahead > 0:
            time.sleep(ahead)
    sent_time = time.monotonic() - start
    stored = wait_quiet(lambda: stream_messages() - start_msgs)
    cpu = cpu_seconds(nats_pid) - before
    done.set()
    sock.close()
    return {"sent": total, "stored": stored, "acks": acks[0], "nats_cpu": cpu,
            "send_seconds": sent_time, "rss": rss_mb(nats_pid)}


def rss_mb(pid):
    with open(f"/proc/{pid}/status") as f:
        return int(re.search(r"^VmRSS:\s+(\d+)", f.read(), re.M).group(1)) / 1024


def flood(binary, rate, seconds):
    return benchlib.flood(NS, binary, PORT, rate, seconds)


def http_get(port, path):
    return benchlib.http_get(NS, port, path)


def wait_quiet(read_count):
    return benchlib.wait_quiet(read_count, timeout=60.0)


def run(args, flood_bin, http_port, nats_pid, extra, perf=None):
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
        recorder = None
        if perf:
            recorder = subprocess.Popen(["perf", "record", "-g", "-o", perf, "-p", str(proc.pid),
                                         "--", "sleep", str(args.seconds)],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        sent = flood(flood_bin, args.rate, args.seconds)
        if recorder:
            recorder.wait()
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
        # its warnings (--quiet keeps the rest out): resends, refusals
        for line in proc.stderr.read().decode(errors="replace").splitlines()[:5]:
            print("  packet_logs:", line)


def main():
    ap = argparse.ArgumentParser(description="packet_logs with and without --nats")
    ap.add_argument("--binary", required=True)
    ap.add_argument("--rate", type=int, default=100000)
    ap.add_argument("--seconds", type=int, default=5)
    ap.add_argument("--repeat", type=int, default=1, help="runs of both (medians reported)")
    ap.add_argument("--storage", choices=("file", "memory"), default=None,
                    help="create the stream first with this storage")
    ap.add_argument("--duplicate-window", type=float, default=None, metavar="SECONDS",
                    help="create the stream first with this duplicate window")
    ap.add_argument("--perf", metavar="FILE", help="perf record -g of packet_logs (--nats run)")
    ap.add_argument("--server-only", action="store_true", help="nats-server alone (see above)")
    ap.add_argument("--no-ack", action="store_true", help="--server-only: no reply subject")
    ap.add_argument("--no-msg-id", action="store_true", help="--server-only: no Nats-Msg-Id")
    ap.add_argument("--extra", default="", help="more options for the --nats run")
    ap.add_argument("--client-floor", action="store_true", help="libnats alone (nats_floor.c)")
    args = ap.parse_args()
    if (args.duplicate_window is not None or args.server_only or args.client_floor) \
            and not args.storage:
        args.storage = "file"
    args.binary = os.path.abspath(args.binary)
    nats_server = shutil.which("nats-server") or "/usr/sbin/nats-server"

    workdir = tempfile.mkdtemp(prefix="plnbench")
    flood_bin = benchlib.build(workdir, "udp_flood")
    with open(os.path.join(workdir, "nats.conf"), "w") as f:
        f.write(f'listen: "127.0.0.1:{NATS_PORT}"\njetstream {{ store_dir: "{workdir}/js" }}\n')
    nats = None
    try:
        benchlib.lab(NS, [(f"udp dport {PORT}", [("wan:in ", GROUP)])])
        nats = subprocess.Popen(in_ns(nats_server, "-c", os.path.join(workdir, "nats.conf")),
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(1)
        if args.storage:
            c = create_stream(args)
            print(f"stream: {c['storage']} storage, duplicate window "
                  f"{c.get('duplicate_window', 0) / 1e9:g} s")
        if args.client_floor:
            floor_bin = os.path.join(workdir, "nats_floor")
            sh("cc", "-O2", "-o", floor_bin, os.path.join(HERE, "nats_floor.c"), "-lnats")
            for _ in range(args.repeat):
                for mode in ("plain", "header", "acks", "js"):
                    before = cpu_seconds(nats.pid)
                    out = sh(*in_ns(floor_bin, f"nats://127.0.0.1:{NATS_PORT}", mode,
                                    str(args.rate), str(args.rate * args.seconds)),
                             capture_output=True, text=True).stdout.strip()
                    server = (cpu_seconds(nats.pid) - before) / (args.rate * args.seconds) * 1e6
                    print(f"{out}; nats-server {server:.2f} us/message", flush=True)
            return 0
        if args.server_only:
            for _ in range(args.repeat):
                r = server_only(args, nats.pid)
                print(f"server-only ack={not args.no_ack} msg-id={not args.no_msg_id}: sent "
                      f"{r['sent']} in {r['send_seconds']:.1f} s, stored {r['stored']}, acks "
                      f"{r['acks']}, nats-server CPU {r['nats_cpu']:.2f} s, "
                      f"{r['nats_cpu'] / r['sent'] * 1e6:.2f} us/message, RSS {r['rss']:.0f} MB")
            return 0
        runs = []
        for i in range(args.repeat):
            plain = run(args, flood_bin, 18081, nats.pid, [])
            pub = run(args, flood_bin, 18082, nats.pid,
                      ["--nats", f"nats://127.0.0.1:{NATS_PORT}", "--host-name", "bench",
                       *args.extra.split()],
                      perf=args.perf if i == 0 else None)
            runs.append((plain, pub))
            report(args, plain, pub)
    finally:
        if nats:
            nats.kill()
            nats.wait()
        sh("ip", "netns", "del", NS, check=False)
        shutil.rmtree(workdir, ignore_errors=True)

    if len(runs) > 1:
        def med(values):
            return f"median {statistics.median(values):.2f} (range {min(values):.2f}-{max(values):.2f})"
        print(f"{len(runs)} runs:")
        print("  plain us/record", med([p["cpu"] / p["records"] * 1e6 for p, _ in runs]))
        print("  --nats us/record", med([q["cpu"] / q["records"] * 1e6 for _, q in runs]))
        print("  ratio", med([(q["cpu"] / q["records"]) / (p["cpu"] / p["records"])
                              for p, q in runs]))
        print("  published/s", med([q["rate"] for _, q in runs]))
        print("  lost %", med([q["lost"] / q["records"] * 100 for _, q in runs]))
        print("  nats-server us/message",
              med([q["nats_cpu"] / max(q["published"], 1) * 1e6 for _, q in runs]))
    return 0 if all(ok(p, q) for p, q in runs) else 1


def ok(plain, pub):
    ratio = (pub["cpu"] / pub["records"]) / (plain["cpu"] / plain["records"])
    return (pub["published"] == pub["records"] == pub["sent"] and pub["lost"] == 0 and
            pub["drops"] == 0 and ratio <= 2)


def report(args, plain, pub):
    print(f"rule: udp dport {PORT} log group {GROUP}; {args.rate} packets/s for {args.seconds} s")
    for name, r in (("plain", plain), ("--nats", pub)):
        per = r["cpu"] / r["records"] * 1e6 if r["records"] else float("nan")
        print(f"{name:8s} sent {r['sent']}, records {r['records']}, published {r['published']}, "
              f"lost {r['lost']}, kernel drops {r['drops']}, CPU {r['cpu']:.2f} s, "
              f"{per:.2f} us/record; nats-server CPU {r['nats_cpu']:.2f} s")
    print(f"nats-server: {pub['nats_cpu'] / max(pub['published'], 1) * 1e6:.2f} us per message")
    ratio = (pub["cpu"] / pub["records"]) / (plain["cpu"] / plain["records"])
    print(f"published {pub['rate']:.0f} records/s (flood start to the last acknowledgment)")
    print(f"ratio: CPU per record with --nats = {ratio:.2f} x without (target: at most 2)")
    ok = (pub["published"] == pub["records"] == pub["sent"] and pub["lost"] == 0 and
          pub["drops"] == 0 and ratio <= 2)
    print("result:", "ok" if ok else "NOT MET")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
