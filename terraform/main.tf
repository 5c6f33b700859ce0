data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

locals {
  prefix         = "${var.name}-${var.environment}"
  account_id     = data.aws_caller_identity.current.account_id
  artifacts_dir  = coalesce(var.artifacts_dir, "${path.root}/../target/lambda")
  migrations_dir = coalesce(var.migrations_dir, "${path.root}/../migrations")
  openapi_path   = coalesce(var.openapi_path, "${path.root}/../openapi.yaml")
  web_dist_dir   = coalesce(var.web_dist_dir, "${path.root}/../web/dist")
  web_csp_path   = coalesce(var.web_csp_path, "${path.root}/../web/csp.txt")

  function_names = { for k in keys(var.functions) : k => "${local.prefix}-${k}" }
  http_functions = ["inventory", "billing-api"]
  # The functions that take traffic (API Gateway, the event source mapping) on their live alias.
  rollout_functions = ["inventory", "billing-api", "billing-consumer"]

  secretsmanager_service = "secretsmanager.${data.aws_region.current.name}.amazonaws.com"

  # A change in any migration file re-runs the setup function.
  migrations_hash = sha256(join(",", [
    for f in sort(fileset(local.migrations_dir, "**/*.sql")) : "${f}:${filesha256("${local.migrations_dir}/${f}")}"
  ]))
}

# ---------------------------------------------------------------- rename guard
# name and environment are in the name of the Cognito user pool, the broker, the RDS instance and
# proxy, the functions and most other resources: changing either replaces the user pool (every
# user is lost, or the apply fails under deletion protection) and the broker, and renames the RDS
# instance while the proxy target expects the new identifier. So a rename is refused at plan time.
# identity keeps the values of the first apply (ignore_changes); the guard compares them with the
# current ones. To deploy under a new name, create a new stack (new state) and move the data; to
# really take over this state under a new name, `terraform state rm terraform_data.identity` first
# and read the plan's replacements.
resource "terraform_data" "identity" {
  input = { name = var.name, environment = var.environment }

  lifecycle {
    ignore_changes = [input]
  }
}

resource "terraform_data" "rename_guard" {
  input = local.prefix

  lifecycle {
    precondition {
      condition     = terraform_data.identity.output.name == var.name && terraform_data.identity.output.environment == var.environment
      error_message = "Refusing to rename the stack from name = \"${terraform_data.identity.output.name}\", environment = \"${terraform_data.identity.output.environment}\" to name = \"${var.name}\", environment = \"${var.environment}\": it would replace the Cognito user pool (all users lost, or an error under deletion protection) and the Amazon MQ broker, and rename the RDS instance under its proxy target. Deploy a new stack under the new name instead (see the comment on terraform_data.identity in main.tf)."
    }
  }
}

