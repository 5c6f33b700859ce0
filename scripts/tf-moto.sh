#!/usr/bin/env bash
# terraform apply, a second plan that must be empty, the web client's bucket, distribution,
# objects and Cognito URLs read back with the AWS CLI, the IAM lint of every policy (parliament,
# cloudsplaining), a rename that must be refused, the cost check of docs/costs.md against plans of
# the default and dev profiles, a resize whose next plan must be empty, the live aliases moved by
# hand (as a rollout moves them) with a plan that must leave them alone, then destroy, of
# terraform/ against moto (python3 -m moto.server) on loopback.
# Works in a temporary copy of terraform/ with dummy function zips and a stand-in web/dist, so
# nothing is left in the repo.
# Env: MOTO_PORT (default: a free port), TF_MOTO_TIMEOUT (seconds per terraform step, default 480),
#      TF_PLUGIN_DIR (default /opt/tf-plugins; used when it exists), KEEP_WORKDIR=1 to keep the temp dir for debugging.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
plugin_dir="${TF_PLUGIN_DIR:-/opt/tf-plugins}"
# The provider mirror CI creates, when it is there; otherwise plain `terraform init` downloads the
# providers from the registry (a workstation with internet).
plugin_args=()
if [[ -d "${plugin_dir}" ]]; then plugin_args=(-plugin-dir="${plugin_dir}"); fi
step_timeout="${TF_MOTO_TIMEOUT:-480}"
functions=(inventory billing-api billing-consumer setup)

step() { printf '\n==> %s\n' "$*"; }

work="$(mktemp -d "${TMPDIR:-/tmp}/tf-moto.XXXXXX")"
moto_pid=""
cleanup() {
  local rc=$?
  if [[ -n "${moto_pid}" ]] && kill -0 "${moto_pid}" 2>/dev/null; then
    echo "==> stopping moto (pid ${moto_pid})"
    kill "${moto_pid}" 2>/dev/null || true
    wait "${moto_pid}" 2>/dev/null || true
  fi
  if [[ "${KEEP_WORKDIR:-0}" == 1 ]]; then echo "work dir kept: ${work}"; else rm -rf "${work}"; fi
  exit "${rc}"
}
trap cleanup EXIT INT TERM

# moto 5.2.1 exactly: the version whose gaps scripts/moto_server.py fills and this script works
# around (scripts/services.sh pins the same).
python3 -c 'import moto.server, importlib.metadata as m, sys; sys.exit(m.version("moto") != "5.2.1")' 2>/dev/null || {
  step "installing moto[server] 5.2.1"
  python3 -m pip install -q --disable-pip-version-check 'moto[server,cognitoidp]==5.2.1'
}

port="${MOTO_PORT:-$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}"
endpoint="http://127.0.0.1:${port}"

step "starting moto on ${endpoint}"
# AWS managed policies (AmazonRDSEnhancedMonitoringRole) are only known to moto with this switch.
# scripts/moto_server.py is moto.server with its read-back gaps filled (see its docstring), so
# that the second plan compares against what AWS would return.
MOTO_IAM_LOAD_MANAGED_POLICIES=true python3 "${repo_root}/scripts/moto_server.py" -H 127.0.0.1 -p "${port}" >"${work}/moto.log" 2>&1 &
moto_pid=$!
for _ in $(seq 1 100); do
  if python3 -c "import urllib.request,sys; urllib.request.urlopen('${endpoint}/moto-api/', timeout=1)" 2>/dev/null; then break; fi
  kill -0 "${moto_pid}" 2>/dev/null || { cat "${work}/moto.log"; echo "moto did not start" >&2; exit 1; }
  sleep 0.2
done
python3 -c "import urllib.request; urllib.request.urlopen('${endpoint}/moto-api/', timeout=2)"

step "creating dummy function zips in ${work}/artifacts"
python3 - "${work}/artifacts" "${functions[@]}" <<'PY'
import os, sys, zipfile
root, names = sys.argv[1], sys.argv[2:]
for name in names:
    os.makedirs(os.path.join(root, name), exist_ok=True)
    path = os.path.join(root, name, "bootstrap.zip")
    with zipfile.ZipFile(path, "w") as z:
        info = zipfile.ZipInfo("bootstrap")
        info.external_attr = 0o755 << 16
        z.writestr(info, "#!/bin/sh\necho dummy %s\n" % name)
    print("  " + path)
