output "vpc_id" {
  description = "ID of the VPC."
  value       = aws_vpc.this.id
}

output "private_subnet_ids" {
  description = "IDs of the private subnets, one per availability zone."
  value       = aws_subnet.private[*].id
}

output "security_group_ids" {
  description = "Security group ID per hop: inventory, billing-api, billing-consumer, setup, proxy, database, broker, endpoints."
  value       = { for k, sg in aws_security_group.this : k => sg.id }
}

output "vpc_endpoint_ids" {
  description = "Interface VPC endpoint ID per service."
  value       = { for k, e in aws_vpc_endpoint.interface : k => e.id }
}
