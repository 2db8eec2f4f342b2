#!/usr/bin/env bash
# Sizing figures for the deployment docs: runs the release binary with the built-in simulated
# clouds (the default config: 60 days of history for a fictitious company, then live data),
# on SQLite and, when TEST_DATABASE_URL names a PostgreSQL server, on PostgreSQL, and prints
# rows, series, memory and CPU for the first start (backfill and first detection) and for a
# steady window afterwards.   Usage: scripts/sizing.sh [steady-seconds]
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/costguard-target}"
steady="${1:-120}"
cargo build --release --quiet --bin costguard
bin="$CARGO_TARGET_DIR/release/costguard"
tick=$(getconf CLK_TCK)

cpu_seconds() { awk -v t="$tick" '{print ($14 + $15) / t}' "/proc/$1/stat"; }
mem_mb() { awk -v k="$2" '$1 == k":" {printf "%.0f", $2 / 1024}' "/proc/$1/status"; }

measure() { # name, database url, sql runner
  local name="$1" url="$2" sql="$3" dir port pid
  dir="$(mktemp -d)"; port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  COSTGUARD_CONFIG=config.toml COSTGUARD_DATABASE__URL="$url" COSTGUARD_DATA__DIR="$dir" \
    COSTGUARD_SERVER__BIND="127.0.0.1:$port" COSTGUARD_LOG__LEVEL=warn \
    COSTGUARD_PROVIDERS__SIMULATED__LIVE_INCIDENT_DELAY_SECS=-1 "$bin" serve 2>"$dir/log" &
  pid=$!
  local started ready; started=$(date +%s.%N)
  until curl -fs -o /dev/null "http://127.0.0.1:$port/readyz"; do sleep 0.02; done
  ready=$(python3 -c "import time; print(round(time.time() - $started, 2))")
  # Backfilled once detection has stored its series and the ledger stopped growing for 5 s
  # (the history arrives in chunks, then live data every 20 s).
  local last=-1 same=0 now_rows
  until [ "$same" -ge 5 ]; do
    sleep 1
    now_rows=$($sql "SELECT COUNT(*) FROM cost_records" 2>/dev/null || echo -1)
    if [ "$now_rows" = "$last" ] && [ "$($sql "SELECT COUNT(*) FROM detect_series" 2>/dev/null || echo 0)" -gt 0 ]; then
      same=$((same + 1))
    else
      same=0; last="$now_rows"
    fi
  done
  local first_wall first_cpu first_peak
  # Less the 5 quiet seconds that confirmed it.
  first_wall=$(python3 -c "import time; print(round(time.time() - $started - 5, 1))")
  first_cpu=$(cpu_seconds $pid); first_peak=$(mem_mb $pid VmHWM)
  sleep "$steady"
  local steady_cpu rss rows llm series size
  steady_cpu=$(python3 -c "print(round(($(cpu_seconds $pid) - $first_cpu) / $steady * 100, 1))")
  rss=$(mem_mb $pid VmRSS)
  local anon; anon=$(awk '$1 == "Anonymous:" {printf "%.0f", $2 / 1024}' "/proc/$pid/smaps_rollup")
  rows=$($sql "SELECT COUNT(*) FROM cost_records"); llm=$($sql "SELECT COUNT(*) FROM llm_usage")
  series=$($sql "SELECT COUNT(*) FROM detect_series")
  size=$($sql "$4")
  kill -TERM $pid; wait $pid || true
  printf '| %s | %s | %s | %s | %s s | %s s, %s CPU-s | %s MB | %s %% | %s MB (%s MB heap) | %s MB |\n' \
    "$name" "$rows" "$llm" "$series" "$ready" "$first_wall" "$first_cpu" "$first_peak" "$steady_cpu" "$rss" "$anon" "$size"
  rm -rf "$dir"
}

echo "| backend | cost rows | LLM usage rows | series | start to /readyz 200 | first start (backfill + detection) | peak RSS | steady CPU (of one core) | steady RSS (anonymous) | database size |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
sqlite_dir="$(mktemp -d)"
sqlite_db="$sqlite_dir/costguard.db"
sq() { sqlite3 "$sqlite_db" "$1"; }
measure SQLite "sqlite://$sqlite_db" sq "SELECT page_count * page_size / 1048576 FROM pragma_page_count(), pragma_page_size()"
rm -rf "$sqlite_dir"
if [ -n "${TEST_DATABASE_URL:-}" ]; then
  db="cg_sizing_$$"
  psql -q "$TEST_DATABASE_URL" -c "CREATE DATABASE $db"
  pg_url="${TEST_DATABASE_URL%/*}/$db"
  pq() { psql -qtA "$pg_url" -c "$1"; }
  measure PostgreSQL "$pg_url" pq "SELECT pg_database_size(current_database()) / 1048576"
  psql -q "$TEST_DATABASE_URL" -c "DROP DATABASE $db"
fi
