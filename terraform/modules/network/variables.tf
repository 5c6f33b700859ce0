variable "name" {
  description = "Name prefix for every network resource."
  type        = string
}

variable "cidr_block" {
  description = "IPv4 CIDR of the VPC."
  type        = string
  default     = "10.40.0.0/16"
}

variable "az_count" {
  description = "Number of availability zones to spread the private subnets over (RDS and Multi-AZ brokers need at least 2)."
  type        = number
  default     = 2

  validation {
    condition     = var.az_count >= 2 && var.az_count <= 3
    error_message = "az_count must be 2 or 3."
  }
}

variable "create_nat_gateway" {
  description = "Create public subnets, an internet gateway and one NAT gateway for outbound internet access. Off by default: the functions only talk to AWS APIs, reached through VPC endpoints."
  type        = bool
  default     = false
}

variable "interface_endpoints" {
  description = "AWS services reached through interface VPC endpoints (short service names). secretsmanager/sqs/logs/xray are called by the functions; lambda and sts are needed by the Amazon MQ event source mapping of a private broker."
  type        = list(string)
  default     = ["secretsmanager", "sqs", "logs", "xray", "lambda", "sts"]
}

variable "database_via_proxy" {
  description = "Functions (and setup) reach PostgreSQL through RDS Proxy: security groups allow function -> proxy -> database only. False: function -> database directly."
  type        = bool
  default     = true
}

variable "create_flow_log" {
  description = "Send VPC flow logs (REJECT traffic only, to keep the cost down) to CloudWatch Logs."
  type        = bool
  default     = true
}

variable "flow_log_retention_days" {
  description = "Retention of the VPC flow log group, in days."
  type        = number
  default     = 365
}

variable "kms_key_arn" {
  description = "KMS key ARN used to encrypt the flow log group (null: CloudWatch default encryption)."
  type        = string
  default     = null
}

variable "tags" {
  description = "Tags applied to every resource."
  type        = map(string)
  default     = {}
}
