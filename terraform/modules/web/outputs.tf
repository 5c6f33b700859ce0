output "url" {
  description = "The site: https://<distribution domain>/ (the client's redirect and sign-out URI)."
  value       = "https://${aws_cloudfront_distribution.this.domain_name}/"
}

output "distribution_id" {
  description = "CloudFront distribution ID (invalidations, CloudWatch dimension DistributionId)."
  value       = aws_cloudfront_distribution.this.id
}

output "distribution_arn" {
  description = "ARN of the distribution (the bucket policy's AWS:SourceArn)."
  value       = aws_cloudfront_distribution.this.arn
}

output "domain_name" {
  description = "The distribution's *.cloudfront.net host name."
  value       = aws_cloudfront_distribution.this.domain_name
}

output "bucket" {
  description = "Name of the private bucket holding the web client's files."
  value       = aws_s3_bucket.this.id
}

output "response_headers_policy_id" {
  description = "ID of the response headers policy on every behavior (CSP, HSTS, nosniff, DENY, Referrer-Policy)."
  value       = aws_cloudfront_response_headers_policy.this.id
}

output "content_security_policy" {
  description = "The Content-Security-Policy the distribution sends: web/csp.txt with {auth_origin} replaced."
  value       = local.csp
}

output "config" {
  description = "config.json as the client reads it at start (authority, clientId, scopes, api)."
  value       = local.config
}
