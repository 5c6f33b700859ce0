data "aws_availability_zones" "available" {
  #checkov:skip=CKV_AWS_394:Only the first az_count zones (sorted by name) are used, so a new zone never changes the subnets.
  state = "available"
}

data "aws_region" "current" {}
data "aws_partition" "current" {}
data "aws_caller_identity" "current" {}

locals {
  azs = slice(data.aws_availability_zones.available.names, 0, var.az_count)

  # Security groups, one per hop: functions and setup -> proxy -> database, billing-api and setup
  # -> broker (and the mapping ENIs inside the broker group), everything in the VPC -> endpoints.
  # One group per function: inventory reaches neither the broker nor SQS; only billing-api
  # publishes to the broker; billing-consumer is fed by the mapping and only dead-letters to SQS.
  app_functions = ["inventory", "billing-api", "billing-consumer"]
  security_groups = {
    inventory          = "inventory Lambda function (movies)"
    "billing-api"      = "billing-api Lambda function (publishes orders)"
    "billing-consumer" = "billing-consumer Lambda function (stores orders, dead-letters)"
    setup              = "Deploy-time setup Lambda function"
    proxy              = "RDS Proxy"
    database           = "RDS PostgreSQL instance"
    broker             = "Amazon MQ RabbitMQ broker and its event source mapping ENIs"
    endpoints          = "Interface VPC endpoints"
  }

  # from -> to on port, egress on "from" and ingress on "to".
  database_target = var.database_via_proxy ? "proxy" : "database"
  database_hops = merge(
    { for f in concat(local.app_functions, ["setup"]) : "${f}_to_${local.database_target}" => { from = f, to = local.database_target, port = 5432 } },
    var.database_via_proxy ? {
      proxy_to_database  = { from = "proxy", to = "database", port = 5432 }
      proxy_to_endpoints = { from = "proxy", to = "endpoints", port = 443 }
    } : {},
  )

  hops = merge(local.database_hops, {
    for f in local.app_functions : "${f}_to_endpoints" => { from = f, to = "endpoints", port = 443 }
    }, {
    "billing-api_to_broker" = { from = "billing-api", to = "broker", port = 5671 }
    setup_to_broker         = { from = "setup", to = "broker", port = 5671 }
    # The RabbitMQ management API (broker users), HTTPS on the console endpoint.
    setup_to_broker_console = { from = "setup", to = "broker", port = 443 }
    setup_to_endpoints      = { from = "setup", to = "endpoints", port = 443 }
    broker_to_broker        = { from = "broker", to = "broker", port = 5671 }
    broker_to_endpoints     = { from = "broker", to = "endpoints", port = 443 }
  })

  # With the NAT gateway, the hops that call AWS APIs may also leave the VPC on 443 (through the
  # NAT; the route table sends 0.0.0.0/0 there): functions and setup (Secrets Manager, SQS), the
  # mapping ENIs in the broker group (Lambda, Secrets Manager) and RDS Proxy (Secrets Manager).
  # Nothing else gets an internet route or port. Without these rules the security groups only
  # allow the endpoint hops, and a NAT alone would carry no traffic.
  internet_https = var.create_nat_gateway ? toset(concat(local.app_functions, ["setup", "broker", "proxy"])) : toset([])

  # Interface endpoints live in the first endpoint_az_count private subnets; every subnet of the
  # VPC reaches them (private DNS, local routing), at 0.01 USD/GB cross-AZ.
  endpoint_subnet_ids = slice(aws_subnet.private[*].id, 0, min(var.endpoint_az_count, var.az_count))
}

resource "aws_vpc" "this" {
  cidr_block           = var.cidr_block
  enable_dns_support   = true
  enable_dns_hostnames = true

  tags = merge(var.tags, { Name = var.name })
}

# Lock down the default security group: nothing may use it by accident.
resource "aws_default_security_group" "this" {
  vpc_id = aws_vpc.this.id

  tags = merge(var.tags, { Name = "${var.name}-default-deny" })
}

resource "aws_subnet" "private" {
  count = var.az_count

  vpc_id            = aws_vpc.this.id
  availability_zone = local.azs[count.index]
  cidr_block        = cidrsubnet(var.cidr_block, 4, count.index)

  tags = merge(var.tags, { Name = "${var.name}-private-${local.azs[count.index]}", Tier = "private" })
}

resource "aws_route_table" "private" {
  vpc_id = aws_vpc.this.id

  tags = merge(var.tags, { Name = "${var.name}-private" })
}

resource "aws_route_table_association" "private" {
  count = var.az_count

  subnet_id      = aws_subnet.private[count.index].id
  route_table_id = aws_route_table.private.id
}

# ---------------------------------------------------------------- optional NAT
resource "aws_subnet" "public" {
  count = var.create_nat_gateway ? var.az_count : 0

  vpc_id            = aws_vpc.this.id
  availability_zone = local.azs[count.index]
  cidr_block        = cidrsubnet(var.cidr_block, 4, 8 + count.index)

  tags = merge(var.tags, { Name = "${var.name}-public-${local.azs[count.index]}", Tier = "public" })
}

