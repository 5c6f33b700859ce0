data "aws_partition" "current" {}
data "aws_caller_identity" "current" {}
data "aws_region" "current" {}

locals {
  issuer_host = "token.actions.githubusercontent.com"
  provider_arn = var.create_oidc_provider ? aws_iam_openid_connect_provider.github[0].arn : (
    "arn:${data.aws_partition.current.partition}:iam::${data.aws_caller_identity.current.account_id}:oidc-provider/${local.issuer_host}"
  )

  # The sub claim GitHub puts in the token: "repo:<owner>/<repo>:environment:<name>" for a job
  # that names an environment, whatever triggered it
  # (https://docs.github.com/en/actions/security-for-github-actions/security-hardening-your-deployments/about-security-hardening-with-openid-connect#example-subject-claims).
  # Both roles trust only jobs in an environment: a pull request's plan gets a token only after
  # a reviewer of the plan environment approved that run, and an apply only in production.
  plan_subjects  = ["repo:${var.repository}:environment:${var.plan_environment}"]
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
    # Exact subjects (StringEquals, no wildcard): this repository's jobs in the one environment,
    # whose required reviewers (and, for production, main-only deployment branches) GitHub
    # enforces before the job starts.
    condition {
      test     = "StringEquals"
      variable = "${local.issuer_host}:sub"
      values   = each.value
    }
  }
}

# plan: read-only, for approved pull-request runs (terraform plan -refresh=false -lock=false reads
# the state and the data sources, no live resource). It can read no secret value: ReadOnlyAccess
# minus the APIs that return one, denied explicitly, since an explicit Deny wins over any Allow
# (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html).
resource "aws_iam_role" "plan" {
  name_prefix          = "${var.name}-gha-plan-"
  description          = "GitHub Actions terraform plan -refresh=false for ${var.repository} (environment ${var.plan_environment}); reads no secret"
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

  # The ephemeral passwords are opened at every plan. GetRandomPassword acts on no resource (its
  # Resource types column is empty: "you must specify all resources ("*")",
  # https://docs.aws.amazon.com/service-authorization/latest/reference/list_awssecretsmanager.html),
  # so a resource-tag condition would never match: it gets "*" and no condition.
  statement {
    sid       = "OpenEphemeralPasswords"
    actions   = ["secretsmanager:GetRandomPassword"]
    resources = ["*"]
  }

  # Every API of the account that returns a secret value: Secrets Manager's values, the app
  # clients' secrets (DescribeUserPoolClient returns ClientSecret,
  # https://docs.aws.amazon.com/cognito-user-identity-pools/latest/APIReference/API_DescribeUserPoolClient.html),
  # SecureString parameters and anything the project key encrypts.
  statement {
    sid    = "NoSecretValues"
    effect = "Deny"
    actions = [
      "secretsmanager:GetSecretValue",
      "secretsmanager:BatchGetSecretValue",
      "cognito-idp:DescribeUserPoolClient",
      "ssm:GetParameter",
      "ssm:GetParameters",
      "ssm:GetParametersByPath",
      "ssm:GetParameterHistory",
      "kms:Decrypt",
    ]
    resources = ["*"]
  }
}

resource "aws_iam_role_policy" "plan" {
  name   = "state-and-no-secrets"
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
