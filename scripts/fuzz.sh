#!/usr/bin/env bash
# Runs every cargo-fuzz target for a bounded time and reports executions and crashes.
#   scripts/fuzz.sh [SECONDS_PER_TARGET]   (default 60)
# Needs cargo-fuzz (`cargo install cargo-fuzz`); libFuzzer's nightly flags are enabled on
# the stable toolchain with RUSTC_BOOTSTRAP=1 (no other toolchain can be fetched here).
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${1:-60}
export RUSTC_BOOTSTRAP=1
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
status=0
for t in $(cargo fuzz list); do
  log=$(mktemp)
  if cargo fuzz run "$t" -- -max_total_time="$SECS" >"$log" 2>&1; then result=ok; else result=CRASH; status=1; fi
  execs=$(grep -oE 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -oE '[0-9]+$' || grep -oE '#[0-9]+' "$log" | tail -1 | tr -d '#')
  echo "fuzz $t: ${execs:-?} executions in ${SECS}s, $result"
  [ "$result" = ok ] || tail -30 "$log"
  rm -f "$log"
done
exit $status
