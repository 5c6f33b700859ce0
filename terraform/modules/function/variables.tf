variable "name" {
  description = "Function name."
  type        = string
}

variable "description" {
  description = "Function description."
  type        = string
  default     = ""
}

variable "package_type" {
  description = "Zip (bootstrap.zip from make build) or Image (container image from ECR)."
  type        = string
  default     = "Zip"

  validation {
    condition     = contains(["Zip", "Image"], var.package_type)
    error_message = "package_type must be Zip or Image."
  }
}

variable "filename" {
  description = "Path of the bootstrap.zip when package_type = Zip."
  type        = string
  default     = null
}

variable "image_uri" {
  description = "ECR image URI when package_type = Image (null: <created repository>:<image_tag>)."
  type        = string
  default     = null
}

variable "image_tag" {
  description = "Tag of the image in the created repository when image_uri is null."
  type        = string
  default     = "latest"
}

variable "create_ecr_repository" {
  description = "Create an ECR repository for the image of this function (only with package_type = Image)."
  type        = bool
  default     = true
}

variable "memory_size" {
  description = "Memory in MB (CPU scales with it)."
  type        = number
  default     = 256
}

variable "timeout" {
  description = "Timeout in seconds."
  type        = number
  default     = 10
}

variable "reserved_concurrent_executions" {
  description = "Reserved concurrency: caps the function and protects the database/broker from fan-out (-1: unreserved)."
  type        = number
  default     = 10
}

variable "environment" {
  description = "Environment variables."
  type        = map(string)
  default     = {}
}

variable "subnet_ids" {
  description = "Private subnet IDs the function runs in."
  type        = list(string)
}

variable "security_group_ids" {
  description = "Security groups of the function ENIs."
  type        = list(string)
}

variable "policy_statements" {
  description = "Extra IAM statements of the execution role (least privilege: only what this function calls). Logs, X-Ray and VPC ENI permissions are added by the module."
  type = list(object({
    sid       = string
    effect    = optional(string, "Allow")
    actions   = list(string)
    resources = list(string)
    conditions = optional(list(object({
      test     = string
      variable = string
      values   = list(string)
    })), [])
  }))
  default = []
}

variable "log_retention_days" {
  description = "Retention of the function log group in days."
  type        = number
  default     = 30
}

variable "kms_key_arn" {
  description = "KMS key ARN for the log group and the environment variables (null: AWS managed keys)."
  type        = string
  default     = null
}

variable "create_alias" {
  description = "Publish versions and create an alias (required for provisioned concurrency)."
  type        = bool
  default     = false
}

variable "alias_name" {
  description = "Name of the alias."
  type        = string
  default     = "live"
}

variable "alias_moved_by" {
  description = "Who moves the alias to a newly published version: \"terraform\" (every apply points it at the version it publishes) or \"rollout\" (make rollout, through CodeDeploy; Terraform creates the alias on the first version, then leaves its version and routing alone)."
  type        = string
  default     = "terraform"

  validation {
    condition     = contains(["terraform", "rollout"], var.alias_moved_by)
    error_message = "alias_moved_by must be terraform or rollout."
  }
}

variable "provisioned_concurrency" {
  description = "Provisioned concurrent executions on the alias (0: none). Needs create_alias."
  type        = number
  default     = 0
}

variable "create_autoscaling" {
  description = "Let Application Auto Scaling own provisioned concurrency, between provisioned_concurrency and autoscaling_max_capacity, on utilisation."
  type        = bool
  default     = false
}

variable "autoscaling_max_capacity" {
  description = "Upper bound of provisioned concurrency when autoscaling."
  type        = number
  default     = 5
}

variable "autoscaling_target_utilization" {
  description = "Target ProvisionedConcurrencyUtilization (0-1)."
  type        = number
  default     = 0.7
}

variable "tags" {
  description = "Tags applied to every resource."
  type        = map(string)
  default     = {}
}

variable "application_log_level" {
  description = "Lambda's application log level (TRACE, DEBUG, INFO, WARN, ERROR, FATAL), set as AWS_LAMBDA_LOG_LEVEL and enforced by Lambda; null keeps the plain-text log format and RUST_LOG alone. Above INFO, Lambda also drops the EMF metric lines (they carry no level, so count as INFO)."
  type        = string
  default     = null

  validation {
    condition     = var.application_log_level == null || contains(["TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"], coalesce(var.application_log_level, "INFO"))
    error_message = "application_log_level must be one of TRACE, DEBUG, INFO, WARN, ERROR, FATAL, or null."
  }
}

variable "layers" {
  description = "Layer version ARNs (Zip only), e.g. the RDS CA bundle layer when the functions reach PostgreSQL without RDS Proxy."
  type        = list(string)
  default     = []
}