PY

# A stand-in for make web's web/dist (index.html and one content-hashed asset), as the zips above
# stand in for make build's: the web module uploads whatever the directory holds.
step "creating a stand-in web/dist in ${work}/web/dist"
mkdir -p "${work}/web/dist/assets"
printf '<!doctype html>\n<html lang="en"><title>stand-in</title><script src="/assets/app.0123456789abcdef.js" type="module"></script></html>\n' >"${work}/web/dist/index.html"
printf 'console.log("stand-in for web/build.mjs");\n' >"${work}/web/dist/assets/app.0123456789abcdef.js"
find "${work}/web/dist" -type f | sed 's/^/  /'

step "copying terraform/ to ${work}/tf"
mkdir -p "${work}/tf"
(cd "${repo_root}/terraform" && tar --exclude=.terraform --exclude='*.tfstate*' -cf - .) | tar -C "${work}/tf" -xf -

export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_SESSION_TOKEN=testing
export AWS_REGION=eu-west-1 AWS_DEFAULT_REGION=eu-west-1
unset AWS_PROFILE AWS_ENDPOINT_URL
export TF_IN_AUTOMATION=1 TF_INPUT=0 CHECKPOINT_DISABLE=1
# The apply runs the AWS CLI once (the broker's log group): the pinned one make tools installs.
PATH="$(dirname "$("${repo_root}/scripts/tools.sh" aws)"):${PATH}"
export PATH
if [[ -n "${TF_CLI_CONFIG_FILE:-}" && ! -f "${TF_CLI_CONFIG_FILE}" ]]; then
  : >"${work}/terraformrc"
  export TF_CLI_CONFIG_FILE="${work}/terraformrc"
fi

openapi="${repo_root}/openapi.yaml"
[[ -f "${openapi}" ]] || { echo "missing ${openapi}" >&2; exit 1; }

csp="${repo_root}/web/csp.txt"
[[ -f "${csp}" ]] || { echo "missing ${csp}" >&2; exit 1; }

tf_vars=(
  -var-file="${work}/tf/tests/moto.tfvars"
  -var "aws_endpoint_url=${endpoint}"
  -var "artifacts_dir=${work}/artifacts"
  -var "openapi_path=${openapi}"
  -var "migrations_dir=${repo_root}/migrations"
  -var "web_dist_dir=${work}/web/dist"
  -var "web_csp_path=${csp}"
)

step "terraform init"
# The copy holds the committed .terraform.lock.hcl: the providers and checksums it names, unchanged.
timeout "${step_timeout}" terraform -chdir="${work}/tf" init -backend=false ${plugin_args[@]+"${plugin_args[@]}"} -lockfile=readonly -input=false -no-color >"${work}/init.log" 2>&1 \
  || { cat "${work}/init.log"; exit 1; }

step "terraform apply (moto)"
t0=$(date +%s)
timeout "${step_timeout}" terraform -chdir="${work}/tf" apply -auto-approve -no-color -compact-warnings "${tf_vars[@]}" >"${work}/apply.log" 2>&1 \
  || { tail -n 80 "${work}/apply.log"; echo "apply failed" >&2; exit 1; }
t1=$(date +%s)
grep -E '^Apply complete' "${work}/apply.log"
echo "resources and data sources in state: $(terraform -chdir="${work}/tf" state list | wc -l)"

# A second plan right after apply must be empty (exit 0): anything else is drift that a real
# account would also show on every run (perpetual diffs, replaced resources).
step "terraform plan -detailed-exitcode (must be empty after apply)"
set +e
timeout "${step_timeout}" terraform -chdir="${work}/tf" plan -detailed-exitcode -no-color -compact-warnings "${tf_vars[@]}" >"${work}/plan.log" 2>&1
plan_rc=$?
set -e
t_plan=$(date +%s)
if [[ "${plan_rc}" != 0 ]]; then
  sed -n '/Terraform will perform/,$p' "${work}/plan.log" | head -n 200
  tail -n 20 "${work}/plan.log"
  if [[ "${plan_rc}" == 2 ]]; then echo "second plan not empty (drift), see above" >&2; else echo "second plan failed" >&2; fi
  exit 1
