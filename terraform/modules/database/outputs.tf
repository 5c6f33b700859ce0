output "instance_address" {
  description = "Hostname of the RDS instance (used by the setup function only)."
  value       = aws_db_instance.this.address
}

output "instance_port" {
  description = "Port of the RDS instance."
  value       = aws_db_instance.this.port
}

output "instance_identifier" {
  description = "Identifier of the RDS instance (CloudWatch dimension DBInstanceIdentifier)."
  value       = aws_db_instance.this.identifier
}

output "instance_arn" {
  description = "ARN of the RDS instance."
  value       = aws_db_instance.this.arn
}

output "proxy_endpoint" {
  description = "Endpoint of the RDS Proxy the application functions use (instance address when the proxy is off)."
  value       = var.create_proxy ? aws_db_proxy.this[0].endpoint : aws_db_instance.this.address
}

output "proxy_name" {
  description = "Name of the RDS Proxy (CloudWatch dimension ProxyName), null when off."
  value       = var.create_proxy ? aws_db_proxy.this[0].name : null
}

output "master_secret_arn" {
  description = "ARN of the RDS-managed master user secret."
  value       = try(aws_db_instance.this.master_user_secret[0].secret_arn, null)
}

output "app_user_secret_version_ids" {
  description = "Version ID of each app-user secret, by database name: a change re-runs setup."
  value       = { for k, v in aws_secretsmanager_secret_version.app_user : k => v.version_id }
}

output "app_user_secret_arns" {
  description = "ARN of each app-user secret, by database name."
  value       = { for k, s in aws_secretsmanager_secret.app_user : k => s.arn }
}

output "final_snapshot_identifier" {
  description = "Name of the snapshot taken when the instance is destroyed (null with skip_final_snapshot)."
  value       = aws_db_instance.this.final_snapshot_identifier
}
