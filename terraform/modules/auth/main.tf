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

# Members may create, change and delete single movies (shared::auth); everyone else signed in
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

  depends_on = [aws_cognito_resource_server.this]
}

# Confidential client for services: client credentials with resource-server scopes. Cognito
# bills machine-to-machine authorization by client-credentials request volume and, as AWS
# announced it in 2024, per active M2M app client (docs/costs.md;
# https://docs.aws.amazon.com/cognito/latest/developerguide/tracking-cost.html): optional, and
# without it the functions fall back to groups only (ADMIN_SCOPE/ADMIN_CLIENT_IDS unset).
resource "aws_cognito_user_pool_client" "machine" {
  count = var.create_machine_client ? 1 : 0

  name         = "${var.name}-machine"
  user_pool_id = aws_cognito_user_pool.this.id

  generate_secret                      = true
  prevent_user_existence_errors        = "ENABLED"
  enable_token_revocation              = true
  explicit_auth_flows                  = ["ALLOW_REFRESH_TOKEN_AUTH"]
  allowed_oauth_flows_user_pool_client = true
  allowed_oauth_flows                  = ["client_credentials"]
  allowed_oauth_scopes                 = [for s in var.machine_client_scopes : "${var.resource_server_identifier}/${s}"]
  supported_identity_providers         = ["COGNITO"]

  access_token_validity = var.access_token_validity_minutes
  token_validity_units {
    access_token = "minutes"
  }

  depends_on = [aws_cognito_resource_server.this]
}
