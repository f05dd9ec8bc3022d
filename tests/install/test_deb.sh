#!/bin/sh
# The Debian package as a user installs it: a fresh build configured for /usr,
# `cpack -G DEB`, `dpkg -i`, then the installed files checked and the
# installed binary run as the unit runs it (a user without privileges but
# CAP_NET_ADMIN, in a network namespace of its own), and `dpkg --purge` at the
# end, also when a check fails.
#
# Safe on a developer's machine: it skips when packet-logs is already
# installed or /usr/bin holds a packet_logs it did not install (dpkg would
# replace them); it builds in a temporary folder; the service is never
# enabled or started (the package does neither; there may be no systemd).
#
# Usage: tests/install/test_deb.sh   (as root: dpkg, network namespaces)
# Env:   JOBS (default: nproc)
set -eu
here=$(cd "$(dirname "$0")/../.." && pwd)
jobs=${JOBS:-$(nproc)}
pkg=packet-logs
ns=pldeb$$
work=""
installed=""
server=""
failures=0

fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }
ok() { echo "ok: $*"; }

[ "$(id -u)" -eq 0 ] || { echo "test_deb: run as root (dpkg -i)" >&2; exit 1; }
for tool in cmake cpack dpkg dpkg-deb dpkg-shlibdeps man setpriv ip nft; do
  command -v "$tool" >/dev/null 2>&1 || { echo "test_deb: $tool is missing" >&2; exit 1; }
done
if dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "installed"; then
  echo "test_deb: skipped: $pkg is installed on this machine and this test would replace it"
  exit 0
fi
for f in /usr/bin/packet_logs /usr/bin/stream-json-logs; do
  if [ -e "$f" ]; then
    echo "test_deb: skipped: $f exists (not from the package) and this test would replace it"
    exit 0
  fi
done

cleanup() {
  if [ -n "$server" ]; then
    kill "$server" 2>/dev/null || true
    wait "$server" 2>/dev/null || true
  fi
  if [ -n "$installed" ]; then
    dpkg --purge "$pkg" >/dev/null 2>&1 || echo "test_deb: dpkg --purge $pkg failed" >&2
  fi
  ip netns del "$ns" 2>/dev/null || true
  [ -n "$work" ] && rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
work=$(mktemp -d /tmp/packet_logs-deb.XXXXXX)

# ---------------------------------------------------------------- the package
echo "test_deb: building in $work"
cmake -S "$here" -B "$work/build" -DCMAKE_INSTALL_PREFIX=/usr -DCMAKE_BUILD_TYPE=Release \
  -DPL_WERROR=ON >/dev/null
cmake --build "$work/build" -j "$jobs" >"$work/build.log" 2>&1 || {
  tail -30 "$work/build.log"; echo "test_deb: the build failed" >&2; exit 1; }
# cmake --install: the same files the package holds
DESTDIR="$work/root" cmake --install "$work/build" >/dev/null
for f in usr/bin/packet_logs usr/bin/stream-json-logs usr/lib/systemd/system/packet_logs.service \
         etc/default/packet_logs usr/share/man/man8/packet_logs.8 \
         usr/share/man/man1/stream-json-logs.1 usr/share/doc/packet_logs/LICENSE; do
  [ -f "$work/root/$f" ] || fail "cmake --install did not install /$f"
done
ok "cmake --install (DESTDIR) installs the binaries, unit, environment file, man pages, licence"
(cd "$work/build" && cpack -G DEB >"$work/cpack.log" 2>&1) || {
  cat "$work/cpack.log"; echo "test_deb: cpack failed" >&2; exit 1; }
deb=$(ls "$work"/build/${pkg}_*.deb)
version=$(dpkg-deb -f "$deb" Version)
depends=$(dpkg-deb -f "$deb" Depends)
ok "built $(basename "$deb") (Depends: $depends)"
case $depends in *libnetfilter-log1*libwebsockets17*) ;; *) fail "Depends misses libraries";; esac
[ -n "$(dpkg-deb -f "$deb" Maintainer)" ] || fail "no Maintainer field"

installed=yes
dpkg -i "$deb" >"$work/dpkg.log" 2>&1 || { cat "$work/dpkg.log"; fail "dpkg -i"; exit 1; }
dpkg-query -W -f='${Status}' "$pkg" | grep -q "install ok installed" || fail "not installed"
ok "dpkg -i"

