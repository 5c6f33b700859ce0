# ---------------------------------------------------------------- general
variable "name" {
  description = "Project name: prefix of every resource and the Project tag."
  type        = string
  default     = "crud-master"
}

variable "environment" {
  description = "Environment name (tag and part of unique names)."
  type        = string
  default     = "prod"
}

variable "region" {
  description = "AWS region."
  type        = string
  default     = "eu-west-1"
}

variable "tags" {
  description = "Extra tags applied to every resource."
  type        = map(string)
  default     = {}
}

variable "aws_endpoint_url" {
  description = "Send every AWS API call to this endpoint (an emulator such as moto) and skip credential/account checks. Null for real AWS."
  type        = string
  default     = null
}

variable "kms_deletion_window_days" {
  description = "Deletion window of the customer managed KMS key."
  type        = number
  default     = 30
}

variable "log_retention_days" {
  description = "Retention of the audit log groups (API access, database, VPC flow log, the broker's general log), in days."
  type        = number
  default     = 365
}

variable "function_log_retention_days" {
  description = "Retention of the function log groups, in days (metrics are extracted from them at ingestion)."
  type        = number
  default     = 30
}

# ---------------------------------------------------------------- network
variable "vpc_cidr" {
  description = "CIDR of the VPC."
  type        = string
  default     = "10.40.0.0/16"
}

variable "create_nat_gateway" {
  description = "Add a NAT gateway (about 33 USD/month + 0.048 USD/GB) and let the functions, setup, the mapping ENIs and RDS Proxy reach AWS APIs on 443 through it; then interface_endpoints may be emptied. Off by default: the endpoints cover every call."
  type        = bool
  default     = false
}

variable "interface_endpoints" {
  # The Amazon MQ mapping's pollers need Lambda, STS and Secrets Manager endpoints, with no engine
  # restriction ("Configuring Amazon MQ event source for Lambda", network security:
  # https://docs.aws.amazon.com/lambda/latest/dg/process-mq-messages-with-lambda.html).
  description = "AWS services reached through interface VPC endpoints: secretsmanager (functions, RDS Proxy, mapping), sqs (billing-consumer DLQ; SQS itself calls KMS for the encrypted queue, so no kms endpoint), lambda and sts (the Amazon MQ mapping invokes billing-consumer and assumes its role from the broker's VPC)."
  type        = list(string)
  default     = ["secretsmanager", "sqs", "lambda", "sts"]
}

variable "endpoint_az_count" {
  description = "Availability zones hosting the interface endpoints (1 halves their cost, for dev; 2 for production)."
  type        = number
  default     = 2
}

variable "create_flow_log" {
  description = "Log rejected VPC traffic to CloudWatch Logs."
  type        = bool
  default     = true
}

# ---------------------------------------------------------------- database
variable "db_instance_class" {
  description = "RDS instance class."
  type        = string
  default     = "db.t4g.micro"
}

variable "db_engine_version" {
  description = "PostgreSQL engine version."
  type        = string
  default     = "16"
}

variable "db_allocated_storage" {
  description = "Initial RDS storage in GiB."
  type        = number
  default     = 20
}

variable "db_multi_az" {
  description = "Multi-AZ standby for the database."
  type        = bool
  default     = false
}

variable "db_deletion_protection" {
  description = "Deletion protection of the database (and of the user pool)."
  type        = bool
  default     = true
}

variable "db_skip_final_snapshot" {
  description = "Skip the final snapshot when the database is destroyed."
  type        = bool
  default     = false
}

variable "db_backup_retention_days" {
  description = "Automated backup retention in days."
  type        = number
  default     = 7
}

variable "create_db_proxy" {
  description = "Connect the application functions through RDS Proxy (recommended; about 22 USD/month for 2 vCPU-equivalents minimum)."
  type        = bool
  default     = true
}

