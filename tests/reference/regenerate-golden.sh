#!/bin/sh
# Rewrites tests/corpus/golden/ from tests/corpus/pcap/ with the reference
# encoder (gopacket v1.1.19 + Go's encoding/json, what SPR's packet_logs is
# built from). Optional: the golden files are committed.
# Needs (Debian 12): apt-get install golang-go golang-github-google-gopacket-dev libpcap-dev
# Usage: tests/reference/regenerate-golden.sh
set -eu
here=$(cd "$(dirname "$0")" && pwd)
corpus=$(cd "$here/../corpus" && pwd)
for cmd in go; do
  command -v "$cmd" >/dev/null 2>&1 || {
    echo "regenerate-golden: '$cmd' not found; install: apt-get install golang-go golang-github-google-gopacket-dev libpcap-dev" >&2
    exit 1; }
done
[ -d /usr/share/gocode/src/github.com/google/gopacket ] || {
  echo "regenerate-golden: gopacket not found; install: apt-get install golang-github-google-gopacket-dev" >&2
  exit 1; }
bin=$(mktemp -d)/spr_json
trap 'rm -rf "$(dirname "$bin")"' EXIT
sh "$here/build.sh" "$bin"
n=0
for f in "$corpus"/pcap/*; do
  "$bin" "$f" > "$corpus/golden/$(basename "$f").jsonl"
  n=$((n + 1))
done
echo "regenerate-golden: wrote $n files in $corpus/golden"
