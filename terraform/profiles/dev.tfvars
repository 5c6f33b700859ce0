# Dev profile: the same private architecture and function code at the lowest idle cost (docs/costs.md:
# about 73 USD/month in us-east-1), nothing public but API Gateway, Cognito and the web client's
# CloudFront distribution (create_web: no idle price).
#   terraform apply -var-file=profiles/dev.tfvars
# scripts/cost-check.py plans this file and checks docs/costs.md's dev table against it.
environment = "dev"

# Interface endpoints in one AZ only (what the code and the Amazon MQ mapping call: secretsmanager,
# sqs, and lambda + sts for the mapping's pollers); the other AZ's subnet reaches them across the
# AZ boundary (0.01 USD/GB). An outage of that AZ cuts the AWS APIs.
interface_endpoints = ["secretsmanager", "sqs", "lambda", "sts"]
endpoint_az_count   = 1
create_nat_gateway  = false

# No RDS Proxy (22 USD/month): at dev's connection counts (pool size 1 per function instance, a
# handful of instances) db.t4g.micro's max_connections is enough, and the code does not notice:
# it connects to DATABASE_HOST (the instance instead of the proxy) with the same secrets. The
# instance's certificate is from the RDS CA, so the CA bundle ships as a layer and
# DATABASE_CA_FILE points at it. What changes: no connection multiplexing, so a burst of cold
# starts opens one connection each; no proxy failover shortcut.
create_db_proxy       = false
database_ca_file      = "/opt/rds-ca/global-bundle.pem"
database_ca_layer_zip = "../target/lambda/rds-ca-layer.zip"

# Single-AZ database and single-instance broker, no Enhanced Monitoring (CloudWatch Logs cost).
db_multi_az            = false
db_monitoring_interval = 0
broker_deployment_mode = "SINGLE_INSTANCE"
broker_instance_type   = "mq.t3.micro"

# No Cognito machine client (M2M app clients and token requests are billed): the functions then
# decide admin and editor rights by user group alone (ADMIN_SCOPE/ADMIN_CLIENT_IDS unset).
create_machine_client = false

# Short retention and easy teardown.
log_retention_days          = 30
db_deletion_protection      = false
db_skip_final_snapshot      = true
secret_recovery_window_days = 0

# New accounts often have a concurrency quota of 10 or 50: reserve nothing.
lambda_account_concurrency = null

# No CloudFront/WAF in dev (5 USD web ACL + 3 USD rules a month idle): the API is called directly.
create_cdn = false

# No Amazon Inspector in dev: it is account-wide, billed per scanned function, and it does not scan
# functions encrypted with a customer managed key
# (https://docs.aws.amazon.com/inspector/latest/user/scanning-lambda.html).
create_inspector = false

# Alerts at 80% actual and 100% forecast: 100 keeps idle (about 73) below both, so an alert means
# real traffic or a forgotten resource (scripts/cost-check.py checks 0.8 x limit > idle).
create_budget    = true
budget_limit_usd = 100
