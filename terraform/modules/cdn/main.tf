# Optional edge in front of the HTTP API: CloudFront (HTTPS, no caching) with a WAFv2 web ACL, and
# a secret origin header so that the functions refuse requests that went around it.
#
# An HTTP API has neither a resource policy nor a WAF association (both are REST-API-only features:
# https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-vs-rest.html), so the
# execute-api URL stays public. A CloudFront Function adds a secret header to every request and
# overwrites a viewer header of the same name (below); the functions compare it with the secret
# (functions/http-edge/src/origin.rs).

locals {
  has_domain = var.domain_name != null
  origin_id  = "http-api"
}

# ---------------------------------------------------------------- origin verification secret
# Generated as an ephemeral value (never in the plan or the state) and written with a write-only
# argument, like the other passwords. CloudFront cannot take it as an origin custom header: that
# value is a plain attribute of aws_cloudfront_distribution (no write-only form in provider 5.100),
# so the state would hold it and a refresh would read it back. Instead a CloudFront Function sets
# the header on every viewer request from a KeyValueStore
# (https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/kvs-with-functions.html),
# whose key the AWS CLI writes from the secret after apply, and which no Terraform resource reads.
# A rotation (bump origin_verify_version, then apply) writes the new value to both.
ephemeral "aws_secretsmanager_random_password" "this" {
  password_length     = 48
  exclude_punctuation = true
}

resource "aws_secretsmanager_secret" "this" {
  #checkov:skip=CKV2_AWS_57:No rotation Lambda: the value only proves a request came through CloudFront; rotate with origin_verify_version if it ever leaks.
  name_prefix             = "${var.name}/origin-verify-"
  description             = "Value of the ${var.origin_verify_header} header CloudFront adds to requests to ${var.name}'s API"
  kms_key_id              = var.kms_key_arn
  recovery_window_in_days = var.secret_recovery_window_days
  tags                    = var.tags
}

resource "aws_secretsmanager_secret_version" "this" {
  secret_id                = aws_secretsmanager_secret.this.id
  secret_string_wo         = ephemeral.aws_secretsmanager_random_password.this.random_password
  secret_string_wo_version = var.origin_verify_version
}

resource "aws_cloudfront_key_value_store" "this" {
  provider = aws.us_east_1
  name     = "${var.name}-origin-verify"
  comment  = "The ${var.origin_verify_header} value the viewer-request function adds (written from ${aws_secretsmanager_secret.this.name})"
}

locals {
  kvs_key = "origin-verify"
}

# The key, from the secret, through a pipe: the value is in no argument, output or state. The
# KeyValueStore API is signed with SigV4A, which the AWS CLI v2 supports out of the box (its
# CRT); v1 needs the awscrt package
# (https://docs.aws.amazon.com/cli/latest/reference/cloudfront-keyvaluestore/put-key.html).
resource "terraform_data" "origin_verify_key" {
  triggers_replace = [aws_cloudfront_key_value_store.this.arn, aws_secretsmanager_secret_version.this.version_id]

  provisioner "local-exec" {
    interpreter = ["/bin/sh", "-c"]
    command     = <<-EOT
      set -eu
      value=$(aws secretsmanager get-secret-value --region "$REGION" --secret-id "$SECRET" --query SecretString --output text)
      etag=$(aws cloudfront-keyvaluestore describe-key-value-store --region us-east-1 --kvs-arn "$KVS" --query ETag --output text)
      printf '{"KvsARN":"%s","Key":"%s","Value":"%s","IfMatch":"%s"}' "$KVS" "$KEY" "$value" "$etag" \
        | aws cloudfront-keyvaluestore put-key --region us-east-1 --cli-input-json file:///dev/stdin --query ETag --output text >/dev/null
      echo "origin-verify key written to $KVS from $SECRET"
    EOT
    environment = {
      KVS    = aws_cloudfront_key_value_store.this.arn
      KEY    = local.kvs_key
      SECRET = aws_secretsmanager_secret.this.arn
      REGION = data.aws_region.current.name
    }
  }
}

data "aws_region" "current" {}