variable "database_ca_file" {
  description = "Path, inside the function package or a layer (/opt/...), of a PEM CA bundle for PostgreSQL TLS (DATABASE_CA_FILE). Needed with create_db_proxy = false: the RDS instance certificate is not from a public CA."
  type        = string
  default     = null

  validation {
    condition     = var.create_db_proxy || var.database_ca_file != null
    error_message = "create_db_proxy = false needs database_ca_file (and usually database_ca_layer_zip): the functions then talk TLS to the RDS instance, whose certificate only the RDS CA bundle verifies."
  }
}

variable "database_ca_layer_zip" {
  description = "Zip holding the RDS CA bundle (e.g. rds-ca/global-bundle.pem from https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem, https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/UsingWithRDS.SSL.html), published as a Lambda layer for every Zip function; the file is then under /opt (database_ca_file = \"/opt/rds-ca/global-bundle.pem\"). Null: no layer."
  type        = string
  default     = null

  # Layers are for .zip functions only: an image carries what it needs
  # (https://docs.aws.amazon.com/lambda/latest/dg/chapter-layers.html).
  validation {
    condition     = var.database_ca_layer_zip == null || var.package_type == "Zip"
    error_message = "package_type = Image cannot use database_ca_layer_zip: Lambda attaches layers only to .zip functions. Keep the RDS Proxy (create_db_proxy = true, whose certificate the compiled-in roots verify), or add the bundle to the image (docs/images.md) and point database_ca_file at it."
  }
}

variable "apply_immediately" {
  description = "Apply RDS and Amazon MQ changes (instance class, broker size, engine version) at once, with the reboot they need, instead of in the next maintenance window; with false a resize shows as a change on every plan until the window."
  type        = bool
  default     = true
}

variable "db_performance_insights" {
  description = "Enable Performance Insights (7-day free tier)."
  type        = bool
  default     = true
}

variable "db_monitoring_interval" {
  description = "Enhanced Monitoring interval in seconds (0 to disable)."
  type        = number
  default     = 60
}

variable "app_password_versions" {
  description = "Rotation counters of the application credentials: database roles (movies, orders, orders_reader) and broker users (publisher, consumer). Bump one to store a new password in its secret; setup re-runs and applies it (README, runbook \"Rotate an application password\")."
  type = object({
    movies        = optional(number, 1)
    orders        = optional(number, 1)
    orders_reader = optional(number, 1)
    publisher     = optional(number, 1)
    consumer      = optional(number, 1)
  })
  default = {}
}

variable "secret_recovery_window_days" {
  description = "Recovery window of the Secrets Manager secrets (0 = delete immediately on destroy)."
  type        = number
  default     = 7
}

# ---------------------------------------------------------------- broker
variable "broker_deployment_mode" {
  description = "SINGLE_INSTANCE or CLUSTER_MULTI_AZ."
  type        = string
  default     = "SINGLE_INSTANCE"
}

variable "broker_instance_type" {
  description = "Amazon MQ instance type (mq.t3.micro for a single instance; mq.m5.large+ for a cluster)."
  type        = string
  default     = "mq.t3.micro"
}

variable "broker_engine_version" {
  description = "RabbitMQ engine version."
  type        = string
  default     = "3.13"
}

variable "billing_queue" {
  description = "Durable RabbitMQ queue of orders (declared by the setup function)."
  type        = string
  default     = "billing_queue"
}

# ---------------------------------------------------------------- functions
variable "artifacts_dir" {
  description = "Directory with <function>/bootstrap.zip built by make build. Null: <repo>/target/lambda."
  type        = string
  default     = null
}

variable "package_type" {
  description = "Zip (bootstrap.zip from make build) or Image (make images: the images in the ECR repositories, docs/images.md)."
  type        = string
  default     = "Zip"
}

variable "image_tag" {
  description = "Image tag deployed when package_type = Image (tags are immutable: one per release, e.g. the commit)."
  type        = string
  default     = "latest"
}

variable "rust_log" {
  description = "RUST_LOG of every function."
  type        = string
  default     = "info"
}