fi
grep -E '^No changes' "${work}/plan.log"

# The web client (terraform/modules/web) as AWS would answer for it: a private bucket that only
# this distribution reads, the distribution's behaviors and response headers policy, the objects
# with their types and caching, config.json naming the user client and its managed login, and the
# user client's redirect URLs naming the distribution (set after it, by the AWS CLI).
step "web client: bucket, distribution, response headers policy, objects, config.json, the user client's URLs"
aws_moto() { aws --endpoint-url "${endpoint}" --output json "$@"; }
terraform -chdir="${work}/tf" output -json >"${work}/outputs.json"
out() { python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))[sys.argv[2]]["value"])' "${work}/outputs.json" "$1"; }
bucket=$(out web_bucket)
distribution=$(out web_distribution_id)
mkdir -p "${work}/web-check"
aws_moto s3api get-public-access-block --bucket "${bucket}" >"${work}/web-check/public-access-block.json"
aws_moto s3api get-bucket-ownership-controls --bucket "${bucket}" >"${work}/web-check/ownership.json"
aws_moto s3api get-bucket-policy --bucket "${bucket}" >"${work}/web-check/policy.json"
aws_moto cloudfront get-distribution --id "${distribution}" >"${work}/web-check/distribution.json"
policy_id=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["Distribution"]["DistributionConfig"]["DefaultCacheBehavior"]["ResponseHeadersPolicyId"])' "${work}/web-check/distribution.json")
aws_moto cloudfront get-response-headers-policy --id "${policy_id}" >"${work}/web-check/headers.json"
for key in index.html assets/app.0123456789abcdef.js config.json; do
  aws_moto s3api head-object --bucket "${bucket}" --key "${key}" >"${work}/web-check/head-${key//\//_}.json"
done
aws_moto s3api get-object --bucket "${bucket}" --key config.json "${work}/web-check/config.json" >/dev/null
aws_moto cognito-idp describe-user-pool --user-pool-id "$(out user_pool_id)" >"${work}/web-check/pool.json"
aws_moto cognito-idp describe-user-pool-client --user-pool-id "$(out user_pool_id)" --client-id "$(out user_client_id)" >"${work}/web-check/client.json"
python3 - "${work}/web-check" "${work}/outputs.json" "${csp}" <<'PY'
import json, os, sys
d, outputs, csp_file = sys.argv[1:]
load = lambda n: json.load(open(os.path.join(d, n)))
out = {k: v["value"] for k, v in json.load(open(outputs)).items()}
failures = []
def check(ok, what):
    print(f"  {'ok  ' if ok else 'FAIL'} {what}")
    ok or failures.append(what)

pab = load("public-access-block.json")["PublicAccessBlockConfiguration"]
check(all(pab.get(k) is True for k in ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")) and len(pab) == 4,
      f"bucket {out['web_bucket']}: public access block all true {pab}")
rules = load("ownership.json")["OwnershipControls"]["Rules"]
check(rules == [{"ObjectOwnership": "BucketOwnerEnforced"}], f"bucket: object ownership {rules}")

dist = load("distribution.json")["Distribution"]
arn, cfg = dist["ARN"], dist["DistributionConfig"]
stmts = json.loads(load("policy.json")["Policy"])["Statement"]
allow = [s for s in stmts if s["Effect"] == "Allow"]
deny = [s for s in stmts if s["Effect"] == "Deny"]
check(len(allow) == 1 and allow[0]["Principal"] == {"Service": "cloudfront.amazonaws.com"} and allow[0]["Action"] == "s3:GetObject"
      and allow[0]["Condition"] == {"StringEquals": {"AWS:SourceArn": arn}},
      f"bucket policy: s3:GetObject for cloudfront.amazonaws.com with AWS:SourceArn = {arn} only")
check(len(deny) == 1 and deny[0]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}, "bucket policy: requests without TLS denied")

