variable "name" {
  description = "Name prefix (identifier of the instance, proxy, secrets)."
  type        = string
}

variable "subnet_ids" {
  description = "Private subnet IDs for the DB subnet group and the proxy (at least 2 AZs)."
  type        = list(string)
}

variable "database_security_group_id" {
  description = "Security group attached to the RDS instance."
  type        = string
}

variable "proxy_security_group_id" {
  description = "Security group attached to the RDS Proxy."
  type        = string
}

variable "kms_key_arn" {
  description = "Customer managed KMS key ARN for storage, Performance Insights, logs and secrets."
  type        = string
}

variable "engine_version" {
  description = "PostgreSQL engine version (major or major.minor)."
  type        = string
  default     = "16"
}

variable "instance_class" {
  description = "RDS instance class."
  type        = string
  default     = "db.t4g.micro"
}

variable "allocated_storage" {
  description = "Initial gp3 storage in GiB."
  type        = number
  default     = 20
}

variable "max_allocated_storage" {
  description = "Storage autoscaling ceiling in GiB (0 disables autoscaling)."
  type        = number
  default     = 100
}

variable "multi_az" {
  description = "Run a synchronous standby in a second AZ."
  type        = bool
  default     = false
}

variable "deletion_protection" {
  description = "Refuse to delete the instance (set false before terraform destroy)."
  type        = bool
  default     = true
}

variable "skip_final_snapshot" {
  description = "Skip the final snapshot on deletion."
  type        = bool
  default     = false
}

variable "backup_retention_days" {
  description = "Automated backup retention in days."
  type        = number
  default     = 7
}

variable "master_username" {
  description = "Master user name; its password is generated and rotated by RDS in Secrets Manager."
  type        = string
  default     = "crudmaster_admin"
}

variable "app_users" {
  description = "Application database users: key = the login's name in this stack (the database's name unless app_user_databases says otherwise), value = role name. The setup function creates them with least privilege."
  type        = map(string)
  default = {
    movies        = "movies_app"
    orders        = "orders_app"
    orders_reader = "orders_reader"
  }
}

variable "app_user_databases" {
  description = "The database of each app_users key that is not itself a database name (billing-api's read-only orders_reader uses orders)."
  type        = map(string)
  default = {
    orders_reader = "orders"
  }
}

variable "app_user_password_versions" {
  description = "Per database (key of app_users): bump to store a new password for its role; setup re-runs (its trigger holds the secret version ids) and applies it. Absent keys are version 1."
  type        = map(number)
  default     = {}
}

variable "secret_recovery_window_days" {
  description = "Recovery window of the app-user secrets (0 deletes immediately)."
  type        = number
  default     = 7
}

variable "create_proxy" {
  description = "Create the RDS Proxy the application functions connect through."
  type        = bool
  default     = true
}

variable "proxy_max_connections_percent" {
  description = "Share of max_connections the proxy may open."
  type        = number
  default     = 90
}

variable "performance_insights_enabled" {
  description = "Enable Performance Insights (free tier: 7 days retention)."
  type        = bool
  default     = true
}

variable "monitoring_interval" {
  description = "Enhanced Monitoring interval in seconds (0 disables it)."
  type        = number
  default     = 60
}

variable "apply_immediately" {
  description = "Apply instance changes now (true) or in the next maintenance window (false; the plan then shows the change until the window)."
  type        = bool
  default     = true
}

variable "log_retention_days" {
  description = "Retention of the PostgreSQL log groups exported to CloudWatch."
  type        = number
  default     = 365
}

variable "tags" {
  description = "Tags applied to every resource."
  type        = map(string)
  default     = {}
}
