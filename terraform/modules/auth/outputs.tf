output "user_pool_id" {
  description = "ID of the user pool."
  value       = aws_cognito_user_pool.this.id
}

output "user_pool_arn" {
  description = "ARN of the user pool."
  value       = aws_cognito_user_pool.this.arn
}

output "issuer" {
  description = "JWT issuer URL of the pool."
  value       = "https://cognito-idp.${data.aws_region.current.name}.amazonaws.com/${aws_cognito_user_pool.this.id}"
}

output "user_client_id" {
  description = "ID of the public user client (USER_PASSWORD_AUTH, SRP, hosted UI)."
  value       = aws_cognito_user_pool_client.user.id
}

output "machine_client_id" {
  description = "ID of the machine client (client credentials); null without create_machine_client."
  value       = try(one(local.machine_client_ids), null)
}

output "machine_client_secret_arn" {
  description = "ARN of the secret holding the machine client's client_id and client_secret (JSON); null without create_machine_client."
  value       = try(aws_secretsmanager_secret.machine[0].arn, null)
}

output "client_ids" {
  description = "All app client IDs (the JWT authorizer audience)."
  value       = concat([aws_cognito_user_pool_client.user.id], local.machine_client_ids)
}

output "token_endpoint" {
  description = "OAuth2 token endpoint of the hosted domain."
  value       = "${local.domain_url}/oauth2/token"
}

output "domain_url" {
  description = "Origin of the pool's managed login (https://<prefix>.auth.<region>.amazoncognito.com, no trailing slash): the OAuth2 authority of the web client (<authority>/oauth2/authorize, /oauth2/token, /logout)."
  value       = local.domain_url
}

output "resource_server_identifier" {
  description = "Identifier of the resource server: its scopes are <identifier>/<name>."
  value       = aws_cognito_resource_server.this.identifier
}

output "admin_scope" {
  description = "The full admin scope (<identifier>/<admin_scope>), valid only from the machine client."
  value       = "${aws_cognito_resource_server.this.identifier}/${var.admin_scope}"
}

output "scopes" {
  description = "Every scope a token of this pool can carry for the API: the resource-server scopes and aws.cognito.signin.user.admin."
  value       = concat(["aws.cognito.signin.user.admin"], [for s in keys(var.scopes) : "${aws_cognito_resource_server.this.identifier}/${s}"])
}
