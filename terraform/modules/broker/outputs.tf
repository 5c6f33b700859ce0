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
  description = "ARN of the Secrets Manager secret with the broker credentials."
  value       = aws_secretsmanager_secret.this.arn
}
