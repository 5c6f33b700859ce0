terraform {
  # 1.11: write-only attributes (secret_string_wo) keep generated passwords out of the state.
  required_version = ">= 1.11.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.100"
    }
  }
}

locals {
  emulated = var.aws_endpoint_url != null
  default_tags = merge(var.tags, {
    Project     = var.name
    Environment = var.environment
    ManagedBy   = "terraform"
  })
}

provider "aws" {
  region = var.region

  # Only for emulators such as moto: no real credentials, no account lookup, no instance metadata.
  skip_credentials_validation = local.emulated
  # The account id is asked for even on moto (its STS answers 123456789012): without it the provider
  # writes referenced security groups as "<account>/sg-..." and every rule drifts.
  skip_requesting_account_id = false
  skip_metadata_api_check    = local.emulated
  # moto answers on one host: bucket names in the path, not as <bucket>.<host>.
  s3_use_path_style = local.emulated

  dynamic "endpoints" {
    for_each = local.emulated ? [var.aws_endpoint_url] : []
    content {
      acm            = endpoints.value
      apigatewayv2   = endpoints.value
      appautoscaling = endpoints.value
      budgets        = endpoints.value
      cloudfront     = endpoints.value
      cloudwatch     = endpoints.value
      cognitoidp     = endpoints.value
      deploy         = endpoints.value
      ec2            = endpoints.value
      ecr            = endpoints.value
      events         = endpoints.value
      iam            = endpoints.value
      inspector2     = endpoints.value
      kms            = endpoints.value
      lambda         = endpoints.value
      logs           = endpoints.value
      mq             = endpoints.value
      rds            = endpoints.value
      route53        = endpoints.value
      s3             = endpoints.value
      secretsmanager = endpoints.value
      sns            = endpoints.value
      sqs            = endpoints.value
      sts            = endpoints.value
    }
  }

  default_tags {
    tags = local.default_tags
  }
}

# CloudFront's ACM certificate, its CLOUDFRONT-scope web ACL and the web ACL's log group exist only
# in us-east-1 (modules/cdn); unused unless create_cdn.
provider "aws" {
  alias  = "us_east_1"
  region = "us-east-1"

  skip_credentials_validation = local.emulated
  skip_requesting_account_id  = false
  skip_metadata_api_check     = local.emulated

  dynamic "endpoints" {
    for_each = local.emulated ? [var.aws_endpoint_url] : []
    content {
      acm        = endpoints.value
      cloudfront = endpoints.value
      logs       = endpoints.value
      route53    = endpoints.value
      sts        = endpoints.value
      wafv2      = endpoints.value
    }
  }

  default_tags {
    tags = local.default_tags
  }
}