check(out["web_url"] == f"https://{dist['DomainName']}/", f"web_url {out['web_url']} is the distribution's")
check(cfg["DefaultRootObject"] == "index.html", f"default root object {cfg['DefaultRootObject']!r}")
origins = {o["Id"]: o for o in cfg["Origins"]["Items"]}
s3 = [o for o in origins.values() if o["DomainName"] == f"{out['web_bucket']}.s3.{out['region']}.amazonaws.com"]
check(len(s3) == 1 and s3[0].get("OriginAccessControlId"), "the bucket is an origin, through an origin access control")
api_host = out["api_direct_url"].removeprefix("https://").rstrip("/")
behaviors = {b["PathPattern"]: b for b in (cfg["CacheBehaviors"].get("Items") or [])}
check(sorted(behaviors) == ["/api/*", "/assets/*"], f"ordered behaviors {sorted(behaviors)}")
api = behaviors.get("/api/*", {})
check(origins.get(api.get("TargetOriginId"), {}).get("DomainName") == api_host
      and api.get("CachePolicyId") == "4135ea2d-6df8-44a3-9df3-4b5a84be39ad" and api.get("OriginRequestPolicyId") == "b689b0a8-53d0-40ab-baf2-68738e2966ac"
      and len(api.get("AllowedMethods", {}).get("Items", [])) == 7,
      f"/api/* to the HTTP API ({api_host}): every method, CachingDisabled, AllViewerExceptHostHeader")
check(behaviors.get("/assets/*", {}).get("CachePolicyId") == "658327ea-f89d-4fab-a63d-7e88639e58f6", "/assets/* with CachingOptimized")
default = cfg["DefaultCacheBehavior"]
check(default["CachePolicyId"] == "4135ea2d-6df8-44a3-9df3-4b5a84be39ad" and default["ViewerProtocolPolicy"] == "redirect-to-https",
      "default behavior (index.html, config.json): CachingDisabled, redirect-to-https")
policy_ids = {b.get("ResponseHeadersPolicyId") for b in [default, *behaviors.values()]}

headers = load("headers.json")["ResponseHeadersPolicy"]
check(policy_ids == {headers["Id"]}, f"one response headers policy on every behavior {policy_ids}")
pool = load("pool.json")["UserPool"]
authority = f"https://{pool['Domain']}.auth.{out['region']}.amazoncognito.com"
want_csp = open(csp_file).read().strip().replace("{auth_origin}", authority)
sec = headers["ResponseHeadersPolicyConfig"]["SecurityHeadersConfig"]
check(sec["ContentSecurityPolicy"] == {"Override": True, "ContentSecurityPolicy": want_csp}, f"CSP is web/csp.txt's with {authority}")
check(sec["StrictTransportSecurity"]["AccessControlMaxAgeSec"] == 31536000 and sec["FrameOptions"]["FrameOption"] == "DENY"
      and sec["ContentTypeOptions"]["Override"] and sec["ReferrerPolicy"]["ReferrerPolicy"] == "no-referrer",
      "HSTS a year, nosniff, DENY, no-referrer")

for key, ctype, cache in [("index.html", "text/html; charset=utf-8", "no-cache"),
                          ("assets_app.0123456789abcdef.js", "text/javascript; charset=utf-8", "public, max-age=31536000, immutable"),
                          ("config.json", "application/json", "no-cache")]:
    h = load(f"head-{key}.json")
    check((h.get("ContentType"), h.get("CacheControl")) == (ctype, cache), f"{key.replace('_', '/', 1) if key.startswith('assets') else key}: {h.get('ContentType')}, {h.get('CacheControl')}")

config = load("config.json")
want = {"authority": authority, "clientId": out["user_client_id"], "scopes": "openid email aws.cognito.signin.user.admin", "api": "/api"}
check(config == want, f"config.json {config}")
client = load("client.json")["UserPoolClient"]
check(client.get("CallbackURLs", [])[:1] == [out["web_url"]] and client.get("LogoutURLs", [])[:1] == [out["web_url"]],
      f"user client: redirect URLs {client.get('CallbackURLs')}, sign-out URLs {client.get('LogoutURLs')}")