# Sets the header on every viewer request, replacing one a viewer sent. A request reaching the
# function before the key exists gets a 503 from CloudFront (the function fails), never the API
# without the header. The origin request policy forwards the viewer's headers as the function
# left them (https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/functions-event-structure.html).
resource "aws_cloudfront_function" "origin_verify" {
  provider                     = aws.us_east_1
  name                         = "${var.name}-origin-verify"
  comment                      = "Adds ${var.origin_verify_header} from the KeyValueStore"
  runtime                      = "cloudfront-js-2.0"
  publish                      = true
  key_value_store_associations = [aws_cloudfront_key_value_store.this.arn]
  code = templatefile("${path.module}/origin-verify.js", {
    header = lower(var.origin_verify_header)
    key    = local.kvs_key
  })
}

# ---------------------------------------------------------------- managed CloudFront policies
# Looked up by their documented names rather than pasting their IDs.
# CachingDisabled (4135ea2d-...): nothing is cached, every request reaches the API, so an
# authorised answer can never be served to someone else
# (https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/using-managed-cache-policies.html).
data "aws_cloudfront_cache_policy" "this" {
  provider = aws.us_east_1
  name     = "Managed-CachingDisabled"
}

# AllViewerExceptHostHeader (b689b0a8-...): every viewer header, cookie and query string except
# Host, which must stay the execute-api host for API Gateway to route the request
# (https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/using-managed-origin-request-policies.html).
# With caching disabled this policy also forwards the Authorization header that the JWT
# authorizer reads (https://repost.aws/knowledge-center/cloudfront-authorization-header).
data "aws_cloudfront_origin_request_policy" "this" {
  provider = aws.us_east_1
  name     = "Managed-AllViewerExceptHostHeader"
}

# SecurityHeadersPolicy (67f7725c-...): HSTS, X-Content-Type-Options, X-Frame-Options,
# Referrer-Policy on every answer
# (https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/using-managed-response-headers-policies.html).
data "aws_cloudfront_response_headers_policy" "this" {
  provider = aws.us_east_1
  name     = "Managed-SecurityHeadersPolicy"
}

# ---------------------------------------------------------------- certificate (custom domain only)
# CloudFront only uses ACM certificates from us-east-1
# (https://docs.aws.amazon.com/acm/latest/userguide/acm-regions.html).
resource "aws_acm_certificate" "this" {
  count    = local.has_domain ? 1 : 0
  provider = aws.us_east_1

  domain_name       = var.domain_name
  validation_method = "DNS"
  tags              = var.tags

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_route53_record" "validation" {
  for_each = local.has_domain ? {
    for o in aws_acm_certificate.this[0].domain_validation_options : o.domain_name => o
  } : {}

  zone_id         = var.hosted_zone_id
  name            = each.value.resource_record_name
  type            = each.value.resource_record_type
  records         = [each.value.resource_record_value]
  ttl             = 300
  allow_overwrite = true
}

resource "aws_acm_certificate_validation" "this" {
  count    = local.has_domain ? 1 : 0
  provider = aws.us_east_1

  certificate_arn         = aws_acm_certificate.this[0].arn
  validation_record_fqdns = [for r in aws_route53_record.validation : r.fqdn]
}

