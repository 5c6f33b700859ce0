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
  description = "Create one public subnet, an internet gateway and one NAT gateway, route the private subnets' 0.0.0.0/0 to it, and allow egress 443 to the internet for the functions, setup, the broker group (event source mapping ENIs) and RDS Proxy. Off by default: the interface endpoints cover every AWS API the stack calls."
  type        = bool
  default     = false
}

variable "interface_endpoints" {
  description = "AWS services reached through interface VPC endpoints (short service names). secretsmanager: every function, RDS Proxy and the event source mapping read secrets; sqs: billing-consumer dead-letters; lambda and sts: the Amazon MQ event source mapping invokes billing-consumer and assumes its execution role from the broker's VPC (RabbitMQ and ActiveMQ alike: https://docs.aws.amazon.com/lambda/latest/dg/process-mq-messages-with-lambda.html). Logs and traces need none (Lambda ships them outside the VPC)."
  type        = list(string)
  default     = ["secretsmanager", "sqs", "lambda", "sts"]
}

variable "endpoint_az_count" {
  description = "Number of availability zones that host an ENI of each interface endpoint (1 halves their cost, for dev; an outage of that zone then cuts the AWS APIs)."
  type        = number
  default     = 2

  validation {
    condition     = var.endpoint_az_count >= 1 && var.endpoint_az_count <= 3
    error_message = "endpoint_az_count must be 1, 2 or 3."
  }
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
