"""
/metrics as operators use it, from the real server: the whole text passes
`promtool check metrics` (Debian's prometheus package; scripts/install-deps.sh
--test installs it); packet_logs_records_total{prefix,action} counts real
NFLOG records per prefix with a bounded label set (a ruleset that logs more
prefixes than the bound gets "other"); packet_logs_build_info carries the
version that --version prints; process_start_time_seconds is the start.

Run as root:  /usr/bin/python3 -m pytest tests/integration/test_metrics.py
"""
import re
import shutil
import subprocess
import time

import pytest

from conftest import BINARY, WAN_ROUTER4, Server, ns_sh

LABELS = 32                 # PL_PREFIXES_METRIC_LABELS (server/pl_prefixes.h)
EXTRA = 8                   # prefixes past the bound
GROUP = 21                  # this module's own NFLOG group: nothing else logs to it
BASE_PORT = 7300            # prefix i is logged for UDP to BASE_PORT + i
TABLE = "plmetrics"


def rules(n):
    lines = [f'    udp dport {BASE_PORT + i} log prefix "m{i:02d}:in " group {GROUP}'
             for i in range(n)]
    return (f"table inet {TABLE} {{\n  chain INPUT {{\n"
            f"    type filter hook input priority -20; policy accept;\n"
            + "\n".join(lines) + "\n  }\n}\n")


@pytest.fixture(scope="module")
def many_prefixes(net):
    ns_sh(net.router, "nft", "-f", "-", input=rules(LABELS + EXTRA))
    try:
        yield LABELS + EXTRA
    finally:
        ns_sh(net.router, "nft", "delete", "table", "inet", TABLE, check=False)


def promtool():
    path = shutil.which("promtool")
    if not path:
        pytest.fail("promtool is missing: apt-get install prometheus "
                    "(scripts/install-deps.sh --test installs it)")
    return path


def samples(text, name):
    """{labels text: value} of the samples of one metric."""
    out = {}
    for m in re.finditer(rf"^{name}(\{{[^\n]*\}})? (\S+)$", text, re.M):
        out[m.group(1) or ""] = float(m.group(2))
    return out


def test_metrics_pass_promtool_with_a_bounded_prefix_label(net, traffic, many_prefixes,
                                                           start_server):
    before = time.time()
    s = start_server(net.router, ["--group", f"{GROUP}:allowed"])
    after = time.time()
    n = many_prefixes
    # prefix i gets i + 1 records: each count tells which prefix it is
    for i in range(n):
        traffic.udp(net.wan, WAN_ROUTER4, BASE_PORT + i, count=i + 1)
    total = n * (n + 1) // 2
    deadline = time.monotonic() + 15
    while s.health()["newest_seq"] < total:
        assert time.monotonic() < deadline, f"only {s.health()['newest_seq']} of {total} records"
        time.sleep(0.05)

    r = s.get("/metrics")
    assert r.status_code == 200
    text = r.text
    res = subprocess.run([promtool(), "check", "metrics"], input=text, capture_output=True,
                         text=True, timeout=30)
    assert res.returncode == 0 and not res.stdout.strip() and not res.stderr.strip(), \
        f"promtool check metrics:\n{res.stdout}{res.stderr}\n--- the text:\n{text}"

    counts = samples(text, "packet_logs_records_total")
    expected = {f'{{prefix="m{i:02d}:in",action="allowed"}}': i + 1 for i in range(LABELS)}
    expected['{prefix="other",action="allowed"}'] = sum(i + 1 for i in range(LABELS, n))
    assert counts == expected, counts
    assert "# TYPE packet_logs_records_total counter\n" in text
    assert sum(counts.values()) == samples(text, "packet_logs_records_received_total")[""]

    version = subprocess.run([str(BINARY), "--version"], capture_output=True, text=True,
                             check=True).stdout.split()[-1]
    assert re.fullmatch(r"\d+\.\d+\.\d+", version), version
    assert samples(text, "packet_logs_build_info") == {f'{{version="{version}"}}': 1.0}
    assert "# TYPE packet_logs_build_info gauge\n" in text

    start = samples(text, "process_start_time_seconds")[""]
    assert "# TYPE process_start_time_seconds gauge\n" in text
    assert before - 1 <= start <= after + 1, (before, start, after)


def test_metrics_of_a_fresh_server_pass_promtool(net, start_server):
    """No record yet: the families are there, without samples, and valid."""
    s = start_server(net.router, ["--group", f"{GROUP + 1}:allowed"])
    text = s.get("/metrics").text
    res = subprocess.run([promtool(), "check", "metrics"], input=text, capture_output=True,
                         text=True, timeout=30)
    assert res.returncode == 0, f"{res.stdout}{res.stderr}\n--- the text:\n{text}"
    assert samples(text, "packet_logs_records_total") == {}
    assert "# HELP packet_logs_records_total " in text
    assert samples(text, "packet_logs_build_info")
