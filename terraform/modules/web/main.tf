# The web client on AWS: its built files (web/dist) in a private S3 bucket that only this
# distribution may read (origin access control), the HTTP API under /api/* on the same
# distribution, so the page calls its own origin (no CORS), and one response headers policy (the
# CSP of web/csp.txt, HSTS and the rest) on every answer. docs/web.md, "On AWS".
# One provider, the deployment's region: the bucket lives there, and CloudFront is global (the
# cdn module needs us-east-1 for its certificate and web ACL, which this module does not create).

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

locals {
  s3_origin_id  = "web-bucket"
  api_origin_id = "http-api"

  # The managed policies by their documented IDs: moto has no cache or origin request policy API
  # for a data source to look them up with (modules/cdn looks them up by name on AWS).
  # CachingOptimized: cached by the origin's Cache-Control up to a year, gzip and Brotli in the
  # key; CachingDisabled: nothing cached, every request reaches the origin
  # (https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/using-managed-cache-policies.html).
  caching_optimized = "658327ea-f89d-4fab-a63d-7e88639e58f6"
  caching_disabled  = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"
  # AllViewerExceptHostHeader: every viewer header (Authorization among them, for the JWT
  # authorizer), cookie and query string, but Host, which must stay the execute-api host for API
  # Gateway to route the request
  # (https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/using-managed-origin-request-policies.html).
  all_viewer_except_host_header = "b689b0a8-53d0-40ab-baf2-68738e2966ac"

  # Served as what it is: with X-Content-Type-Options: nosniff a browser runs a script or applies
  # a style sheet only under its own type. A file of another extension stops the plan (below).
  content_types = {
    html        = "text/html; charset=utf-8"
    js          = "text/javascript; charset=utf-8"
    css         = "text/css; charset=utf-8"
    json        = "application/json"
    svg         = "image/svg+xml"
    png         = "image/png"
    ico         = "image/x-icon"
    txt         = "text/plain; charset=utf-8"
    webmanifest = "application/manifest+json"
  }

  # config.json is Terraform's own object (below), whatever the build holds.
  files = { for f in setsubtract(fileset(var.dist_dir, "**"), ["config.json"]) : f => lower(element(split(".", f), length(split(".", f)) - 1)) }

  # The build names every asset by a hash of its content (web/build.mjs), so an asset never
  # changes under its name: cached for a year, never revalidated. Everything else (index.html,
  # which names the assets, and config.json) is revalidated on every load, so a deploy is seen at
  # the next page load and a page never mixes two releases.
  immutable = "public, max-age=31536000, immutable"
  no_cache  = "no-cache"

  # The Content-Security-Policy is web/csp.txt's, the one the local gateway serves with
  # {auth_origin} empty (it is the same origin there); here the client's token request goes to
  # the managed login's origin, cross-origin, so connect-src names it.
  csp = replace(trimspace(file(var.csp_path)), "{auth_origin}", var.auth_origin)

  # Read by the client at start (docs/web.md): where to sign in, as which client, and the API,
  # on this origin.
  config = jsonencode({
    authority = var.auth_origin
    clientId  = var.client_id
    scopes    = var.scopes
    api       = "/api"
  })
}

# ---------------------------------------------------------------- bucket
# Private: no public access of any kind, no ACLs (the bucket owner owns every object), read by
# CloudFront alone through the origin access control.
resource "aws_s3_bucket" "this" {
  #checkov:skip=CKV_AWS_18:Server access logs would need a second bucket; every read is CloudFront's, and the distribution's requests are what counts (its CloudWatch metrics; standard logs are off, see the distribution).
  #checkov:skip=CKV_AWS_144:Cross-region replication of a build output: the files are rebuilt from the commit (make web) and uploaded by the next apply.
  #checkov:skip=CKV2_AWS_62:No consumer of event notifications: the only writer is terraform apply.
  #checkov:skip=CKV_AWS_145:SSE-S3, not the stack's KMS key: the objects are the public web client, served to anyone through CloudFront, so a customer managed key protects nothing, while it would add a KMS request per origin fetch and a key policy statement naming this distribution (a cycle through the key every other resource uses).
  # Names are global: the account and region keep two stacks of one name apart.
  bucket = "${var.name}-web-${data.aws_caller_identity.current.account_id}-${data.aws_region.current.name}"
  # Only build output lives here, rebuilt from any commit: a destroy also removes the noncurrent
  # versions instead of failing on them.
  force_destroy = true
  tags          = var.tags
}