# ---------------------------------------------------------------- web ACL
# CLOUDFRONT scope: created in us-east-1
# (https://docs.aws.amazon.com/waf/latest/developerguide/how-aws-waf-works-resources.html).
# WCUs: common rule set 700 + known bad inputs 200 + rate-based 2 = 902, under the 1,500 included.
resource "aws_wafv2_web_acl" "this" {
  provider = aws.us_east_1

  name        = var.name
  description = "Edge protection of ${var.name}'s API: per-IP rate limit, AWS managed common and known-bad-input rules"
  scope       = "CLOUDFRONT"

  default_action {
    allow {}
  }

  # WAF only offers text/plain, text/html and application/json bodies (no problem+json), and
  # prefixes custom response headers with x-amzn-waf- (so no Retry-After); the fields follow RFC 9457.
  custom_response_body {
    key          = "rate-limited"
    content_type = "APPLICATION_JSON"
    content = jsonencode({
      type   = "/problems/rate-limited"
      title  = "Too many requests"
      status = 429
      detail = "more than ${var.rate_limit} requests in ${var.rate_limit_window_seconds} seconds from this address; retry later"
    })
  }

  # First, so a flood is cut before the managed rules spend time on it. The rule counts requests
  # per client IP over the window and blocks that IP while it is above the limit
  # (https://docs.aws.amazon.com/waf/latest/developerguide/waf-rule-statement-type-rate-based.html).
  rule {
    name     = "rate-limit-per-ip"
    priority = 0

    action {
      block {
        custom_response {
          response_code            = 429
          custom_response_body_key = "rate-limited"
        }
      }
    }

    statement {
      rate_based_statement {
        limit                 = var.rate_limit
        evaluation_window_sec = var.rate_limit_window_seconds
        aggregate_key_type    = "IP"
      }
    }

    visibility_config {
      cloudwatch_metrics_enabled = true
      metric_name                = "${var.name}-rate-limit-per-ip"
      sampled_requests_enabled   = true
    }
  }

  # Core rule set (OWASP-style: bad user agents, LFI/RFI, XSS in body/query/cookies, size limits)
  # (https://docs.aws.amazon.com/waf/latest/developerguide/aws-managed-rule-groups-baseline.html).
  # SizeRestrictions_BODY blocks bodies over 8 KB; our movie descriptions may legitimately be up to
  # the functions' 64 KiB cap, which the functions enforce themselves with a 413 problem+json, so
  # that rule only counts (it still appears in the logs). The other rules inspect the first 16 KB
  # of a body, the default for CloudFront web ACLs
  # (https://docs.aws.amazon.com/waf/latest/developerguide/web-acl-setting-body-inspection-limit.html).
  rule {
    name     = "aws-common-rule-set"
    priority = 1

    override_action {
      none {}
    }

    statement {
      managed_rule_group_statement {
        vendor_name = "AWS"
        name        = "AWSManagedRulesCommonRuleSet"

        dynamic "rule_action_override" {
          for_each = var.common_rule_set_count_only
          content {
            name = rule_action_override.value
            action_to_use {
              count {}
            }
          }
        }
      }
    }

    visibility_config {
      cloudwatch_metrics_enabled = true
      metric_name                = "${var.name}-aws-common-rule-set"
      sampled_requests_enabled   = true
    }
  }

  # Known bad inputs: request patterns of known exploits, Log4Shell (Log4j JNDI lookups) included.
  rule {
    name     = "aws-known-bad-inputs"
    priority = 2

    override_action {
      none {}
    }

    statement {
      managed_rule_group_statement {
        vendor_name = "AWS"
        name        = "AWSManagedRulesKnownBadInputsRuleSet"
      }
    }

    visibility_config {
      cloudwatch_metrics_enabled = true
      metric_name                = "${var.name}-aws-known-bad-inputs"
      sampled_requests_enabled   = true
    }
  }

  visibility_config {
    cloudwatch_metrics_enabled = true
    metric_name                = var.name
    sampled_requests_enabled   = true
  }

  tags = var.tags
}

# ---------------------------------------------------------------- web ACL logging
# The name must start with aws-waf-logs-
# (https://docs.aws.amazon.com/waf/latest/developerguide/logging-cw-logs.html).
resource "aws_cloudwatch_log_group" "this" {
  #checkov:skip=CKV_AWS_158:A customer managed key would have to live in us-east-1 (1 USD/month more); the log holds only blocked and counted requests with the Authorization header redacted, and CloudWatch Logs encrypts it at rest by default.
  provider = aws.us_east_1

  name              = "aws-waf-logs-${var.name}"
  retention_in_days = var.log_retention_days
  tags              = var.tags
}

resource "aws_wafv2_web_acl_logging_configuration" "this" {
  provider = aws.us_east_1

  resource_arn            = aws_wafv2_web_acl.this.arn
  log_destination_configs = [aws_cloudwatch_log_group.this.arn]

  # Bearer tokens never reach the log.
  redacted_fields {
    single_header {
      name = "authorization"
    }
  }

  # Allowed requests are already in the API access log; keep the ones the edge acted on (and pay
  # log ingestion for those only).
  logging_filter {
    default_behavior = "DROP"

    filter {
      behavior    = "KEEP"
      requirement = "MEETS_ANY"

      condition {
        action_condition {
          action = "BLOCK"
        }
      }

      condition {
        action_condition {
          action = "COUNT"
        }
      }
    }
  }
}

