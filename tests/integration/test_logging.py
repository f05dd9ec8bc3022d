"""
Log lines and their levels (server/pl_log.h), from the real binaries.

When stderr is the journal (JOURNAL_STREAM names stderr's device:inode, as
systemd sets it) every line starts with <3> error, <4> warning or <6> info,
so that `journalctl -p warning` finds the warnings; otherwise lines are plain
("packet_logs: warning: ..."). A JOURNAL_STREAM that names another stream
(inherited by a process whose stderr was redirected) is ignored.

The warning is a real one: the server is stopped (SIGSTOP) while a burst of
logged datagrams overflows its 64 KiB NFLOG receive buffer, so the kernel
drops messages and says so with ENOBUFS once it runs again.

Run as root:  /usr/bin/python3 -m pytest tests/integration/test_logging.py
"""
import os
import re
import signal
import subprocess
import time

from conftest import (BINARY, DROP_INPUT_PORT, SANITIZER_REPORT, STREAM_JSON_LOGS,
                      WAN_ROUTER4, Server)

ENOBUFS_LINE = re.compile(r"the kernel dropped NFLOG messages \(ENOBUFS\) (\d+) (times?) since "
                          r"the last report")


def journal_stream_of(fileobj_or_fd):
    fd = fileobj_or_fd if isinstance(fileobj_or_fd, int) else fileobj_or_fd.fileno()
    st = os.fstat(fd)
    return f"{st.st_dev}:{st.st_ino}"


def overflow_nflog(server, traffic, net):
    """Makes the kernel drop NFLOG messages for server, then waits for its
    warning; returns the server's stderr so far."""
    os.kill(server.proc.pid, signal.SIGSTOP)
    try:
        # ~1.2 KB per message: a 64 KiB buffer (128 KiB after the kernel's
        # doubling) holds about a hundred
        traffic.udp(net.wan, WAN_ROUTER4, DROP_INPUT_PORT, payload=b"x" * 1200, count=600)
    finally:
        os.kill(server.proc.pid, signal.SIGCONT)
    deadline = time.monotonic() + 15
    while not ENOBUFS_LINE.search(server.stderr()):
        assert time.monotonic() < deadline, f"no ENOBUFS warning:\n{server.stderr()}"
        time.sleep(0.1)
    assert server.metrics()["packet_logs_kernel_drops_total"] >= 1
    return server.stderr()


def start(net, env=None, journal=False):
    s = Server(net.router, ["--rcvbuf", "64K", "--qthreshold", "1"], env=env)
    if journal:
        s.env["JOURNAL_STREAM"] = journal_stream_of(s.stderr_file)
    return s.start()


def check_count_words(text):
    """'1 time', '2 times': the count and the word agree."""
    m = ENOBUFS_LINE.search(text)
    assert m, text
    assert m.group(2) == ("time" if m.group(1) == "1" else "times"), m.group(0)


def test_journal_lines_carry_sd_daemon_levels(net, traffic):
    s = start(net, journal=True)
    try:
        err = overflow_nflog(s, traffic, net)
    finally:
        err = s.stop()
    lines = err.splitlines()
    assert lines, err
    for line in lines:
        assert re.match(r"^<[3467]>", line), f"a line without a level: {line!r}\n{err}"
    assert any(l.startswith("<6>NFLOG groups ") for l in lines), err
    assert any(l.startswith("<6>dashboard: http://") for l in lines), err
    assert any(l.startswith("<6>SIGTERM: stopping") for l in lines), err
    drops = [l for l in lines if ENOBUFS_LINE.search(l)]
    assert drops and all(l.startswith("<4>") for l in drops), err
    check_count_words(err)
    assert "packet_logs:" not in err  # the journal names the unit itself


def test_plain_lines_without_the_journal(net, traffic):
    s = start(net)
    try:
        err = overflow_nflog(s, traffic, net)
    finally:
        err = s.stop()
    assert not re.search(r"^<\d>", err, re.M), err
    assert "packet_logs: NFLOG groups " in err
    assert re.search(r"^packet_logs: warning: the kernel dropped NFLOG messages \(ENOBUFS\)",
                     err, re.M), err
    check_count_words(err)


def test_journal_stream_of_another_file_is_ignored(net, tmp_path):
    other = tmp_path / "elsewhere"
    other.write_text("")
    with open(other) as f:
        s = Server(net.router, env={"JOURNAL_STREAM": journal_stream_of(f)})
        s.start()
        err = s.stop()
    assert "packet_logs: NFLOG groups " in err and "<6>" not in err, err


def run_with_journal(cmd, env=None):
    """Runs cmd with stderr on a pipe that JOURNAL_STREAM names; returns
    (status, stderr)."""
    r, w = os.pipe()
    e = {k: v for k, v in os.environ.items() if not k.startswith("PACKET_LOGS_")}
    e.update(env or {})
    e["JOURNAL_STREAM"] = journal_stream_of(w)
    try:
        p = subprocess.Popen([str(c) for c in cmd], stdin=subprocess.DEVNULL,
                             stdout=subprocess.DEVNULL, stderr=w, env=e)
    finally:
        os.close(w)
    with os.fdopen(r) as f:
        err = f.read()
    rc = p.wait(30)
    assert not SANITIZER_REPORT.search(err), err
    return rc, err


def test_a_bad_option_is_an_error_line():
    rc, err = run_with_journal([BINARY, "--listen", "10.0.0.1:8080"])
    assert rc == 2
    assert err.startswith("<3>--listen: 10.0.0.1 is not a loopback address"), err
    assert err.count("\n") == 1, err


def test_stream_json_logs_errors_carry_a_level(tmp_path):
    rc, err = run_with_journal([STREAM_JSON_LOGS, "-timeout", "2", "-url",
                                "ws://127.0.0.1:1/packet_logs/stream"])
    assert rc == 1
    assert err.startswith("<3>cannot connect to ws://127.0.0.1:1/packet_logs/stream"), err
    res = subprocess.run([str(STREAM_JSON_LOGS), "-timeout", "2", "-url",
                          "ws://127.0.0.1:1/packet_logs/stream"], capture_output=True, text=True,
                         timeout=30, env={k: v for k, v in os.environ.items()
                                          if not k.startswith("PACKET_LOGS_")})
    assert res.stderr.startswith("stream-json-logs: cannot connect to "), res.stderr