resource "aws_s3_bucket_public_access_block" "this" {
  bucket = aws_s3_bucket.this.id

  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

# ACLs off: the bucket owner owns and controls every object
# (https://docs.aws.amazon.com/AmazonS3/latest/userguide/about-object-ownership.html).
resource "aws_s3_bucket_ownership_controls" "this" {
  bucket = aws_s3_bucket.this.id

  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

# SSE-S3 (see the skip of CKV_AWS_145 above). With SSE-KMS the key policy would have to let
# cloudfront.amazonaws.com decrypt for this distribution
# (https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/private-content-restricting-access-to-s3.html);
# with SSE-S3 the ETag of an object is its MD5, which the objects below compare with the file's.
resource "aws_s3_bucket_server_side_encryption_configuration" "this" {
  bucket = aws_s3_bucket.this.id

  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "AES256"
    }
  }
}

# The previous index.html and config.json stay 30 days as noncurrent versions (a rollback can
# copy them back); an asset no longer in the build is deleted with its object.
resource "aws_s3_bucket_versioning" "this" {
  bucket = aws_s3_bucket.this.id

  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "this" {
  bucket = aws_s3_bucket.this.id

  rule {
    id     = "noncurrent-versions-and-incomplete-uploads"
    status = "Enabled"

    filter {}

    noncurrent_version_expiration {
      noncurrent_days = 30
    }

    abort_incomplete_multipart_upload {
      days_after_initiation = 1
    }
  }

  depends_on = [aws_s3_bucket_versioning.this]
}

# Only this distribution, through its origin access control, may read, and only objects; no
# request without TLS. The AWS:SourceArn condition is what keeps another distribution, of this or
# any account, from reading the bucket with its own OAC
# (https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/private-content-restricting-access-to-s3.html).
data "aws_iam_policy_document" "bucket" {
  statement {
    sid       = "CloudFrontReadsObjects"
    actions   = ["s3:GetObject"]
    resources = ["${aws_s3_bucket.this.arn}/*"]

    principals {
      type        = "Service"
      identifiers = ["cloudfront.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "AWS:SourceArn"
      values   = [aws_cloudfront_distribution.this.arn]
    }
  }

  # https://docs.aws.amazon.com/AmazonS3/latest/userguide/security-best-practices.html (enforce
  # encryption of data in transit: aws:SecureTransport).
  statement {
    sid       = "TLSOnly"
    effect    = "Deny"
    actions   = ["s3:*"]
    resources = [aws_s3_bucket.this.arn, "${aws_s3_bucket.this.arn}/*"]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_s3_bucket_policy" "this" {
  bucket = aws_s3_bucket.this.id
  policy = data.aws_iam_policy_document.bucket.json

  depends_on = [aws_s3_bucket_public_access_block.this]
}

# ---------------------------------------------------------------- objects
resource "aws_s3_object" "file" {
  for_each = local.files

  bucket        = aws_s3_bucket.this.id
  key           = each.key
  source        = "${var.dist_dir}/${each.key}"
  etag          = filemd5("${var.dist_dir}/${each.key}")
  content_type  = lookup(local.content_types, each.value, "application/octet-stream")
  cache_control = startswith(each.key, "assets/") ? local.immutable : local.no_cache
  tags          = var.tags

  lifecycle {
    precondition {
      condition     = contains(keys(local.content_types), each.value)
      error_message = "web/dist/${each.key}: no content type for .${each.value}; add it to content_types in terraform/modules/web/main.tf (served as application/octet-stream with nosniff, a browser would refuse it)."
    }
  }

  depends_on = [aws_s3_bucket_versioning.this, aws_s3_bucket_ownership_controls.this]
}

resource "aws_s3_object" "config" {
  bucket        = aws_s3_bucket.this.id
  key           = "config.json"
  content       = local.config
  etag          = md5(local.config)
  content_type  = "application/json"
  cache_control = local.no_cache
  tags          = var.tags

  depends_on = [aws_s3_bucket_versioning.this, aws_s3_bucket_ownership_controls.this]
}

# ---------------------------------------------------------------- CloudFront
# Signs every request to the bucket (SigV4), whatever the viewer sent: the bucket policy above
# only answers such requests
# (https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/private-content-restricting-access-to-s3.html).
resource "aws_cloudfront_origin_access_control" "this" {
  name                              = "${var.name}-web"
  description                       = "CloudFront reads ${aws_s3_bucket.this.bucket}"
  origin_access_control_origin_type = "s3"
  signing_behavior                  = "always"
  signing_protocol                  = "sigv4"
}

# On every answer of every behavior, the origin's own header of the same name replaced
# (override): HSTS a year with subdomains, nosniff, no framing, no referrer at all (the page's
# first requests after the sign-in would otherwise carry the code in their Referer), and the CSP (https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/understanding-response-headers-policies.html).
resource "aws_cloudfront_response_headers_policy" "this" {
  #checkov:skip=CKV_AWS_259:HSTS is a year with includeSubDomains and override; the check also wants preload, a request to browsers' preload lists that only the registrable domain's owner can make, and the site's is cloudfront.net (Amazon's), so the directive would mean nothing.
  name    = "${var.name}-web"
  comment = "${var.name} web client: CSP of web/csp.txt, HSTS, nosniff, DENY, no-referrer"

  security_headers_config {
    content_security_policy {
      content_security_policy = local.csp
      override                = true
    }

    strict_transport_security {
      access_control_max_age_sec = 31536000
      include_subdomains         = true
      override                   = true
    }

    content_type_options {
      override = true
    }

    frame_options {
      frame_option = "DENY"
      override     = true
    }

    referrer_policy {
      referrer_policy = "no-referrer"
      override        = true
    }
  }
}

resource "aws_cloudfront_distribution" "this" {
  #checkov:skip=CKV_AWS_86:No standard logs: they need a bucket with ACLs enabled (this stack keeps ACLs off); the API's requests are in its access log, the rest are reads of public files (CloudFront's metrics count them).
  #checkov:skip=CKV_AWS_310:Each origin exists once (the bucket in one region, the API in one region); a failover origin would be a second deployment.
  #checkov:skip=CKV_AWS_374:No geo restriction: the users are not limited to a list of countries.
  #checkov:skip=CKV_AWS_174:The default *.cloudfront.net certificate: AWS fixes its security policy at TLSv1 whatever is set (API ViewerCertificate, MinimumProtocolVersion); a custom domain is create_cdn's (modules/cdn).
  #checkov:skip=CKV2_AWS_42:No custom domain for the web distribution: the default *.cloudfront.net certificate is the only one it can use.
  #checkov:skip=CKV_AWS_68:The web ACL is create_cdn's (web_acl_arn: the same ACL as the API's distribution, attached here too); without it the bucket serves public static files and the API keeps its own throttling, and the ACL's 8 USD/month is the choice create_cdn makes.
  #checkov:skip=CKV2_AWS_47:With create_cdn the ACL carries the Log4j rules (AWSManagedRulesKnownBadInputsRuleSet, modules/cdn); without it there is no ACL (CKV_AWS_68 above).
  enabled             = true
  is_ipv6_enabled     = true
  http_version        = "http2and3"
  comment             = "${var.name} web client, and the API under /api/*"
  price_class         = var.price_class
  default_root_object = "index.html"
  web_acl_id          = var.web_acl_arn

  origin {
    origin_id                = local.s3_origin_id
    domain_name              = aws_s3_bucket.this.bucket_regional_domain_name
    origin_access_control_id = aws_cloudfront_origin_access_control.this.id
  }

  origin {
    origin_id   = local.api_origin_id
    domain_name = var.api_domain_name

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

  # index.html, config.json and any other file but the assets: never cached by CloudFront, so a
  # deploy is live at once (the objects' Cache-Control: no-cache has browsers revalidate too).
  # CachingDisabled enables no encoding in its key, so CloudFront does not compress these two.
  default_cache_behavior {
    target_origin_id           = local.s3_origin_id
    viewer_protocol_policy     = "redirect-to-https"
    allowed_methods            = ["GET", "HEAD", "OPTIONS"]
    cached_methods             = ["GET", "HEAD"]
    compress                   = true
    cache_policy_id            = local.caching_disabled
    response_headers_policy_id = aws_cloudfront_response_headers_policy.this.id
  }

  # Content-hashed names: cached at the edge as long as the objects say (a year).
  ordered_cache_behavior {
    path_pattern               = "/assets/*"
    target_origin_id           = local.s3_origin_id
    viewer_protocol_policy     = "redirect-to-https"
    allowed_methods            = ["GET", "HEAD", "OPTIONS"]
    cached_methods             = ["GET", "HEAD"]
    compress                   = true
    cache_policy_id            = local.caching_optimized
    response_headers_policy_id = aws_cloudfront_response_headers_policy.this.id
  }

  # The API, as modules/cdn routes it: nothing cached (an authorised answer is never served to
  # someone else), the viewer's headers but Host forwarded, HTTPS only (a token sent over plain
  # HTTP has leaked already: refused rather than redirected).
  ordered_cache_behavior {
    path_pattern               = "/api/*"
    target_origin_id           = local.api_origin_id
    viewer_protocol_policy     = "https-only"
    allowed_methods            = ["DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT"]
    cached_methods             = ["GET", "HEAD"]
    compress                   = true
    cache_policy_id            = local.caching_disabled
    origin_request_policy_id   = local.all_viewer_except_host_header
    response_headers_policy_id = aws_cloudfront_response_headers_policy.this.id

    # With create_cdn the HTTP functions refuse a request without the origin-verify header: the
    # same viewer-request function as the API's distribution adds it (modules/cdn).
    dynamic "function_association" {
      for_each = var.api_viewer_request_function_arn == null ? [] : [var.api_viewer_request_function_arn]
      content {
        event_type   = "viewer-request"
        function_arn = function_association.value
      }
    }
  }

  restrictions {
    geo_restriction {
      restriction_type = "none"
    }
  }

  viewer_certificate {
    cloudfront_default_certificate = true
  }

  tags = var.tags
}
