# Dev profile: the same private architecture at the lowest idle cost (about 94 USD/month, README
# Costs), nothing public but API Gateway and Cognito.
#   terraform apply -var-file=profiles/dev.tfvars
environment = "dev"

# Interface endpoints in one AZ only (secretsmanager, sqs, lambda: what the code and the Amazon MQ
# mapping call); the other AZ's subnet reaches them across the AZ boundary.
interface_endpoints = ["secretsmanager", "sqs", "lambda", "sts"]
endpoint_az_count   = 1
create_nat_gateway  = false

# Single-AZ database and single-instance broker, no Enhanced Monitoring (CloudWatch Logs cost).
db_multi_az            = false
db_monitoring_interval = 0
broker_deployment_mode = "SINGLE_INSTANCE"
broker_instance_type   = "mq.t3.micro"

# Short retention and easy teardown.
log_retention_days          = 30
db_deletion_protection      = false
db_skip_final_snapshot      = true
secret_recovery_window_days = 0

# New accounts often have a concurrency quota of 10 or 50: reserve nothing (README Deploy).
lambda_account_concurrency = null

# No CloudFront/WAF in dev (5 USD web ACL + 3 USD rules a month idle): the API is called directly.
create_cdn = false

create_inspector = true
create_budget    = true
budget_limit_usd = 120