# ---------------------------------------------------------------- encryption key
# One customer managed key for logs, secrets, RDS, Lambda environment and the SNS topic:
# one key to audit and to revoke, 1 USD/month.
data "aws_iam_policy_document" "kms" {
  #checkov:skip=CKV_AWS_111:Key policy: Resource "*" means this key only; write access is limited to the account and the named services.
  #checkov:skip=CKV_AWS_356:Key policy: Resource "*" means this key only.
  #checkov:skip=CKV_AWS_109:Key policy: the account root statement is what lets IAM policies delegate key use (AWS default key policy).
  statement {
    sid       = "AccountAdministration"
    actions   = ["kms:*"]
    resources = ["*"]
    principals {
      type        = "AWS"
      identifiers = ["arn:${data.aws_partition.current.partition}:iam::${local.account_id}:root"]
    }
  }

  statement {
    sid = "CloudWatchLogs"
    # No kms:Describe*: DescribeKey carries no encryption context, so under the condition below it
    # could never be allowed (parliament: UNKNOWN_CONDITION_FOR_ACTION; AWS's own
    # CloudWatchLogsAPIKeyAccess policy grants DescribeKey apart, without it:
    # https://docs.aws.amazon.com/aws-managed-policy/latest/reference/CloudWatchLogsAPIKeyAccess.html).
    actions   = ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*"]
    resources = ["*"]
    principals {
      type        = "Service"
      identifiers = ["logs.${data.aws_region.current.name}.amazonaws.com"]
    }
    condition {
      test     = "ArnLike"
      variable = "kms:EncryptionContext:aws:logs:arn"
      values   = ["arn:${data.aws_partition.current.partition}:logs:${data.aws_region.current.name}:${local.account_id}:*"]
    }
  }

  # The services that publish to the encrypted alarm topic, each held to this account and to its
  # own resources of this stack (confused deputy: aws:SourceAccount and aws:SourceArn,
  # https://docs.aws.amazon.com/IAM/latest/UserGuide/confused-deputy.html). CloudWatch alarms
  # (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/AlarmThatSendsEmail.html),
  # Budgets (https://docs.aws.amazon.com/cost-management/latest/userguide/budgets-sns-policy.html)
  # and EventBridge rules, e.g. the Inspector findings rule
  # (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-use-resource-based.html#eb-sns-permissions).
  dynamic "statement" {
    for_each = {
      CloudWatchAlarms = { service = "cloudwatch.amazonaws.com", source_arn = "arn:${data.aws_partition.current.partition}:cloudwatch:${data.aws_region.current.name}:${local.account_id}:alarm:${local.prefix}-*" }
      Budgets          = { service = "budgets.amazonaws.com", source_arn = "arn:${data.aws_partition.current.partition}:budgets::${local.account_id}:*" }
      EventBridgeRules = { service = "events.amazonaws.com", source_arn = "arn:${data.aws_partition.current.partition}:events:${data.aws_region.current.name}:${local.account_id}:rule/${local.prefix}-*" }
    }
    content {
      sid       = statement.key
      actions   = ["kms:Decrypt", "kms:GenerateDataKey*"]
      resources = ["*"]
      principals {
        type        = "Service"
        identifiers = [statement.value.service]
      }
      condition {
        test     = "StringEquals"
        variable = "aws:SourceAccount"
        values   = [local.account_id]
      }
      condition {
        test     = "ArnLike"
        variable = "aws:SourceArn"
        values   = [statement.value.source_arn]
      }
    }
  }
}

resource "aws_kms_key" "this" {
  description             = "${local.prefix}: logs, secrets, database, functions, alarms"
  enable_key_rotation     = true
  deletion_window_in_days = var.kms_deletion_window_days
  policy                  = data.aws_iam_policy_document.kms.json
}

resource "aws_kms_alias" "this" {
  name          = "alias/${local.prefix}"
  target_key_id = aws_kms_key.this.key_id
}

# ---------------------------------------------------------------- network
module "network" {
  source = "./modules/network"

  name                    = local.prefix
  cidr_block              = var.vpc_cidr
  create_nat_gateway      = var.create_nat_gateway
  interface_endpoints     = var.interface_endpoints
  endpoint_az_count       = var.endpoint_az_count
  create_flow_log         = var.create_flow_log
  database_via_proxy      = var.create_db_proxy
  flow_log_retention_days = var.log_retention_days
  kms_key_arn             = aws_kms_key.this.arn
}

# ---------------------------------------------------------------- database
module "database" {
  source = "./modules/database"

  name                         = local.prefix
  subnet_ids                   = module.network.private_subnet_ids
  database_security_group_id   = module.network.security_group_ids["database"]
  proxy_security_group_id      = module.network.security_group_ids["proxy"]
  kms_key_arn                  = aws_kms_key.this.arn
  engine_version               = var.db_engine_version
  instance_class               = var.db_instance_class
  allocated_storage            = var.db_allocated_storage
  multi_az                     = var.db_multi_az
  deletion_protection          = var.db_deletion_protection
  skip_final_snapshot          = var.db_skip_final_snapshot
  backup_retention_days        = var.db_backup_retention_days
  create_proxy                 = var.create_db_proxy
  performance_insights_enabled = var.db_performance_insights
  monitoring_interval          = var.db_monitoring_interval
  log_retention_days           = var.log_retention_days
  secret_recovery_window_days  = var.secret_recovery_window_days
  app_user_password_versions   = { movies = var.app_password_versions.movies, orders = var.app_password_versions.orders, orders_reader = var.app_password_versions.orders_reader }
  apply_immediately            = var.apply_immediately
}

# ---------------------------------------------------------------- broker
module "broker" {
  source = "./modules/broker"

