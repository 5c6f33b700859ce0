data "aws_region" "current" {}
data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}

locals {
  region = data.aws_region.current.name
  ns     = var.metrics_namespace
  app    = { for k, v in var.functions : k => v if k != "setup" }

  lambda_metric = { for stat in ["Errors", "Throttles", "ConcurrentExecutions"] : stat => [
    for k, fn in var.functions : ["AWS/Lambda", stat, "FunctionName", fn]
  ] }

  widgets = [
    {
      type = "metric", x = 0, y = 0, width = 8, height = 6
      properties = {
        title = "API latency (ms)", region = local.region, view = "timeSeries", stat = "p99", period = 60
        metrics = [
          ["AWS/ApiGateway", "Latency", "ApiId", var.api_id, { stat = "p50", label = "p50" }],
          ["AWS/ApiGateway", "Latency", "ApiId", var.api_id, { stat = "p99", label = "p99" }],
          ["AWS/ApiGateway", "IntegrationLatency", "ApiId", var.api_id, { stat = "p99", label = "integration p99" }],
        ]
      }
    },
    {
      type = "metric", x = 8, y = 0, width = 8, height = 6
      properties = {
        title = "API requests and errors", region = local.region, view = "timeSeries", stat = "Sum", period = 60
        metrics = [
          ["AWS/ApiGateway", "Count", "ApiId", var.api_id],
          ["AWS/ApiGateway", "4xx", "ApiId", var.api_id],
          ["AWS/ApiGateway", "5xx", "ApiId", var.api_id],
        ]
      }
    },
    {
      type = "metric", x = 16, y = 0, width = 8, height = 6
      properties = {
        title = "Business events", region = local.region, view = "timeSeries", stat = "Sum", period = 60
        metrics = concat(
          [for m in ["MoviesCreated", "MoviesDeleted"] : [local.ns, m, "Service", var.functions["inventory"]]],
          [[local.ns, "OrdersQueued", "Service", var.functions["billing-api"]]],
          [for m in ["OrdersStored", "OrdersDuplicated", "OrdersDeadLettered"] : [local.ns, m, "Service", var.functions["billing-consumer"]]],
        )
      }
    },
    {
      type = "metric", x = 0, y = 6, width = 8, height = 6
      properties = {
        title   = "Lambda duration p99 (ms)", region = local.region, view = "timeSeries", stat = "p99", period = 60
        metrics = [for k, fn in var.functions : ["AWS/Lambda", "Duration", "FunctionName", fn]]
      }
    },
    {
      type = "metric", x = 8, y = 6, width = 8, height = 6
      properties = {
        title   = "Lambda errors and throttles", region = local.region, view = "timeSeries", stat = "Sum", period = 60
        metrics = concat(local.lambda_metric["Errors"], local.lambda_metric["Throttles"])
      }
    },
    {
      type = "metric", x = 16, y = 6, width = 8, height = 6
      properties = {
        title   = "Lambda concurrency", region = local.region, view = "timeSeries", stat = "Maximum", period = 60
        metrics = local.lambda_metric["ConcurrentExecutions"]
      }
    },
    {
      type = "metric", x = 0, y = 12, width = 8, height = 6
      properties = {
        title = "Database connections", region = local.region, view = "timeSeries", stat = "Maximum", period = 60
        metrics = concat(
          [["AWS/RDS", "DatabaseConnections", "DBInstanceIdentifier", var.db_instance_identifier, { label = "instance" }]],
          var.db_proxy_name == null ? [] : [
            ["AWS/RDS", "ClientConnections", "ProxyName", var.db_proxy_name, { label = "proxy client" }],
            ["AWS/RDS", "DatabaseConnections", "ProxyName", var.db_proxy_name, { label = "proxy to db" }],
          ],
          [for k, fn in local.app : [local.ns, "DbErrors", "Service", fn, { stat = "Sum", yAxis = "right" }]],
        )
      }
    },
    {
      type = "metric", x = 8, y = 12, width = 8, height = 6
      properties = {
        title = "Billing queue and DLQ", region = local.region, view = "timeSeries", stat = "Maximum", period = 60
        metrics = [
          ["AWS/AmazonMQ", "MessageCount", "Broker", var.broker_name, "VirtualHost", "/", "Queue", var.queue_name, { label = "billing_queue depth" }],
          ["AWS/AmazonMQ", "MessageUnacknowledgedCount", "Broker", var.broker_name, "VirtualHost", "/", "Queue", var.queue_name, { label = "unacked" }],
          ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", var.dlq_name, { label = "DLQ depth" }],
          [local.ns, "BatchSize", "Service", var.functions["billing-consumer"], { stat = "Average", yAxis = "right" }],
          [local.ns, "PublishConfirmLatency", "Service", var.functions["billing-api"], { stat = "p99", yAxis = "right" }],
        ]
      }
    },
    {
      type = "metric", x = 16, y = 12, width = 8, height = 6
      properties = {
        title = "RDS CPU (%) and free storage", region = local.region, view = "timeSeries", stat = "Average", period = 300
        metrics = [
          ["AWS/RDS", "CPUUtilization", "DBInstanceIdentifier", var.db_instance_identifier],
          ["AWS/RDS", "FreeStorageSpace", "DBInstanceIdentifier", var.db_instance_identifier, { yAxis = "right" }],
        ]
      }
    },
  ]

  # name => alarm definition; every alarm goes to the SNS topic.
  alarms = merge(
    {
      api-5xx = {
        description = "HTTP API returns 5xx", namespace = "AWS/ApiGateway", metric = "5xx", stat = "Sum"
        dimensions  = { ApiId = var.api_id }, threshold = var.api_5xx_threshold, operator = "GreaterThanOrEqualToThreshold", periods = 1, period = 300, extended = null
      }
      api-latency-p99 = {
        description = "HTTP API p99 latency too high", namespace = "AWS/ApiGateway", metric = "Latency", stat = null
        dimensions  = { ApiId = var.api_id }, threshold = var.api_latency_p99_ms, operator = "GreaterThanThreshold", periods = 3, period = 300, extended = "p99"
      }
      dlq-not-empty = {
        description = "Malformed billing messages were dead-lettered to SQS: inspect and redrive", namespace = "AWS/SQS", metric = "ApproximateNumberOfMessagesVisible", stat = "Maximum"
        dimensions  = { QueueName = var.dlq_name }, threshold = 0, operator = "GreaterThanThreshold", periods = 1, period = 300, extended = null
      }
      orders-dead-lettered = {
        description = "billing-consumer dead-lettered orders", namespace = local.ns, metric = "OrdersDeadLettered", stat = "Sum"
        dimensions  = { Service = var.functions["billing-consumer"] }, threshold = 0, operator = "GreaterThanThreshold", periods = 1, period = 300, extended = null
      }
      billing-queue-backlog = {
        description = "billing_queue is not drained (event source mapping or consumer stalled)", namespace = "AWS/AmazonMQ", metric = "MessageCount", stat = "Minimum"
        dimensions  = { Broker = var.broker_name, VirtualHost = "/", Queue = var.queue_name }, threshold = var.queue_depth_threshold, operator = "GreaterThanThreshold", periods = 3, period = 300, extended = null
      }
      # Amazon MQ publishes per-queue metrics for RabbitMQ in AWS/AmazonMQ with the dimensions
      # Broker, VirtualHost and Queue (Amazon MQ Developer Guide, "Available CloudWatch metrics
      # for Amazon MQ for RabbitMQ brokers"). billing_queue.dead is where the broker dead-letters
      # billing_queue's expired or rejected messages (billing-api topology.rs): orders that are
      # safe on the broker but not stored.
      billing-queue-dead-letters = {
        description = "Messages in billing_queue.dead: orders the broker dead-lettered (expired or rejected) are not stored; inspect and republish", namespace = "AWS/AmazonMQ", metric = "MessageCount", stat = "Maximum"
        dimensions  = { Broker = var.broker_name, VirtualHost = "/", Queue = "${var.queue_name}.dead" }, threshold = 0, operator = "GreaterThanThreshold", periods = 1, period = 300, extended = null
      }
      publish-confirm-latency-p99 = {
        description = "Broker publisher confirms are slow", namespace = local.ns, metric = "PublishConfirmLatency", stat = null
        dimensions  = { Service = var.functions["billing-api"] }, threshold = 1000, operator = "GreaterThanThreshold", periods = 3, period = 300, extended = "p99"
      }
      rds-cpu = {
        description = "RDS CPU high", namespace = "AWS/RDS", metric = "CPUUtilization", stat = "Average"
        dimensions  = { DBInstanceIdentifier = var.db_instance_identifier }, threshold = var.rds_cpu_threshold, operator = "GreaterThanThreshold", periods = 3, period = 300, extended = null
      }
      rds-free-storage = {
        description = "RDS free storage low", namespace = "AWS/RDS", metric = "FreeStorageSpace", stat = "Minimum"
        dimensions  = { DBInstanceIdentifier = var.db_instance_identifier }, threshold = var.rds_free_storage_bytes, operator = "LessThanThreshold", periods = 1, period = 300, extended = null
      }
    },
    var.db_proxy_name == null ? {} : {
      proxy-connections = {
        description = "RDS Proxy's connections to the database near the instance's limit (pool saturation: requests will wait, then 503)", namespace = "AWS/RDS", metric = "DatabaseConnections", stat = "Maximum"
        dimensions  = { ProxyName = var.db_proxy_name }, threshold = var.proxy_db_connections_threshold, operator = "GreaterThanThreshold", periods = 3, period = 60, extended = null
      }
    },
    { for k, fn in local.app : "${k}-errors" => {
      description = "${fn} invocation errors (for billing-consumer: batches being redelivered)", namespace = "AWS/Lambda", metric = "Errors", stat = "Sum"
      dimensions  = { FunctionName = fn }, threshold = 0, operator = "GreaterThanThreshold", periods = 1, period = 300, extended = null
    } },
    { for k, fn in local.app : "${k}-throttles" => {
      description = "${fn} throttled (reserved concurrency reached)", namespace = "AWS/Lambda", metric = "Throttles", stat = "Sum"
      dimensions  = { FunctionName = fn }, threshold = 0, operator = "GreaterThanThreshold", periods = 1, period = 300, extended = null
    } },
    { for k, fn in local.app : "${k}-db-errors" => {
      description = "${fn} database errors", namespace = local.ns, metric = "DbErrors", stat = "Sum"
      dimensions  = { Service = fn }, threshold = 0, operator = "GreaterThanThreshold", periods = 1, period = 300, extended = null
    } },
  )
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
