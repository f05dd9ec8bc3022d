#!/bin/sh
# Installs what packet_logs needs (Debian 12), builds it, and starts it doing
# its real job: SPR's log rules installed (--rules; set WANIF to name the
# upstream interface), NFLOG groups 0 and 1 bound, the dashboard URL printed.
# Extra arguments go to packet_logs (see: build/packet_logs --help).
# Usage: sudo [WANIF=eth0] scripts/run.sh [options]
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
scripts/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j "$(nproc)" --target packet_logs
echo "run: starting build/packet_logs --rules $*"
exec build/packet_logs --rules "$@"