  name                        = local.prefix
  deployment_mode             = var.broker_deployment_mode
  host_instance_type          = var.broker_instance_type
  engine_version              = var.broker_engine_version
  subnet_ids                  = module.network.private_subnet_ids
  security_group_id           = module.network.security_group_ids["broker"]
  kms_key_arn                 = aws_kms_key.this.arn
  log_retention_days          = var.log_retention_days
  aws_endpoint_url            = var.aws_endpoint_url
  secret_recovery_window_days = var.secret_recovery_window_days
  apply_immediately           = var.apply_immediately
  app_users = {
    publisher = { username = "billing_publisher", password_version = var.app_password_versions.publisher }
    consumer  = { username = "billing_consumer", password_version = var.app_password_versions.consumer }
  }
}

# ---------------------------------------------------------------- dead-letter queue
resource "aws_sqs_queue" "billing_dlq" {
  name                      = "${local.prefix}-billing-dlq"
  message_retention_seconds = 1209600
  # billing-consumer bounds every letter at 256 KiB (bigger originals become a summary with
  # their size and SHA-256); SQS itself allows up to 1 MiB.
  max_message_size = 262144
  # The project key, not SQS-managed keys: one key to audit and revoke. A producer then needs
  # kms:GenerateDataKey and kms:Decrypt on it (billing-consumer's DeadLetter statements); the data
  # key is reused for up to 5 minutes, so KMS sees a call per 5 minutes, not per message
  # (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-key-management.html).
  kms_master_key_id                 = aws_kms_key.this.arn
  kms_data_key_reuse_period_seconds = 300
}

resource "aws_sqs_queue_redrive_allow_policy" "billing_dlq" {
  count = var.create_dlq_redrive_allow_policy ? 1 : 0

  queue_url = aws_sqs_queue.billing_dlq.id
  # The consumer writes here itself; no SQS queue may use it as a redrive target.
  redrive_allow_policy = jsonencode({ redrivePermission = "denyAll" })
}

