# ---------------------------------------------------------------- administrator credentials
# The password is generated as an ephemeral value (never in the plan or the state) and written
# to the secret with a write-only argument. aws_mq_broker has no write-only password argument in
# provider 5.100, so the broker is created with a bootstrap password instead, which the state does
# hold: setup, the first time it reaches a new broker, logs in with it and sets the administrator's
# password to the stored one through the RabbitMQ management API
# (PUT /api/users/{name}, as AWS documents it for the broker user it creates with the administrator
# tag: https://docs.aws.amazon.com/amazon-mq/latest/developer-guide/rabbitmq-basic-elements-user.html)
# before it creates any other user, and fails the deploy if it cannot. From then on the bootstrap
# value opens nothing.
# Bumping admin_password_version stores a new password; setup logs in with the previous one
# (the secret's AWSPREVIOUS version) and applies it.
ephemeral "aws_secretsmanager_random_password" "admin" {
  password_length     = 32
  exclude_punctuation = true
}

resource "aws_secretsmanager_secret" "this" {
  #checkov:skip=CKV2_AWS_57:Amazon MQ has no rotation integration for RabbitMQ users; a version bump rotates (docs/operations.md).
  name_prefix             = "${var.name}/broker-admin-"
  description             = "AMQP and management API credentials of the ${var.name} broker administrator (setup only)"
  kms_key_id              = var.kms_key_arn
  recovery_window_in_days = var.secret_recovery_window_days
  tags                    = var.tags
}

resource "aws_secretsmanager_secret_version" "this" {
  secret_id = aws_secretsmanager_secret.this.id
  secret_string_wo = jsonencode({
    username = var.username
    password = ephemeral.aws_secretsmanager_random_password.admin.random_password
  })
  secret_string_wo_version = var.admin_password_version
}

# The bootstrap password: drawn once (terraform_data keeps the first value; the data source draws
# a new one at every plan), given to the broker at creation, and kept in a secret of its own for
# setup's first login. Replaced on the broker by setup, so what the state holds opens nothing.
data "aws_secretsmanager_random_password" "bootstrap" {
  password_length     = 32
  exclude_punctuation = true
}

resource "terraform_data" "bootstrap_password" {
  input = data.aws_secretsmanager_random_password.bootstrap.random_password

  lifecycle {
    ignore_changes = [input]
  }
}

resource "aws_secretsmanager_secret" "bootstrap" {
  #checkov:skip=CKV2_AWS_57:A one-time password that setup replaces on the broker at its first run; nothing to rotate.
  name_prefix             = "${var.name}/broker-bootstrap-"
  description             = "The password the ${var.name} broker is created with; setup replaces it with the stored administrator password (setup only)"
  kms_key_id              = var.kms_key_arn
  recovery_window_in_days = var.secret_recovery_window_days
  tags                    = var.tags
}

resource "aws_secretsmanager_secret_version" "bootstrap" {
  secret_id = aws_secretsmanager_secret.bootstrap.id
  secret_string = jsonencode({
    username = var.username
    password = terraform_data.bootstrap_password.output
  })
}

# ---------------------------------------------------------------- application users
# billing-api's publish-only user and the event source mapping's consume-only user. Setup
# creates them on the broker (RabbitMQ management API) with the passwords stored here; bumping
# a version stores a new password and, through the setup trigger, re-runs setup to apply it.
ephemeral "aws_secretsmanager_random_password" "app" {
  for_each = var.app_users

  password_length     = 40
  exclude_punctuation = true
}

resource "aws_secretsmanager_secret" "app" {
  #checkov:skip=CKV2_AWS_57:Rotation is a version bump that re-runs setup (README "Broker users"); no rotation Lambda.
  for_each = var.app_users

  name_prefix             = "${var.name}/broker-${each.key}-"
  description             = "AMQP credentials of ${each.value.username}, the ${each.key} user of the ${var.name} broker"
  kms_key_id              = var.kms_key_arn
  recovery_window_in_days = var.secret_recovery_window_days
  tags                    = var.tags
}

