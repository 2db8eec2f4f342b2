#!/usr/bin/env bash
# Hunts tests that depend on timing or on the date: runs the integration suite (every test on
# SQLite and PostgreSQL) several times in a row under CPU load (stress-ng), then with the clock
# set to a month's first hour, a month's last hour and a year's end (libfaketime; the clock
# then runs on from there, so the year-end run crosses midnight into the new year).
#
#   scripts/soak.sh [RUNS_UNDER_LOAD] [CLOCK...]
#     RUNS_UNDER_LOAD default 2; CLOCK defaults to the three times below, e.g.
#     scripts/soak.sh 1 "2026-12-31 23:40:00" for one loaded run and the year's end only
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

# Build once on the real clock and run the test binary itself: under a shifted clock cargo
# would see sources "from the future" and a commit elsewhere in the repository (build.rs
# watches .git/refs) would rebuild, and rustc has been seen to hang under libfaketime.
api="$(cargo test --locked --test api --no-run --message-format=json 2>/dev/null | python3 -c '
import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("executable") and m.get("target", {}).get("name") == "api":
        print(m["executable"])')"
[ -x "$api" ] || { echo "could not build the integration tests" >&2; exit 1; }

# Two busy cores' worth of load, as on CI or a laptop doing other work (load 2 to 10).
stress-ng --cpu 2 --cpu-load 70 --quiet &
load=$!

failed=0
run() {
  local name="$1"; shift
  local started=$SECONDS
  if "$@" "$api" >"$logs/$name.log" 2>&1; then
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
clocks=("${@:2}")
[ ${#clocks[@]} -gt 0 ] || clocks=("2026-12-01 00:05:00" "2026-11-30 23:20:00" "2026-12-31 23:40:00")
for at in "${clocks[@]}"; do
  run "clock-${at// /T}" env FAKETIME_DONT_FAKE_MONOTONIC=1 faketime -f "@$at"
done
exit "$failed"
