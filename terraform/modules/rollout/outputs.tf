output "application_name" {
  description = "Name of the CodeDeploy application (null without create_codedeploy)."
  value       = one(aws_codedeploy_app.this[*].name)
}

output "deployment_groups" {
  description = "CodeDeploy deployment group of each function, by role (empty without create_codedeploy)."
  value       = { for k, g in aws_codedeploy_deployment_group.this : k => g.deployment_group_name }
}

output "deployment_config_name" {
  description = "The deployment configuration of every group (null without create_codedeploy)."
  value       = var.create_codedeploy ? var.deployment_config_name : null
}

output "alarm_names" {
  description = "The rollout alarms of each function, by role: its alias's errors and throttles."
  value       = { for k in keys(var.functions) : k => [for a in ["errors", "throttles"] : aws_cloudwatch_metric_alarm.this["${k}-${a}"].alarm_name] }
}

output "service_role_arn" {
  description = "ARN of CodeDeploy's service role (null without create_codedeploy)."
  value       = one(aws_iam_role.codedeploy[*].arn)
}
