variable "name" {
  description = "Name prefix of the EventBridge rule (the alarm topic policy allows rules named <name>-*)."
  type        = string
}

variable "sns_topic_arn" {
  description = "Alarm topic receiving the findings."
  type        = string
}

variable "resource_types" {
  description = "Inspector scan types to enable: LAMBDA (dependencies), LAMBDA_CODE (code, needs LAMBDA), ECR (images)."
  type        = list(string)
  default     = ["LAMBDA", "LAMBDA_CODE", "ECR"]

  validation {
    condition     = alltrue([for t in var.resource_types : contains(["EC2", "ECR", "LAMBDA", "LAMBDA_CODE"], t)])
    error_message = "resource_types: EC2, ECR, LAMBDA or LAMBDA_CODE."
  }
}

variable "severities" {
  description = "Finding severities sent to the alarm topic."
  type        = list(string)
  default     = ["HIGH", "CRITICAL"]
}

variable "tags" {
  description = "Tags applied to every resource."
  type        = map(string)
  default     = {}
}
