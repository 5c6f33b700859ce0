data "aws_region" "current" {}

locals {
  # RDS names PostgreSQL parameter group families "postgres<major>" from version 10 on
  # (aws rds describe-db-engine-versions --engine postgres --query 'DBEngineVersions[].DBParameterGroupFamily';
  # https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_WorkingWithParamGroups.html).
  # "16" and "16.4" both give postgres16, so a major upgrade brings its own parameter group.
  engine_major     = split(".", var.engine_version)[0]
  parameter_family = "postgres${local.engine_major}"
}

# A final snapshot name must be unique in the account and region: a fixed "<name>-final" makes the
# second destroy of the stack fail with DBSnapshotAlreadyExists. terraform_data's id is a UUID that
# Terraform generates when the resource is created and keeps in the state until it is replaced
# (https://developer.hashicorp.com/terraform/language/resources/terraform-data), so each
# deployment (and each replacement of the instance: same ForceNew inputs below) gets its own name
# without the random provider or a timestamp that would change on every plan.
resource "terraform_data" "final_snapshot_suffix" {
  triggers_replace = [var.name, var.kms_key_arn, var.master_username]
}

resource "aws_db_subnet_group" "this" {
  name_prefix = "${var.name}-"
  description = "Private subnets of ${var.name}"
  subnet_ids  = var.subnet_ids
  tags        = var.tags
}

resource "aws_db_parameter_group" "this" {
  name_prefix = "${var.name}-pg${local.engine_major}-"
  family      = local.parameter_family
  description = "TLS only, slow query and connection logging"

  parameter {
    name  = "rds.force_ssl"
    value = "1"
  }

  parameter {
    name  = "log_min_duration_statement"
    value = "500"
  }

  parameter {
    name  = "log_connections"
    value = "1"
  }

  parameter {
    name  = "log_disconnections"
    value = "1"
  }

  tags = var.tags

  # A major upgrade bumps the family, which replaces the group: the new one is created first, the
  # instance moves to it (allow_major_version_upgrade, apply_immediately below) and only then is the
  # old one deleted (terraform-provider-aws #6448 and the create_before_destroy section of the
  # aws_db_parameter_group docs, https://github.com/hashicorp/terraform-provider-aws/pull/27497).
  lifecycle {
    create_before_destroy = true
  }
}

# RDS Proxy writes its logs to /aws/rds/proxy/<name>; declared first, like the instance's groups
# below, so that the group has our retention and key instead of one the service creates without
# either.
resource "aws_cloudwatch_log_group" "proxy" {
  count = var.create_proxy ? 1 : 0

  name              = "/aws/rds/proxy/${var.name}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn
  tags              = var.tags
}

# RDS writes the exported logs to these names; declaring them keeps retention and encryption ours.
resource "aws_cloudwatch_log_group" "postgresql" {
  for_each = toset(["postgresql", "upgrade"])

  name              = "/aws/rds/instance/${var.name}/${each.value}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn
  tags              = var.tags
}

data "aws_iam_policy_document" "monitoring_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["monitoring.rds.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "monitoring" {
  count = var.monitoring_interval > 0 ? 1 : 0

  name_prefix        = "${var.name}-rds-mon-"
  assume_role_policy = data.aws_iam_policy_document.monitoring_assume.json
  tags               = var.tags
}

resource "aws_iam_role_policy_attachment" "monitoring" {
  count = var.monitoring_interval > 0 ? 1 : 0

  role       = aws_iam_role.monitoring[0].name
  policy_arn = "arn:aws:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole"
}

resource "aws_db_instance" "this" {
  #checkov:skip=CKV_AWS_157:Multi-AZ is the db_multi_az switch, off by default to halve the idle cost; production sets it (see README).
  #checkov:skip=CKV_AWS_161:IAM database authentication would need a token per connection in every function; the proxy and the app users authenticate with Secrets Manager credentials instead.
  identifier     = var.name
  engine         = "postgres"
  engine_version = var.engine_version
  instance_class = var.instance_class

  allocated_storage     = var.allocated_storage
  max_allocated_storage = var.max_allocated_storage > 0 ? var.max_allocated_storage : null
  storage_type          = "gp3"
  storage_encrypted     = true
  kms_key_id            = var.kms_key_arn

  # No initial database: "postgres" exists already; setup creates movies and orders.
  username                      = var.master_username
  manage_master_user_password   = true
  master_user_secret_kms_key_id = var.kms_key_arn

  db_subnet_group_name   = aws_db_subnet_group.this.name
  vpc_security_group_ids = [var.database_security_group_id]
  publicly_accessible    = false
  multi_az               = var.multi_az
  parameter_group_name   = aws_db_parameter_group.this.name

  backup_retention_period   = var.backup_retention_days
  backup_window             = "02:00-03:00"
  maintenance_window        = "sun:03:30-sun:04:30"
  copy_tags_to_snapshot     = true
  deletion_protection       = var.deletion_protection
  skip_final_snapshot       = var.skip_final_snapshot
  final_snapshot_identifier = var.skip_final_snapshot ? null : "${var.name}-final-${terraform_data.final_snapshot_suffix.id}"
  delete_automated_backups  = false

  auto_minor_version_upgrade      = true
  enabled_cloudwatch_logs_exports = ["postgresql", "upgrade"]

  # Changes (instance class, storage, parameter group, engine version) apply now, not in the next
  # maintenance window: otherwise a resize shows as a change on every plan until the window.
  # A major engine_version needs AllowMajorVersionUpgrade, or ModifyDBInstance fails with
  # InvalidParameterCombination
  # (https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_UpgradeDBInstance.PostgreSQL.MajorVersion.html).
  apply_immediately           = var.apply_immediately
  allow_major_version_upgrade = true

  performance_insights_enabled          = var.performance_insights_enabled
  performance_insights_kms_key_id       = var.performance_insights_enabled ? var.kms_key_arn : null
  performance_insights_retention_period = var.performance_insights_enabled ? 7 : null

  monitoring_interval = var.monitoring_interval
  monitoring_role_arn = var.monitoring_interval > 0 ? aws_iam_role.monitoring[0].arn : null

  tags = var.tags

  depends_on = [aws_cloudwatch_log_group.postgresql]
}

