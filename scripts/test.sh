#!/usr/bin/env bash
# Runs every check: ./scripts/test.sh  (CI calls it through .ci/run)
# Installs what it needs (Debian packages, the PyPI cloud peers), starts a throwaway PostgreSQL, then runs
# fmt, clippy, the domain-purity guard and the whole test suite; every integration test
# runs once on SQLite and once on PostgreSQL. Needs no network but the package
# registries. Screenshots of the browser test land in $CG_SCREENSHOTS_DIR. With CG_REQUIRE_ALL_TESTS=1 (set by .ci/run) a test that would skip
# (no PostgreSQL, no ../shared data) fails.
set -euo pipefail
cd "$(dirname "$0")/.."
# Keep the build cache outside the checkout so CI's fresh clones reuse it.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/costguard-target}"
export CARGO_TERM_COLOR=never

need_apt=()
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need_apt+=(postgresql)
dpkg -s libpq-dev >/dev/null 2>&1 || need_apt+=(libpq-dev)
command -v sqlite3 >/dev/null 2>&1 || need_apt+=(sqlite3)
command -v psql >/dev/null 2>&1 || need_apt+=(postgresql-client)
# The browser test: Debian's Chromium, driven by playwright-core from npm (never a downloaded browser).
[ -x /usr/bin/chromium ] || need_apt+=(chromium)
# promtool checks the /metrics exposition (tests/api/metrics.rs).
command -v promtool >/dev/null 2>&1 || need_apt+=(prometheus)
command -v node >/dev/null 2>&1 || need_apt+=(nodejs npm)
# The cloud peers run in Python virtualenvs.
python3 -m venv --help >/dev/null 2>&1 || need_apt+=(python3-venv)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "== installing ${need_apt[*]}"
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

# The cloud peers (moto for AWS, bqemulator for BigQuery) from PyPI, in virtualenvs kept
# outside the checkout; the Azure fake is Rust code in tests/api/peers/.
echo "== cloud peers (moto, bqemulator)"
eval "$(.ci/peers.sh)"

# The deployment checkers: hadolint for the Dockerfile, helm for the chart.
echo "== deployment tools (hadolint, helm, actionlint, schemathesis)"
eval "$(.ci/tools.sh)"
"$CG_HADOLINT" Dockerfile
"$CG_HELM" lint --strict deploy/helm/costguard
# shellcheck runs inside actionlint when it is on the PATH; the workflow's own rules always.
"$CG_ACTIONLINT" .github/workflows/*.yml

if [ ! -d tests/browser/node_modules/playwright-core ]; then
  echo "== npm ci (tests/browser: playwright-core)"
  (cd tests/browser && npm ci --no-audit --no-fund --loglevel=error)
fi
# Screenshots of every dashboard page from the browser test (CI keeps this folder).
export CG_SCREENSHOTS_DIR="${CG_SCREENSHOTS_DIR:-$CARGO_TARGET_DIR/browser-screenshots}"

echo "== starting PostgreSQL (throwaway cluster on 127.0.0.1)"
eval "$(.ci/postgres.sh start)"
trap '.ci/postgres.sh stop' EXIT
echo "TEST_DATABASE_URL=$TEST_DATABASE_URL"

echo "== cargo fmt --check"
cargo fmt --all -- --check

echo "== domain purity (no I/O, clock or randomness in src/domain)"
if grep -rnE 'diesel|actix|tokio|maud|reqwest|Utc::now|rand::|std::fs|std::net' src/domain; then
  echo "src/domain must stay pure" >&2
  exit 1
fi

echo "== cargo clippy -D warnings"
cargo clippy --all-targets --locked -- -D warnings

echo "== cargo test (each integration test on SQLite and on PostgreSQL)"
log="$(mktemp)"
cargo test --locked 2>&1 | tee "$log"
# cargo's last line is the doc-test summary; close with the total over every test binary.
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($i ~ /^passed;?$/) p += $(i-1); if ($i ~ /^failed;?$/) f += $(i-1) } }
     END { printf "tests: %d passed, %d failed\n", p, f }' "$log"
rm -f "$log"