# ---------------------------------------------------------------- functions
locals {
  # The proxy presents a certificate from Amazon's public CA, which the functions trust by default.
  # Without the proxy, the instance presents the RDS CA: ship its bundle and set database_ca_file.
  database_env = merge({
    DATABASE_HOST      = module.database.proxy_endpoint
    DATABASE_PORT      = "5432"
    DATABASE_TLS       = "require"
    DATABASE_POOL_SIZE = "1"
  }, var.database_ca_file == null ? {} : { DATABASE_CA_FILE = var.database_ca_file })

  # The admin scope counts only in tokens of the machine client (http_edge::auth::AccessPolicy).
  # Both or neither (http_edge::auth): without the machine client, people's groups decide alone.
  admin_env = var.create_machine_client ? {
    ADMIN_SCOPE      = module.auth.admin_scope
    ADMIN_CLIENT_IDS = module.auth.machine_client_id
  } : {}

  # With the CDN on, the HTTP functions refuse requests without CloudFront's secret origin header
  # (functions/http-edge/src/origin.rs); they read the expected value once per cold start.
  origin_verify_secret_arns = var.create_cdn ? [module.cdn[0].origin_verify_secret_arn] : []
  # The version only changes the configuration after a rotation, so new environments read the new value.
  origin_verify_env = var.create_cdn ? {
    ORIGIN_VERIFY_SECRET_ARN     = module.cdn[0].origin_verify_secret_arn
    ORIGIN_VERIFY_SECRET_VERSION = module.cdn[0].origin_verify_secret_version_id
  } : {}

  # billing-api logs in as the publish-only user; only setup holds the administrator secret.
  amqp_env = {
    AMQP_ENDPOINT   = module.broker.amqp_endpoint
    AMQP_SECRET_ARN = module.broker.app_user_secret_arns["publisher"]
    BILLING_QUEUE   = var.billing_queue
  }

  read_secrets = {
    for k, arns in {
      inventory = concat([module.database.app_user_secret_arns["movies"]], local.origin_verify_secret_arns)
      # billing-api reads orders with its own SELECT-only role (orders_reader).
      "billing-api" = concat([module.database.app_user_secret_arns["orders_reader"], module.broker.app_user_secret_arns["publisher"]], local.origin_verify_secret_arns)
      # The event source mapping reads its BASIC_AUTH secret with this function's role.
      "billing-consumer" = [module.database.app_user_secret_arns["orders"], module.broker.app_user_secret_arns["consumer"]]
      setup = compact([
        module.database.master_secret_arn,
        module.database.app_user_secret_arns["movies"],
        module.database.app_user_secret_arns["orders"],
        module.database.app_user_secret_arns["orders_reader"],
        module.broker.secret_arn,
        module.broker.bootstrap_secret_arn,
        module.broker.app_user_secret_arns["publisher"],
        module.broker.app_user_secret_arns["consumer"],
      ])
      } : k => [
      { sid = "ReadOwnSecrets", actions = ["secretsmanager:GetSecretValue"], resources = arns },
      {
        sid        = "DecryptSecrets"
        actions    = ["kms:Decrypt"]
        resources  = [aws_kms_key.this.arn]
        conditions = [{ test = "StringEquals", variable = "kms:ViaService", values = [local.secretsmanager_service] }]
      },
    ]
  }

  function_config = {
    inventory = {
      description        = "Movies CRUD behind the HTTP API"
      security_group_ids = [module.network.security_group_ids["inventory"]]
      environment = merge(local.database_env, local.admin_env, local.origin_verify_env, {
        DATABASE_NAME       = "movies"
        DATABASE_SECRET_ARN = module.database.app_user_secret_arns["movies"]
      })
      statements = []
    }
    "billing-api" = {
      description        = "Publishes orders to billing_queue with publisher confirms; reads stored orders"
      security_group_ids = [module.network.security_group_ids["billing-api"]]
      environment = merge(local.database_env, local.amqp_env, local.admin_env, local.origin_verify_env, {
        DATABASE_NAME       = "orders"
        DATABASE_SECRET_ARN = module.database.app_user_secret_arns["orders_reader"]
      })
      statements = []
    }
    "billing-consumer" = {
      description        = "Stores billing_queue batches idempotently; dead-letters malformed messages"
      security_group_ids = [module.network.security_group_ids["billing-consumer"]]
      environment = merge(local.database_env, {
        DATABASE_NAME       = "orders"
        DATABASE_SECRET_ARN = module.database.app_user_secret_arns["orders"]
        DLQ_URL             = aws_sqs_queue.billing_dlq.url
      })
      statements = [
        { sid = "DeadLetter", actions = ["sqs:SendMessage"], resources = [aws_sqs_queue.billing_dlq.arn] },
        {
          sid        = "DeadLetterEncryption"
          actions    = ["kms:GenerateDataKey", "kms:Decrypt"]
          resources  = [aws_kms_key.this.arn]
          conditions = [{ test = "StringEquals", variable = "kms:ViaService", values = ["sqs.${data.aws_region.current.name}.amazonaws.com"] }]
        },
        # The event source mapping runs with this role: it describes the broker and reads the BASIC_AUTH secret.
        { sid = "EventSourceMappingBroker", actions = ["mq:DescribeBroker"], resources = [module.broker.arn] },
      ]
    }
    setup = {
      description = "Deploy-time setup: database roles, migrations, grants, durable billing_queue with dead-letter exchange, broker users"
      # Through the proxy, like the other functions: its certificate is publicly trusted (no RDS CA
      # bundle in the zip) and the network has one database path. The DDL pins the proxy session,
      # which is harmless for one short invocation per deploy.
      security_group_ids = [module.network.security_group_ids["setup"]]
      # As the broker administrator: it declares the topology (AMQPS, 5671) and creates the
      # publish-only and consume-only users through the management API on the console endpoint
      # (HTTPS, 443; Amazon MQ serves it on 443 and 15671:
      # https://docs.aws.amazon.com/amazon-mq/latest/developer-guide/rabbitmq-basic-elements-broker.html).
      environment = merge(local.amqp_env, {
        AMQP_SECRET_ARN             = module.broker.secret_arn
        BROKER_BOOTSTRAP_SECRET_ARN = module.broker.bootstrap_secret_arn
        RABBITMQ_MANAGEMENT_URL     = module.broker.console_url
        BROKER_PUBLISHER_SECRET_ARN = module.broker.app_user_secret_arns["publisher"]
        BROKER_CONSUMER_SECRET_ARN  = module.broker.app_user_secret_arns["consumer"]
        # How long setup retries its first connections (the proxy target, the broker), within its
        # timeout with a minute left for the work itself. aws_db_proxy_target returns once the
        # target is registered, not once it is AVAILABLE (the provider only retries the
        # registration: https://github.com/hashicorp/terraform-provider-aws/pull/19096); a new
        # target reports REGISTERING first (TargetHealth State,
        # https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_TargetHealth.html), so a
        # re-run after a proxy or database replacement needs minutes, not 90 s.
        SETUP_CONNECT_BUDGET_SECS  = tostring(var.functions["setup"].timeout - 60)
        DATABASE_HOST              = module.database.proxy_endpoint
        DATABASE_PORT              = "5432"
        DATABASE_TLS               = "require"
        DATABASE_MASTER_SECRET_ARN = module.database.master_secret_arn
        MOVIES_DB_SECRET_ARN       = module.database.app_user_secret_arns["movies"]
        ORDERS_DB_SECRET_ARN       = module.database.app_user_secret_arns["orders"]
        ORDERS_READER_SECRET_ARN   = module.database.app_user_secret_arns["orders_reader"]
      }, var.database_ca_file == null ? {} : { DATABASE_CA_FILE = var.database_ca_file })
      statements = []
    }
  }
}

