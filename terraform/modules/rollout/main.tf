data "aws_partition" "current" {}
data "aws_region" "current" {}
data "aws_caller_identity" "current" {}

locals {
  partition  = data.aws_partition.current.partition
  region     = data.aws_region.current.name
  account_id = data.aws_caller_identity.current.account_id

  # Two alarms per function, on its alias only: Lambda publishes the alias's own series under the
  # dimensions FunctionName + Resource = <function>:<alias>
  # (https://docs.aws.amazon.com/lambda/latest/dg/monitoring-metrics.html: by Resource, a version or
  # an alias), which during a canary holds both versions' invocations through the alias.
  alarms = merge([
    for k, f in var.functions : {
      "${k}-errors" = {
        role        = k
        metric      = "Errors"
        dimensions  = { FunctionName = f.function_name, Resource = "${f.function_name}:${f.alias}" }
        description = "Rollout: invocation errors of ${f.function_name}:${f.alias}; during a CodeDeploy deployment it stops the deployment, which shifts the alias back."
      }
      "${k}-throttles" = {
        role        = k
        metric      = "Throttles"
        dimensions  = { FunctionName = f.function_name, Resource = "${f.function_name}:${f.alias}" }
        description = "Rollout: throttled invocations of ${f.function_name}:${f.alias}; during a CodeDeploy deployment it stops the deployment, which shifts the alias back."
      }
    }
  ]...)
}

# ---------------------------------------------------------------- rollout alarms
# Not in monitoring.json: they watch the alias, which only exists on AWS (the local platform has no
# versions or weights), and they are CodeDeploy's stop signal, not a page: the <function>-errors
# and <function>-throttles alarms of the observability module page for the same invocations.
# Any error or throttle in one period stops a deployment in progress; outside a deployment they
# only change state (no action).
resource "aws_cloudwatch_metric_alarm" "this" {
  for_each = local.alarms

  alarm_name          = "${var.name}-rollout-${each.key}"
  alarm_description   = each.value.description
  namespace           = "AWS/Lambda"
  metric_name         = each.value.metric
  dimensions          = each.value.dimensions
  statistic           = "Sum"
  period              = var.alarm_period_seconds
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  # No invocation in a period (a quiet canary) is not a failure.
  treat_missing_data = "notBreaching"

  tags = var.tags
}

# ---------------------------------------------------------------- CodeDeploy
resource "aws_codedeploy_app" "this" {
  count = var.create_codedeploy ? 1 : 0

  name             = var.name
  compute_platform = "Lambda"
  tags             = var.tags
}

# CodeDeploy assumes the role for this application's deployment groups only, in this account
# (https://docs.aws.amazon.com/codedeploy/latest/userguide/security_confused_deputy.html).
data "aws_iam_policy_document" "codedeploy_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["codedeploy.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
    condition {
      test     = "ArnLike"
      variable = "aws:SourceArn"
      values   = ["arn:${local.partition}:codedeploy:${local.region}:${local.account_id}:deploymentgroup:${var.name}/*"]
    }
  }
}

resource "aws_iam_role" "codedeploy" {
  count = var.create_codedeploy ? 1 : 0

  name_prefix        = "${substr(var.name, 0, 30)}-deploy-"
  description        = "CodeDeploy's service role for the Lambda deployments of ${var.name}"
  assume_role_policy = data.aws_iam_policy_document.codedeploy_assume.json
  tags               = var.tags
}

# AWS's managed policy for CodeDeploy's Lambda deployments, in its Limited form: read the alarms,
# read and update aliases and their provisioned concurrency, invoke CodeDeployHook_* functions (none
# here); without the full form's sns:Publish, which only CodeDeploy triggers need (none here)
# (https://docs.aws.amazon.com/aws-managed-policy/latest/reference/AWSCodeDeployRoleForLambdaLimited.html).
# AWS keeps its action list in step with what CodeDeploy calls; its lambda:UpdateAlias is on
# Resource "*", held in check by the trust policy above (this application's groups only) and by who
# may create deployments (the apply role).
resource "aws_iam_role_policy_attachment" "codedeploy" {
  count = var.create_codedeploy ? 1 : 0

  role       = aws_iam_role.codedeploy[0].name
  policy_arn = "arn:${local.partition}:iam::aws:policy/service-role/AWSCodeDeployRoleForLambdaLimited"
}

# One deployment group per function, so that each alias has its own alarms and each deployment
# its own status. Blue/green with traffic control is the only style of the Lambda platform; the
# configuration decides how the weights move
# (https://docs.aws.amazon.com/codedeploy/latest/userguide/deployment-configurations.html).
resource "aws_codedeploy_deployment_group" "this" {
  for_each = var.create_codedeploy ? var.functions : {}

  app_name               = aws_codedeploy_app.this[0].name
  deployment_group_name  = each.value.function_name
  service_role_arn       = aws_iam_role.codedeploy[0].arn
  deployment_config_name = var.deployment_config_name

  deployment_style {
    deployment_option = "WITH_TRAFFIC_CONTROL"
    deployment_type   = "BLUE_GREEN"
  }

  # An alarm in ALARM stops the deployment (up to ten alarms per group); false: a failure to read
  # the alarms stops it too
  # (https://docs.aws.amazon.com/codedeploy/latest/userguide/monitoring-create-alarms.html).
  alarm_configuration {
    enabled                   = true
    alarms                    = [for a in ["errors", "throttles"] : aws_cloudwatch_metric_alarm.this["${each.key}-${a}"].alarm_name]
    ignore_poll_alarm_failure = false
  }

  # A failed deployment, one stopped by an alarm and one stopped on request (make rollout stops the
  # others when one fails) redeploy the last good version: the alias's whole weight back on it
  # (https://docs.aws.amazon.com/codedeploy/latest/userguide/deployments-rollback-and-redeploy.html).
  auto_rollback_configuration {
    enabled = true
    events  = ["DEPLOYMENT_FAILURE", "DEPLOYMENT_STOP_ON_ALARM", "DEPLOYMENT_STOP_ON_REQUEST"]
  }

  tags = var.tags

  # The role carries its policy before a deployment of the group can use it.
  depends_on = [aws_iam_role_policy_attachment.codedeploy]
}
