terraform {
  required_version = ">= 1.11.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.100"
      # aws: the deployment's region (the origin secret lives next to the functions that read it).
      # aws.us_east_1: CloudFront's ACM certificate, the CLOUDFRONT-scope web ACL and its log group,
      # which AWS accepts only in us-east-1.
      configuration_aliases = [aws.us_east_1]
    }
  }
}