variable "application_log_level" {
  description = "Lambda advanced logging controls' application log level for every function (TRACE, DEBUG, INFO, WARN, ERROR, FATAL): Lambda sets it as AWS_LAMBDA_LOG_LEVEL, which takes precedence over RUST_LOG's level (RUST_LOG's stricter per-target directives still apply). null (default): plain-text format, RUST_LOG alone. Keep it at INFO or below: Lambda counts the EMF metric lines as INFO and drops them above."
  type        = string
  default     = null
}

variable "functions" {
  description = "Per-function sizing. reserved_concurrency caps fan-out toward the database and broker (-1: unreserved); applied only when lambda_account_concurrency is set."
  type = map(object({
    memory_size          = optional(number, 256)
    timeout              = optional(number, 10)
    reserved_concurrency = optional(number, 10)
  }))
  default = {
    inventory          = { memory_size = 512, timeout = 10, reserved_concurrency = 20 }
    "billing-api"      = { memory_size = 512, timeout = 10, reserved_concurrency = 20 }
    "billing-consumer" = { memory_size = 256, timeout = 30, reserved_concurrency = 2 }
    setup              = { memory_size = 256, timeout = 900, reserved_concurrency = 1 }
  }
}

variable "lambda_account_concurrency" {
  description = "The account's Lambda concurrency quota in this region (aws lambda get-account-settings --query AccountLimit.ConcurrentExecutions), minus what other functions of the account already reserve. null (default): no function gets reserved concurrency. Set: each function reserves functions.<name>.reserved_concurrency; Lambda refuses reservations that leave fewer than 100 unreserved, so the sum must fit in this value - 100."
  type        = number
  default     = null

  validation {
    # HCL's || evaluates both sides: coalesce keeps null (no reservations) from failing the sum.
    condition     = sum([for f in values(var.functions) : max(f.reserved_concurrency, 0)]) <= coalesce(var.lambda_account_concurrency, 1000000) - 100
    error_message = "The reservations in var.functions exceed lambda_account_concurrency - 100: Lambda keeps at least 100 unreserved (PutFunctionConcurrency would fail). Lower them, ask for a quota increase, or leave lambda_account_concurrency null."
  }
}

variable "create_alias" {
  description = "Publish versions and route API Gateway and the event source mapping to a live alias."
  type        = bool
  default     = true
}

variable "create_codedeploy" {
  description = "Roll new versions of the application functions out with CodeDeploy: make rollout shifts each live alias gradually (rollout_deployment_config) and CodeDeploy shifts it back when the function's rollout alarms fire. False: make rollout moves the aliases all at once (still back when make verify fails)."
  type        = bool
  default     = true
}

variable "rollout_deployment_config" {
  description = "CodeDeploy's predefined Lambda deployment configuration for the application functions, e.g. CodeDeployDefault.LambdaCanary10Percent5Minutes (10% for 5 minutes, then all), CodeDeployDefault.LambdaLinear10PercentEvery1Minute, CodeDeployDefault.LambdaAllAtOnce."
  type        = string
  default     = "CodeDeployDefault.LambdaCanary10Percent5Minutes"

  validation {
    condition     = startswith(var.rollout_deployment_config, "CodeDeployDefault.Lambda")
    error_message = "rollout_deployment_config must be one of CodeDeploy's predefined Lambda configurations (CodeDeployDefault.Lambda...)."
  }
}

variable "provisioned_concurrency" {
  description = "Provisioned concurrency of the HTTP functions' alias (0: none; each unit costs money even idle)."
  type        = number
  default     = 0
}

variable "create_provisioned_concurrency_autoscaling" {
  description = "Autoscale provisioned concurrency of the HTTP functions on utilisation (needs provisioned_concurrency > 0)."
  type        = bool
  default     = false
}

variable "provisioned_concurrency_max" {
  description = "Maximum provisioned concurrency when autoscaling."
  type        = number
  default     = 5
}