check(client.get("AllowedOAuthFlows") == ["code"] and client.get("AllowedOAuthFlowsUserPoolClient") is True and client.get("EnableTokenRevocation") is True
      and client.get("AccessTokenValidity") == 60, "user client: the rest carried over by the URL update (code flow, token revocation, validity)")
sys.exit(f"web client: {len(failures)} check(s) failed" if failures else 0)
PY

# No secret in the state: every secret value the apply created (Secrets Manager, Cognito client
# secrets), searched for in the state file (scripts/tf-state-secrets.py).
step "no secret in the state"
terraform -chdir="${work}/tf" state pull >"${work}/raw.tfstate"
python3 "${repo_root}/scripts/tf-state-secrets.py" "${endpoint}" "${work}/raw.tfstate"

# IAM lint: every policy document in the applied state, through parliament and cloudsplaining
# (scripts/iam-lint.py; suppressions with their reasons in terraform/tests/iam-lint-suppressions.json).
step "IAM lint (parliament, cloudsplaining) of every policy in the state"
terraform -chdir="${work}/tf" show -json >"${work}/state.json"
IAM_LINT_OUT="${work}/iam-policies" python3 "${repo_root}/scripts/iam-lint.py" "${work}/state.json"
t_lint=$(date +%s)

# A rename is refused at plan time (terraform_data.rename_guard in main.tf): the plan must fail,
# and say why.
step "terraform plan with a new environment name (must be refused)"
set +e
timeout "${step_timeout}" terraform -chdir="${work}/tf" plan -no-color -compact-warnings "${tf_vars[@]}" -var environment=moto-renamed >"${work}/rename.log" 2>&1
rename_rc=$?
set -e
if [[ "${rename_rc}" == 0 ]] || ! grep -q 'Refusing to rename the stack' "${work}/rename.log"; then
  tail -n 40 "${work}/rename.log"
  echo "a rename was not refused at plan time" >&2
  exit 1
fi
grep -m1 -o 'Refusing to rename the stack from [^:]*' "${work}/rename.log"

# Cost model: plan the default profile and profiles/dev.tfvars (each in a workspace of its own,
# nothing is created) and check docs/costs.md's tables against what they would create.
step "cost check: docs/costs.md against plans of the default and dev profiles"
python3 - "${work}/rds-ca-layer.zip" <<'PY'
import sys, zipfile
with zipfile.ZipFile(sys.argv[1], "w") as z:
    z.writestr("rds-ca/global-bundle.pem", "dummy for the plan\n")
PY
cost_vars=(
  -var "aws_endpoint_url=${endpoint}"
  -var "artifacts_dir=${work}/artifacts"
  -var "openapi_path=${openapi}"
  -var "migrations_dir=${repo_root}/migrations"
  -var "web_dist_dir=${work}/web/dist"
  -var "web_csp_path=${csp}"
)
for profile in default dev; do
  extra=()
  [[ "${profile}" == dev ]] && extra=(-var-file="${work}/tf/profiles/dev.tfvars" -var "database_ca_layer_zip=${work}/rds-ca-layer.zip")
  terraform -chdir="${work}/tf" workspace new -no-color "cost-${profile}" >/dev/null
  timeout "${step_timeout}" terraform -chdir="${work}/tf" plan -no-color -lock=false "${cost_vars[@]}" "${extra[@]}" -out="${work}/cost-${profile}.tfplan" >"${work}/cost-${profile}.log" 2>&1 \
    || { tail -n 40 "${work}/cost-${profile}.log"; echo "plan of the ${profile} profile failed" >&2; exit 1; }
  terraform -chdir="${work}/tf" show -json "${work}/cost-${profile}.tfplan" >"${work}/cost-${profile}.json"
  terraform -chdir="${work}/tf" workspace select -no-color default >/dev/null
  terraform -chdir="${work}/tf" workspace delete -no-color "cost-${profile}" >/dev/null
