"""Bridge-family logging: a `table bridge` log rule on a bridge between two
client namespaces. IP frames decode like inet ones; ARP, which only a bridge
rule sees, still gives a record, with an Error naming its ethertype."""
import json
import os
import subprocess
import time

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BINARY = os.environ.get("PACKET_LOGS_BINARY", os.path.join(REPO, "build", "packet_logs"))
PORT = 18093


def run(*args, **kw):
    return subprocess.run(list(args), check=True, capture_output=True, **kw)


@pytest.fixture
def bridge():
    base = f"plbr{os.getpid()}"
    names = {"r": base + "r", "a": base + "a", "b": base + "b"}
    for ns in names.values():
        subprocess.run(["ip", "netns", "del", ns], capture_output=True)
        run("ip", "netns", "add", ns)
    proc = None
    try:
        r = names["r"]
        run("ip", "-n", r, "link", "set", "lo", "up")
        run("ip", "-n", r, "link", "add", "br0", "type", "bridge")
        run("ip", "-n", r, "link", "set", "br0", "up")
        for side, addr in (("a", "10.77.0.1/24"), ("b", "10.77.0.2/24")):
            run("ip", "link", "add", "v" + side, "netns", r, "type", "veth", "peer", "name",
                "eth0", "netns", names[side])
            run("ip", "-n", r, "link", "set", "v" + side, "master", "br0", "up")
            run("ip", "-n", names[side], "link", "set", "eth0", "up")
            run("ip", "-n", names[side], "addr", "add", addr, "dev", "eth0")
        rules = ('table bridge t {\n chain f {\n  type filter hook forward priority 0;\n'
                 '  log prefix "lan:out " group 0\n }\n}\n')
        run("ip", "netns", "exec", r, "nft", "-f", "-", input=rules.encode())
        proc = subprocess.Popen(["ip", "netns", "exec", r, BINARY, "--listen",
                                 f"127.0.0.1:{PORT}", "--quiet"], stderr=subprocess.PIPE)
        for _ in range(100):
            if subprocess.run(["ip", "netns", "exec", r, "curl", "-sf",
                               f"http://127.0.0.1:{PORT}/healthz"],
                              capture_output=True).returncode == 0:
                break
            time.sleep(0.05)
        yield names
    finally:
        if proc:
            proc.terminate()
            assert proc.wait(timeout=5) == 0
        for ns in names.values():
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)


def records(names):
    out = run("ip", "netns", "exec", names["r"], "curl", "-sf",
              f"http://127.0.0.1:{PORT}/packet_logs?limit=1000&order=asc").stdout
    return json.loads(out)


def test_bridge_rule_logs_ip_and_arp(bridge):
    run("ip", "netns", "exec", bridge["a"], "ping", "-c", "2", "-W", "1", "10.77.0.2")
    deadline = time.time() + 5
    while time.time() < deadline:
        got = records(bridge)
        icmp = [r for r in got if "ICMPv4" in r and r.get("IP", {}).get("SrcIP") == "10.77.0.1"]
        arp = [r for r in got if "not an IP packet: ethertype 0x0806 (ARP)" in r.get("Error", "")]
        if len(icmp) >= 2 and arp:
            break
        time.sleep(0.05)
    assert len(icmp) >= 2, got
    assert arp, [r.get("Error") for r in got]
    for r in icmp + arp:
        assert r["Prefix"] == "lan:out "
        assert r["Action"] == "allowed"
        assert r["InDev"] == "br0" and r["OutDev"] == "br0"
        assert r["Ethernet"]["HwType"] == 1
    assert icmp[0]["IP"]["DstIP"] == "10.77.0.2"
    assert "IP" not in arp[0] and "IPv6" not in arp[0]
