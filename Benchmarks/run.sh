#!/usr/bin/env bash
# Reruns every Greylist benchmark and prints results as ratios against baselines measured in the
# same run. Takes about 3 minutes on 2 cores (2 with "quick"); loopback only; every loop is bounded.
#   ./run.sh            everything
#   ./run.sh quick      skips the 10-million-address flood
set -euo pipefail
cd "$(dirname "$0")"
mkdir -p results
# SwiftPM can keep a stale build plan for the root package (a path dependency) after files are
# added to it; planning again is cheap.
rm -f .build/*.yaml
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(free -g | awk '/Mem:/ {print $2}') GiB, $(swift --version 2>&1 | head -1)"

swift build -c release --package-path .. --product GreylistDemoServer
swift build -c release --product GreylistLoad
swift build -c release --product GreylistMemory

echo; echo "== accept path and recordFailedAuth (package-benchmark)"
swift package --disable-sandbox benchmark --target AcceptPath --format markdown > results/accept.md
swift package --disable-sandbox benchmark --target FailedAuth --format markdown > results/failed.md
python3 summarize.py results/accept.md results/failed.md

echo; echo "== memory per ban, 1,000,000 IPv6 bans"
.build/release/GreylistMemory per-ban 1000000

if [ "${1:-}" != "quick" ]; then
  echo; echo "== flood: 10,000,000 distinct IPv6 sources, caps of 1,000,000 (CSV)"
  .build/release/GreylistMemory flood 10000000 | tee results/flood.csv
fi

echo; echo "== loopback load against the demo server (server CPU from /proc/<pid>/stat)"
.build/release/GreylistLoad --server "$(swift build -c release --package-path .. --show-bin-path)/GreylistDemoServer" \
  --connections 30000 --seconds 15 --threads 3

if [ -x /usr/bin/redis-server ]; then
  echo; echo "== cluster through Redis: propagation, bans/s, memory per ban, recordFailedAuth with the link"
  swift build -c release --product GreylistCluster
  .build/release/GreylistCluster 2000 200000
fi
