output "api_id" {
  description = "ID of the HTTP API (CloudWatch dimension ApiId)."
  value       = aws_apigatewayv2_api.this.id
}

output "api_endpoint" {
  description = "Default execute-api URL."
  value       = aws_apigatewayv2_api.this.api_endpoint
}

output "url" {
  description = "Base URL clients should call (custom domain when enabled)."
  value       = var.create_custom_domain ? "https://${var.domain_name}" : aws_apigatewayv2_api.this.api_endpoint
}

output "execution_arn" {
  description = "Execution ARN of the API."
  value       = aws_apigatewayv2_api.this.execution_arn
}

output "access_log_group_name" {
  description = "Name of the access log group."
  value       = aws_cloudwatch_log_group.access.name
}
