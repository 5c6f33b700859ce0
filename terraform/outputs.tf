output "api_url" {
  description = "Base URL clients call: the CDN when create_cdn (the API then refuses direct calls), else the HTTP API."
  value       = var.create_cdn ? module.cdn[0].url : module.api.url
}

output "api_direct_url" {
  description = "The HTTP API's own URL (with create_cdn it answers 403 to anything that did not come through CloudFront)."
  value       = module.api.url
}

output "cdn_distribution_id" {
  description = "CloudFront distribution ID (null without create_cdn)."
  value       = var.create_cdn ? module.cdn[0].distribution_id : null
}

output "waf_web_acl_arn" {
  description = "ARN of the CloudFront web ACL in us-east-1 (null without create_cdn)."
  value       = var.create_cdn ? module.cdn[0].web_acl_arn : null
}

output "waf_log_group_name" {
  description = "Log group in us-east-1 with the requests the web ACL blocked or counted (null without create_cdn)."
  value       = var.create_cdn ? module.cdn[0].waf_log_group_name : null
}

output "web_url" {
  description = "The web client: https://<distribution domain>/ (null without create_web); make verify checks it, its config.json and its /api."
  value       = var.create_web ? module.web[0].url : null
}

output "web_bucket" {
  description = "Private S3 bucket holding web/dist and config.json (null without create_web)."
  value       = var.create_web ? module.web[0].bucket : null
}

output "web_distribution_id" {
  description = "CloudFront distribution of the web client and /api/* (null without create_web): aws cloudfront create-invalidation --distribution-id <id> --paths '/*' after a change outside Terraform."
  value       = var.create_web ? module.web[0].distribution_id : null
}

output "region" {
  description = "AWS region of the deployment."
  value       = data.aws_region.current.name
}

output "user_pool_id" {
  description = "Cognito user pool ID."
  value       = module.auth.user_pool_id
}

output "user_client_id" {
  description = "Cognito app client for people (USER_PASSWORD_AUTH, SRP)."
  value       = module.auth.user_client_id
}

output "machine_client_id" {
  description = "Cognito app client for services (client credentials)."
  value       = module.auth.machine_client_id
}

output "machine_client_secret_arn" {
  description = "Secrets Manager secret with the machine client's client_id and client_secret (JSON); only principals granted GetSecretValue on it read it."
  value       = module.auth.machine_client_secret_arn
}

output "token_endpoint" {
  description = "OAuth2 token endpoint (client credentials)."
  value       = module.auth.token_endpoint
}

output "jwt_issuer" {
  description = "Issuer of the tokens the API accepts."
  value       = module.auth.issuer
}

output "function_names" {
  description = "Lambda function names by role."
  value       = { for k, m in module.function : k => m.function_name }
}

output "ecr_repository_urls" {
  description = "ECR repository per function (package_type = Image only)."
  value       = { for k, m in module.function : k => m.ecr_repository_url if m.ecr_repository_url != null }
}

output "db_proxy_endpoint" {
  description = "RDS Proxy endpoint used by the functions."
  value       = module.database.proxy_endpoint
}

output "amqp_endpoint" {
  description = "AMQPS endpoint of the broker."
  value       = module.broker.amqp_endpoint
}

output "dlq_url" {
  description = "URL of the billing dead-letter queue."
  value       = aws_sqs_queue.billing_dlq.url
}

output "dashboard_url" {
  description = "CloudWatch dashboard."
  value       = "https://${data.aws_region.current.name}.console.aws.amazon.com/cloudwatch/home?region=${data.aws_region.current.name}#dashboards/dashboard/${module.observability.dashboard_name}"
}

output "alarm_topic_arn" {
  description = "SNS topic receiving alarms."
  value       = module.observability.sns_topic_arn
}

output "github_plan_role_arn" {
  description = "Role assumed by the deploy workflow for terraform plan (GitHub variable AWS_PLAN_ROLE_ARN); null without create_github_oidc."
  value       = try(module.github_oidc[0].plan_role_arn, null)
}

output "github_apply_role_arn" {
  description = "Role assumed by the deploy workflow for terraform apply (GitHub variable AWS_APPLY_ROLE_ARN); null without create_github_oidc."
  value       = try(module.github_oidc[0].apply_role_arn, null)
}

output "db_final_snapshot_identifier" {
  description = "Snapshot RDS takes when the database is destroyed (unique per deployment; null with db_skip_final_snapshot)."
  value       = module.database.final_snapshot_identifier
}

output "db_proxy_name" {
  description = "Name of the RDS Proxy, null when create_db_proxy = false (make verify checks its targets)."
  value       = module.database.proxy_name
}

output "broker_id" {
  description = "Amazon MQ broker ID (make verify checks it is RUNNING)."
  value       = module.broker.id
}

output "alarm_names" {
  description = "Names of the CloudWatch alarms, the rollout alarms included (make verify checks none is in ALARM)."
  value       = concat(module.observability.alarm_names, flatten(values(try(module.rollout[0].alarm_names, {}))))
}

output "rollout" {
  description = "What make rollout (scripts/rollout.py) reads: per application function its name, its alias, the version the last apply published, its CodeDeploy deployment group and rollout alarms; the CodeDeploy application and deployment configuration (null without create_codedeploy). Empty functions without create_alias."
  value = {
    codedeploy_application = try(module.rollout[0].application_name, null)
    deployment_config_name = try(module.rollout[0].deployment_config_name, null)
    functions = {
      for k in local.rollout_functions : k => {
        function_name    = module.function[k].function_name
        alias            = module.function[k].qualifier
        version          = module.function[k].version
        deployment_group = try(module.rollout[0].deployment_groups[k], null)
        alarms           = module.rollout[0].alarm_names[k]
      } if var.create_alias
    }
  }
}

output "billing_consumer_arn" {
  description = "ARN the billing event source mapping invokes (the live alias when there is one): make verify lists the mappings by it."
  value       = module.function["billing-consumer"].target_arn
}

output "broker_log_group" {
  description = "The broker's general log group, which Amazon MQ creates, with the retention and key the apply sets on it (make verify checks them)."
  value = {
    name              = module.broker.general_log_group
    retention_in_days = var.log_retention_days
    kms_key_arn       = aws_kms_key.this.arn
  }
}