resource "aws_internet_gateway" "this" {
  count = var.create_nat_gateway ? 1 : 0

  vpc_id = aws_vpc.this.id
  tags   = merge(var.tags, { Name = var.name })
}

resource "aws_route_table" "public" {
  count = var.create_nat_gateway ? 1 : 0

  vpc_id = aws_vpc.this.id
  tags   = merge(var.tags, { Name = "${var.name}-public" })
}

resource "aws_route" "public_internet" {
  count = var.create_nat_gateway ? 1 : 0

  route_table_id         = aws_route_table.public[0].id
  destination_cidr_block = "0.0.0.0/0"
  gateway_id             = aws_internet_gateway.this[0].id
}

resource "aws_route_table_association" "public" {
  count = var.create_nat_gateway ? var.az_count : 0

  subnet_id      = aws_subnet.public[count.index].id
  route_table_id = aws_route_table.public[0].id
}

resource "aws_eip" "nat" {
  count = var.create_nat_gateway ? 1 : 0

  domain = "vpc"
  tags   = merge(var.tags, { Name = "${var.name}-nat" })
}

resource "aws_nat_gateway" "this" {
  count = var.create_nat_gateway ? 1 : 0

  allocation_id = aws_eip.nat[0].id
  subnet_id     = aws_subnet.public[0].id
  tags          = merge(var.tags, { Name = var.name })

  depends_on = [aws_internet_gateway.this]
}

resource "aws_route" "private_nat" {
  count = var.create_nat_gateway ? 1 : 0

  route_table_id         = aws_route_table.private.id
  destination_cidr_block = "0.0.0.0/0"
  nat_gateway_id         = aws_nat_gateway.this[0].id
}

# ---------------------------------------------------------------- security groups
resource "aws_security_group" "this" {
  #checkov:skip=CKV2_AWS_5:Attached by the caller (functions, proxy, RDS, broker) through the security_group_ids output, which checkov cannot follow.
  for_each = local.security_groups

  name_prefix = "${var.name}-${each.key}-"
  description = each.value
  vpc_id      = aws_vpc.this.id

  tags = merge(var.tags, { Name = "${var.name}-${each.key}" })

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_vpc_security_group_egress_rule" "hop" {
  for_each = local.hops

  security_group_id            = aws_security_group.this[each.value.from].id
  referenced_security_group_id = aws_security_group.this[each.value.to].id
  ip_protocol                  = "tcp"
  from_port                    = each.value.port
  to_port                      = each.value.port
  description                  = "${each.value.from} to ${each.value.to} on ${each.value.port}"
}

resource "aws_vpc_security_group_ingress_rule" "hop" {
  for_each = local.hops

  security_group_id            = aws_security_group.this[each.value.to].id
  referenced_security_group_id = aws_security_group.this[each.value.from].id
  ip_protocol                  = "tcp"
  from_port                    = each.value.port
  to_port                      = each.value.port
  description                  = "${each.value.from} to ${each.value.to} on ${each.value.port}"
}

resource "aws_vpc_security_group_egress_rule" "internet_https" {
  #checkov:skip=CKV_AWS_382:Only port 443, only with create_nat_gateway, only for the groups that call AWS APIs; the NAT is the one way out.
  for_each = local.internet_https

  security_group_id = aws_security_group.this[each.value].id
  cidr_ipv4         = "0.0.0.0/0"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  description       = "${each.value} to AWS APIs over HTTPS through the NAT gateway"
}