resource "aws_secretsmanager_secret_version" "app" {
  for_each = var.app_users

  secret_id = aws_secretsmanager_secret.app[each.key].id
  secret_string_wo = jsonencode({
    username = each.value.username
    password = ephemeral.aws_secretsmanager_random_password.app[each.key].random_password
  })
  secret_string_wo_version = each.value.password_version
}

resource "aws_mq_broker" "this" {
  #checkov:skip=CKV_AWS_209:Amazon MQ for RabbitMQ only supports AWS owned keys for encryption at rest; data is still encrypted.
  broker_name                = var.name
  engine_type                = "RabbitMQ"
  engine_version             = var.engine_version
  host_instance_type         = var.host_instance_type
  deployment_mode            = var.deployment_mode
  publicly_accessible        = false
  auto_minor_version_upgrade = true
  # A new host_instance_type or engine_version is applied now, with a brief reboot, instead of in
  # the next maintenance window, so the plan converges: without it "the provider may report a
  # difference in its planning phase because a modification has not yet taken place" (aws_mq_broker
  # docs, https://github.com/hashicorp/terraform-provider-aws/blob/main/website/docs/r/mq_broker.html.markdown).
  apply_immediately = var.apply_immediately
  subnet_ids        = var.deployment_mode == "SINGLE_INSTANCE" ? [var.subnet_ids[0]] : var.subnet_ids
  security_groups   = [var.security_group_id]

  encryption_options {
    use_aws_owned_key = true
  }

  logs {
    general = true
  }

  maintenance_window_start_time {
    day_of_week = var.maintenance_window.day_of_week
    time_of_day = var.maintenance_window.time_of_day
    time_zone   = "UTC"
  }

  user {
    username = var.username
    password = terraform_data.bootstrap_password.output
  }

  tags = var.tags

  # Setup owns the administrator's password after creation (see the top of this file).
  lifecycle {
    ignore_changes = [user]
  }
}

# Amazon MQ writes the broker's general logs to /aws/amazonmq/broker/<broker id>/general, a group
# it creates itself without retention or our key, and Terraform learns the id only once the broker
# exists, so it cannot declare the group first as it does RDS Proxy's. Once the broker is up, the
# AWS CLI (a prerequisite of the deploy) creates the group if the service has not yet, then sets
# its retention and key (https://docs.aws.amazon.com/cli/latest/reference/logs/put-retention-policy.html,
# https://docs.aws.amazon.com/cli/latest/reference/logs/associate-kms-key.html); make verify
# checks the result. The group outlives a destroy: delete it by hand (docs/operations.md).
data "aws_region" "current" {}

locals {
  general_log_group = "/aws/amazonmq/broker/${aws_mq_broker.this.id}/general"
}

resource "terraform_data" "general_log_group" {
  triggers_replace = [aws_mq_broker.this.id, var.log_retention_days, var.kms_key_arn]

  provisioner "local-exec" {
    interpreter = ["/bin/sh", "-c"]
    command     = <<-EOT
      set -e
      [ -z "$ENDPOINT" ] || export AWS_ENDPOINT_URL="$ENDPOINT"
      # Created here with the key; or Amazon MQ created it first, and the key is associated (it
      # applies to events from then on). Any other error stops the apply with its message.
      if ! out=$(aws logs create-log-group --region "$REGION" --log-group-name "$GROUP" --kms-key-id "$KEY" 2>&1); then
        case "$out" in
          *ResourceAlreadyExistsException*) aws logs associate-kms-key --region "$REGION" --log-group-name "$GROUP" --kms-key-id "$KEY" ;;
          *) echo "$out" >&2; exit 1 ;;
        esac
      fi
      aws logs put-retention-policy --region "$REGION" --log-group-name "$GROUP" --retention-in-days "$DAYS"
    EOT
    environment = {
      GROUP    = local.general_log_group
      DAYS     = tostring(var.log_retention_days)
      KEY      = var.kms_key_arn
      REGION   = data.aws_region.current.name
      ENDPOINT = var.aws_endpoint_url == null ? "" : var.aws_endpoint_url
    }
  }
}
