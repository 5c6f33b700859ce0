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

variable "branch" {
  description = "Branch whose runs (and pull requests) may assume the plan role."
  type        = string
  default     = "main"
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

variable "project_tag" {
  description = "Value of the Project tag of the stack's secrets, which the plan role may read to refresh them."
  type        = string
}

variable "kms_key_arn" {
  description = "The stack's KMS key (secrets, function environments): the plan role decrypts through Secrets Manager and Lambda only."
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
