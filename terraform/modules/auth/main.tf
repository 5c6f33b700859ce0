data "aws_region" "current" {}

resource "aws_cognito_user_pool" "this" {
  name                = var.name
  deletion_protection = var.deletion_protection ? "ACTIVE" : "INACTIVE"
  mfa_configuration   = var.mfa_configuration

  # Accounts are created by an administrator (see README); no self sign-up.
  admin_create_user_config {
    allow_admin_create_user_only = true
  }

  password_policy {
    minimum_length                   = var.password_minimum_length
    require_lowercase                = true
    require_uppercase                = true
    require_numbers                  = true
    require_symbols                  = true
    temporary_password_validity_days = 3
  }

  dynamic "software_token_mfa_configuration" {
    for_each = var.mfa_configuration == "OFF" ? [] : [1]
    content {
      enabled = true
    }
  }

  auto_verified_attributes = ["email"]

  account_recovery_setting {
    recovery_mechanism {
      name     = "verified_email"
      priority = 1
    }
  }

  schema {
    name                = "email"
    attribute_data_type = "String"
    required            = true
    mutable             = true

    string_attribute_constraints {
      min_length = 3
      max_length = 254
    }
  }

  tags = var.tags
}

resource "aws_cognito_user_pool_domain" "this" {
  domain       = var.domain_prefix
  user_pool_id = aws_cognito_user_pool.this.id
}

locals {
  # The prefix domain is the only one this module makes (no custom domain for the managed login).
  domain_url = "https://${aws_cognito_user_pool_domain.this.domain}.auth.${data.aws_region.current.name}.amazoncognito.com"
}

resource "aws_cognito_resource_server" "this" {
  identifier   = var.resource_server_identifier
  name         = "${var.name} API"
  user_pool_id = aws_cognito_user_pool.this.id

  dynamic "scope" {
    for_each = var.scopes
    content {
      scope_name        = scope.key
      scope_description = scope.value
    }
  }
}

resource "aws_cognito_user_group" "admin" {
  name         = "admin"
  description  = "May delete all movies (DELETE /api/movies), and edit the catalogue"
  user_pool_id = aws_cognito_user_pool.this.id
  precedence   = 1
}

# Members may create, change and delete single movies (http_edge::auth); everyone else signed in
# only reads. Add a user with `aws cognito-idp admin-add-user-to-group --group-name editors`.
resource "aws_cognito_user_group" "editors" {
  name         = "editors"
  description  = "May create, change and delete single movies"
  user_pool_id = aws_cognito_user_pool.this.id
  precedence   = 2
}

