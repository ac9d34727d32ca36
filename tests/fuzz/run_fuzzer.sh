#!/usr/bin/env bash
# Runs one libFuzzer target for a bounded time on a scratch copy of its seed corpus, then prints
# the executions it made (for SECURITY.md). Fails on any crash, leak or timeout.
set -euo pipefail
fuzzer=$1 seeds=$2 seconds=$3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/corpus"
cp -r "$seeds"/. "$work/corpus/" 2>/dev/null || true
cd "$work"
"$fuzzer" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
  -print_final_stats=1 corpus 2>&1 | tee log | grep -E "^stat::number_of_executed_units|^#[0-9]+.*DONE|ERROR|SUMMARY" || true
# libFuzzer exits non-zero on a finding; tee hid the status, so check the log.
if grep -qE "ERROR: (libFuzzer|AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer)|SUMMARY: |runtime error:" log; then
  tail -40 log
  exit 1
fi
grep -q "^stat::number_of_executed_units" log
