"""`packet_logs decode`: the decoder over a capture, as people and the
benchmarks use it. Its output is checked record by record against the
reference by tests/parity; here: flags, exit statuses and messages."""
import json
import os
import struct
import subprocess

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BINARY = os.environ.get("PACKET_LOGS_BINARY", os.path.join(REPO, "build", "packet_logs"))
CORPUS = os.path.join(REPO, "tests", "corpus", "pcap")
SAMPLE = os.path.join(CORPUS, "dhcp-rfc5859.pcap")


def decode(*args):
    return subprocess.run([BINARY, "decode", *args], capture_output=True, text=True, timeout=60)


def pcap(path, linktype, packets):
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, linktype))
        for i, data in enumerate(packets):
            f.write(struct.pack("<IIII", 1764201600 + i, 250000, len(data), len(data)))
            f.write(data)


UDP4 = bytes.fromhex("4500001e0001000040110000c0000201c0000202303900350000000a6869")
ETHER = bytes.fromhex("0200000000010200000000020800") + UDP4


def test_flags_fill_the_metadata(tmp_path):
    f = tmp_path / "raw.pcap"
    pcap(f, 101, [UDP4, UDP4])  # LINKTYPE_RAW
    r = decode("--prefix", "drop:input ", "--action", "blocked", "--indev", "wan0",
               "--outdev", "lan0", "--seq", str(f))
    assert r.returncode == 0, r.stderr
    recs = [json.loads(line) for line in r.stdout.splitlines()]
    assert [x["Seq"] for x in recs] == [1, 2]
    assert recs[0]["Prefix"] == "drop:input " and recs[0]["Action"] == "blocked"
    assert recs[0]["InDev"] == "wan0" and recs[0]["OutDev"] == "lan0"
    assert recs[0]["Timestamp"] == "2025-11-27T00:00:00.25Z"
    assert "Ethernet" not in recs[0] and recs[0]["IP"]["SrcIP"] == "192.0.2.1"


def test_ethernet_frames_give_their_macs_and_other_ethertypes_are_skipped(tmp_path):
    f = tmp_path / "eth.pcap"
    arp = bytes.fromhex("ffffffffffff020000000002" "0806") + bytes(28)
    pcap(f, 1, [ETHER, arp, ETHER])
    r = decode(str(f))
    assert r.returncode == 0, r.stderr
    recs = [json.loads(line) for line in r.stdout.splitlines()]
    assert len(recs) == 2  # the ARP frame: no inet rule sees it
    assert recs[0]["Ethernet"] == {"SrcMAC": "02:00:00:00:00:02", "DstMAC": "02:00:00:00:00:01",
                                   "HwType": 1}
    assert recs[0]["Prefix"] == "lan:in " and recs[0]["InDev"] == "eth0"


@pytest.mark.parametrize("make, words", [
    (None, "No such file"),
    (lambda p: p.write_text("not a capture\n"), "unknown file format"),
    (lambda p: pcap(p, 113, [UDP4]), "link type"),  # Linux cooked capture
])
def test_a_file_that_is_no_usable_capture_exits_2_with_a_message(tmp_path, make, words):
    f = tmp_path / "bad.pcap"
    if make:
        make(f)
    r = decode(str(f))
    assert r.returncode == 2
    assert words in r.stderr and r.stdout == ""


def test_a_capture_cut_short_prints_what_it_has_and_exits_1(tmp_path):
    whole = tmp_path / "whole.pcap"
    pcap(whole, 101, [UDP4, UDP4, UDP4])
    data = whole.read_bytes()
    cut = tmp_path / "cut.pcap"
    cut.write_bytes(data[:-10])
    r = decode(str(cut))
    assert r.returncode == 1
    assert len(r.stdout.splitlines()) == 2
    assert "truncated" in r.stderr and "printed" in r.stderr


def test_usage_errors_exit_2_and_help_exits_0():
    assert decode().returncode == 2
    assert decode("--repeat", "0", SAMPLE).returncode == 2
    assert decode("--bogus", SAMPLE).returncode == 2
    r = decode("--help")
    assert r.returncode == 0 and "usage: packet_logs decode" in r.stdout


def test_the_servers_help_lists_both_subcommands():
    r = subprocess.run([BINARY, "--help"], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    usage = r.stdout.split("\n\n", 1)[0]
    assert "packet_logs decode [options] FILE.pcap" in usage, usage
    assert "packet_logs healthcheck [options]" in usage, usage


def test_healthcheck_without_a_server_exits_1_with_a_message():
    """Nothing listens on the port: exit 1 and a line that says so."""
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound, not listening: connect() is refused
        env = {k: v for k, v in os.environ.items() if not k.startswith("PACKET_LOGS_")}
        env["PACKET_LOGS_LISTEN"] = f"127.0.0.1:{port}"
        r = subprocess.run([BINARY, "healthcheck"], capture_output=True, text=True, timeout=30,
                           env=env)
    assert r.returncode == 1
    assert r.stderr.startswith(f"packet_logs healthcheck: cannot connect to 127.0.0.1 port {port}"), \
        r.stderr


@pytest.mark.parametrize("host", ["127.0.0.1", "::1", "0.0.0.0", "::"])
def test_healthcheck_of_a_running_server_exits_0(net, start_server, host):
    """The Docker health check: `packet_logs healthcheck` with the server's
    own listen address (a wildcard is reached on loopback) passes its Host
    check and exits 0."""
    args = [] if host in ("127.0.0.1", "::1") else ["--insecure-no-auth"]
    server = start_server(net.router, args, host=host)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PACKET_LOGS_")}
    env["PACKET_LOGS_LISTEN"] = server.listen_arg
    if args:
        env["PACKET_LOGS_INSECURE_NO_AUTH"] = "1"  # the container's environment, as the server's
    res = subprocess.run(["ip", "netns", "exec", net.router, BINARY, "healthcheck"],
                         capture_output=True, text=True, timeout=30, env=env)
    assert res.returncode == 0, res.stderr
