variable "name" {
  description = "Name prefix of the CodeDeploy application, its service role and the rollout alarms."
  type        = string
}

variable "functions" {
  description = "The functions rolled out, by role: the function's name and the alias CodeDeploy shifts (its callers invoke that alias)."
  type = map(object({
    function_name = string
    alias         = string
  }))
}

variable "create_codedeploy" {
  description = "Create the CodeDeploy application, one deployment group per function and CodeDeploy's service role (false: make rollout moves the aliases all at once)."
  type        = bool
  default     = true
}

variable "deployment_config_name" {
  description = "CodeDeploy's predefined Lambda deployment configuration: how traffic moves to the new version (canary, linear or all at once)."
  type        = string
  default     = "CodeDeployDefault.LambdaCanary10Percent5Minutes"

  validation {
    condition     = startswith(var.deployment_config_name, "CodeDeployDefault.Lambda")
    error_message = "deployment_config_name must be one of CodeDeploy's predefined Lambda configurations (CodeDeployDefault.Lambda...)."
  }
}

variable "alarm_period_seconds" {
  description = "Period of the rollout alarms, in seconds: shorter than the canary interval, so that a bad version is seen while it takes a tenth of the traffic (60, 120 or 300: standard-resolution alarms; 10 and 30 would be high-resolution ones, billed at three times the price)."
  type        = number
  default     = 60

  validation {
    condition     = contains([60, 120, 300], var.alarm_period_seconds)
    error_message = "alarm_period_seconds must be 60, 120 or 300."
  }
}

variable "tags" {
  description = "Tags applied to every resource."
  type        = map(string)
  default     = {}
}
