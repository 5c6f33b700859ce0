data "aws_region" "current" {}
data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}

locals {
  region = data.aws_region.current.name

  # The one definition of the dashboard and the alarms, shared with the local gateway's
  # /_local/dashboard (local/gateway/src/monitoring.rs); its _comment explains the $tokens.
  definition = jsondecode(file("${path.module}/monitoring.json"))

  function_sets = {
    functions     = var.functions
    app_functions = { for k, v in var.functions : k => v if k != "setup" }
  }
  tokens = merge(
    { for k, v in var.functions : "$function:${k}" => v },
    {
      "$api_id"      = var.api_id
      "$broker"      = var.broker_name
      "$queue"       = var.queue_name
      "$dead_queue"  = "${var.queue_name}.dead"
      "$dlq"         = var.dlq_name
      "$db_instance" = var.db_instance_identifier
      "$db_proxy"    = var.db_proxy_name == null ? "" : var.db_proxy_name
    },
  )
  has = { db_proxy = var.db_proxy_name != null }

  # LambdaInsights metrics (the cold-start init series) only exist where the Lambda Insights
  # extension runs in the functions
  # (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/Lambda-Insights-metrics.html);
  # this stack does not deploy it, so on AWS they are left out instead of drawing an always-empty
  # series (the local gateway emits them itself for its dashboard).
  # Each metric entry expanded per function (each), or kept once under the key ""; concat(...)
  # joins the entries' lists one level deep (a metric is itself a list).
  widget_metrics = [for w in local.definition.widgets : concat([
    for m in w.metrics : [
      for key, fn in try(local.function_sets[m.each], { "" = "" }) : concat(
        [m.namespace, m.metric],
        flatten([for d, v in m.dimensions : [d, lookup(merge(local.tokens, { "$function" = fn }), v, v)]]),
        [merge(
          { label = replace(m.label, "$key", key) },
          { for o in ["stat", "yAxis"] : o => m[o] if can(m[o]) },
        )],
      )
    ] if try(local.has[m.when], true) && (m.namespace != "LambdaInsights" || var.lambda_insights)
  ]...)]

  widgets = [for i, w in local.definition.widgets : {
    type = "metric", x = w.x, y = w.y, width = w.width, height = w.height
    properties = {
      title   = w.title, region = local.region, view = "timeSeries", stat = w.stat, period = w.period
      metrics = local.widget_metrics[i]
    }
  }]

  # Per-deployment threshold overrides (null: the definition's threshold).
  threshold_overrides = {
    api-5xx               = var.api_5xx_threshold
    api-latency-p99       = var.api_latency_p99_ms
    billing-queue-backlog = var.queue_depth_threshold
    rds-cpu               = var.rds_cpu_threshold
    rds-free-storage      = var.rds_free_storage_bytes
    proxy-connections     = var.proxy_db_connections_threshold
  }

  # name => alarm; every alarm goes to the SNS topic.
  alarms = merge([
    for name, a in local.definition.alarms : {
      for key, fn in try(local.function_sets[a.each], { "" = "" }) : replace(name, "$key", key) => {
        description = replace(a.description, "$function", fn)
        namespace   = a.namespace
        metric      = a.metric
        dimensions  = { for d, v in a.dimensions : d => lookup(merge(local.tokens, { "$function" = fn }), v, v) }
        stat        = startswith(a.stat, "p") ? null : a.stat
        extended    = startswith(a.stat, "p") ? a.stat : null
        threshold   = coalesce(lookup(local.threshold_overrides, name, null), a.threshold)
        operator    = a.operator
        periods     = a.evaluation_periods
        period      = a.period
      }
    } if try(local.has[a.when], true)
  ]...)
}

# ---------------------------------------------------------------- SNS
resource "aws_sns_topic" "this" {
  name              = "${var.name}-alarms"
  kms_master_key_id = var.kms_key_arn
  tags              = var.tags
}

