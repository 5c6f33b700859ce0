data "aws_partition" "current" {}
data "aws_caller_identity" "current" {}
data "aws_region" "current" {}

locals {
  issuer_host = "token.actions.githubusercontent.com"
  provider_arn = var.create_oidc_provider ? aws_iam_openid_connect_provider.github[0].arn : (
    "arn:${data.aws_partition.current.partition}:iam::${data.aws_caller_identity.current.account_id}:oidc-provider/${local.issuer_host}"
  )

  # The sub claim GitHub puts in the token: "repo:<owner>/<repo>:pull_request" for pull request
  # runs, "repo:<owner>/<repo>:ref:refs/heads/<branch>" for a branch, and
  # "repo:<owner>/<repo>:environment:<name>" for a job that names an environment
  # (https://docs.github.com/en/actions/security-for-github-actions/security-hardening-your-deployments/about-security-hardening-with-openid-connect#example-subject-claims).
  plan_subjects = [
    "repo:${var.repository}:pull_request",
    "repo:${var.repository}:ref:refs/heads/${var.branch}",
  ]
  apply_subjects = ["repo:${var.repository}:environment:${var.environment}"]
}

# One provider per account for token.actions.githubusercontent.com; reuse an existing one with
# create_oidc_provider = false. IAM trusts GitHub's certificate chain itself, the thumbprint is
# only kept for the API (https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_providers_create_oidc.html).
resource "aws_iam_openid_connect_provider" "github" {
  count = var.create_oidc_provider ? 1 : 0

  url             = "https://${local.issuer_host}"
  client_id_list  = ["sts.amazonaws.com"]
  thumbprint_list = ["6938fd4d98bab03faadb97b34396831e3780aea1"]
  tags            = var.tags
}

data "aws_iam_policy_document" "trust" {
  for_each = { plan = local.plan_subjects, apply = local.apply_subjects }

  statement {
    actions = ["sts:AssumeRoleWithWebIdentity"]
    principals {
      type        = "Federated"
      identifiers = [local.provider_arn]
    }
    condition {
      test     = "StringEquals"
      variable = "${local.issuer_host}:aud"
      values   = ["sts.amazonaws.com"]
    }
    # Exact subjects (StringEquals, no wildcard): this repository, and for apply only jobs running
    # in the protected environment, which GitHub lets only the main branch use after an approval.
    condition {
      test     = "StringEquals"
      variable = "${local.issuer_host}:sub"
      values   = each.value
    }
  }
}

# plan: read-only, for pull requests and main (terraform plan -lock=false reads the state only).
resource "aws_iam_role" "plan" {
  name_prefix          = "${var.name}-gha-plan-"
  description          = "GitHub Actions terraform plan for ${var.repository} (pull requests, ${var.branch})"
  assume_role_policy   = data.aws_iam_policy_document.trust["plan"].json
  max_session_duration = 3600
  tags                 = var.tags
}

resource "aws_iam_role_policy_attachment" "plan_read_only" {
  role       = aws_iam_role.plan.name
  policy_arn = "arn:${data.aws_partition.current.partition}:iam::aws:policy/ReadOnlyAccess"
}

data "aws_iam_policy_document" "plan" {
  statement {
    sid       = "ReadState"
    actions   = ["s3:GetObject", "s3:ListBucket"]
    resources = ["arn:${data.aws_partition.current.partition}:s3:::${var.state_bucket}", "arn:${data.aws_partition.current.partition}:s3:::${var.state_bucket}/*"]
  }

  # Refreshing the secret versions reads them, as the state already holds them.
  statement {
    sid     = "RefreshProjectSecrets"
    actions = ["secretsmanager:GetSecretValue"]
    # The stack's secrets are all named <name>-<environment>/... (name_prefix); the tag condition
    # stays as a second fence.
    resources = ["arn:${data.aws_partition.current.partition}:secretsmanager:*:${data.aws_caller_identity.current.account_id}:secret:${var.name}/*"]
    condition {
      test     = "StringEquals"
      variable = "aws:ResourceTag/Project"
      values   = [var.project_tag]
    }
  }

  # The ephemeral passwords are opened at every plan. GetRandomPassword acts on no resource (its
  # Resource types column is empty: "you must specify all resources ("*")",
  # https://docs.aws.amazon.com/service-authorization/latest/reference/list_awssecretsmanager.html),
  # so a resource-tag condition would never match: it gets "*" and no condition.
  statement {
    sid       = "OpenEphemeralPasswords"
    actions   = ["secretsmanager:GetRandomPassword"]
    resources = ["*"]
  }

  # The project key encrypts the secret versions the plan reads (Secrets Manager decrypts with the
  # caller's kms:Decrypt) and the functions' environment: reading a function's configuration
  # returns EnvironmentResponse "Variables" when Lambda can decrypt them for the caller, and only
  # "Error" details when it cannot
  # (https://docs.aws.amazon.com/lambda/latest/api/API_EnvironmentResponse.html), so without this
  # every plan would re-add all four functions' variables.
  statement {
    sid       = "DecryptThroughSecretsManagerAndLambda"
    actions   = ["kms:Decrypt"]
    resources = [var.kms_key_arn]
    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["secretsmanager.${data.aws_region.current.name}.amazonaws.com", "lambda.${data.aws_region.current.name}.amazonaws.com"]
    }
  }
}

resource "aws_iam_role_policy" "plan" {
  name   = "state-and-secrets"
  role   = aws_iam_role.plan.id
  policy = data.aws_iam_policy_document.plan.json
}

# apply: creates IAM roles, KMS keys, VPCs, databases... only from the protected environment.
resource "aws_iam_role" "apply" {
  name_prefix          = "${var.name}-gha-apply-"
  description          = "GitHub Actions terraform apply for ${var.repository} (environment ${var.environment})"
  assume_role_policy   = data.aws_iam_policy_document.trust["apply"].json
  max_session_duration = 7200
  tags                 = var.tags
}

resource "aws_iam_role_policy_attachment" "apply" {
  #checkov:skip=CKV_AWS_274:The deploy role creates IAM roles, KMS keys and policies for the whole stack; it can only be assumed by jobs of one repository in its approval-protected environment.
  for_each = toset(var.apply_policy_arns)

  role       = aws_iam_role.apply.name
  policy_arn = each.value
}