# ---------------------------------------------------------------- app-user secrets
# Passwords are generated by Secrets Manager as ephemeral values and written with a write-only
# attribute: they never land in the Terraform state. The setup function reads them and creates
# the PostgreSQL roles.
ephemeral "aws_secretsmanager_random_password" "app_user" {
  for_each = var.app_users

  password_length     = 40
  exclude_punctuation = true
}

resource "aws_secretsmanager_secret" "app_user" {
  #checkov:skip=CKV2_AWS_57:The password is set by the setup function when it creates the role; rotation would need a rotation Lambda that re-runs ALTER ROLE, tracked as a follow-up in the README.
  for_each = var.app_users

  name_prefix             = "${var.name}/${each.key}-app-"
  description             = "Credentials of ${each.value}, least-privilege role on the ${lookup(var.app_user_databases, each.key, each.key)} database"
  kms_key_id              = var.kms_key_arn
  recovery_window_in_days = var.secret_recovery_window_days
  tags                    = var.tags
}

resource "aws_secretsmanager_secret_version" "app_user" {
  for_each = var.app_users

  secret_id = aws_secretsmanager_secret.app_user[each.key].id
  secret_string_wo = jsonencode({
    username = each.value
    password = ephemeral.aws_secretsmanager_random_password.app_user[each.key].random_password
    dbname   = lookup(var.app_user_databases, each.key, each.key)
    engine   = "postgres"
    host     = aws_db_instance.this.address
    port     = aws_db_instance.this.port
  })
  # Bumped through app_user_password_versions: a new password and a new version id, which
  # re-runs setup (root module trigger) to apply it to the role.
  secret_string_wo_version = lookup(var.app_user_password_versions, each.key, 1)
}

# ---------------------------------------------------------------- RDS Proxy
data "aws_iam_policy_document" "proxy_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["rds.amazonaws.com"]
    }
  }
}

data "aws_iam_policy_document" "proxy" {
  # Secrets the proxy logs in with: the two app users and the RDS-managed master secret.
  statement {
    sid       = "ReadLoginSecrets"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = concat([for s in aws_secretsmanager_secret.app_user : s.arn], [aws_db_instance.this.master_user_secret[0].secret_arn])
  }

  statement {
    sid       = "DecryptAppUserSecrets"
    actions   = ["kms:Decrypt"]
    resources = [var.kms_key_arn]
    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["secretsmanager.${data.aws_region.current.name}.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "proxy" {
  count = var.create_proxy ? 1 : 0

  name_prefix        = "${var.name}-proxy-"
  assume_role_policy = data.aws_iam_policy_document.proxy_assume.json
  tags               = var.tags
}

resource "aws_iam_role_policy" "proxy" {
  count = var.create_proxy ? 1 : 0

  name   = "read-app-user-secrets"
  role   = aws_iam_role.proxy[0].id
  policy = data.aws_iam_policy_document.proxy.json
}

resource "aws_db_proxy" "this" {
  count = var.create_proxy ? 1 : 0

  name                   = var.name
  engine_family          = "POSTGRESQL"
  require_tls            = true
  idle_client_timeout    = 1800
  debug_logging          = false
  role_arn               = aws_iam_role.proxy[0].arn
  vpc_subnet_ids         = var.subnet_ids
  vpc_security_group_ids = [var.proxy_security_group_id]

  # The app users, and the master user for the deploy-time setup function only (no application
  # role can read the master secret, so registering it here grants them nothing).
  auth {
    auth_scheme = "SECRETS"
    description = "master user (setup function)"
    iam_auth    = "DISABLED"
    secret_arn  = aws_db_instance.this.master_user_secret[0].secret_arn
  }

  dynamic "auth" {
    for_each = aws_secretsmanager_secret.app_user
    content {
      auth_scheme = "SECRETS"
      description = "${auth.key} app user"
      iam_auth    = "DISABLED"
      secret_arn  = auth.value.arn
    }
  }

  tags = var.tags

  depends_on = [aws_iam_role_policy.proxy, aws_cloudwatch_log_group.proxy]
}

resource "aws_db_proxy_default_target_group" "this" {
  count = var.create_proxy ? 1 : 0

  db_proxy_name = aws_db_proxy.this[0].name

  connection_pool_config {
    max_connections_percent      = var.proxy_max_connections_percent
    max_idle_connections_percent = 50
    connection_borrow_timeout    = 120
  }
}

resource "aws_db_proxy_target" "this" {
  count = var.create_proxy ? 1 : 0

  db_proxy_name          = aws_db_proxy.this[0].name
  target_group_name      = aws_db_proxy_default_target_group.this[0].name
  db_instance_identifier = aws_db_instance.this.identifier
}
