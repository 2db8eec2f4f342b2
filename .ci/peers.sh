#!/usr/bin/env bash
# Installs the local cloud peers the adapter tests run against, and prints the environment
# that tells the tests where they are:  eval "$(.ci/peers.sh)"
#   moto server (PyPI moto[server]): AWS Cost Explorer and EC2
#   bqemulator (PyPI): the BigQuery REST API, on DuckDB with its spatial extension
#     pre-installed (bqemulator would otherwise download it at start-up).
#   mcp (PyPI): the official MCP Python SDK, the client tests/api/peers/mcp_client.py drives
#     CostGuard's /mcp endpoint with.
#   aiosmtpd (PyPI): a real SMTP server for the e-mail notifications (tests/api/peers/smtp_server.py
#     starts it with its stock Maildir handler and AUTH), with trustme (PyPI) issuing its TLS
#     certificate from a throwaway CA for the STARTTLS and smtps tests.
# Azure, PagerDuty and Teams have no emulator; their fakes are Rust code in tests/api/peers/.
# The virtualenvs live outside the checkout (reused between CI runs) under $CG_PEERS_DIR.
set -euo pipefail
dir="${CG_PEERS_DIR:-$HOME/.cache/costguard-peers}"
mkdir -p "$dir"
log="$dir/install.log"

if [ ! -x "$dir/moto/bin/moto_server" ]; then
  echo "== installing moto server into $dir/moto" >&2
  python3 -m venv "$dir/moto" >>"$log" 2>&1
  "$dir/moto/bin/pip" install -q 'moto[server]==5.2.*' >>"$log" 2>&1
fi

bq_home="$dir/bq-home"
if [ ! -x "$dir/bq/bin/bqemulator" ] || [ ! -f "$bq_home/.spatial-installed" ]; then
  echo "== installing bqemulator into $dir/bq" >&2
  python3 -m venv "$dir/bq" >>"$log" 2>&1
  "$dir/bq/bin/pip" install -q 'bqemulator==1.4.*' 'duckdb==1.5.*' 'duckdb-extension-spatial==1.5.5' numpy >>"$log" 2>&1
  mkdir -p "$bq_home"
  HOME="$bq_home" "$dir/bq/bin/python" - >>"$log" 2>&1 <<'PY'
import duckdb, glob, sys
paths = glob.glob(sys.prefix + "/lib/python3*/site-packages/duckdb_extension_spatial/extensions/*/spatial.duckdb_extension")
duckdb.connect().execute(f"INSTALL '{paths[0]}'")
PY
  touch "$bq_home/.spatial-installed"
fi

if [ ! -x "$dir/mcp/bin/python" ] || ! "$dir/mcp/bin/python" -c 'import mcp' 2>/dev/null; then
  echo "== installing the MCP Python SDK into $dir/mcp" >&2
  python3 -m venv "$dir/mcp" >>"$log" 2>&1
  "$dir/mcp/bin/pip" install -q 'mcp==2.3.*' >>"$log" 2>&1
fi

if [ ! -x "$dir/smtp/bin/python" ] || ! "$dir/smtp/bin/python" -c 'import aiosmtpd, trustme' 2>/dev/null; then
  echo "== installing aiosmtpd and trustme into $dir/smtp" >&2
  python3 -m venv "$dir/smtp" >>"$log" 2>&1
  "$dir/smtp/bin/pip" install -q 'aiosmtpd==1.4.*' 'trustme==1.2.*' >>"$log" 2>&1
fi

echo "export CG_MOTO_SERVER='$dir/moto/bin/moto_server'"
echo "export CG_BQEMULATOR='$dir/bq/bin/bqemulator'"
echo "export CG_BQEMULATOR_HOME='$bq_home'"
echo "export CG_AIOSMTPD_PYTHON='$dir/smtp/bin/python'"
echo "export CG_MCP_PYTHON='$dir/mcp/bin/python'"
