variable "name" {
  description = "Name prefix of the distribution, web ACL, log group and secret (e.g. crud-master-prod)."
  type        = string
}

variable "origin_domain_name" {
  description = "Host name of the HTTP API's default endpoint, without scheme (<api-id>.execute-api.<region>.amazonaws.com)."
  type        = string

  validation {
    condition     = !strcontains(var.origin_domain_name, "/")
    error_message = "origin_domain_name is a host name: no scheme, no path."
  }
}

variable "domain_name" {
  description = "Custom domain served by CloudFront (e.g. api.example.com). Null: the distribution's *.cloudfront.net name and certificate."
  type        = string
  default     = null
}

variable "hosted_zone_id" {
  description = "Route 53 public hosted zone of domain_name (certificate validation and the alias records). Required with domain_name."
  type        = string
  default     = null

  validation {
    condition     = var.domain_name == null || var.hosted_zone_id != null
    error_message = "hosted_zone_id is required when domain_name is set."
  }
}

variable "price_class" {
  description = "CloudFront price class: PriceClass_100 (North America, Europe, Israel: cheapest), PriceClass_200, PriceClass_All."
  type        = string
  default     = "PriceClass_100"

  validation {
    condition     = contains(["PriceClass_100", "PriceClass_200", "PriceClass_All"], var.price_class)
    error_message = "price_class: PriceClass_100, PriceClass_200 or PriceClass_All."
  }
}

variable "rate_limit" {
  description = "Requests one client IP may send per rate_limit_window_seconds before the web ACL answers 429 (AWS WAF rate-based rule)."
  type        = number
  default     = 1000

  validation {
    condition     = var.rate_limit >= 10 && var.rate_limit <= 2000000000
    error_message = "rate_limit: 10 to 2,000,000,000 (AWS WAF limits)."
  }
}

variable "rate_limit_window_seconds" {
  description = "Evaluation window of the rate-based rule, in seconds."
  type        = number
  default     = 300

  validation {
    condition     = contains([60, 120, 300, 600], var.rate_limit_window_seconds)
    error_message = "rate_limit_window_seconds: 60, 120, 300 or 600."
  }
}

variable "common_rule_set_count_only" {
  description = "Rules of AWSManagedRulesCommonRuleSet that only count (logged, not blocked). SizeRestrictions_BODY blocks bodies over 8 KB, and the API accepts up to 64 KiB (the functions answer 413 above that)."
  type        = list(string)
  default     = ["SizeRestrictions_BODY"]
}

variable "origin_verify_header" {
  description = "Name of the secret header CloudFront adds to every origin request; the functions refuse requests without it (http_edge::origin::HEADER)."
  type        = string
  default     = "X-Origin-Verify"
}

variable "log_retention_days" {
  description = "Retention of the web ACL's log group (blocked and counted requests only), in days."
  type        = number
  default     = 30
}

variable "kms_key_arn" {
  description = "Customer managed KMS key of the deployment's region, for the origin verification secret."
  type        = string
}

variable "secret_recovery_window_days" {
  description = "Recovery window of the origin verification secret when destroyed (0 deletes at once)."
  type        = number
  default     = 7
}

variable "tags" {
  description = "Extra tags for the module's resources."
  type        = map(string)
  default     = {}
}

variable "origin_verify_version" {
  description = "Bump to store a new origin-verify value (CloudFront and the functions move to it on the next apply)."
  type        = number
  default     = 1
}