# Public client for people: USER_PASSWORD_AUTH (AWS CLI), SRP (SDKs/Amplify), hosted UI code flow.
resource "aws_cognito_user_pool_client" "user" {
  name         = "${var.name}-user"
  user_pool_id = aws_cognito_user_pool.this.id

  generate_secret               = false
  prevent_user_existence_errors = "ENABLED"
  enable_token_revocation       = true
  explicit_auth_flows           = ["ALLOW_USER_PASSWORD_AUTH", "ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]

  allowed_oauth_flows_user_pool_client = true
  allowed_oauth_flows                  = ["code"]
  # No resource-server scope, above all not the admin one: a person's rights come from their
  # groups, checked in the function. aws.cognito.signin.user.admin is what every user access
  # token carries (InitiateAuth puts it in; the hosted UI when it is requested), and what the
  # routes in openapi.yaml accept from people.
  allowed_oauth_scopes         = ["openid", "email", "aws.cognito.signin.user.admin"]
  supported_identity_providers = ["COGNITO"]
  callback_urls                = var.callback_urls
  logout_urls                  = var.logout_urls

  access_token_validity  = var.access_token_validity_minutes
  id_token_validity      = var.access_token_validity_minutes
  refresh_token_validity = var.refresh_token_validity_days

  token_validity_units {
    access_token  = "minutes"
    id_token      = "minutes"
    refresh_token = "days"
  }

  # The redirect and sign-out URLs belong to terraform_data.user_client_urls below, which adds the
  # web distribution's URL once the distribution exists (callback_urls and logout_urls are only
  # what the client is created with).
  lifecycle {
    ignore_changes = [callback_urls, logout_urls]
  }

  depends_on = [aws_cognito_resource_server.this]
}

# ---------------------------------------------------------------- the user client's URLs
# The web distribution's URL (https://<id>.cloudfront.net/) is the redirect and sign-out URL of
# the client, and it cannot be an argument of aws_cognito_user_pool_client.user: the distribution
# routes /api/* to the HTTP API, whose JWT authorizer names this client as its audience (in the
# API's OpenAPI body), so client -> distribution -> API -> client would be a cycle, which
# Terraform refuses. What was considered instead:
# - a second client for the web only: the authorizer's audience must name it too, same cycle;
# - the authorizer as its own aws_apigatewayv2_authorizer, out of the body: the body import owns
#   the API's authorizers and routes (modules/api), and would fight it on every apply;
# - a known name for the site (a custom domain): the URL is then static, but the default stack
#   has no domain, and the *.cloudfront.net name is only known once the distribution exists.
# So the client is created with callback_urls/logout_urls (ignored afterwards, above) and the
# AWS CLI writes the full lists after the distribution exists: site_urls + callback_urls and
# site_urls + logout_urls, again whenever either list or the client changes. The client is read
# first and written back whole: UpdateUserPoolClient resets every field the request leaves out
# to its default ("If you don't provide a value for an attribute, Amazon Cognito sets it to its
# default value", https://docs.aws.amazon.com/cognito-user-identity-pools/latest/APIReference/API_UpdateUserPoolClient.html).
# Every field DescribeUserPoolClient returns goes back but the three read-only ones
# (ClientSecret, CreationDate, LastModifiedDate): a field added to the API later is carried over
# too, or refused by name ("Unknown parameter"), never reset without a word.
resource "terraform_data" "user_client_urls" {
  input = {
    pool_id   = aws_cognito_user_pool.this.id
    client_id = aws_cognito_user_pool_client.user.id
    callbacks = jsonencode(concat(var.site_urls, var.callback_urls))
    logouts   = jsonencode(concat(var.site_urls, var.logout_urls))
    region    = data.aws_region.current.name
    endpoint  = var.aws_endpoint_url == null ? "" : var.aws_endpoint_url
  }
  triggers_replace = [aws_cognito_user_pool_client.user.id, var.site_urls, var.callback_urls, var.logout_urls]

  provisioner "local-exec" {
    interpreter = ["/bin/sh", "-c"]
    command     = <<-EOT
      set -eu
      [ -z "$ENDPOINT" ] || export AWS_ENDPOINT_URL="$ENDPOINT"
      # An argument, not file:///dev/stdin (AWS CLI v1 reads --cli-input-json's file twice, and
      # stdin is empty the second time); it holds no secret (a public client, ClientSecret dropped).
      input=$(aws cognito-idp describe-user-pool-client --region "$REGION" --user-pool-id "$POOL" --client-id "$CLIENT" --output json \
        | python3 -c 'import json, os, sys
      c = json.load(sys.stdin)["UserPoolClient"]
      for k in ("ClientSecret", "CreationDate", "LastModifiedDate"):
          c.pop(k, None)
      c["CallbackURLs"] = json.loads(os.environ["CALLBACKS"])
      c["LogoutURLs"] = json.loads(os.environ["LOGOUTS"])
      json.dump(c, sys.stdout)')
      aws cognito-idp update-user-pool-client --region "$REGION" --cli-input-json "$input" \
        --query 'join(`" "`, UserPoolClient.CallbackURLs)' --output text | sed 's/^/user client redirect URLs: /'
    EOT
    environment = {
      POOL      = self.input.pool_id
      CLIENT    = self.input.client_id
      CALLBACKS = self.input.callbacks
      LOGOUTS   = self.input.logouts
      REGION    = self.input.region
      ENDPOINT  = self.input.endpoint
    }
  }
}

# Confidential client for services: client credentials with resource-server scopes. Cognito
# bills machine-to-machine authorization by client-credentials request volume and, as AWS
# announced it in 2024, per active M2M app client (docs/costs.md;
# https://docs.aws.amazon.com/cognito/latest/developerguide/tracking-cost.html): optional, and
# without it the functions fall back to groups only (ADMIN_SCOPE/ADMIN_CLIENT_IDS unset).
#
# Not an aws_cognito_user_pool_client: the provider stores client_secret in the state (it has no
# write-only form in 5.100), and whoever reads the state would hold an admin of the API. The AWS
# CLI creates the client and writes its id and secret straight into the secret below, from a
# pipe, so the value is never in the state, a plan, a log or an output
# (https://docs.aws.amazon.com/cli/latest/reference/cognito-idp/create-user-pool-client.html).
# Any change of the inputs replaces the client: a new id and secret, written to the same secret.
# Terraform does not see edits made to the client elsewhere; make verify's machine token does.
resource "aws_secretsmanager_secret" "machine" {
  #checkov:skip=CKV2_AWS_57:Rotation is a replacement of the client (machine_client_version), which writes the new secret here.
  count = var.create_machine_client ? 1 : 0

  name_prefix             = "${var.name}/machine-client-"
  description             = "client_id and client_secret of the ${var.name} machine app client (client credentials)"
  kms_key_id              = var.kms_key_arn
  recovery_window_in_days = var.secret_recovery_window_days
  tags                    = var.tags
}

locals {
  machine_client_name = "${var.name}-machine"
}

resource "terraform_data" "machine_client" {
  count = var.create_machine_client ? 1 : 0

  input = {
    pool_id   = aws_cognito_user_pool.this.id
    name      = local.machine_client_name
    scopes    = join(" ", [for s in var.machine_client_scopes : "${var.resource_server_identifier}/${s}"])
    minutes   = tostring(var.access_token_validity_minutes)
    secret_id = aws_secretsmanager_secret.machine[0].arn
    region    = data.aws_region.current.name
    endpoint  = var.aws_endpoint_url == null ? "" : var.aws_endpoint_url
    version   = tostring(var.machine_client_version)
  }
  triggers_replace = [aws_cognito_user_pool.this.id, local.machine_client_name, var.machine_client_scopes, var.access_token_validity_minutes, aws_secretsmanager_secret.machine[0].arn, var.machine_client_version]

  # Deletes any client of that name first (a failed earlier create), then creates one and pipes
  # {client_id, client_secret} into the secret without a shell variable or an argument.
  provisioner "local-exec" {
    interpreter = ["/bin/sh", "-c"]
    command     = <<-EOT
      set -eu
      [ -z "$ENDPOINT" ] || export AWS_ENDPOINT_URL="$ENDPOINT"
      for id in $(aws cognito-idp list-user-pool-clients --region "$REGION" --user-pool-id "$POOL" --max-results 60 \
          --query "UserPoolClients[?ClientName=='$NAME'].ClientId" --output text); do
        aws cognito-idp delete-user-pool-client --region "$REGION" --user-pool-id "$POOL" --client-id "$id"
      done
      aws cognito-idp create-user-pool-client --region "$REGION" --user-pool-id "$POOL" --client-name "$NAME" \
          --generate-secret --allowed-o-auth-flows-user-pool-client --allowed-o-auth-flows client_credentials \
          --allowed-o-auth-scopes $SCOPES --supported-identity-providers COGNITO \
          --explicit-auth-flows ALLOW_REFRESH_TOKEN_AUTH --prevent-user-existence-errors ENABLED \
          --enable-token-revocation --access-token-validity "$MINUTES" --token-validity-units AccessToken=minutes \
          --query '{client_id: UserPoolClient.ClientId, client_secret: UserPoolClient.ClientSecret}' --output json \
        | aws secretsmanager put-secret-value --region "$REGION" --secret-id "$SECRET" --secret-string file:///dev/stdin \
          --query VersionId --output text >/dev/null
      echo "machine client $NAME created; its id and secret are in $SECRET"
    EOT
    environment = {
      POOL     = self.input.pool_id
      NAME     = self.input.name
      SCOPES   = self.input.scopes
      MINUTES  = self.input.minutes
      SECRET   = self.input.secret_id
      REGION   = self.input.region
      ENDPOINT = self.input.endpoint
    }
  }

  provisioner "local-exec" {
    when        = destroy
    interpreter = ["/bin/sh", "-c"]
    command     = <<-EOT
      set -eu
      [ -z "$ENDPOINT" ] || export AWS_ENDPOINT_URL="$ENDPOINT"
      for id in $(aws cognito-idp list-user-pool-clients --region "$REGION" --user-pool-id "$POOL" --max-results 60 \
          --query "UserPoolClients[?ClientName=='$NAME'].ClientId" --output text 2>/dev/null || true); do
        aws cognito-idp delete-user-pool-client --region "$REGION" --user-pool-id "$POOL" --client-id "$id"
      done
    EOT
    environment = {
      POOL     = self.input.pool_id
      NAME     = self.input.name
      REGION   = self.input.region
      ENDPOINT = self.input.endpoint
    }
  }

  depends_on = [aws_cognito_resource_server.this]
}

# The client's id, by name (ListUserPoolClients returns ids and names, never a secret).
data "aws_cognito_user_pool_clients" "this" {
  user_pool_id = aws_cognito_user_pool.this.id
  depends_on   = [terraform_data.machine_client]
}

locals {
  machine_client_ids = [
    for i, n in data.aws_cognito_user_pool_clients.this.client_names : data.aws_cognito_user_pool_clients.this.client_ids[i]
    if var.create_machine_client && n == local.machine_client_name
  ]
}
