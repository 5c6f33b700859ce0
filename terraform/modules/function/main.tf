data "aws_partition" "current" {}
data "aws_region" "current" {}
data "aws_caller_identity" "current" {}

locals {
  is_zip         = var.package_type == "Zip"
  create_ecr     = !local.is_zip && var.create_ecr_repository
  log_group_name = "/aws/lambda/${var.name}"
  function_arn   = "arn:${data.aws_partition.current.partition}:lambda:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:function:${var.name}"
  log_group_arn  = "arn:${data.aws_partition.current.partition}:logs:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:log-group:${local.log_group_name}"
  image_uri      = var.image_uri != null ? var.image_uri : (local.create_ecr ? "${aws_ecr_repository.this[0].repository_url}:${var.image_tag}" : null)
  with_pc        = var.create_alias && var.provisioned_concurrency > 0
  # The alias, whichever resource holds it (null without create_alias).
  alias = one(concat(aws_lambda_alias.this, aws_lambda_alias.rollout))
}

# ---------------------------------------------------------------- logs
resource "aws_cloudwatch_log_group" "this" {
  #checkov:skip=CKV_AWS_338:Application logs are kept for log_retention_days (30 by default) on purpose: cost, and metrics are extracted (EMF) at ingestion.
  name              = local.log_group_name
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn
  tags              = var.tags
}

# ---------------------------------------------------------------- role
data "aws_iam_policy_document" "assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
  }
}

data "aws_iam_policy_document" "this" {
  #checkov:skip=CKV_AWS_111:ec2 network-interface and X-Ray write actions do not support resource-level permissions (AWS documents Resource "*").
  #checkov:skip=CKV_AWS_356:Same statements as above: these actions only accept Resource "*".
  statement {
    sid       = "WriteOwnLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${local.log_group_arn}:*"]
  }

  statement {
    sid       = "VpcNetworkInterfaces"
    actions   = ["ec2:CreateNetworkInterface", "ec2:DescribeNetworkInterfaces", "ec2:DeleteNetworkInterface", "ec2:AssignPrivateIpAddresses", "ec2:UnassignPrivateIpAddresses", "ec2:DescribeSubnets", "ec2:DescribeSecurityGroups", "ec2:DescribeVpcs"]
    resources = ["*"]
  }

  statement {
    sid       = "XRayTraces"
    actions   = ["xray:PutTraceSegments", "xray:PutTelemetryRecords"]
    resources = ["*"]
  }

  # Lambda decrypts the environment with the customer managed key on behalf of this function.
  dynamic "statement" {
    for_each = var.kms_key_arn == null ? [] : [var.kms_key_arn]
    content {
      sid       = "DecryptEnvironment"
      actions   = ["kms:Decrypt"]
      resources = [statement.value]
      condition {
        test     = "StringEquals"
        variable = "kms:EncryptionContext:LambdaFunctionName"
        values   = [var.name]
      }
    }
  }

  dynamic "statement" {
    for_each = var.policy_statements
    content {
      sid       = statement.value.sid
      effect    = statement.value.effect
      actions   = statement.value.actions
      resources = statement.value.resources

      dynamic "condition" {
        for_each = statement.value.conditions
        content {
          test     = condition.value.test
          variable = condition.value.variable
          values   = condition.value.values
        }
      }
    }
  }
}

resource "aws_iam_role" "this" {
  name_prefix        = "${substr(var.name, 0, 37)}-"
  description        = "Execution role of ${var.name}"
  assume_role_policy = data.aws_iam_policy_document.assume.json
  tags               = var.tags
}

resource "aws_iam_role_policy" "this" {
  name   = "least-privilege"
  role   = aws_iam_role.this.id
  policy = data.aws_iam_policy_document.this.json
}

# ---------------------------------------------------------------- ECR (image packaging)
resource "aws_ecr_repository" "this" {
  count = local.create_ecr ? 1 : 0

  name                 = var.name
  image_tag_mutability = "IMMUTABLE"
  force_delete         = false

  image_scanning_configuration {
    scan_on_push = true
  }

  encryption_configuration {
    encryption_type = var.kms_key_arn == null ? "AES256" : "KMS"
    kms_key         = var.kms_key_arn
  }

  tags = var.tags
}

# Lambda pulls the image with the repository's policy: this statement is the one Lambda would
# otherwise add itself at CreateFunction (and only if the caller may SetRepositoryPolicy), scoped
# to this function and its versions
# (https://repost.aws/knowledge-center/lambda-ecr-image, https://docs.aws.amazon.com/lambda/latest/dg/images-create.html).
resource "aws_ecr_repository_policy" "this" {
  count = local.create_ecr ? 1 : 0

  repository = aws_ecr_repository.this[0].name
  policy     = data.aws_iam_policy_document.ecr_pull.json
}

data "aws_iam_policy_document" "ecr_pull" {
  statement {
    sid     = "LambdaECRImageRetrievalPolicy"
    actions = ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]
    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
    condition {
      test     = "StringLike"
      variable = "aws:sourceArn"
      values   = [local.function_arn, "${local.function_arn}:*"]
    }
  }
}

resource "aws_ecr_lifecycle_policy" "this" {
  count = local.create_ecr ? 1 : 0

  repository = aws_ecr_repository.this[0].name
  policy = jsonencode({
    rules = [{
      rulePriority = 1
      description  = "Keep the last 10 images"
      selection    = { tagStatus = "any", countType = "imageCountMoreThan", countNumber = 10 }
      action       = { type = "expire" }
    }]
  })
}

