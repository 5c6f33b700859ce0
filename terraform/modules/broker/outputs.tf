output "arn" {
  description = "ARN of the broker (event source of the billing mapping)."
  value       = aws_mq_broker.this.arn
}

output "id" {
  description = "ID of the broker."
  value       = aws_mq_broker.this.id
}

output "name" {
  description = "Name of the broker (CloudWatch dimension Broker)."
  value       = aws_mq_broker.this.broker_name
}

output "amqp_endpoint" {
  description = "AMQPS endpoint, amqps://<host>:5671."
  value       = try(aws_mq_broker.this.instances[0].endpoints[0], null)
}

output "secret_arn" {
  description = "ARN of the Secrets Manager secret with the administrator credentials (setup only)."
  value       = aws_secretsmanager_secret.this.arn
}

output "app_user_secret_arns" {
  description = "ARN of each least-privilege user's secret, by role (publisher, consumer)."
  value       = { for k, s in aws_secretsmanager_secret.app : k => s.arn }
}

output "secret_version_ids" {
  description = "Version ID of every broker secret (administrator and users): a change re-runs setup."
  value = merge(
    { admin = aws_secretsmanager_secret_version.this.version_id },
    { for k, v in aws_secretsmanager_secret_version.app : k => v.version_id },
  )
}

output "console_url" {
  description = "The broker's web console URL (https://<id>.mq.<region>.amazonaws.com, port 443): the RabbitMQ management API setup creates users through."
  value       = try(aws_mq_broker.this.instances[0].console_url, null)
}

output "general_log_group" {
  description = "The broker's general log group (Amazon MQ's name; retention and key set after the broker exists)."
  value       = local.general_log_group
}

output "bootstrap_secret_arn" {
  description = "ARN of the bootstrap password's secret (setup only): the password the broker is created with, which setup replaces."
  value       = aws_secretsmanager_secret.bootstrap.arn
}