# The RDS CA bundle as a layer, for a profile without RDS Proxy (create_db_proxy = false): same
# function code, DATABASE_CA_FILE points into /opt.
resource "aws_lambda_layer_version" "database_ca" {
  count = var.database_ca_layer_zip == null ? 0 : 1

  layer_name               = "${local.prefix}-rds-ca"
  description              = "RDS CA bundle for PostgreSQL TLS without RDS Proxy"
  filename                 = var.database_ca_layer_zip
  source_code_hash         = filebase64sha256(var.database_ca_layer_zip)
  compatible_architectures = ["arm64"]
  compatible_runtimes      = ["provided.al2023"]
}

module "function" {
  source   = "./modules/function"
  for_each = local.function_config

  name               = local.function_names[each.key]
  description        = each.value.description
  package_type       = var.package_type
  filename           = "${local.artifacts_dir}/${each.key}/bootstrap.zip"
  image_tag          = var.image_tag
  memory_size        = var.functions[each.key].memory_size
  timeout            = var.functions[each.key].timeout
  subnet_ids         = module.network.private_subnet_ids
  security_group_ids = each.value.security_group_ids
  kms_key_arn        = aws_kms_key.this.arn
  log_retention_days = var.function_log_retention_days

  application_log_level = var.application_log_level
  layers                = aws_lambda_layer_version.database_ca[*].arn

  # Opt-in: reservations only when the account's quota is known to leave 100 unreserved (see
  # var.lambda_account_concurrency); otherwise every function draws from the shared pool.
  reserved_concurrent_executions = var.lambda_account_concurrency == null ? -1 : var.functions[each.key].reserved_concurrency

  environment = merge(each.value.environment, {
    RUST_LOG          = var.rust_log
    METRICS_NAMESPACE = "CrudMaster"
    SERVICE_NAME      = local.function_names[each.key]
  })

  policy_statements = concat(local.read_secrets[each.key], each.value.statements)

  create_alias = var.create_alias
  # The application functions' aliases move by make rollout (CodeDeploy's canary, watched by the
  # rollout alarms); setup's moves with every apply: Terraform invokes it once per deploy
  # (aws_lambda_invocation.setup, on that alias), before anything else may use the new schema.
  alias_moved_by           = contains(local.rollout_functions, each.key) ? "rollout" : "terraform"
  provisioned_concurrency  = contains(local.http_functions, each.key) ? var.provisioned_concurrency : 0
  create_autoscaling       = contains(local.http_functions, each.key) && var.create_provisioned_concurrency_autoscaling
  autoscaling_max_capacity = var.provisioned_concurrency_max
}

# The application functions' aliases were aws_lambda_alias.this before make rollout moved them
# (modules/function: aws_lambda_alias.rollout ignores the version and the weights): the same alias
# under its new address, not a new one.
moved {
  from = module.function["inventory"].aws_lambda_alias.this[0]
  to   = module.function["inventory"].aws_lambda_alias.rollout[0]
}

moved {
  from = module.function["billing-api"].aws_lambda_alias.this[0]
  to   = module.function["billing-api"].aws_lambda_alias.rollout[0]
}

