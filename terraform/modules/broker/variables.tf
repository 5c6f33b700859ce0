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
  description = "Broker user name the functions and the event source mapping log in with."
  type        = string
  default     = "crudmaster"
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

variable "tags" {
  description = "Tags applied to every resource."
  type        = map(string)
  default     = {}
}