# ---------------------------------------------------------------- function
resource "aws_lambda_function" "this" {
  #checkov:skip=CKV_AWS_116:Synchronous (API Gateway) and event-source-mapping invocations do not use a function DLQ; the billing consumer dead-letters bad messages itself to SQS.
  #checkov:skip=CKV_AWS_272:Artifacts are built by make build/CI and deployed by hash; AWS Signer code signing is a documented follow-up.
  function_name = var.name
  description   = var.description
  role          = aws_iam_role.this.arn
  package_type  = var.package_type
  architectures = ["arm64"]
  memory_size   = var.memory_size
  timeout       = var.timeout
  publish       = var.create_alias

  # Zip packaging: the Rust bootstrap on the OS-only runtime.
  runtime          = local.is_zip ? "provided.al2023" : null
  handler          = local.is_zip ? "bootstrap" : null
  filename         = local.is_zip ? var.filename : null
  source_code_hash = local.is_zip ? filebase64sha256(var.filename) : null

  # Image packaging. The entrypoint is the image's own (functions/Dockerfile), stated here so
  # that what Lambda reads back is what was set: left unset, moto answers an empty image
  # configuration that the provider reads as a block to remove, and whether AWS answers an unset
  # one by absence or emptiness is not documented; set, both answer it as set.
  image_uri = local.is_zip ? null : local.image_uri
  dynamic "image_config" {
    for_each = local.is_zip ? [] : [1]
    content {
      entry_point = ["/bootstrap"]
    }
  }

  layers = local.is_zip ? var.layers : null

  reserved_concurrent_executions = var.reserved_concurrent_executions
  kms_key_arn                    = var.kms_key_arn

  environment {
    variables = var.environment
  }

  vpc_config {
    subnet_ids         = var.subnet_ids
    security_group_ids = var.security_group_ids
  }

  tracing_config {
    mode = "Active"
  }

  # Lambda's advanced logging controls: with an application log level, Lambda sets
  # AWS_LAMBDA_LOG_LEVEL (the functions' telemetry honours it) and drops JSON lines below it; it
  # needs the JSON format, which keeps the functions' JSON lines as they are (no double encoding).
  # https://docs.aws.amazon.com/lambda/latest/dg/monitoring-cloudwatchlogs-log-level.html
  logging_config {
    log_format            = var.application_log_level == null ? "Text" : "JSON"
    application_log_level = var.application_log_level
    log_group             = aws_cloudwatch_log_group.this.name
  }

  tags = var.tags

  depends_on = [aws_iam_role_policy.this, aws_cloudwatch_log_group.this, aws_ecr_repository_policy.this]

  lifecycle {
    precondition {
      condition     = local.is_zip ? var.filename != null : local.image_uri != null
      error_message = "package_type = Zip needs filename; package_type = Image needs image_uri or create_ecr_repository."
    }
  }
}

# alias_moved_by = "terraform": every apply points the alias at the version it just published.
resource "aws_lambda_alias" "this" {
  count = var.create_alias && var.alias_moved_by == "terraform" ? 1 : 0

  name             = var.alias_name
  function_name    = aws_lambda_function.this.function_name
  function_version = aws_lambda_function.this.version
}

# alias_moved_by = "rollout": the first apply points the alias at the first version; from then on
# CodeDeploy (scripts/rollout.py) shifts it to each new version, through a weighted alias
# (https://docs.aws.amazon.com/lambda/latest/dg/configuring-alias-routing.html), so Terraform
# ignores the version and the weights it would otherwise put back. Terraform still publishes.
resource "aws_lambda_alias" "rollout" {
  count = var.create_alias && var.alias_moved_by == "rollout" ? 1 : 0

  name             = var.alias_name
  function_name    = aws_lambda_function.this.function_name
  function_version = aws_lambda_function.this.version

  lifecycle {
    ignore_changes = [function_version, routing_config]
  }
}

# Fixed provisioned concurrency; with autoscaling, Application Auto Scaling owns the value instead
# (registering the target with min_capacity provisions it), so Terraform never fights the scaler.
# Both are on the alias (its name, not a version), so they follow it when a rollout moves it; during
# a canary Lambda splits the allocation between the two versions
# (AllocatedProvisionedConcurrentExecutions fluctuates with the weights:
# https://docs.aws.amazon.com/lambda/latest/api/API_GetProvisionedConcurrencyConfig.html).
resource "aws_lambda_provisioned_concurrency_config" "this" {
  count = local.with_pc && !var.create_autoscaling ? 1 : 0

  function_name                     = aws_lambda_function.this.function_name
  qualifier                         = local.alias.name
  provisioned_concurrent_executions = var.provisioned_concurrency
}

resource "aws_appautoscaling_target" "this" {
  count = local.with_pc && var.create_autoscaling ? 1 : 0

  service_namespace  = "lambda"
  scalable_dimension = "lambda:function:ProvisionedConcurrency"
  resource_id        = "function:${aws_lambda_function.this.function_name}:${local.alias.name}"
  min_capacity       = var.provisioned_concurrency
  max_capacity       = var.autoscaling_max_capacity
}

resource "aws_appautoscaling_policy" "this" {
  count = local.with_pc && var.create_autoscaling ? 1 : 0

  name               = "${var.name}-provisioned-concurrency"
  policy_type        = "TargetTrackingScaling"
  service_namespace  = aws_appautoscaling_target.this[0].service_namespace
  scalable_dimension = aws_appautoscaling_target.this[0].scalable_dimension
  resource_id        = aws_appautoscaling_target.this[0].resource_id

  target_tracking_scaling_policy_configuration {
    target_value = var.autoscaling_target_utilization
    predefined_metric_specification {
      predefined_metric_type = "LambdaProvisionedConcurrencyUtilization"
    }
  }
}
