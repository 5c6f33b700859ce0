variable "name" {
  description = "Name prefix of the bucket, the distribution, its origin access control and response headers policy (e.g. crud-master-prod)."
  type        = string
}

variable "dist_dir" {
  description = "The built web client (node web/build.mjs: web/dist): index.html and assets/<name>.<hash>.<ext>; every file under it is uploaded."
  type        = string

  validation {
    condition     = fileexists("${var.dist_dir}/index.html")
    error_message = "dist_dir has no index.html: build the web client first (make web, i.e. node web/build.mjs), or set web_dist_dir to the built directory."
  }
}

variable "csp_path" {
  description = "The Content-Security-Policy, one line (web/csp.txt, which the local gateway serves too); {auth_origin} in it becomes the managed login's origin (auth_origin)."
  type        = string

  validation {
    condition     = length(split("\n", trimspace(file(var.csp_path)))) == 1 && strcontains(file(var.csp_path), "{auth_origin}")
    error_message = "csp_path must be one line naming {auth_origin} (in connect-src): the client's token request goes to the managed login's origin, which the CSP must allow on AWS."
  }
}

variable "auth_origin" {
  description = "Origin of the Cognito managed login (https://<prefix>.auth.<region>.amazoncognito.com, no trailing slash): the client's authority and the one cross-origin connect-src of the CSP (the token request)."
  type        = string

  validation {
    condition     = startswith(var.auth_origin, "https://") && !endswith(var.auth_origin, "/")
    error_message = "auth_origin is an https origin without a trailing slash."
  }
}

variable "client_id" {
  description = "The Cognito user pool's public user client (code grant with PKCE), written to config.json."
  type        = string
}

variable "scopes" {
  description = "OAuth2 scopes the client asks for at sign-in (space-separated), written to config.json."
  type        = string
  default     = "openid email aws.cognito.signin.user.admin"
}

variable "api_domain_name" {
  description = "Host name of the HTTP API's default endpoint, without scheme (<api-id>.execute-api.<region>.amazonaws.com): the origin of /api/*."
  type        = string

  validation {
    condition     = !strcontains(var.api_domain_name, "/")
    error_message = "api_domain_name is a host name: no scheme, no path."
  }
}

variable "price_class" {
  description = "CloudFront price class: PriceClass_100 (North America, Europe, Israel: cheapest), PriceClass_200, PriceClass_All."
  type        = string
  default     = "PriceClass_100"

  validation {
    condition     = contains(["PriceClass_100", "PriceClass_200", "PriceClass_All"], var.price_class)
    error_message = "price_class: PriceClass_100, PriceClass_200 or PriceClass_All."
  }
}

variable "web_acl_arn" {
  description = "CLOUDFRONT-scope WAFv2 web ACL to attach (the cdn module's, with create_cdn); null: none."
  type        = string
  default     = null
}

variable "api_viewer_request_function_arn" {
  description = "CloudFront Function run on viewer requests of /api/* (the cdn module's origin-verify function, with create_cdn: the HTTP functions then refuse requests without its header); null: none."
  type        = string
  default     = null
}

variable "tags" {
  description = "Tags of the module's resources."
  type        = map(string)
  default     = {}
}
