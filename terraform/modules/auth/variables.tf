variable "name" {
  description = "Name of the user pool and prefix of its clients."
  type        = string
}

variable "domain_prefix" {
  description = "Prefix of the Cognito hosted domain (<prefix>.auth.<region>.amazoncognito.com); must be globally unique."
  type        = string
}

variable "mfa_configuration" {
  description = "OFF, OPTIONAL or ON (TOTP software tokens)."
  type        = string
  default     = "OPTIONAL"

  validation {
    condition     = contains(["OFF", "OPTIONAL", "ON"], var.mfa_configuration)
    error_message = "mfa_configuration must be OFF, OPTIONAL or ON."
  }
}

variable "password_minimum_length" {
  description = "Minimum password length."
  type        = number
  default     = 14
}

variable "deletion_protection" {
  description = "Protect the user pool from deletion."
  type        = bool
  default     = true
}

variable "resource_server_identifier" {
  description = "Identifier of the resource server; scopes are <identifier>/<scope>."
  type        = string
  default     = "crud-master"
}

variable "scopes" {
  description = "Resource-server scopes and their descriptions. openapi.yaml names, per operation, the scopes that may call it."
  type        = map(string)
  default = {
    "movies.read"   = "Read movies"
    "movies.write"  = "Create, update and delete single movies"
    "movies.admin"  = "Delete all movies (machine client only)"
    "billing.read"  = "Read the client's orders"
    "billing.write" = "Place orders"
    "billing.audit" = "Read every caller's orders (machine client only)"
  }

  # The functions grant editing to the machine client holding <identifier>/movies.write
  # (http_edge::auth::WRITE_SCOPE_NAME), and openapi.yaml names the movies.* scopes.
  validation {
    condition     = alltrue([for s in ["movies.read", "movies.write"] : contains(keys(var.scopes), s)])
    error_message = "scopes must keep movies.read and movies.write: openapi.yaml and the functions use them."
  }
}

variable "admin_scope" {
  description = "The scope (a key of scopes) that makes a machine-client token an administrator. No user client may request it."
  type        = string
  default     = "movies.admin"

  validation {
    condition     = contains(keys(var.scopes), var.admin_scope)
    error_message = "admin_scope must be one of the keys of scopes."
  }
}

variable "machine_client_scopes" {
  description = "Scopes granted to the machine (client credentials) client; drop admin_scope to keep it from deleting every movie."
  type        = list(string)
  default     = ["movies.read", "movies.write", "movies.admin", "billing.read", "billing.write", "billing.audit"]

  validation {
    condition     = alltrue([for s in var.machine_client_scopes : contains(keys(var.scopes), s)])
    error_message = "Every machine_client_scopes entry must be a key of scopes."
  }
}

variable "callback_urls" {
  description = "Allowed redirect URLs of the hosted UI for the user client."
  type        = list(string)
  default     = ["http://localhost:3000/callback"]
}

variable "logout_urls" {
  description = "Allowed sign-out URLs of the hosted UI for the user client."
  type        = list(string)
  default     = ["http://localhost:3000/"]
}

variable "site_urls" {
  description = "URLs of sites served by this stack (the web distribution's https://<domain>/), put first in both the redirect and the sign-out URLs by the AWS CLI once they exist (terraform_data.user_client_urls: no cycle through the API's authorizer)."
  type        = list(string)
  default     = []
}

variable "access_token_validity_minutes" {
  description = "Access and ID token validity in minutes."
  type        = number
  default     = 60
}

variable "refresh_token_validity_days" {
  description = "Refresh token validity in days."
  type        = number
  default     = 30
}

variable "tags" {
  description = "Tags applied to every resource."
  type        = map(string)
  default     = {}
}

variable "create_machine_client" {
  description = "Create the machine (client credentials) app client. Cognito bills M2M app clients and token requests (docs/costs.md)."
  type        = bool
  default     = true
}

variable "machine_client_version" {
  description = "Bump to replace the machine client: a new client id and secret, written to its secret (machine_client_secret_arn)."
  type        = number
  default     = 1
}

variable "kms_key_arn" {
  description = "KMS key that encrypts the machine client's secret."
  type        = string
}

variable "secret_recovery_window_days" {
  description = "Days a deleted secret can be restored (0 deletes at once)."
  type        = number
  default     = 30
}

variable "aws_endpoint_url" {
  description = "Endpoint the AWS CLI of the machine client's create and delete steps calls (moto in tests); null for AWS."
  type        = string
  default     = null
}
