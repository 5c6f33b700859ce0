output "event_rule_name" {
  description = "EventBridge rule routing the findings to the alarm topic."
  value       = aws_cloudwatch_event_rule.findings.name
}

output "resource_types" {
  description = "Inspector scan types enabled in this account and region."
  value       = aws_inspector2_enabler.this.resource_types
}