# ---------------------------------------------------------------- distribution
resource "aws_cloudfront_distribution" "this" {
  #checkov:skip=CKV_AWS_86:Access logging is the web ACL's log (every blocked or counted request) plus the API Gateway access log (every request that reached the origin); CloudFront standard logs would need an S3 bucket with ACLs.
  #checkov:skip=CKV_AWS_310:One origin: the API exists in one region; a failover origin would be a second deployment.
  #checkov:skip=CKV_AWS_305:An API, not a website: there is no root object to serve.
  #checkov:skip=CKV_AWS_374:No geo restriction: the API's users are not limited to a list of countries.
  #checkov:skip=CKV_AWS_174:TLSv1.2_2021 is set whenever a custom domain is given; with the default *.cloudfront.net certificate AWS fixes the policy at TLSv1 whatever is set (API ViewerCertificate, MinimumProtocolVersion).
  #checkov:skip=CKV2_AWS_47:The Log4j rules are there (AWSManagedRulesKnownBadInputsRuleSet); the check also demands AWSManagedRulesAnonymousIpList, whose HostingProviderIPList rule would block our machine clients calling from cloud hosts.
  #checkov:skip=CKV2_AWS_42:The custom certificate is optional (domain_name); without a domain the default *.cloudfront.net certificate is the only one that can be used.
  provider = aws.us_east_1

  enabled         = true
  is_ipv6_enabled = true
  http_version    = "http2and3"
  comment         = "${var.name} API"
  price_class     = var.price_class
  aliases         = local.has_domain ? [var.domain_name] : []
  web_acl_id      = aws_wafv2_web_acl.this.arn

  # No request before the function can add the header.
  depends_on = [terraform_data.origin_verify_key]

  origin {
    origin_id   = local.origin_id
    domain_name = var.origin_domain_name

    custom_origin_config {
      http_port              = 80
      https_port             = 443
      origin_protocol_policy = "https-only"
      origin_ssl_protocols   = ["TLSv1.2"]
      # API Gateway's integration timeout is 29 s; CloudFront's default 30 s covers it.
      origin_read_timeout      = 30
      origin_keepalive_timeout = 5
    }

  }

  default_cache_behavior {
    target_origin_id = local.origin_id
    # A token sent over plain HTTP has leaked already: refuse instead of redirecting.
    viewer_protocol_policy     = "https-only"
    allowed_methods            = ["DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT"]
    cached_methods             = ["GET", "HEAD"]
    cache_policy_id            = data.aws_cloudfront_cache_policy.this.id
    origin_request_policy_id   = data.aws_cloudfront_origin_request_policy.this.id
    response_headers_policy_id = data.aws_cloudfront_response_headers_policy.this.id

    function_association {
      event_type   = "viewer-request"
      function_arn = aws_cloudfront_function.origin_verify.arn
    }
  }

  restrictions {
    geo_restriction {
      restriction_type = "none"
    }
  }

  # TLSv1.2_2021 with the custom domain's certificate; the default certificate cannot take a
  # security policy (CloudFront fixes it at TLSv1:
  # https://docs.aws.amazon.com/cloudfront/latest/APIReference/API_ViewerCertificate.html), and
  # setting one would show as drift on every plan.
  viewer_certificate {
    cloudfront_default_certificate = !local.has_domain
    acm_certificate_arn            = local.has_domain ? aws_acm_certificate_validation.this[0].certificate_arn : null
    ssl_support_method             = local.has_domain ? "sni-only" : null
    minimum_protocol_version       = local.has_domain ? "TLSv1.2_2021" : "TLSv1"
  }

  tags = var.tags
}

# ---------------------------------------------------------------- DNS (custom domain only)
resource "aws_route53_record" "alias" {
  for_each = local.has_domain ? toset(["A", "AAAA"]) : toset([])

  zone_id = var.hosted_zone_id
  name    = var.domain_name
  type    = each.value

  alias {
    name                   = aws_cloudfront_distribution.this.domain_name
    zone_id                = aws_cloudfront_distribution.this.hosted_zone_id
    evaluate_target_health = false
  }
}