# ---------------------------------------------------------------- billing path
variable "create_event_source_mapping" {
  description = "Create the Amazon MQ event source mapping feeding billing-consumer."
  type        = bool
  default     = true
}

variable "billing_batch_size" {
  description = "Maximum messages per billing-consumer invocation (one INSERT per batch). Capped at 1000 (billing::MAX_BILLING_BATCH): the worst case, a batch whose every row the database refuses, is a full bisection plus a dead letter per row, and must finish within the consumer's timeout (README, Billing)."
  type        = number
  default     = 100

  validation {
    condition     = var.billing_batch_size >= 1 && var.billing_batch_size <= 1000 && floor(var.billing_batch_size) == var.billing_batch_size
    error_message = "billing_batch_size must be a whole number from 1 to 1000: a bigger batch can outlast billing-consumer's timeout in the worst case and be redelivered forever (README, Billing)."
  }
}

variable "billing_batching_window_seconds" {
  description = "Maximum time the mapping waits to fill a batch."
  type        = number
  default     = 1
}

variable "create_dlq_redrive_allow_policy" {
  description = "Forbid other queues from using the DLQ as their dead-letter target (redrive allow policy denyAll)."
  type        = bool
  default     = true
}

variable "create_setup_invocation" {
  description = "Invoke the setup function on apply (database roles and migrations, broker queue) whenever migrations or its code change."
  type        = bool
  default     = true
}

variable "migrations_dir" {
  description = "Directory of the SQL migrations (hashed to re-run setup). Null: <repo>/migrations."
  type        = string
  default     = null
}

# ---------------------------------------------------------------- API and auth
variable "openapi_path" {
  description = "Path of the OpenAPI contract. Null: <repo>/openapi.yaml."
  type        = string
  default     = null
}

variable "api_throttling_burst_limit" {
  description = "API burst limit."
  type        = number
  default     = 100
}

variable "api_throttling_rate_limit" {
  description = "API steady-state requests per second."
  type        = number
  default     = 50
}

variable "api_detailed_metrics" {
  description = "Per-route API Gateway metrics: CloudWatch custom metrics (6 per route: Count, 4xx, 5xx, Latency, IntegrationLatency, DataProcessed), billed once a route gets traffic (docs/costs.md). The dashboard and alarms use the API-wide metrics."
  type        = bool
  default     = false
}

variable "create_custom_domain" {
  description = "Serve the API on domain_name with an ACM certificate."
  type        = bool
  default     = false
}

variable "domain_name" {
  description = "Custom domain of the API."
  type        = string
  default     = null
}

variable "hosted_zone_id" {
  description = "Route 53 zone of domain_name."
  type        = string
  default     = null
}

# ---------------------------------------------------------------- CDN and edge protection
variable "create_cdn" {
  description = "Put CloudFront (no caching) with a WAFv2 web ACL (per-IP rate limit, AWS managed common rules) in front of the API; the functions then refuse requests that go around it (README Deploy, CDN and edge protection). About 8 USD/month idle."
  type        = bool
  default     = false
}

variable "cdn_domain_name" {
  description = "Custom domain for the CDN (ACM certificate in us-east-1, TLSv1.2_2021). Null: the distribution's *.cloudfront.net name."
  type        = string
  default     = null

  validation {
    condition     = var.cdn_domain_name == null || !var.create_custom_domain || var.cdn_domain_name != var.domain_name
    error_message = "cdn_domain_name must differ from the API Gateway custom domain (domain_name): one name can point at one of them."
  }
}

variable "cdn_hosted_zone_id" {
  description = "Route 53 public hosted zone of cdn_domain_name."
  type        = string
  default     = null
}

variable "cdn_price_class" {
  description = "CloudFront price class (edge locations used) of the API's distribution (create_cdn) and the web's (create_web): PriceClass_100 is North America, Europe and Israel, the cheapest."
  type        = string
  default     = "PriceClass_100"
}

variable "cdn_rate_limit" {
  description = "Requests one client IP may send in 5 minutes before the web ACL answers 429."
  type        = number
  default     = 1000
}

