"""--coalesce (issue 11): when packets come fast enough that a wait gathers
two kernel batches or more, the NFLOG thread waits before reading again, so
that one wakeup reads them all; a moderate rate is read batch by batch and
a trickle at once. Measured on the real thread (its name is pl-nflog) by the kernel's
count of its voluntary context switches (each one a sleep and a wakeup)
while a burst of real packets goes through SPR's log rules."""
import os
import time

import pytest

from conftest import PY, WAN_ROUTER4, ns_sh, received_and_lost

BURST_PORT = 7620
TRICKLE_PORT = 7621
PACED_PORT = 7622
BURST = 40000


def nflog_thread_switches(pid):
    """The NFLOG thread's voluntary context switches, from /proc."""
    for tid in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{tid}/comm") as f:
            if f.read().strip() != "pl-nflog":
                continue
        with open(f"/proc/{pid}/task/{tid}/status") as f:
            for line in f:
                if line.startswith("voluntary_ctxt_switches:"):
                    return int(line.split()[1])
    raise AssertionError(f"no pl-nflog thread in {pid}")


def burst(net, traffic, start_server, coalesce):
    """Wakeups of the NFLOG thread for a burst of BURST packets, how long
    the burst took, and the reads and waits /metrics counted."""
    server = start_server(net.router, ["--coalesce", str(coalesce),
                                       "--history-records", str(2 * BURST)])
    before = nflog_thread_switches(server.proc.pid)
    start = time.monotonic()
    traffic.udp(net.wan, WAN_ROUTER4, BURST_PORT, payload=bytes(64), count=BURST)
    took = time.monotonic() - start
    records, lost = received_and_lost(server.settled(want=BURST))
    switches = nflog_thread_switches(server.proc.pid) - before
    # no packet missing: a record each (a loaded machine may lose a few,
    # counted, not silently)
    assert lost < BURST // 100 and records + lost >= BURST, (records, lost)
    assert server.records({"dport": BURST_PORT, "limit": 1})[0]["UDP"]["DstPort"] == BURST_PORT
    m = server.metrics()
    counted = (m["packet_logs_nflog_reads_total"], m["packet_logs_nflog_coalesce_waits_total"])
    server.stop()
    return switches, took, counted


@pytest.mark.timing
def test_a_burst_is_read_in_fewer_wakeups_with_every_record(net, traffic, start_server):
    eager, _, (eager_reads, eager_waits) = burst(net, traffic, start_server, 0)
    waiting, took, (reads, waits) = burst(net, traffic, start_server, 20)
    # 20 ms between reads under load: about took / 20 ms wakeups, plus the
    # burst's first read and the settling reads of /metrics' ticks
    assert waiting < took / 0.020 * 2 + 30, (waiting, eager, took)
    assert waiting * 2 < eager, (waiting, eager, took)
    # /metrics says so: no wait without --coalesce, a read after each wait
    assert eager_waits == 0 and eager_reads >= eager // 2, (eager_reads, eager)
    assert 1 <= waits <= reads < eager_reads // 2, (waits, reads, eager_reads)


_PACED = r"""
import socket, sys, time
dst, dport, rate, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
start = time.monotonic()
for i in range(count):
    delay = start + i / rate - time.monotonic()
    if delay > 0:
        time.sleep(delay)
    s.sendto(bytes(64), (dst, dport))
"""


def paced(net, start_server, coalesce, rate, count):
    """Wakeups of the NFLOG thread for count packets at rate a second."""
    server = start_server(net.router, ["--coalesce", str(coalesce)])
    before = nflog_thread_switches(server.proc.pid)
    ns_sh(net.wan, PY, "-c", _PACED, WAN_ROUTER4, PACED_PORT, rate, count, timeout=60)
    records, lost = received_and_lost(server.settled(want=count))
    switches = nflog_thread_switches(server.proc.pid) - before
    assert lost == 0 and records >= count, (records, lost)
    server.stop()
    return switches


@pytest.mark.timing
def test_a_moderate_rate_is_read_batch_by_batch(net, start_server):
    """2,000 packets/s fill a kernel batch of 16 every 8 ms: a 5 ms wait
    would gather less than two of them, so none is made (each would be a
    wakeup of its own on top of the batch's)."""
    eager = paced(net, start_server, 0, 2000, 4000)
    waiting = paced(net, start_server, 5, 2000, 4000)
    assert waiting < eager * 1.3 + 20, (waiting, eager)


_SEND_ONE = r"""
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(('', int(sys.argv[3])))
s.sendto(b'trickle', (sys.argv[1], int(sys.argv[2])))
print(time.time())
"""


@pytest.mark.timing
def test_a_trickle_is_read_at_once_even_after_a_burst(net, traffic, start_server):
    """One packet at a time is far from two batches a wait: read as soon as
    the kernel hands it over, with the longest --coalesce and right after a
    burst made the thread wait."""
    server = start_server(net.router, ["--coalesce", "100"])
    traffic.udp(net.wan, WAN_ROUTER4, BURST_PORT, payload=bytes(64), count=BURST // 4)
    server.settled(want=BURST // 4)
    latencies = []
    for i in range(10):
        sent = float(ns_sh(net.wan, PY, "-c", _SEND_ONE, WAN_ROUTER4, TRICKLE_PORT,
                           41000 + i).stdout)
        while not server.records({"sport": 41000 + i, "limit": 1}):
            assert time.time() - sent < 5, "a trickle's record did not come"
            time.sleep(0.002)
        latencies.append(time.time() - sent)
    latencies.sort()
    # the kernel's batch timeout (10 ms) and the tools' own time: far less
    # than the 100 ms a wait would add to every one
    assert latencies[len(latencies) // 2] < 0.080, latencies