done
python3 "${repo_root}/scripts/cost-check.py" --plan "default=${work}/cost-default.json" --plan "dev=${work}/cost-dev.json" "${repo_root}/docs/costs.md"
t_cost=$(date +%s)

# Convergence: an ordinary resize (RDS instance class, broker size, two functions' memory) is
# applied, and the plan after it must be empty, as on AWS with apply_immediately.
step "terraform apply of a resize (db class, broker size, function memory), then an empty plan"
resized=(-var-file="${work}/tf/tests/moto-resized.tfvars")
timeout "${step_timeout}" terraform -chdir="${work}/tf" apply -auto-approve -no-color -compact-warnings "${tf_vars[@]}" "${resized[@]}" >"${work}/resize.log" 2>&1 \
  || { tail -n 80 "${work}/resize.log"; echo "resize apply failed" >&2; exit 1; }
grep -E '^Apply complete' "${work}/resize.log"
set +e
timeout "${step_timeout}" terraform -chdir="${work}/tf" plan -detailed-exitcode -no-color -compact-warnings "${tf_vars[@]}" "${resized[@]}" >"${work}/plan3.log" 2>&1
plan3_rc=$?
set -e
if [[ "${plan3_rc}" != 0 ]]; then
  sed -n '/Terraform will perform/,$p' "${work}/plan3.log" | head -n 200
  tail -n 20 "${work}/plan3.log"
  echo "the plan after the resize is not empty (or failed): the change does not converge" >&2
  exit 1
fi
grep -E '^No changes' "${work}/plan3.log"
t_resize=$(date +%s)

# The application functions' live aliases belong to make rollout (CodeDeploy) once created: the
# resize published a new version of inventory and billing-consumer (their memory changed), and
# their aliases must still be on the first one. Then the aliases are moved as a rollout moves them
# (inventory in the middle of a canary: version 1 with 10% on version 2; billing-consumer done:
# version 2) and setup's by hand; the next plan must change setup's alias only (Terraform points it
# back at its version) and leave the other two alone.
step "live aliases: the apply publishes but leaves them; moved as a rollout moves them, the next plan leaves them"
terraform -chdir="${work}/tf" output -json function_names >"${work}/function-names.json"
fn_name() { python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "${work}/function-names.json" "$1"; }
terraform -chdir="${work}/tf" output -json rollout >"${work}/rollout.json"
python3 - "${work}/rollout.json" <<'PY'
import json, sys
fns = json.load(open(sys.argv[1]))["functions"]
want = {"inventory": "2", "billing-api": "1", "billing-consumer": "2"}
got = {k: f["version"] for k, f in fns.items()}
if got != want:
    sys.exit(f"terraform output rollout: published versions {got}, expected {want} after the resize")
print(f"  published after the resize: {got}")
PY
for f in inventory billing-api billing-consumer; do
  v=$(aws_moto lambda get-alias --function-name "$(fn_name "${f}")" --name live --query FunctionVersion --output text)
  [[ "${v}" == 1 ]] || { echo "the resize moved ${f}'s live alias to ${v}: Terraform must leave it to make rollout" >&2; exit 1; }
done
echo "  live aliases still on version 1: the apply published, make rollout moves"
aws_moto lambda update-alias --function-name "$(fn_name inventory)" --name live --function-version 1 \
  --routing-config '{"AdditionalVersionWeights": {"2": 0.1}}' >/dev/null
aws_moto lambda update-alias --function-name "$(fn_name billing-consumer)" --name live --function-version 2 >/dev/null
aws_moto lambda update-alias --function-name "$(fn_name setup)" --name live --function-version '$LATEST' >/dev/null
set +e
timeout "${step_timeout}" terraform -chdir="${work}/tf" plan -detailed-exitcode -no-color -compact-warnings "${tf_vars[@]}" "${resized[@]}" -out="${work}/alias.tfplan" >"${work}/plan4.log" 2>&1
plan4_rc=$?
set -e
[[ "${plan4_rc}" == 2 ]] || { tail -n 40 "${work}/plan4.log"; echo "the plan after moving the aliases by hand: exit ${plan4_rc}, expected 2 (setup's alias to put back)" >&2; exit 1; }
terraform -chdir="${work}/tf" show -json "${work}/alias.tfplan" >"${work}/alias.json"
python3 - "${work}/alias.json" <<'PY'
import json, sys
plan = json.load(open(sys.argv[1]))
changed = {rc["address"]: rc["change"] for rc in plan.get("resource_changes", []) if rc["change"]["actions"] != ["no-op"]}
setup = 'module.function["setup"].aws_lambda_alias.this[0]'
if set(changed) != {setup}:
    sys.exit(f"the plan after moving the aliases by hand changes {sorted(changed)}; expected only {setup}")
