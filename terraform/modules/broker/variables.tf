variable "name" {
  description = "Broker name."
  type        = string
}

variable "deployment_mode" {
  description = "SINGLE_INSTANCE (one AZ, cheapest) or CLUSTER_MULTI_AZ (three nodes over the subnets)."
  type        = string
  default     = "SINGLE_INSTANCE"

  validation {
    condition     = contains(["SINGLE_INSTANCE", "CLUSTER_MULTI_AZ"], var.deployment_mode)
    error_message = "deployment_mode must be SINGLE_INSTANCE or CLUSTER_MULTI_AZ."
  }
}

variable "host_instance_type" {
  description = "Broker instance type (mq.t3.micro only for SINGLE_INSTANCE; clusters need mq.m5.large or larger)."
  type        = string
  default     = "mq.t3.micro"
}

variable "engine_version" {
  description = "RabbitMQ engine version (major.minor; minor upgrades are automatic)."
  type        = string
  default     = "3.13"
}

variable "subnet_ids" {
  description = "Private subnet IDs; the first one is used for a single instance."
  type        = list(string)
}

variable "security_group_id" {
  description = "Security group of the broker (also used by the event source mapping ENIs)."
  type        = string
}

variable "username" {
  description = "Broker administrator user name (Amazon MQ creates it with the broker; only setup logs in with it)."
  type        = string
  default     = "crudmaster"
}

variable "admin_password_version" {
  description = "Bump to store a new administrator password. Only a new broker uses it (Amazon MQ cannot change a RabbitMQ user), so bump it only together with a broker replacement."
  type        = number
  default     = 1
}

variable "app_users" {
  description = "Least-privilege broker users setup creates, by role (publisher: billing-api; consumer: the event source mapping). Bump password_version to rotate (setup re-runs and applies it)."
  type = map(object({
    username         = string
    password_version = optional(number, 1)
  }))
  default = {
    publisher = { username = "billing_publisher" }
    consumer  = { username = "billing_consumer" }
  }

  validation {
    condition     = alltrue([for k in ["publisher", "consumer"] : contains(keys(var.app_users), k)])
    error_message = "app_users must define publisher and consumer."
  }
}

variable "kms_key_arn" {
  description = "KMS key ARN encrypting the credentials secret."
  type        = string
}

variable "secret_recovery_window_days" {
  description = "Recovery window of the credentials secret (0 deletes immediately)."
  type        = number
  default     = 7
}

variable "maintenance_window" {
  description = "Weekly maintenance window start (UTC)."
  type = object({
    day_of_week = string
    time_of_day = string
  })
  default = {
    day_of_week = "SUNDAY"
    time_of_day = "04:00"
  }
}

variable "apply_immediately" {
  description = "Apply broker changes now with a reboot (true), or at the next maintenance window (false; the plan then shows the change until then)."
  type        = bool
  default     = true
}

variable "tags" {
  description = "Tags applied to every resource."
  type        = map(string)
  default     = {}
}

variable "log_retention_days" {
  description = "Retention of the broker's general log group (set after the broker exists: Amazon MQ creates the group)."
  type        = number
}

variable "aws_endpoint_url" {
  description = "An emulator's endpoint for the AWS CLI that sets the log group's retention and key (tf-moto); null on AWS."
  type        = string
  default     = null
}
