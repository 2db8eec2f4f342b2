#!/usr/bin/env bash
# The detector's figures as docs/DETECTION.md reports them: the cost scenarios on the tuning
# seeds (1-3) and the held-out seeds (11-13), averaged per set, and the NAB subset in
# ../shared/data/nab with production's fall rule, all on the shipped config.toml.
#
#   scripts/detection-scores.sh            # debug build: about a minute once built
#   COSTGUARD_DETECT__DETECTOR__YOUNG_DAYS=0 scripts/detection-scores.sh   # a setting off
#
# A change to the detector is kept only if the held-out line improves, not just the tuning one.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/costguard-target}"
cargo build --quiet --bin costguard
bin="$CARGO_TARGET_DIR/debug/costguard"
scen="${SCENARIOS_DIR:-${TMPDIR:-/tmp}/costguard-scenarios}"

for set in "tune 1 2 3" "held-out 11 12 13"; do
  read -r name seeds <<<"$set"
  for seed in $seeds; do
    [ -f "$scen/s$seed/kinds.json" ] || "$bin" scenarios --out "$scen/s$seed" --seed "$seed" >/dev/null
    "$bin" eval --data "$scen/s$seed" --windows "$scen/s$seed/windows.json" --kinds "$scen/s$seed/kinds.json"
  done | awk -v name="$name" '
    /^RobustHw: incidents/ {
      n++
      for (i = 1; i <= NF; i++) {
        if ($i == "recall") recall += $(i + 1)
        if ($i == "1" && $(i - 1) == "within") within += $(i + 2)
        if ($i == "delay") delay += $(i + 1)
        if ($i == "alarms") { alarms += $(i + 1); per_month += substr($(i + 2), 2) }
        if ($i == "re-alerts") realerts += $(i + 1)
      }
    }
    /^benign charges/ { benign += $3; benign_alerted += $6 }
    /^(runaway|spike|level_shift|ramp|weekend_break) / { found[$1] += $5; total[$1] += $3 }
    END {
      printf "%-8s recall %.3f  within 1 h %.3f  mean delay %.1f h  false alarms %d (%.3f per series-month)  re-alerts %.2f per incident  benign charges alerted %d / %d\n",
        name, recall / n, within / n, delay / n, alarms, per_month / n, realerts / n, benign_alerted, benign
      printf "         by kind:"
      for (k in total) printf "  %s %d / %d", k, found[k], total[k]
      printf "\n"
    }'
done

nab="../shared/data/nab"
if [ -d "$nab/data" ]; then
  for profile in standard reward_low_FP_rate reward_low_FN_rate; do
    "$bin" eval --profile "$profile" --data "$nab/data" --windows "$nab/combined_windows.json" | grep -E '^RobustHw: NAB score' | head -n 1
  done
else
  echo "NAB: $nab/data not found, skipped"
fi