# ---------------------------------------------------------------- the binaries
out=$(/usr/bin/packet_logs --version)
[ "$out" = "packet_logs $version" ] || fail "--version says '$out', the package $version"
help=$(/usr/bin/packet_logs --help)
echo "$help" | grep -q "packet_logs healthcheck" || fail "--help does not list healthcheck"
/usr/bin/stream-json-logs -h 2>"$work/sjl.txt" || fail "stream-json-logs -h"
grep -q "^Usage of stream-json-logs:" "$work/sjl.txt" || fail "stream-json-logs -h: no usage"
if ldd /usr/bin/packet_logs /usr/bin/stream-json-logs | grep -q "not found"; then
  fail "a library is missing: $(ldd /usr/bin/packet_logs | grep 'not found')"
fi
ok "installed binaries run ($out)"

# as the unit runs it: a user of its own with CAP_NET_ADMIN alone; --rules
# installs its table and SIGTERM removes it; without the capability no start
ip netns add "$ns"
ip -n "$ns" link set lo up
# ip and setpriv exec: $! is the server's own pid
ip netns exec "$ns" setpriv --reuid=65534 --regid=65534 --clear-groups \
  --inh-caps=-all,+net_admin --ambient-caps=-all,+net_admin \
  --bounding-set=-all,+net_admin --no-new-privs /usr/bin/packet_logs --rules \
  2>"$work/server.log" &
server=$!
up=""
for _ in $(seq 1 100); do
  if ip netns exec "$ns" /usr/bin/packet_logs healthcheck 2>/dev/null; then up=yes; break; fi
  kill -0 "$server" 2>/dev/null || break
  sleep 0.1
done
if [ -n "$up" ]; then
  ip netns exec "$ns" nft list table inet packet_logs >/dev/null 2>&1 || fail "--rules: no table"
  ip netns exec "$ns" curl -sf http://127.0.0.1:8080/metrics >"$work/metrics.txt" ||
    fail "GET /metrics"
  grep -q "^packet_logs_build_info{version=\"$version\"} 1$" "$work/metrics.txt" ||
    fail "/metrics: no build_info of $version"
  kill -TERM "$server"
  status=0
  wait "$server" || status=$?
  server=""
  [ "$status" -eq 0 ] || fail "exit status $status after SIGTERM"
  ip netns exec "$ns" nft list table inet packet_logs >/dev/null 2>&1 && fail "table left behind"
  grep -q "warning" "$work/server.log" && fail "a warning with CAP_NET_ADMIN: $(cat "$work/server.log")"
  ok "runs as nobody with CAP_NET_ADMIN only (NFLOG, SO_RCVBUFFORCE, --rules)"
else
  kill "$server" 2>/dev/null || true
  wait "$server" 2>/dev/null || true
  server=""
  fail "the installed server did not start as the unit's user: $(cat "$work/server.log")"
fi
status=0
ip netns exec "$ns" setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all \
  --bounding-set=-all --no-new-privs /usr/bin/packet_logs 2>"$work/nocap.log" || status=$?
if [ "$status" -ne 1 ] || ! grep -q "CAP_NET_ADMIN" "$work/nocap.log"; then
  fail "without CAP_NET_ADMIN: status $status, $(cat "$work/nocap.log")"
fi

# ---------------------------------------------------------------- the unit
unit=/usr/lib/systemd/system/packet_logs.service
[ -f "$unit" ] || fail "no $unit"
grep -q "^ExecStart=/usr/bin/packet_logs$" "$unit" || fail "ExecStart"
grep -q "^EnvironmentFile=-/etc/default/packet_logs$" "$unit" || fail "EnvironmentFile"
grep -q "^CapabilityBoundingSet=CAP_NET_ADMIN$" "$unit" || fail "CapabilityBoundingSet"
grep -q "^AmbientCapabilities=CAP_NET_ADMIN$" "$unit" || fail "AmbientCapabilities"
grep -q "^DynamicUser=yes$" "$unit" || fail "DynamicUser"
if command -v systemd-analyze >/dev/null 2>&1; then
  systemd-analyze verify "$unit" >"$work/verify.log" 2>&1 || {
    cat "$work/verify.log"; fail "systemd-analyze verify"; }
  ok "systemd-analyze verify $unit"
  if systemd-analyze security --offline=yes "$unit" >"$work/security.log" 2>&1; then
    grep "Overall exposure level" "$work/security.log" | sed 's/^/ok: /'
  fi
