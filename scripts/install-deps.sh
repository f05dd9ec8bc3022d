#!/bin/sh
# Installs what packet_logs needs to build and run, from Debian 12's packages.
# Usage: scripts/install-deps.sh [--test]   (--test adds what the tests need)
set -eu
[ "$(id -u)" -eq 0 ] || { echo "install-deps: run as root (apt-get)" >&2; exit 1; }

build="build-essential cmake pkg-config
  libnetfilter-log-dev libmicrohttpd-dev libwebsockets-dev libjson-c-dev
  libpcap-dev libnftables-dev zlib1g-dev nftables iproute2 libcmocka-dev libnats-dev"
test="clang clang-format libclang-rt-14-dev
  golang-go golang-github-google-gopacket-dev
  python3 python3-pytest python3-websockets python3-requests python3-scapy
  tcpdump iputils-ping jq curl procps ulogd2 ulogd2-json valgrind chromium
  python3-jsonschema python3-yaml tshark
  prometheus man-db nats-server"

pkgs=$build
[ "${1:-}" = "--test" ] && pkgs="$build $test"
# Node.js with npm (the dashboard's browser tests, the OpenAPI lint): the
# machine's own if it has one (NodeSource's nodejs conflicts with Debian's
# npm), else Debian's.
if [ "${1:-}" = "--test" ] && ! command -v npm >/dev/null 2>&1; then
  pkgs="$pkgs nodejs npm"
fi

missing=""
for p in $pkgs; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
  echo "install-deps: installing$missing"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # shellcheck disable=SC2086
  apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi
# Debian starts ulogd2 after installing it, and it binds NFLOG group 0:
# the benchmarks start their own; the service would take packet_logs' group.
# prometheus is there for promtool (tests/integration/test_metrics.py), not
# to run a server on port 9090; nats-server for the fleet tests, which start
# their own servers on ports of their own.
for service in ulogd2 prometheus nats-server; do
  if [ "${1:-}" = "--test" ] && command -v systemctl >/dev/null 2>&1 &&
     systemctl is-enabled "$service" >/dev/null 2>&1; then
    systemctl disable --now "$service" >/dev/null 2>&1 || true
  fi
done
echo "install-deps: all packages present"
