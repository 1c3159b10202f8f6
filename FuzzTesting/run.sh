#!/usr/bin/env bash
# Runs every harness for SECONDS (default 60) from its committed seed corpus, on a scratch copy of
# it (new inputs do not dirty the repository). Exits non-zero when a harness finds a crash, a
# leak or a timeout; the reproducer is written to .build/fuzz-artifacts/.
#   ./run.sh [SECONDS] [HARNESS ...]
set -euo pipefail
cd "$(dirname "$0")"
seconds="${1:-60}"
shift || true
harnesses=("$@")
[ ${#harnesses[@]} -gt 0 ] || harnesses=(FuzzXMPPEngine FuzzConfiguration FuzzAddresses FuzzPattern FuzzJournal FuzzRESP FuzzSharedRecord FuzzProxyHeader)
mkdir -p .build/fuzz-artifacts
status=0
for harness in "${harnesses[@]}"; do
  corpus=".build/fuzz-corpus/$harness"
  rm -rf "$corpus"; mkdir -p "$corpus"
  cp Corpus/"$harness"/* "$corpus"/
  echo "== $harness for ${seconds}s"
  if ! ".build/release/$harness" "$corpus" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=8192 \
       -artifact_prefix=".build/fuzz-artifacts/$harness-" -print_final_stats=1 2> ".build/fuzz-artifacts/$harness.log"; then
    echo "$harness FAILED; see .build/fuzz-artifacts/$harness.log"
    tail -30 ".build/fuzz-artifacts/$harness.log"
    status=1
  fi
  grep -E "stat::number_of_executed_units|stat::peak_rss_mb" ".build/fuzz-artifacts/$harness.log" | tr '\n' ' '; echo
done
exit $status