else
  echo "test_deb: systemd-analyze is missing: the unit is not verified"
fi
env_file=/etc/default/packet_logs
[ "$(stat -c %a "$env_file")" = 600 ] || fail "$env_file is not 0600"
grep -v '^#' "$env_file" | grep -q . && fail "$env_file sets something: all must be comments"

# every option in the man page; every variable in the man page and, with
# --help's default, in the environment file
dpkg-deb -x "$deb" "$work/extract"
man_page=$work/extract/usr/share/man/man8/packet_logs.8
for flag in $(echo "$help" | grep -o '^  --[a-z-]*' | sed 's/^  --//'); do
  grep -q "^\.B[IR]* \\\\-\\\\-$(echo "$flag" | sed 's/-/\\\\-/g')" "$man_page" ||
    fail "$man_page lacks --$flag"
done
echo "$help" | grep -o '\[PACKET_LOGS_[A-Z_]*; default: [^]]*\]' | while read -r line; do
  var=$(echo "$line" | sed 's/^\[\([A-Z_]*\);.*/\1/')
  default=$(echo "$line" | sed 's/^.*default: \(.*\)\]$/\1/')
  grep -q "$var" "$man_page" || echo "FAIL: $man_page lacks $var" >&2
  case $default in
    none|"built in") grep -q "^#$var=$" "$env_file" || echo "FAIL: $env_file: #$var=" >&2 ;;
    off) grep -q "^#$var=0$" "$env_file" || echo "FAIL: $env_file: #$var=0" >&2 ;;
    *) grep -q "^#$var=$default$" "$env_file" || echo "FAIL: $env_file: #$var=$default" >&2 ;;
  esac
done 2>"$work/docs.log"
if [ -s "$work/docs.log" ]; then cat "$work/docs.log" >&2; failures=$((failures + 1)); fi
ok "every option in packet_logs(8) and $env_file, with --help's defaults"

# ---------------------------------------------------------------- man pages, licence
# read from the package itself: slim images tell dpkg to skip /usr/share/man
for page in /usr/share/man/man8/packet_logs.8 /usr/share/man/man1/stream-json-logs.1; do
  page=$work/extract$page
  [ -f "$page" ] || { fail "no $page"; continue; }
  MANWIDTH=80 man --warnings -l "$page" >"$work/page.txt" 2>"$work/man.log" ||
    fail "man -l $page"
  [ -s "$work/man.log" ] && fail "man -l $page: $(cat "$work/man.log")"
  grep -q "^NAME" "$work/page.txt" || fail "man -l $page: no NAME"
done
if grep -qs "path-exclude.*/usr/share/man" /etc/dpkg/dpkg.cfg /etc/dpkg/dpkg.cfg.d/*; then
  echo "test_deb: dpkg skips /usr/share/man here: the installed pages are not looked for"
else
  [ "$(man -w 8 packet_logs 2>/dev/null)" = /usr/share/man/man8/packet_logs.8 ] ||
    fail "man -w 8 packet_logs does not find the page"
fi
grep -q "^MIT License" /usr/share/doc/packet_logs/LICENSE || fail "no licence"
ok "man pages render without warnings; the licence is installed"

# ---------------------------------------------------------------- removal
dpkg -r "$pkg" >/dev/null 2>&1 || fail "dpkg -r"
[ -e /usr/bin/packet_logs ] && fail "dpkg -r left /usr/bin/packet_logs"
[ -e "$env_file" ] || fail "dpkg -r removed the conffile $env_file (purge removes it)"
dpkg --purge "$pkg" >/dev/null 2>&1 || fail "dpkg --purge"
installed=""
for f in /usr/bin/packet_logs /usr/bin/stream-json-logs "$unit" "$env_file" \
         /usr/share/man/man8/packet_logs.8; do
  [ -e "$f" ] && fail "dpkg --purge left $f"
done
ok "dpkg -r, dpkg --purge: nothing left"

if [ "$failures" -ne 0 ]; then
  echo "test_deb: $failures failed" >&2
  exit 1
fi
echo "test_deb: passed"
