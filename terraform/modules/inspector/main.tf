data "aws_caller_identity" "current" {}

# Amazon Inspector scans the functions' dependencies (LAMBDA), their code (LAMBDA_CODE, needs
# LAMBDA) and, with package_type = Image, the ECR images (ECR), continuously: a new CVE re-scans
# what is deployed without a deploy (https://docs.aws.amazon.com/inspector/latest/user/scanning-lambda.html,
# https://docs.aws.amazon.com/inspector/latest/user/scanning-ecr.html). Activation is per account and
# region: destroying this resource turns these scan types off for the whole account.
resource "aws_inspector2_enabler" "this" {
  account_ids    = [data.aws_caller_identity.current.account_id]
  resource_types = var.resource_types

  # The provider waits 5 minutes by default, and activation in an account with scannable resources
  # often takes longer: the apply then fails and taints the enabler although Inspector goes on
  # enabling (https://github.com/hashicorp/terraform-provider-aws/pull/46807,
  # https://github.com/hashicorp/terraform-provider-aws/issues/30144).
  timeouts {
    create = "30m"
    update = "30m"
    delete = "30m"
  }
}

# Inspector publishes every finding change to EventBridge as "Inspector2 Finding"
# (https://docs.aws.amazon.com/inspector/latest/user/eventbridge-integration.html); the rule keeps
# the active HIGH and CRITICAL ones and sends them to the alarm topic, whose policy allows rules
# named <name>-* of this account (observability module).
resource "aws_cloudwatch_event_rule" "findings" {
  name        = "${var.name}-inspector-findings"
  description = "Amazon Inspector findings of severity ${join(" or ", var.severities)} to the alarm topic"
  event_pattern = jsonencode({
    source        = ["aws.inspector2"]
    "detail-type" = ["Inspector2 Finding"]
    detail = {
      severity = var.severities
      status   = ["ACTIVE"]
    }
  })
  tags = var.tags
}

resource "aws_cloudwatch_event_target" "findings" {
  rule      = aws_cloudwatch_event_rule.findings.name
  target_id = "alarm-topic"
  arn       = var.sns_topic_arn

  # One readable line in the e-mail instead of the raw event.
  input_transformer {
    input_paths = {
      severity = "$.detail.severity"
      title    = "$.detail.title"
      resource = "$.detail.resources[0].id"
      arn      = "$.detail.findingArn"
    }
    input_template = "\"Amazon Inspector <severity>: <title> in <resource> (<arn>). Runbook: README, Monitoring, inspector-finding.\""
  }
}
