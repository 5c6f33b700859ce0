locals {
  http_methods = ["get", "put", "post", "delete", "options", "head", "patch", "trace"]

  spec              = yamldecode(file(var.openapi_path))
  spec_scope_prefix = "${var.openapi_resource_server}/"

  # The contract file stays provider-neutral; the AWS extensions are overlaid here. Path-level
  # parameters are copied into each operation (same meaning in OpenAPI) so a path item only holds
  # operations. Responses keep their codes but not their bodies: an HTTP API neither validates nor
  # maps Lambda proxy responses, so the schemas would only produce import warnings (and break moto).
  paths = {
    for path, item in local.spec.paths : path => {
      for method, op in item : method => merge(op, {
        # Explicit per operation: the document-level default is resolved here, not by the importer.
        # The import turns each operation's scope list into the route's authorizationScopes, which
        # the JWT authorizer enforces (any one of them; 403 otherwise): this is how SAM's HttpApi
        # writes AuthorizationScopes into the OpenAPI body it imports (aws/serverless-application-model
        # tests/translator/input/http_api_existing_openapi.yaml, `security: [{oauth2Auth: [scope4]}]`)
        # and what "Control access to HTTP APIs with JWT authorizers" describes for route scopes.
        # openapi.yaml writes them with its own resource-server identifier; this deployment's
        # replaces it.
        security = [for requirement in try(op.security, try(local.spec.security, [])) : {
          for scheme, scopes in requirement : scheme => [
            for s in scopes : startswith(s, local.spec_scope_prefix) ? "${var.resource_server_identifier}/${trimprefix(s, local.spec_scope_prefix)}" : s
          ]
        }]
        responses = { for code, r in try(op.responses, {}) : code => { description = try(r.description, "") } }
        parameters = concat(
          [for p in try(item.parameters, []) : p if !contains([for q in try(op.parameters, []) : "${q.in}:${q.name}"], "${p.in}:${p.name}")],
          try(op.parameters, []),
        )
        "x-amazon-apigateway-integration" = {
          type                 = "aws_proxy"
          httpMethod           = "POST"
          uri                  = var.functions[op["x-function"]].invoke_arn
          payloadFormatVersion = "2.0"
          timeoutInMillis      = 29000
        }
      }) if contains(local.http_methods, method)
    }
  }

  # Route key => the scopes that may call it ([] for a route without the authorizer).
  route_scopes = {
    for route in flatten([
      for path, item in local.paths : [
        for method, op in item : {
          key    = "${upper(method)} ${path}"
          jwt    = length(op.security) > 0
          scopes = distinct(flatten([for requirement in op.security : values(requirement)]))
        }
      ]
    ]) : route.key => route
  }

  security_schemes = merge(
    try(local.spec.components.securitySchemes, {}),
    {
      (var.security_scheme_name) = {
        type = "oauth2"
        flows = {
          clientCredentials = {
            tokenUrl = var.token_url
            scopes   = {}
          }
        }
        "x-amazon-apigateway-authorizer" = {
          type           = "jwt"
          identitySource = "$request.header.Authorization"
          jwtConfiguration = {
            issuer   = var.jwt_issuer
            audience = var.jwt_audience
          }
        }
      }
    }
  )

  # Import copies info.title, info.version and info.description onto the API
  # (https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-open-api.html), so the
  # resource sets the same three values, and the root `tags` (documentation groups, which API
  # Gateway would turn into API tags that fight default_tags) are left out: a second plan is empty.
  # API Gateway caps an API's description at 1,024 characters (CreateApi/UpdateApi
  # `description`, "Maximum length of 1024"): a longer contract description is cut there, in the
  # imported body and on the resource alike, instead of failing the plan.
  spec_description = try(local.spec.info.description, null)
  description      = local.spec_description == null ? null : (length(local.spec_description) <= 1024 ? local.spec_description : "${substr(local.spec_description, 0, 1021)}...")

  body = merge({ for k, v in local.spec : k => v if k != "tags" }, {
    info       = merge(local.spec.info, { title = var.name }, local.description == null ? {} : { description = local.description })
    paths      = local.paths
    components = merge(try(local.spec.components, {}), { securitySchemes = local.security_schemes })
  })

  access_log_format = {
    requestId          = "$context.requestId"
    extendedRequestId  = "$context.extendedRequestId"
    ip                 = "$context.identity.sourceIp"
    userAgent          = "$context.identity.userAgent"
    requestTime        = "$context.requestTime"
    httpMethod         = "$context.httpMethod"
    routeKey           = "$context.routeKey"
    path               = "$context.path"
    status             = "$context.status"
    protocol           = "$context.protocol"
    responseLength     = "$context.responseLength"
    responseLatency    = "$context.responseLatency"
    integrationLatency = "$context.integrationLatency"
    integrationStatus  = "$context.integrationStatus"
    integrationError   = "$context.integrationErrorMessage"
    authorizerError    = "$context.authorizer.error"
    principal          = "$context.authorizer.claims.sub"
    clientId           = "$context.authorizer.claims.client_id"
  }
}

