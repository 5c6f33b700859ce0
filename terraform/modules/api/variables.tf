variable "name" {
  description = "Name of the HTTP API."
  type        = string
}

variable "openapi_path" {
  description = "Path of openapi.yaml. Each operation names its function in x-function and its auth in security."
  type        = string
}

variable "functions" {
  description = "Functions the operations route to, keyed by the x-function value."
  type = map(object({
    function_name = string
    invoke_arn    = string
    qualifier     = optional(string)
  }))
}

variable "security_scheme_name" {
  description = "Name of the security scheme in openapi.yaml replaced by the Cognito JWT authorizer."
  type        = string
  default     = "cognito"
}

variable "jwt_issuer" {
  description = "Issuer URL of the Cognito user pool."
  type        = string
}

variable "jwt_audience" {
  description = "Allowed client IDs (the client_id claim of access tokens)."
  type        = list(string)
}

variable "resource_server_identifier" {
  description = "Identifier of this deployment's Cognito resource server: the scopes of the routes become <identifier>/<name>."
  type        = string
  default     = "crud-master"
}

variable "openapi_resource_server" {
  description = "The resource-server identifier openapi.yaml writes its scopes with (<identifier>/<name>); replaced by resource_server_identifier."
  type        = string
  default     = "crud-master"
}

variable "allowed_scopes" {
  description = "Every scope the user pool can put in a token (full names); a route naming another one is an error."
  type        = list(string)
}

variable "token_url" {
  description = "OAuth2 token endpoint advertised in the security scheme (documentation only)."
  type        = string
}

variable "throttling_burst_limit" {
  description = "Default route burst limit."
  type        = number
  default     = 100
}

variable "throttling_rate_limit" {
  description = "Default route steady-state requests per second."
  type        = number
  default     = 50
}

variable "log_retention_days" {
  description = "Retention of the access log group."
  type        = number
  default     = 365
}

variable "kms_key_arn" {
  description = "KMS key ARN encrypting the access log group (null: default encryption)."
  type        = string
  default     = null
}

variable "create_custom_domain" {
  description = "Serve the API on domain_name with an ACM certificate validated in hosted_zone_id."
  type        = bool
  default     = false
}

variable "domain_name" {
  description = "Custom domain name (with create_custom_domain)."
  type        = string
  default     = null
}

variable "hosted_zone_id" {
  description = "Route 53 hosted zone of domain_name (with create_custom_domain)."
  type        = string
  default     = null
}

variable "tags" {
  description = "Tags applied to every resource."
  type        = map(string)
  default     = {}
}

variable "detailed_metrics_enabled" {
  description = "Per-route CloudWatch metrics (custom metrics, billed per route and metric once the route gets traffic)."
  type        = bool
  default     = false
}
