variable "name" {
  description = "Name prefix of the roles."
  type        = string
}

variable "repository" {
  description = "GitHub repository allowed to assume the roles, as owner/name."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$", var.repository))
    error_message = "repository must be owner/name."
  }
}

variable "plan_environment" {
  description = "GitHub environment (with required reviewers) whose jobs may assume the plan role: pull-request plans run in it after an approval."
  type        = string
  default     = "plan"
}

variable "environment" {
  description = "GitHub environment (with required reviewers and a main-only deployment branch rule) whose jobs may assume the apply role."
  type        = string
  default     = "production"
}

variable "create_oidc_provider" {
  description = "Create the account's token.actions.githubusercontent.com OIDC provider (false: one exists already)."
  type        = bool
  default     = true
}

variable "state_bucket" {
  description = "S3 bucket of the Terraform state (backend.tf), readable by the plan role."
  type        = string
}

variable "apply_policy_arns" {
  description = "Managed policies of the apply role."
  type        = list(string)
  default     = ["arn:aws:iam::aws:policy/AdministratorAccess"]
}

variable "tags" {
  description = "Tags applied to every resource."
  type        = map(string)
  default     = {}
}
