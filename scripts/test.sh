#!/bin/sh
# Installs what the tests need, then runs every test of packet_logs: unit
# tests and corpus parity (warnings as errors), the integration tests against
# the real binary, the dashboard in Chromium, the same again under
# AddressSanitizer + UndefinedBehaviorSanitizer and (for races) under
# ThreadSanitizer, a short fuzzing run of each parser, and the Debian package
# installed, run and purged.
# Usage: scripts/test.sh        (as root: apt-get, network namespaces)
# Env:   FUZZ_SECONDS (default 60), JOBS (default: nproc)
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
jobs=${JOBS:-$(nproc)}
fuzz_seconds=${FUZZ_SECONDS:-60}
corpus_dir=$here/tests/corpus

step() { printf '\n=== %s\n' "$*"; }

step "dependencies"
scripts/install-deps.sh --test

step "layout: every C file as .clang-format has it"
find base parser store api server tools tests bench -name '*.[ch]' -print0 |
  xargs -0 clang-format --dry-run -Werror
echo "clang-format: every file formatted"

step "build (warnings are errors) and unit + parity tests"
cmake -S . -B build -DPL_WERROR=ON >/dev/null
cmake --build build -j "$jobs"
(cd build && ctest --output-on-failure)

step "the contract: openapi.yaml linted, records validated against it"
npm ci --no-audit --no-fund --silent
npm run --silent lint:openapi
/usr/bin/python3 tests/integration/openapi_check.py --golden "$corpus_dir/golden"
for f in "$corpus_dir"/pcap/*; do build/packet_logs decode --seq "$f"; done > build/decoded.jsonl
/usr/bin/python3 tests/integration/openapi_check.py build/decoded.jsonl

step "integration tests: the real binaries, nftables, NFLOG in network namespaces"
/usr/bin/python3 -m pytest -q -p no:cacheprovider tests/integration

step "the dashboard in headless Chromium against the real server"
node --test tests/browser/

step "sanitizer build (ASan + UBSan) and the same tests"
cmake -S . -B build-asan -DPL_WERROR=ON -DPL_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug >/dev/null
cmake --build build-asan -j "$jobs"
(cd build-asan && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 ctest --output-on-failure)
# (pytest.ini: load)
PACKET_LOGS_BINARY=$here/build-asan/packet_logs STREAM_JSON_LOGS=$here/build-asan/tools/stream-json-logs \
  ASAN_OPTIONS=detect_leaks=1 /usr/bin/python3 -m pytest -q -p no:cacheprovider -m "not load" tests/integration

step "ThreadSanitizer build: unit and integration tests, for races"
cmake -S . -B build-tsan -DPL_WERROR=ON -DPL_TSAN=ON -DCMAKE_BUILD_TYPE=Debug >/dev/null
cmake --build build-tsan -j "$jobs"
(cd build-tsan && TSAN_OPTIONS=halt_on_error=1 ctest --output-on-failure -E parity)
# bounds of time and memory are the release and ASan runs' to check: TSan
# runs 5-15x slower with 5-10x the memory (pytest.ini: timing)
PACKET_LOGS_BINARY=$here/build-tsan/packet_logs STREAM_JSON_LOGS=$here/build-tsan/tools/stream-json-logs \
  /usr/bin/python3 -m pytest -q -p no:cacheprovider -m "not timing and not load" tests/integration

# fuzz TARGET MAX_LEN CORPUS [SEEDS...]: a libFuzzer run of fuzz_seconds;
# a crash stops the tests with the finding's path
fuzz() {
  target=$1 max_len=$2 corpus=$3
  shift 3
  cmake --build build-fuzz -j "$jobs" --target "$target"
  mkdir -p "$corpus" build-fuzz/findings
  build-fuzz/"$target" -max_total_time="$fuzz_seconds" -max_len="$max_len" -timeout=10 \
    -artifact_prefix=build-fuzz/findings/ -print_final_stats=1 \
    "$corpus" "$@" 2>build-fuzz/"$target".log || {
    tail -40 build-fuzz/"$target".log
    echo "fuzzing $target found a crash: see build-fuzz/findings" >&2; exit 1; }
  grep -E '^stat::number_of_executed_units|^Done' build-fuzz/"$target".log || true
}
CC=clang cmake -S . -B build-fuzz -DPL_FUZZ=ON -DPL_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug >/dev/null

step "fuzzing the decoder (packets, NFLOG capture frames) for ${fuzz_seconds}s"
[ -d build-fuzz/corpus ] ||
  /usr/bin/python3 tests/fuzz/make_corpus.py "$corpus_dir/pcap" build-fuzz/corpus
fuzz fuzz_decoder 9000 build-fuzz/corpus tests/fuzz/regression

step "fuzzing the stream's gate (request heads, query strings) for ${fuzz_seconds}s"
fuzz fuzz_upgrade 4096 build-fuzz/corpus-upgrade tests/fuzz/upgrade_seeds

step "fuzzing the dispatcher's check of request heads for ${fuzz_seconds}s"
fuzz fuzz_dispatch 20000 build-fuzz/corpus-dispatch tests/fuzz/dispatch_seeds
echo "fuzz: 3 passed, 0 failed"

step "the Debian package: cpack, dpkg -i, the installed binary and unit, dpkg --purge"
JOBS=$jobs tests/install/test_deb.sh

echo
echo "all tests passed"
