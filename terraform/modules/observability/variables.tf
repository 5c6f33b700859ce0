variable "name" {
  description = "Name prefix of the dashboard, alarms, topic and budget."
  type        = string
}

variable "kms_key_arn" {
  description = "KMS key ARN encrypting the SNS topic (its policy must let CloudWatch and Budgets use it)."
  type        = string
}

variable "alarm_email" {
  description = "Email subscribed to the alarm topic (null: no subscription)."
  type        = string
  default     = null
}

variable "metrics_namespace" {
  description = "Namespace of the EMF metrics the functions emit (dimension Service = function name)."
  type        = string
  default     = "CrudMaster"
}

variable "functions" {
  description = "Function names by role: inventory, billing-api, billing-consumer, setup."
  type        = map(string)
}

variable "api_id" {
  description = "ID of the HTTP API."
  type        = string
}

variable "db_instance_identifier" {
  description = "Identifier of the RDS instance."
  type        = string
}

variable "db_proxy_name" {
  description = "Name of the RDS Proxy (null: no proxy widgets)."
  type        = string
  default     = null
}

variable "broker_name" {
  description = "Name of the Amazon MQ broker."
  type        = string
}

variable "queue_name" {
  description = "RabbitMQ queue consumed by billing-consumer."
  type        = string
  default     = "billing_queue"
}

variable "dlq_name" {
  description = "Name of the SQS dead-letter queue."
  type        = string
}

variable "api_5xx_threshold" {
  description = "Override of the threshold in monitoring.json (null: keep it). 5xx responses per 5 minutes that raise the alarm."
  type        = number
  default     = null
}

variable "api_latency_p99_ms" {
  description = "Override of the threshold in monitoring.json (null: keep it). p99 API latency (ms) over 5 minutes that raises the alarm."
  type        = number
  default     = null
}

variable "queue_depth_threshold" {
  description = "Override of the threshold in monitoring.json (null: keep it). Messages waiting in billing_queue for 15 minutes that raise the alarm (consumer stalled)."
  type        = number
  default     = null
}

variable "rds_cpu_threshold" {
  description = "Override of the threshold in monitoring.json (null: keep it). RDS CPU percent that raises the alarm."
  type        = number
  default     = null
}

variable "rds_free_storage_bytes" {
  description = "Override of the threshold in monitoring.json (null: keep it). RDS free storage (bytes) below which the alarm is raised."
  type        = number
  default     = null
}

variable "create_budget" {
  description = "Create a monthly cost budget with alerts at 80% actual and 100% forecast."
  type        = bool
  default     = true
}

variable "budget_limit_usd" {
  description = "Monthly budget in USD."
  type        = number
  default     = 250
}

variable "budget_emails" {
  description = "Emails notified by the budget (besides the SNS topic)."
  type        = list(string)
  default     = []
}

variable "tags" {
  description = "Tags applied to every resource."
  type        = map(string)
  default     = {}
}

variable "proxy_db_connections_threshold" {
  description = "Override of the threshold in monitoring.json (null: keep it). Alarm when RDS Proxy holds more than this many connections to the database (db.t4g.micro allows about 80 for clients); set it to about 80% of the instance's max_connections"
  type        = number
  default     = null
}

variable "lambda_insights" {
  description = "The functions run the Lambda Insights extension (LambdaInsights namespace). False: the dashboard leaves out its series (init duration), which would always be empty."
  type        = bool
  default     = false
}
