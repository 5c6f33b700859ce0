#!/usr/bin/env bash
# terraform init of terraform/ against the S3 backend (state encrypted, S3-native lock file, Terraform
# >= 1.10: no DynamoDB table). Used by .github/workflows/ci.yml (plan, apply); works the same from a laptop.
#   scripts/tf-backend-init.sh BUCKET KEY REGION
set -euo pipefail
[[ $# == 3 && -n "$1" && -n "$2" && -n "$3" ]] || { echo "usage: $0 BUCKET KEY REGION" >&2; exit 2; }
tf_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/../terraform" && pwd)"
# A partial backend block; the values come from the command line (backend.tf.example has the full form).
[[ -f "${tf_dir}/backend.tf" ]] || printf 'terraform {\n  backend "s3" {}\n}\n' >"${tf_dir}/backend.tf"
# -lockfile=readonly: the providers and checksums of the committed .terraform.lock.hcl, or a failure
# (a platform without a checksum there: docs/operations.md, "Pins and locks").
terraform -chdir="${tf_dir}" init -input=false -no-color -lockfile=readonly \
  -backend-config="bucket=$1" -backend-config="key=$2" -backend-config="region=$3" \
  -backend-config="encrypt=true" -backend-config="use_lockfile=true"