c = changed[setup]
if c["actions"] != ["update"] or (c["before"]["function_version"], c["after"]["function_version"]) != ("$LATEST", "1"):
    sys.exit(f"setup's alias: {c['actions']} {c['before']['function_version']} -> {c['after']['function_version']}, expected update $LATEST -> 1")
print("  plan: inventory (mid-canary) and billing-consumer (rolled out) left alone; setup's alias back $LATEST -> 1")
PY
t_alias=$(date +%s)

# What moto cannot delete, dropped from the state before a destroy (destroy LOG VARS...).
destroy() {
  local log=$1
  shift
  # moto 5.2.1 creates Cognito resource servers but does not implement DeleteResourceServer; the
  # resource server goes away with its user pool, so only Terraform's bookkeeping is dropped here.
  terraform -chdir="${work}/tf" state rm -no-color module.auth.aws_cognito_resource_server.this >/dev/null
  # moto 5.2.1 creates CodeDeploy applications and deployment groups but implements neither
  # DeleteDeploymentGroup nor DeleteApplication (the provider retries until the step times out); they
  # hold nothing but their settings, so only Terraform's bookkeeping is dropped here.
  terraform -chdir="${work}/tf" state list | grep -E '^module\.rollout\[0\]\.aws_codedeploy_(deployment_group|app)\.' \
    | while read -r addr; do terraform -chdir="${work}/tf" state rm -no-color "${addr}" >/dev/null; done
  timeout "${step_timeout}" terraform -chdir="${work}/tf" destroy -auto-approve -no-color -compact-warnings "${tf_vars[@]}" "$@" >"${work}/${log}" 2>&1 \
    || { tail -n 80 "${work}/${log}"; echo "destroy failed" >&2; exit 1; }
  grep -E '^Destroy complete' "${work}/${log}"
  local left
  left="$(terraform -chdir="${work}/tf" state list | wc -l)"
  [[ "${left}" == 0 ]] || { echo "state not empty after destroy (${left} resources)" >&2; exit 1; }
}

step "terraform destroy (moto)"
destroy destroy.log "${resized[@]}"
t2=$(date +%s)

# package_type = Image, deployed as docs/images.md says: the ECR repositories first, an image in
# each, then the whole stack from the images. moto has no registry API: the push is its last call,
# PutImage with the image's manifest. The functions must then be images of those repositories at
# that tag, each repository's policy must let Lambda pull for that function only, a second plan
# must be empty, and the destroy must go through once the images are deleted (the repositories
# keep images: force_delete = false).
step "package_type = Image: ECR repositories, an image pushed to each, the stack from the images, an empty plan, destroy"
# Another environment name: moto keeps what it cannot delete (CodeDeploy, the Cognito resource
# server) after the first destroy, and a second stack of the same names would collide with it.
# No web client here: it does not depend on package_type, the zip stack above checked it, and its
# distribution's deploy and disable waits would only add minutes.
image_vars=(-var package_type=Image -var image_tag=moto-1 -var environment=image -var create_web=false)
ecr_targets=()
for f in "${functions[@]}"; do ecr_targets+=(-target="module.function[\"${f}\"].aws_ecr_repository.this[0]"); done
timeout "${step_timeout}" terraform -chdir="${work}/tf" apply -auto-approve -no-color -compact-warnings "${tf_vars[@]}" "${image_vars[@]}" "${ecr_targets[@]}" >"${work}/image-ecr.log" 2>&1 \
  || { tail -n 80 "${work}/image-ecr.log"; echo "apply of the ECR repositories failed" >&2; exit 1; }