data "aws_iam_policy_document" "topic" {
  statement {
    sid       = "CloudWatchAlarms"
    actions   = ["sns:Publish"]
    resources = [aws_sns_topic.this.arn]
    principals {
      type        = "Service"
      identifiers = ["cloudwatch.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [data.aws_caller_identity.current.account_id]
    }
  }

  # EventBridge rules of this stack (named <name>-*), e.g. the Inspector findings rule; the key
  # policy lets events.amazonaws.com use the topic's KMS key
  # (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-use-resource-based.html#eb-sns-permissions).
  statement {
    sid       = "EventBridgeRules"
    actions   = ["sns:Publish"]
    resources = [aws_sns_topic.this.arn]
    principals {
      type        = "Service"
      identifiers = ["events.amazonaws.com"]
    }
    condition {
      test     = "ArnLike"
      variable = "aws:SourceArn"
      values   = ["arn:${data.aws_partition.current.partition}:events:${local.region}:${data.aws_caller_identity.current.account_id}:rule/${var.name}-*"]
    }
  }

  statement {
    sid       = "Budgets"
    actions   = ["sns:Publish"]
    resources = [aws_sns_topic.this.arn]
    principals {
      type        = "Service"
      identifiers = ["budgets.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [data.aws_caller_identity.current.account_id]
    }
  }
}

resource "aws_sns_topic_policy" "this" {
  arn    = aws_sns_topic.this.arn
  policy = data.aws_iam_policy_document.topic.json
}

resource "aws_sns_topic_subscription" "email" {
  count = var.alarm_email == null ? 0 : 1

  topic_arn = aws_sns_topic.this.arn
  protocol  = "email"
  endpoint  = var.alarm_email
}

# ---------------------------------------------------------------- dashboard and alarms
resource "aws_cloudwatch_dashboard" "this" {
  dashboard_name = var.name
  dashboard_body = jsonencode({ widgets = local.widgets })
}

resource "aws_cloudwatch_metric_alarm" "this" {
  for_each = local.alarms

  alarm_name          = "${var.name}-${each.key}"
  alarm_description   = each.value.description
  namespace           = each.value.namespace
  metric_name         = each.value.metric
  dimensions          = each.value.dimensions
  statistic           = each.value.stat
  extended_statistic  = each.value.extended
  period              = each.value.period
  evaluation_periods  = each.value.periods
  threshold           = each.value.threshold
  comparison_operator = each.value.operator
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.this.arn]
  ok_actions          = [aws_sns_topic.this.arn]

  tags = var.tags
}

# ---------------------------------------------------------------- budget
# Account-wide on purpose: a tag filter needs the cost allocation tag activated by hand first.
resource "aws_budgets_budget" "this" {
  count = var.create_budget ? 1 : 0

  name         = "${var.name}-monthly"
  account_id   = data.aws_caller_identity.current.account_id
  budget_type  = "COST"
  limit_amount = tostring(var.budget_limit_usd)
  limit_unit   = "USD"
  time_unit    = "MONTHLY"

  notification {
    comparison_operator        = "GREATER_THAN"
    threshold                  = 80
    threshold_type             = "PERCENTAGE"
    notification_type          = "ACTUAL"
    subscriber_sns_topic_arns  = [aws_sns_topic.this.arn]
    subscriber_email_addresses = var.budget_emails
  }

  notification {
    comparison_operator        = "GREATER_THAN"
    threshold                  = 100
    threshold_type             = "PERCENTAGE"
    notification_type          = "FORECASTED"
    subscriber_sns_topic_arns  = [aws_sns_topic.this.arn]
    subscriber_email_addresses = var.budget_emails
  }

  # Budgets checks that it may publish to the topic when the budget is created: the topic policy
  # must exist first (https://docs.aws.amazon.com/cost-management/latest/userguide/budgets-sns-policy.html).
  depends_on = [aws_sns_topic_policy.this]
}