resource "aws_apigatewayv2_api" "this" {
  name                         = var.name
  protocol_type                = "HTTP"
  body                         = jsonencode(local.body)
  version                      = try(tostring(local.spec.info.version), null)
  description                  = local.description
  fail_on_warnings             = false
  disable_execute_api_endpoint = false

  tags = var.tags
}

# Every route behind the authorizer must list its scopes (otherwise an ID token, which has no
# scope, would pass), and only scopes the user pool can issue.
resource "terraform_data" "route_scopes" {
  input = local.route_scopes

  lifecycle {
    precondition {
      condition     = alltrue([for r in values(local.route_scopes) : !r.jwt || length(r.scopes) > 0])
      error_message = "Every operation in openapi.yaml behind the authorizer must list its scopes in security: ${join(", ", [for k, r in local.route_scopes : k if r.jwt && length(r.scopes) == 0])}."
    }
    precondition {
      condition     = length(setsubtract(flatten([for r in values(local.route_scopes) : r.scopes]), var.allowed_scopes)) == 0
      error_message = "openapi.yaml names scopes the user pool does not define: ${join(", ", setsubtract(flatten([for r in values(local.route_scopes) : r.scopes]), var.allowed_scopes))}."
    }
  }
}

resource "aws_cloudwatch_log_group" "access" {
  name              = "/aws/apigateway/${var.name}/access"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn
  tags              = var.tags
}

resource "aws_apigatewayv2_stage" "this" {
  api_id      = aws_apigatewayv2_api.this.id
  name        = "$default"
  auto_deploy = true

  access_log_settings {
    destination_arn = aws_cloudwatch_log_group.access.arn
    format          = jsonencode(local.access_log_format)
  }

  default_route_settings {
    throttling_burst_limit = var.throttling_burst_limit
    throttling_rate_limit  = var.throttling_rate_limit
    # Per-route metrics are CloudWatch custom metrics, billed per metric once a route gets traffic
    # (https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-metrics.html,
    # https://aws.amazon.com/cloudwatch/pricing/); the dashboard and alarms use the API-wide ones.
    detailed_metrics_enabled = var.detailed_metrics_enabled
  }

  tags = var.tags
}

resource "aws_lambda_permission" "this" {
  for_each = var.functions

  statement_id  = "AllowApiGateway-${var.name}"
  action        = "lambda:InvokeFunction"
  function_name = each.value.function_name
  qualifier     = each.value.qualifier
  principal     = "apigateway.amazonaws.com"
  source_arn    = "${aws_apigatewayv2_api.this.execution_arn}/*/*"
}

# ---------------------------------------------------------------- optional custom domain
resource "aws_acm_certificate" "this" {
  count = var.create_custom_domain ? 1 : 0

  domain_name       = var.domain_name
  validation_method = "DNS"
  tags              = var.tags

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_route53_record" "validation" {
  for_each = var.create_custom_domain ? {
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
  count = var.create_custom_domain ? 1 : 0

  certificate_arn         = aws_acm_certificate.this[0].arn
  validation_record_fqdns = [for r in aws_route53_record.validation : r.fqdn]
}

resource "aws_apigatewayv2_domain_name" "this" {
  count = var.create_custom_domain ? 1 : 0

  domain_name = var.domain_name

  domain_name_configuration {
    certificate_arn = aws_acm_certificate_validation.this[0].certificate_arn
    endpoint_type   = "REGIONAL"
    security_policy = "TLS_1_2"
  }

  tags = var.tags
}

resource "aws_apigatewayv2_api_mapping" "this" {
  count = var.create_custom_domain ? 1 : 0

  api_id      = aws_apigatewayv2_api.this.id
  domain_name = aws_apigatewayv2_domain_name.this[0].id
  stage       = aws_apigatewayv2_stage.this.id
}

resource "aws_route53_record" "alias" {
  count = var.create_custom_domain ? 1 : 0

  zone_id = var.hosted_zone_id
  name    = var.domain_name
  type    = "A"

  alias {
    name                   = aws_apigatewayv2_domain_name.this[0].domain_name_configuration[0].target_domain_name
    zone_id                = aws_apigatewayv2_domain_name.this[0].domain_name_configuration[0].hosted_zone_id
    evaluate_target_health = false
  }
}