moved {
  from = module.function["billing-consumer"].aws_lambda_alias.this[0]
  to   = module.function["billing-consumer"].aws_lambda_alias.rollout[0]
}

# ---------------------------------------------------------------- gradual rollout
# CodeDeploy shifts each application function's alias to the version an apply published, 10% first
# by default, and back when the function's rollout alarms fire; make rollout (scripts/rollout.py)
# starts the deployments after the apply, then runs make verify.
module "rollout" {
  source = "./modules/rollout"
  count  = var.create_alias ? 1 : 0

  name = local.prefix
  functions = {
    for k in local.rollout_functions : k => {
      function_name = module.function[k].function_name
      alias         = module.function[k].qualifier
    }
  }
  create_codedeploy      = var.create_codedeploy
  deployment_config_name = var.rollout_deployment_config
}

# ---------------------------------------------------------------- deploy-time setup
resource "aws_lambda_invocation" "setup" {
  count = var.create_setup_invocation ? 1 : 0

  function_name = module.function["setup"].function_name
  qualifier     = module.function["setup"].qualifier
  input         = jsonencode({ action = "setup" })

  triggers = {
    migrations = local.migrations_hash
    code       = module.function["setup"].source_code_hash
    database   = module.database.instance_address
    broker     = module.broker.amqp_endpoint
    # Every credential setup applies (database roles, broker users): a new secret version (a
    # rotation through app_password_versions) re-runs setup, so the role or user gets the
    # password the functions, the proxy and the mapping now read.
    credentials = jsonencode(merge(
      { for k, v in module.database.app_user_secret_version_ids : "db-${k}" => v },
      { for k, v in module.broker.secret_version_ids : "broker-${k}" => v },
    ))
  }

  # The endpoints, secrets and proxy target must exist before setup connects.
  depends_on = [module.network, module.database, module.broker]

  lifecycle {
    precondition {
      condition     = var.functions["setup"].timeout >= 600
      error_message = "functions[\"setup\"].timeout must be at least 600 s: setup waits up to timeout - 60 s for the RDS Proxy target, which stays REGISTERING for minutes after a proxy or database replacement."
    }
  }
}

# ---------------------------------------------------------------- billing event source mapping
resource "aws_lambda_event_source_mapping" "billing" {
  count = var.create_event_source_mapping ? 1 : 0

  event_source_arn                   = module.broker.arn
  function_name                      = module.function["billing-consumer"].target_arn
  queues                             = [var.billing_queue]
  batch_size                         = var.billing_batch_size
  maximum_batching_window_in_seconds = var.billing_batching_window_seconds
  enabled                            = true

  lifecycle {
    # Worst case per message (README, Billing): two statements of a full bisection and a
    # dead letter, budgeted at 20 ms each on AWS; the whole batch must fit the timeout.
    precondition {
      condition     = var.billing_batch_size * 20 <= var.functions["billing-consumer"].timeout * 1000
      error_message = "billing_batch_size x 20 ms exceeds billing-consumer's timeout: raise functions[\"billing-consumer\"].timeout or lower the batch size."
    }
  }

  # The consume-only user (read on billing_queue only), not the administrator.
  source_access_configuration {
    type = "BASIC_AUTH"
    uri  = module.broker.app_user_secret_arns["consumer"]
  }

  source_access_configuration {
    type = "VIRTUAL_HOST"
    uri  = "/"
  }

  # billing_queue (durable, with its dead-letter exchange) is declared by setup; the mapping must
  # not race it and declare a plain queue.
  depends_on = [aws_lambda_invocation.setup]
}

# ---------------------------------------------------------------- auth
module "auth" {
  source = "./modules/auth"

  name                = local.prefix
  domain_prefix       = coalesce(var.cognito_domain_prefix, "${local.prefix}-${local.account_id}")
  mfa_configuration   = var.cognito_mfa
  deletion_protection = var.db_deletion_protection
  callback_urls       = var.cognito_callback_urls
  # Set by the AWS CLI once the distribution exists (modules/auth: a cycle through the API otherwise).
  site_urls = var.create_web ? [module.web[0].url] : []

  create_machine_client       = var.create_machine_client
  machine_client_version      = var.machine_client_version
  kms_key_arn                 = aws_kms_key.this.arn
  secret_recovery_window_days = var.secret_recovery_window_days
  aws_endpoint_url            = var.aws_endpoint_url
}

