#!/usr/bin/env bash
# Static checks of terraform/: fmt, init+validate (root and every module; providers from the local
# mirror when there is one, else from the registry), the modules' `terraform test` files (plan
# only, mocked provider), checkov.
# Idempotent; leaves no .terraform directories in the repo.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
tf_dir="${repo_root}/terraform"
plugin_dir="${TF_PLUGIN_DIR:-/opt/tf-plugins}"
# The provider mirror CI creates, when it is there; otherwise plain `terraform init` downloads the
# providers from the registry (a workstation with internet).
plugin_args=()
if [[ -d "${plugin_dir}" ]]; then plugin_args=(-plugin-dir="${plugin_dir}"); fi

work="$(mktemp -d)"
trap 'rm -rf "${work}"' EXIT
# Quiet the "missing CLI config" warning without touching the user's config.
if [[ -n "${TF_CLI_CONFIG_FILE:-}" && ! -f "${TF_CLI_CONFIG_FILE}" ]]; then
  : >"${work}/terraformrc"
  export TF_CLI_CONFIG_FILE="${work}/terraformrc"
fi
export TF_IN_AUTOMATION=1 TF_INPUT=0 CHECKPOINT_DISABLE=1

step() { printf '\n==> %s\n' "$*"; }

step "terraform fmt -check -recursive terraform"
terraform fmt -check -recursive -diff "${tf_dir}"

dirs=("${tf_dir}")
for m in "${tf_dir}"/modules/*/; do dirs+=("${m%/}"); done

for d in "${dirs[@]}"; do
  rel="${d#"${repo_root}/"}"
  # A module that takes provider aliases from its caller (configuration_aliases, e.g. cdn's
  # aws.us_east_1) cannot be validated alone ("Provider configuration not present"); the root
  # validation above covers it with the real providers.
  if grep -qs configuration_aliases "${d}"/*.tf; then
    step "terraform validate: ${rel} (through the root: it needs provider aliases)"
    continue
  fi
  step "terraform init + validate: ${rel}"
  # A private data dir per module keeps .terraform out of the tree.
  export TF_DATA_DIR="${work}/data/${rel//\//_}"
  # terraform/.terraform.lock.hcl is committed: init must take the providers it names, with its
  # checksums, and change nothing (-lockfile=readonly); a module has none.
  lock_args=()
  lock_existed=0
  if [[ -f "${d}/.terraform.lock.hcl" ]]; then lock_existed=1; lock_args=(-lockfile=readonly); fi
  terraform -chdir="${d}" init -backend=false ${plugin_args[@]+"${plugin_args[@]}"} ${lock_args[@]+"${lock_args[@]}"} -input=false -no-color >"${work}/init.log" 2>&1 \
    || { cat "${work}/init.log"; exit 1; }
  terraform -chdir="${d}" validate -no-color
  if compgen -G "${d}/tests/*.tftest.hcl" >/dev/null; then
    step "terraform test: ${rel} (plan only, mocked provider)"
    terraform -chdir="${d}" test -no-color
  fi
  # A module's lock file, made from the local mirror, only holds this platform's hash: not kept.
  if [[ "${lock_existed}" == 0 ]]; then rm -f "${d}/.terraform.lock.hcl"; fi
done
unset TF_DATA_DIR

step "checkov over terraform/"
# An exact version (a new release brings new checks: they land by a commit), in a venv of its own
# under .local/tools: its dependencies (boto3 among them) would otherwise move moto's.
checkov_version="3.3.30"
checkov="checkov"
if [[ "$(checkov --version 2>/dev/null)" != "${checkov_version}" ]]; then
  checkov="${repo_root}/.local/tools/checkov-${checkov_version}/bin/checkov"
  if [[ ! -x "${checkov}" ]]; then
    echo "installing checkov ${checkov_version} (PyPI) into .local/tools"
    rm -rf "${repo_root}/.local/tools/checkov-${checkov_version}"
    python3 -m venv "${repo_root}/.local/tools/checkov-${checkov_version}"
    "${repo_root}/.local/tools/checkov-${checkov_version}/bin/pip" install -q --disable-pip-version-check "checkov==${checkov_version}"
  fi
fi
"${checkov}" --version
# Exit code is non-zero on any failed check; skips are inline (#checkov:skip=ID:reason) only.
"${checkov}" -d "${tf_dir}" --framework terraform --quiet --compact --skip-download --download-external-modules false

step "tf-check passed"
