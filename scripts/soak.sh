#!/usr/bin/env bash
# Hunts tests that depend on timing or on the date: runs the integration suite (every test on
# SQLite and PostgreSQL) several times in a row under CPU load (stress-ng), then with the clock
# set to a month's first hour, a month's last hour and a year's end (libfaketime; the clock
# then runs on from there, so the year-end run crosses midnight into the new year).
#
#   scripts/soak.sh [RUNS_UNDER_LOAD]     default 2; the three clock runs are always added
#
# Needs what ./scripts/test.sh installs, plus Debian's stress-ng and faketime (installed here
# when missing). Prints one line per run and exits non-zero if any run failed; each run's
# output is kept in $SOAK_LOGS (default /tmp/costguard-soak).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/costguard-target}"
export CARGO_TERM_COLOR=never CG_REQUIRE_ALL_TESTS=1
runs="${1:-2}"
logs="${SOAK_LOGS:-/tmp/costguard-soak}"
mkdir -p "$logs"

need=()
command -v stress-ng >/dev/null || need+=(stress-ng)
command -v faketime >/dev/null || need+=(faketime)
if [ ${#need[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi
eval "$(.ci/peers.sh)"
eval "$(.ci/tools.sh)"
eval "$(.ci/postgres.sh start)"
trap '.ci/postgres.sh stop; kill "${load:-0}" 2>/dev/null || true' EXIT

# Build once on the real clock, so no run under a shifted clock rebuilds anything.
cargo test --locked --test api --no-run >/dev/null 2>&1

# Two busy cores' worth of load, as on CI or a laptop doing other work (load 2 to 10).
stress-ng --cpu 2 --cpu-load 70 --quiet &
load=$!

failed=0
run() {
  local name="$1"; shift
  local started=$SECONDS
  if "$@" cargo test --locked --test api >"$logs/$name.log" 2>&1; then
    result=ok
  else
    result=FAILED; failed=1
  fi
  local summary
  summary="$(grep -E '^test result:' "$logs/$name.log" | tail -n 1 || true)"
  echo "$name: $result in $((SECONDS - started)) s (load $(cut -d' ' -f1 /proc/loadavg)): $summary"
  grep -E '^test .* FAILED$' "$logs/$name.log" || true
}

for i in $(seq 1 "$runs"); do
  run "load-$i" env
done
# FAKETIME_DONT_FAKE_MONOTONIC keeps timers and timeouts on real time; only the date moves.
for at in "2026-12-01 00:05:00" "2026-11-30 23:20:00" "2026-12-31 23:40:00"; do
  run "clock-${at// /T}" env FAKETIME_DONT_FAKE_MONOTONIC=1 faketime -f "@$at"
done
exit "$failed"