# ---------------------------------------------------------------- VPC endpoints
# Endpoint policies: the default policy lets any principal call anything in any account through
# the endpoint (https://docs.aws.amazon.com/vpc/latest/privatelink/vpc-endpoints-access.html).
# These allow only the calls this stack makes, on this account's resources, by this account's
# principals or by AWS services (STS serves both kinds of caller: the Amazon MQ mapping's pollers,
# the Lambda service, assume billing-consumer's role through it,
# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_sts_vpc_endpoint_policies.html):
# GetSecretValue by the functions, RDS Proxy and the mapping; SendMessage (SendMessageBatch) by
# billing-consumer; InvokeFunction and AssumeRole (with the session tags and source identity a
# service may set) by the mapping
# (https://docs.aws.amazon.com/lambda/latest/dg/process-mq-messages-with-lambda.html). Another
# service added to interface_endpoints gets its own actions on this account's resources.
locals {
  account_id = data.aws_caller_identity.current.account_id
  arn_base   = "arn:${data.aws_partition.current.partition}"
  endpoint_grants = {
    secretsmanager = { actions = ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"], resources = ["${local.arn_base}:secretsmanager:${data.aws_region.current.name}:${local.account_id}:secret:*"] }
    sqs            = { actions = ["sqs:SendMessage", "sqs:GetQueueAttributes", "sqs:GetQueueUrl"], resources = ["${local.arn_base}:sqs:${data.aws_region.current.name}:${local.account_id}:*"] }
    lambda         = { actions = ["lambda:InvokeFunction"], resources = ["${local.arn_base}:lambda:${data.aws_region.current.name}:${local.account_id}:function:*"] }
    sts            = { actions = ["sts:AssumeRole", "sts:TagSession", "sts:SetSourceIdentity"], resources = ["${local.arn_base}:iam::${local.account_id}:role/*"] }
  }
}

data "aws_iam_policy_document" "endpoint" {
  for_each = toset(var.interface_endpoints)

  #checkov:skip=CKV_AWS_111:Endpoint policy of a service not listed in endpoint_grants: its own actions, held to this account's principals and resources by the conditions.
  #checkov:skip=CKV_AWS_356:Same: an unlisted service's resources are limited by aws:ResourceAccount.
  dynamic "statement" {
    for_each = {
      OwnAccountPrincipals = { test = "StringEquals", variable = "aws:PrincipalAccount", values = [local.account_id] }
      AwsServices          = { test = "Bool", variable = "aws:PrincipalIsAWSService", values = ["true"] }
    }
    content {
      sid       = statement.key
      actions   = try(local.endpoint_grants[each.value].actions, ["${split(".", each.value)[0]}:*"])
      resources = try(local.endpoint_grants[each.value].resources, ["*"])
      principals {
        type        = "*"
        identifiers = ["*"]
      }
      condition {
        test     = statement.value.test
        variable = statement.value.variable
        values   = statement.value.values
      }
      condition {
        test     = "StringEquals"
        variable = "aws:ResourceAccount"
        values   = [local.account_id]
      }
    }
  }
}

resource "aws_vpc_endpoint" "interface" {
  for_each = toset(var.interface_endpoints)

  vpc_id              = aws_vpc.this.id
  service_name        = "com.amazonaws.${data.aws_region.current.name}.${each.value}"
  vpc_endpoint_type   = "Interface"
  private_dns_enabled = true
  subnet_ids          = local.endpoint_subnet_ids
  security_group_ids  = [aws_security_group.this["endpoints"].id]
  policy              = data.aws_iam_policy_document.endpoint[each.value].json

  tags = merge(var.tags, { Name = "${var.name}-${each.value}" })
}

# ---------------------------------------------------------------- flow logs
resource "aws_cloudwatch_log_group" "flow_log" {
  count = var.create_flow_log ? 1 : 0

  name              = "/vpc/${var.name}/flow-log"
  retention_in_days = var.flow_log_retention_days
  kms_key_id        = var.kms_key_arn

  tags = var.tags
}

# Role and policy as documented in "IAM role for publishing flow logs to CloudWatch Logs"
# (https://docs.aws.amazon.com/vpc/latest/userguide/flow-logs-iam-role.html): the five logs
# actions, and a trust policy limited to flow logs of this account and region (confused deputy:
# aws:SourceAccount and aws:SourceArn). The documented Resource "*" is narrowed to our log group;
# CreateLogGroup/DescribeLogGroups are kept because the service calls them before writing.
data "aws_iam_policy_document" "flow_log_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["vpc-flow-logs.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [data.aws_caller_identity.current.account_id]
    }
    condition {
      test     = "ArnLike"
      variable = "aws:SourceArn"
      values   = ["arn:${data.aws_partition.current.partition}:ec2:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:vpc-flow-log/*"]
    }
  }
}

data "aws_iam_policy_document" "flow_log" {
  count = var.create_flow_log ? 1 : 0

  statement {
    sid       = "WriteFlowLogGroup"
    actions   = ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"]
    resources = [aws_cloudwatch_log_group.flow_log[0].arn, "${aws_cloudwatch_log_group.flow_log[0].arn}:*"]
  }

  statement {
    sid = "FindFlowLogGroup"
    # DescribeLogGroups takes no resource ARN (parliament: RESOURCE_MISMATCH otherwise), as the
    # documented policy has it.
    actions   = ["logs:DescribeLogGroups"]
    resources = ["*"]
  }
}

resource "aws_iam_role" "flow_log" {
  count = var.create_flow_log ? 1 : 0

  name_prefix        = "${var.name}-flow-log-"
  assume_role_policy = data.aws_iam_policy_document.flow_log_assume.json
  tags               = var.tags
}

resource "aws_iam_role_policy" "flow_log" {
  count = var.create_flow_log ? 1 : 0

  name   = "write-flow-log"
  role   = aws_iam_role.flow_log[0].id
  policy = data.aws_iam_policy_document.flow_log[0].json
}

resource "aws_flow_log" "this" {
  count = var.create_flow_log ? 1 : 0

  vpc_id          = aws_vpc.this.id
  traffic_type    = "REJECT"
  log_destination = aws_cloudwatch_log_group.flow_log[0].arn
  iam_role_arn    = aws_iam_role.flow_log[0].arn

  tags = var.tags
}
