# Amazon MQ needs the password in its API call, so it cannot be write-only; it is generated once
# and both the broker and the secret ignore later re-generations (rotate by tainting the secret version
# and the broker user together, see README).
data "aws_secretsmanager_random_password" "this" {
  password_length     = 32
  exclude_punctuation = true
}

resource "aws_secretsmanager_secret" "this" {
  #checkov:skip=CKV2_AWS_57:Amazon MQ has no rotation integration; rotating means changing the broker user and the secret together, documented as a manual runbook.
  name_prefix             = "${var.name}/broker-"
  description             = "AMQP credentials of ${var.name} (username, password)"
  kms_key_id              = var.kms_key_arn
  recovery_window_in_days = var.secret_recovery_window_days
  tags                    = var.tags
}

resource "aws_secretsmanager_secret_version" "this" {
  secret_id = aws_secretsmanager_secret.this.id
  secret_string = jsonencode({
    username = var.username
    password = data.aws_secretsmanager_random_password.this.random_password
  })

  lifecycle {
    ignore_changes = [secret_string]
  }
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
  apply_immediately          = false
  subnet_ids                 = var.deployment_mode == "SINGLE_INSTANCE" ? [var.subnet_ids[0]] : var.subnet_ids
  security_groups            = [var.security_group_id]

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
    password = data.aws_secretsmanager_random_password.this.random_password
  }

  tags = var.tags

  lifecycle {
    ignore_changes = [user]
  }
}
