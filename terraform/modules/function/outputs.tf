output "function_name" {
  description = "Name of the function."
  value       = aws_lambda_function.this.function_name
}

output "arn" {
  description = "Unqualified ARN of the function."
  value       = aws_lambda_function.this.arn
}

output "target_arn" {
  description = "ARN callers should use: the alias ARN when an alias exists, else the function ARN."
  value       = var.create_alias ? local.alias.arn : aws_lambda_function.this.arn
}

output "invoke_arn" {
  description = "Invoke ARN for API Gateway (alias when an alias exists)."
  value       = var.create_alias ? local.alias.invoke_arn : aws_lambda_function.this.invoke_arn
}

output "qualifier" {
  description = "Alias name when an alias exists, else null."
  value       = var.create_alias ? local.alias.name : null
}

output "version" {
  description = "The version the last apply published (\"$LATEST\" without create_alias); with alias_moved_by = \"rollout\", make rollout shifts the alias to it."
  value       = aws_lambda_function.this.version
}

output "alias_moved_by" {
  description = "Who moves the alias to a new version: terraform (every apply) or rollout (make rollout, through CodeDeploy)."
  value       = var.alias_moved_by
}

output "source_code_hash" {
  description = "Hash of the deployed code (zip hash or image URI)."
  value       = local.is_zip ? aws_lambda_function.this.source_code_hash : local.image_uri
}

output "role_name" {
  description = "Name of the execution role."
  value       = aws_iam_role.this.name
}

output "role_arn" {
  description = "ARN of the execution role."
  value       = aws_iam_role.this.arn
}

output "log_group_name" {
  description = "Name of the function log group."
  value       = aws_cloudwatch_log_group.this.name
}

output "ecr_repository_url" {
  description = "URL of the ECR repository (null with Zip packaging)."
  value       = local.create_ecr ? aws_ecr_repository.this[0].repository_url : null
}