# ---------------------------------------------------------------- API
module "api" {
  source = "./modules/api"

  name         = local.prefix
  openapi_path = local.openapi_path
  functions = {
    for k in local.http_functions : k => {
      function_name = module.function[k].function_name
      invoke_arn    = module.function[k].invoke_arn
      qualifier     = module.function[k].qualifier
    }
  }
  jwt_issuer               = module.auth.issuer
  jwt_audience             = module.auth.client_ids
  token_url                = module.auth.token_endpoint
  throttling_burst_limit   = var.api_throttling_burst_limit
  throttling_rate_limit    = var.api_throttling_rate_limit
  detailed_metrics_enabled = var.api_detailed_metrics
  log_retention_days       = var.log_retention_days
  kms_key_arn              = aws_kms_key.this.arn
  create_custom_domain     = var.create_custom_domain
  domain_name              = var.domain_name
  hosted_zone_id           = var.hosted_zone_id

  # Route scopes: openapi.yaml's, with this pool's resource-server identifier.
  resource_server_identifier = module.auth.resource_server_identifier
  allowed_scopes             = module.auth.scopes
}

# ---------------------------------------------------------------- CDN and edge protection (optional)
module "cdn" {
  source = "./modules/cdn"
  count  = var.create_cdn ? 1 : 0

  providers = {
    aws           = aws
    aws.us_east_1 = aws.us_east_1
  }

  name                        = local.prefix
  origin_domain_name          = trimprefix(module.api.api_endpoint, "https://")
  domain_name                 = var.cdn_domain_name
  hosted_zone_id              = var.cdn_hosted_zone_id
  price_class                 = var.cdn_price_class
  rate_limit                  = var.cdn_rate_limit
  log_retention_days          = var.log_retention_days
  kms_key_arn                 = aws_kms_key.this.arn
  secret_recovery_window_days = var.secret_recovery_window_days
}

# ---------------------------------------------------------------- web client
# web/dist in a private bucket behind CloudFront, the API under /api/* of the same distribution
# (docs/web.md, On AWS). With create_cdn the HTTP functions refuse requests without the
# origin-verify header, so this distribution's /api/* runs the same viewer-request function,
# behind the same web ACL: both distributions then reach the API the same way.
module "web" {
  source = "./modules/web"
  count  = var.create_web ? 1 : 0

  name            = local.prefix
  dist_dir        = local.web_dist_dir
  csp_path        = local.web_csp_path
  auth_origin     = module.auth.domain_url
  client_id       = module.auth.user_client_id
  api_domain_name = trimprefix(module.api.api_endpoint, "https://")
  price_class     = var.cdn_price_class
  web_acl_arn     = var.create_cdn ? module.cdn[0].web_acl_arn : null

  api_viewer_request_function_arn = var.create_cdn ? module.cdn[0].origin_verify_function_arn : null
}

# ---------------------------------------------------------------- observability
module "observability" {
  source = "./modules/observability"

  name                   = local.prefix
  kms_key_arn            = aws_kms_key.this.arn
  alarm_email            = var.alarm_email
  functions              = local.function_names
  api_id                 = module.api.api_id
  db_instance_identifier = module.database.instance_identifier
  db_proxy_name          = module.database.proxy_name
  broker_name            = module.broker.name
  queue_name             = var.billing_queue
  dlq_name               = aws_sqs_queue.billing_dlq.name
  create_budget          = var.create_budget
  budget_limit_usd       = var.budget_limit_usd
  budget_emails          = var.alarm_email == null ? [] : [var.alarm_email]
}

# ---------------------------------------------------------------- vulnerability scanning
module "inspector" {
  source = "./modules/inspector"
  count  = var.create_inspector ? 1 : 0

  name          = local.prefix
  sns_topic_arn = module.observability.sns_topic_arn
}

# ---------------------------------------------------------------- delivery (GitHub Actions OIDC)
module "github_oidc" {
  source = "./modules/github_oidc"
  count  = var.create_github_oidc ? 1 : 0

  name                 = local.prefix
  repository           = var.github_repository
  plan_environment     = var.github_plan_environment
  environment          = var.github_environment
  create_oidc_provider = var.create_github_oidc_provider
  state_bucket         = var.tf_state_bucket
}