# ---------------------------------------------------------------- web client
variable "create_web" {
  description = "Serve the web client (web/dist, built by make web) from a private S3 bucket through CloudFront, with the API under /api/* on the same distribution (docs/web.md, On AWS); the user client's redirect and sign-out URLs get the distribution's URL. With create_cdn the web distribution carries the same web ACL and origin-verify function as the API's. No idle price: CloudFront and S3 bill requests, transfer and storage (docs/costs.md)."
  type        = bool
  default     = true
}

variable "web_dist_dir" {
  description = "The built web client uploaded with create_web (node web/build.mjs writes it). Null: <repo>/web/dist."
  type        = string
  default     = null
}

variable "web_csp_path" {
  description = "The Content-Security-Policy of the web client, one line with {auth_origin} (the local gateway serves the same file). Null: <repo>/web/csp.txt."
  type        = string
  default     = null
}

variable "cognito_domain_prefix" {
  description = "Hosted UI domain prefix (globally unique). Null: <name>-<environment>-<account id>."
  type        = string
  default     = null
}

variable "create_machine_client" {
  description = "Create the Cognito machine (client credentials) client that may hold the admin and write scopes. False: no M2M charges; admin and editor rights then come from user groups only."
  type        = bool
  default     = true
}

variable "machine_client_version" {
  description = "Bump to replace the machine client (a new client id and secret, written to machine_client_secret_arn): its rotation."
  type        = number
  default     = 1
}

variable "cognito_mfa" {
  description = "Cognito MFA: OFF, OPTIONAL or ON."
  type        = string
  default     = "OPTIONAL"
}

variable "cognito_callback_urls" {
  description = "Hosted UI redirect URLs of the user client, after the web distribution's https://<domain>/ with create_web."
  type        = list(string)
  default     = ["http://localhost:3000/callback"]
}

# ---------------------------------------------------------------- observability
variable "alarm_email" {
  description = "Email subscribed to alarms and budget alerts (null: none)."
  type        = string
  default     = null
}

variable "create_budget" {
  description = "Create the monthly cost budget."
  type        = bool
  default     = true
}

variable "budget_limit_usd" {
  description = "Monthly cost budget in USD; it alerts at 80% actual and 100% forecast, so keep 0.8 x limit above idle (docs/costs.md: about 134 USD/month with the defaults, 73 with profiles/dev.tfvars, us-east-1; scripts/cost-check.py checks it)."
  type        = number
  default     = 250
}

# ---------------------------------------------------------------- security scanning
variable "create_inspector" {
  description = "Enable Amazon Inspector for Lambda functions, Lambda code and ECR in this account and region, and send HIGH/CRITICAL findings to the alarm topic. Account-wide: destroy turns these scan types off for the account; set false if an organisation's delegated administrator manages Inspector."
  type        = bool
  default     = true
}

# ---------------------------------------------------------------- delivery
variable "create_github_oidc" {
  description = "Create the GitHub Actions OIDC roles used by .github/workflows/ci.yml (plan: pull requests and the branch; apply: the protected environment)."
  type        = bool
  default     = false
}

variable "create_github_oidc_provider" {
  description = "Create the account's GitHub OIDC identity provider (false when the account already has one)."
  type        = bool
  default     = true
}

variable "github_repository" {
  description = "owner/name of the GitHub repository trusted by the OIDC roles (with create_github_oidc)."
  type        = string
  default     = "example/crud-master"
}

variable "github_plan_environment" {
  description = "GitHub environment trusted by the plan role (configure required reviewers on it): pull-request plans run in it."
  type        = string
  default     = "plan"
}

variable "github_environment" {
  description = "GitHub environment trusted by the apply role (configure required reviewers on it)."
  type        = string
  default     = "production"
}

variable "tf_state_bucket" {
  description = "S3 bucket holding the Terraform state (backend.tf), read by the plan role."
  type        = string
  default     = "my-tfstate-bucket"
}