grep -E '^Apply complete' "${work}/image-ecr.log"
manifest='{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2},"layers":[]}'
repos=$(aws_moto ecr describe-repositories --query 'repositories[].repositoryName' --output text)
[[ $(wc -w <<<"${repos}") == "${#functions[@]}" ]] || { echo "ECR repositories after the targeted apply: ${repos}" >&2; exit 1; }
for repo in ${repos}; do
  aws_moto ecr put-image --repository-name "${repo}" --image-tag moto-1 --image-manifest "${manifest}" \
    --image-manifest-media-type application/vnd.oci.image.manifest.v1+json >/dev/null
done
echo "  pushed moto-1 to ${repos}"
timeout "${step_timeout}" terraform -chdir="${work}/tf" apply -auto-approve -no-color -compact-warnings "${tf_vars[@]}" "${image_vars[@]}" >"${work}/image-apply.log" 2>&1 \
  || { tail -n 80 "${work}/image-apply.log"; echo "apply with package_type = Image failed" >&2; exit 1; }
grep -E '^Apply complete' "${work}/image-apply.log"
terraform -chdir="${work}/tf" output -json function_names >"${work}/function-names.json"
for f in "${functions[@]}"; do
  name=$(fn_name "${f}")
  aws_moto lambda get-function --function-name "${name}" >"${work}/image-fn.json"
  aws_moto ecr describe-repositories --repository-names "${name}" >"${work}/image-repo.json"
  aws_moto ecr get-repository-policy --repository-name "${name}" >"${work}/image-policy.json"
  python3 - "${work}" "${f}" <<'PY'
import json, os, sys
work, f = sys.argv[1], sys.argv[2]
load = lambda n: json.load(open(os.path.join(work, n)))
fn, repo = load("image-fn.json"), load("image-repo.json")["repositories"][0]
policy = json.loads(load("image-policy.json")["policyText"])
arn = fn["Configuration"]["FunctionArn"].split(":function:")[0] + ":function:" + fn["Configuration"]["FunctionName"]
want = repo["repositoryUri"] + ":moto-1"
if fn["Configuration"].get("PackageType") != "Image" or fn["Code"].get("ImageUri") != want:
    sys.exit(f"{f}: {fn['Configuration'].get('PackageType')} {fn['Code'].get('ImageUri')}, expected Image {want}")
[st] = policy["Statement"]
if st["Principal"] != {"Service": "lambda.amazonaws.com"} or sorted(st["Action"]) != ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"] \
        or sorted(st["Condition"]["StringLike"]["aws:sourceArn"]) != [arn, arn + ":*"]:
    sys.exit(f"{f}: the repository policy is not Lambda's pull for this function only: {st}")
print(f"  {f}: Image {want}; Lambda may pull it for {arn} only")
PY
done
set +e
timeout "${step_timeout}" terraform -chdir="${work}/tf" plan -detailed-exitcode -no-color -compact-warnings "${tf_vars[@]}" "${image_vars[@]}" >"${work}/image-plan.log" 2>&1
image_plan_rc=$?
set -e
if [[ "${image_plan_rc}" != 0 ]]; then
  sed -n '/Terraform will perform/,$p' "${work}/image-plan.log" | head -n 120
  echo "the plan after the image apply is not empty (or failed)" >&2
  exit 1
fi
grep -E '^No changes' "${work}/image-plan.log"
for repo in ${repos}; do aws_moto ecr batch-delete-image --repository-name "${repo}" --image-ids imageTag=moto-1 >/dev/null; done
destroy image-destroy.log "${image_vars[@]}"
t_image=$(date +%s)

step "tf-moto passed: apply $((t1 - t0))s, second plan $((t_plan - t1))s (empty), web checks and IAM lint $((t_lint - t_plan))s, rename refusal and cost check $((t_cost - t_lint))s, resize and third plan $((t_resize - t_cost))s (empty), aliases moved by hand and fourth plan $((t_alias - t_resize))s (setup's alias only), destroy $((t2 - t_alias))s, package_type = Image apply, plan and destroy $((t_image - t2))s"
