output "url" {
  description = "Base URL of the API through CloudFront (the custom domain when set)."
  value       = "https://${coalesce(var.domain_name, aws_cloudfront_distribution.this.domain_name)}"
}

output "distribution_id" {
  description = "CloudFront distribution ID (CloudWatch dimension DistributionId, invalidations)."
  value       = aws_cloudfront_distribution.this.id
}

output "distribution_domain_name" {
  description = "The distribution's *.cloudfront.net host name."
  value       = aws_cloudfront_distribution.this.domain_name
}

output "web_acl_arn" {
  description = "ARN of the CLOUDFRONT-scope WAFv2 web ACL (us-east-1)."
  value       = aws_wafv2_web_acl.this.arn
}

output "web_acl_name" {
  description = "Name of the web ACL (CloudWatch dimension WebACL in namespace AWS/WAFV2, region us-east-1)."
  value       = aws_wafv2_web_acl.this.name
}

output "waf_log_group_name" {
  description = "CloudWatch log group (us-east-1) with the requests the web ACL blocked or counted."
  value       = aws_cloudwatch_log_group.this.name
}

output "origin_verify_header" {
  description = "Name of the secret origin header."
  value       = var.origin_verify_header
}

output "origin_verify_secret_arn" {
  description = "Secrets Manager secret holding the origin header's value: give it to the HTTP functions as ORIGIN_VERIFY_SECRET_ARN."
  value       = aws_secretsmanager_secret.this.arn
}

output "origin_verify_secret_version_id" {
  description = "Version of the secret CloudFront uses now: in the functions' environment, so that a rotation also starts fresh function environments."
  value       = aws_secretsmanager_secret_version.this.version_id
}

output "origin_verify_function_arn" {
  description = "ARN of the viewer-request function that adds the origin header, once its KeyValueStore holds the value: the web distribution's /api/* runs it too (create_web)."
  value       = aws_cloudfront_function.origin_verify.arn
  # Associated only once the key is there, as the API's distribution is.
  depends_on = [terraform_data.origin_verify_key]
}
