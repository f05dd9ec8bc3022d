"""What the benchmark scripts share: running commands, in a namespace or
not, and reading a process's CPU time."""
import os
import subprocess


def sh(*args, check=True, **kw):
    return subprocess.run(list(args), check=check, **kw)


def netns_cmd(ns, *args):
    """The command line that runs args inside network namespace ns."""
    return ["ip", "netns", "exec", ns, *args]


def cpu_seconds(pid):
    """User + system CPU seconds of process pid so far (/proc/PID/stat)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    tick = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / tick  # utime, stime
