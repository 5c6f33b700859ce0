# `terraform test` (scripts/tf-check.sh): the routes API Gateway imports from openapi.yaml carry
# the scopes each operation lists, with this deployment's resource-server identifier. Plan only,
# with a mocked provider: nothing is created.

mock_provider "aws" {}

variables {
  name         = "scopes-test"
  openapi_path = "../../../openapi.yaml"
  jwt_issuer   = "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_test"
  jwt_audience = ["user-client", "machine-client"]
  token_url    = "https://example.auth.eu-west-1.amazoncognito.com/oauth2/token"
  functions = {
    inventory     = { function_name = "inventory", invoke_arn = "arn:aws:apigateway:eu-west-1:lambda:path/2015-03-31/functions/arn:aws:lambda:eu-west-1:123456789012:function:inventory/invocations" }
    "billing-api" = { function_name = "billing-api", invoke_arn = "arn:aws:apigateway:eu-west-1:lambda:path/2015-03-31/functions/arn:aws:lambda:eu-west-1:123456789012:function:billing-api/invocations" }
  }
  resource_server_identifier = "prod-api"
  allowed_scopes = [
    "aws.cognito.signin.user.admin",
    "prod-api/movies.read",
    "prod-api/movies.write",
    "prod-api/movies.admin",
    "prod-api/billing.read",
    "prod-api/billing.write",
    "prod-api/billing.audit",
  ]
}

run "every_route_lists_its_scopes_with_this_deployments_identifier" {
  command = plan

  assert {
    condition     = jsonencode(terraform_data.route_scopes.input["DELETE /api/movies"].scopes) == jsonencode(["aws.cognito.signin.user.admin", "prod-api/movies.admin"])
    error_message = "DELETE /api/movies: ${jsonencode(terraform_data.route_scopes.input["DELETE /api/movies"])}"
  }
  assert {
    condition     = jsonencode(terraform_data.route_scopes.input["POST /api/movies"].scopes) == jsonencode(["aws.cognito.signin.user.admin", "prod-api/movies.write"])
    error_message = "POST /api/movies: ${jsonencode(terraform_data.route_scopes.input["POST /api/movies"])}"
  }
  assert {
    condition     = jsonencode(terraform_data.route_scopes.input["GET /api/movies"].scopes) == jsonencode(["aws.cognito.signin.user.admin", "prod-api/movies.read"])
    error_message = "GET /api/movies: ${jsonencode(terraform_data.route_scopes.input["GET /api/movies"])}"
  }
  assert {
    condition     = jsonencode(terraform_data.route_scopes.input["GET /api/billing/orders/{message_id}"].scopes) == jsonencode(["aws.cognito.signin.user.admin", "prod-api/billing.read", "prod-api/billing.audit"])
    error_message = "GET /api/billing/orders/{message_id}: ${jsonencode(terraform_data.route_scopes.input["GET /api/billing/orders/{message_id}"])}"
  }
  assert {
    condition     = !terraform_data.route_scopes.input["GET /health"].jwt
    error_message = "GET /health needs no token."
  }
  # What API Gateway imports: the operation's security requirement, scopes rewritten.
  assert {
    condition     = jsonencode(jsondecode(aws_apigatewayv2_api.this.body).paths["/api/movies"].delete.security) == jsonencode([{ cognito = ["aws.cognito.signin.user.admin", "prod-api/movies.admin"] }])
    error_message = "The imported body does not carry DELETE /api/movies's scopes."
  }
  assert {
    condition     = alltrue([for r in values(terraform_data.route_scopes.input) : alltrue([for s in r.scopes : !startswith(s, "crud-master/")])])
    error_message = "openapi.yaml's identifier is left in a route's scopes."
  }
}

run "a_scope_the_pool_does_not_define_is_an_error" {
  command = plan

  variables {
    allowed_scopes = ["aws.cognito.signin.user.admin", "prod-api/movies.read"]
  }

  expect_failures = [terraform_data.route_scopes]
}
