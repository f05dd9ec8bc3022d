"""What the benchmark scripts share: running commands, in a namespace or
not, reading a process's CPU time, the paced sender, a GET and a counter
of /metrics inside the namespace."""
import os
import re
import subprocess
import time


def sh(*args, check=True, **kw):
    return subprocess.run(list(args), check=check, **kw)


HERE = os.path.dirname(os.path.abspath(__file__))


def build(workdir, name):
    """Compiles bench/NAME.c into workdir; returns the binary's path."""
    out = os.path.join(workdir, name)
    sh("cc", "-O2", "-Wall", "-o", out, os.path.join(HERE, name + ".c"))
    return out


def lab(ns, logs):
    """Creates network namespace ns with its loopback up and one output
    chain of log rules: logs is a list of (match, [(prefix, group), ...]),
    each match (an nft expression: "udp dport 5001") logged to each group
    with its prefix, as SPR's rules log. The caller deletes ns."""
    sh("ip", "netns", "add", ns)
    sh(*netns_cmd(ns, "ip", "link", "set", "lo", "up"))
    lines = "".join(f"  {match}" + "".join(f' log prefix "{prefix}" group {group}'
                                           for prefix, group in to) + "\n"
                    for match, to in logs)
    rules = ("table inet bench {\n chain out {\n  type filter hook output priority 0;\n"
             + lines + " }\n}\n")
    sh(*netns_cmd(ns, "nft", "-f", "-"), input=rules.encode())


def netns_cmd(ns, *args):
    """The command line that runs args inside network namespace ns."""
    return ["ip", "netns", "exec", ns, *args]


def cpu_seconds(pid):
    """User + system CPU seconds of process pid so far (/proc/PID/stat)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    tick = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / tick  # utime, stime


def flood(ns, binary, port, rate, seconds):
    """Runs the paced UDP sender (udp_flood) to 127.0.0.1:port inside ns;
    returns the packets it sent."""
    out = sh(*netns_cmd(ns, binary, "127.0.0.1", str(port), str(rate), str(seconds)),
             capture_output=True, text=True).stdout
    return int(re.search(r"sent=(\d+)", out).group(1))


def http_get(ns, port, path):
    """GET inside the namespace (the server listens on its loopback)."""
    code = ("import sys,urllib.request;"
            f"r=urllib.request.urlopen('http://127.0.0.1:{port}'+sys.argv[1],timeout=10);"
            "sys.stdout.buffer.write(r.read())")
    return sh(*netns_cmd(ns, "/usr/bin/python3", "-c", code, path), capture_output=True).stdout


def metric(text, name):
    """A counter of a /metrics text (0 when absent)."""
    m = re.search(rf"^{name} (\d+)$", text, re.M)
    return int(m.group(1)) if m else 0


def wait_quiet(read_count, timeout=30.0):
    """Waits until the count stops moving (the receiver caught up)."""
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
