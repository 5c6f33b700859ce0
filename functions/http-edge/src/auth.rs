//! Who is calling, from the JWT claims API Gateway's authorizer put in the request context,
//! and what they may do with the catalogue.
//!
//! The authorizer has already checked the signature, issuer, client, expiry and the route's
//! scopes; here we only read the claims. They arrive as strings: `cognito:groups` is
//! `"[admin user]"` (API Gateway prints arrays the way Go's `%v` does).
//!
//! Every signed-in caller reads. An **editor** (create, change and delete single movies) is a
//! member of the `editors` or `admin` group, or a machine client holding the write scope
//! (`<resource server>/movies.write`). An **admin** (delete every movie) is exactly one of:
//! - membership of the Cognito group named `admin`, matched as a whole name;
//! - the exact admin scope of our resource server (`ADMIN_SCOPE`, e.g.
//!   `crud-master/movies.admin`) in a token whose `client_id` is one of the machine clients
//!   allowed to hold it (`ADMIN_CLIENT_IDS`).
//!
//! Resource-server scopes count only from those machine clients: the user client is not
//! allowed them in Cognito, and a token from any other client carrying one is still no editor.

use std::collections::HashMap;

use axum::extract::FromRequestParts;
use http::request::Parts;
use lambda_http::request::RequestContext;

use crate::Problem;
use settings::{ConfigError, Env};

/// The Cognito group whose members are administrators.
pub const ADMIN_GROUP: &str = "admin";
/// The Cognito group whose members may change the catalogue.
pub const EDITORS_GROUP: &str = "editors";
/// The scope name, on the admin scope's resource server, that lets a machine client change the
/// catalogue (`movies.write` in `openapi.yaml` and Terraform's `auth` module).
pub const WRITE_SCOPE_NAME: &str = "movies.write";
/// The scope name, on the same resource server, that lets a machine client read every caller's
/// orders. A billing scope of its own: no movies scope, not even the admin one, reads orders
/// that are not the caller's.
pub const ORDERS_AUDIT_SCOPE_NAME: &str = "billing.audit";

/// What a caller may do with the catalogue, weakest first.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    /// Read movies (every signed-in caller).
    #[default]
    Reader,
    /// Also create, change and delete single movies.
    Editor,
    /// Also delete every movie.
    Admin,
}

/// Who may use the resource server's scopes, from the environment Terraform sets. Without both
/// variables only the groups count (the functions then fail closed for machine clients).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccessPolicy {
    scope: Option<String>,
    write_scope: Option<String>,
    audit_scope: Option<String>,
    client_ids: Vec<String>,
}

impl AccessPolicy {
    /// `<resource server identifier>/<scope name>`, e.g. `crud-master/movies.admin`.
    pub const SCOPE_VAR: &'static str = "ADMIN_SCOPE";
    /// Comma-separated app client ids that may hold the admin scope (the machine client).
    pub const CLIENTS_VAR: &'static str = "ADMIN_CLIENT_IDS";

    /// Only members of the `admin` group are admin.
    pub fn groups_only() -> Self {
        Self::default()
    }

    /// The admin scope, granted only to tokens of `client_ids`.
    pub fn with_scope(scope: &str, client_ids: &str) -> Result<Self, ConfigError> {
        let invalid = |name: &str, reason: &str| ConfigError::Invalid {
            name: name.to_owned(),
            reason: reason.to_owned(),
        };
        let scope = scope.trim();
        let Some((server, name)) = scope.split_once('/') else {
            return Err(invalid(
                Self::SCOPE_VAR,
                "must be <resource server identifier>/<scope name>",
            ));
        };
        if server.is_empty() || name.is_empty() || scope.chars().any(char::is_whitespace) {
            return Err(invalid(
                Self::SCOPE_VAR,
                "must be <resource server identifier>/<scope name>, without spaces",
            ));
        }
        let client_ids: Vec<String> = client_ids
            .split(',')
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .map(str::to_owned)
            .collect();
        if client_ids.is_empty() {
            return Err(ConfigError::Missing(Self::CLIENTS_VAR.to_owned()));
        }
        if client_ids
            .iter()
            .any(|c| c.chars().any(char::is_whitespace))
        {
            return Err(invalid(
                Self::CLIENTS_VAR,
                "client ids are separated by commas and contain no spaces",
            ));
        }
        Ok(Self {
            scope: Some(scope.to_owned()),
            write_scope: Some(format!("{server}/{WRITE_SCOPE_NAME}")),
            audit_scope: Some(format!("{server}/{ORDERS_AUDIT_SCOPE_NAME}")),
            client_ids,
        })
    }

    /// `ADMIN_SCOPE` and `ADMIN_CLIENT_IDS` together, or neither (groups only). One without
    /// the other is a configuration error naming the missing variable.
    pub fn from_env(env: &impl Env) -> Result<Self, ConfigError> {
        match (
            env.optional(Self::SCOPE_VAR),
            env.optional(Self::CLIENTS_VAR),
        ) {
            (None, None) => Ok(Self::groups_only()),
            (Some(scope), Some(clients)) => Self::with_scope(&scope, &clients),
            (Some(_), None) => Err(ConfigError::Missing(Self::CLIENTS_VAR.to_owned())),
            (None, Some(_)) => Err(ConfigError::Missing(Self::SCOPE_VAR.to_owned())),
        }
    }

    /// Whether a token of `client_id` carrying `scopes` holds `scope`: only the machine clients'
    /// resource-server scopes count.
    fn holds(&self, scope: &Option<String>, scopes: &[String], client_id: Option<&str>) -> bool {
        let machine = client_id.is_some_and(|c| self.client_ids.iter().any(|allowed| allowed == c));
        machine
            && scope
                .as_ref()
                .is_some_and(|want| scopes.iter().any(|s| s == want))
    }

    /// The catalogue role, on claims as API Gateway passes them.
    fn role(&self, groups: &[String], scopes: &[String], client_id: Option<&str>) -> Role {
        let in_group = |name: &str| groups.iter().any(|g| g == name);
        if in_group(ADMIN_GROUP) || self.holds(&self.scope, scopes, client_id) {
            Role::Admin
        } else if in_group(EDITORS_GROUP) || self.holds(&self.write_scope, scopes, client_id) {
            Role::Editor
        } else {
            Role::Reader
        }
    }

    /// The router with this policy attached, for the [`Principal`] extractor to find.
    pub fn attach(self, router: axum::Router) -> axum::Router {
        router.layer(axum::Extension(self))
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Principal {
    /// `sub`: the user, or the machine client for client-credentials tokens.
    pub subject: String,
    pub username: Option<String>,
    /// `client_id` (access tokens) or `aud` (id tokens).
    pub client_id: Option<String>,
    pub groups: Vec<String>,
    pub scopes: Vec<String>,
    /// Decided once, by [`AccessPolicy`], when the principal is read from the claims.
    role: Role,
    reads_every_order: bool,
}

impl Principal {
    pub fn from_claims(
        claims: &HashMap<String, String>,
        scopes: Option<&[String]>,
        policy: &AccessPolicy,
    ) -> Option<Self> {
        let subject = claims.get("sub")?.clone();
        let mut all_scopes: Vec<String> = claims
            .get("scope")
            .map(|s| s.split_whitespace().map(str::to_owned).collect())
            .unwrap_or_default();
        for s in scopes.unwrap_or_default() {
            if !all_scopes.contains(s) {
                all_scopes.push(s.clone());
            }
        }
        let groups = claims
            .get("cognito:groups")
            .map(|g| parse_groups(g))
            .unwrap_or_default();
        // Only an access token's `client_id` names the client that was granted its scopes.
        let role = policy.role(
            &groups,
            &all_scopes,
            claims.get("client_id").map(String::as_str),
        );
        Some(Self {
            subject,
            username: claims
                .get("username")
                .or_else(|| claims.get("cognito:username"))
                .cloned(),
            client_id: claims
                .get("client_id")
                .or_else(|| claims.get("aud"))
                .cloned(),
            groups,
            reads_every_order: policy.holds(
                &policy.audit_scope,
                &all_scopes,
                claims.get("client_id").map(String::as_str),
            ),
            scopes: all_scopes,
            role,
        })
    }

    pub fn from_request_context(ctx: &RequestContext, policy: &AccessPolicy) -> Option<Self> {
        match ctx {
            RequestContext::ApiGatewayV2(ctx) => {
                let jwt = ctx.authorizer.as_ref()?.jwt.as_ref()?;
                Self::from_claims(&jwt.claims, jwt.scopes.as_deref(), policy)
            }
            #[allow(unreachable_patterns)]
            _ => None,
        }
    }

    /// A member of the `admin` group, or the machine client holding the exact admin scope.
    /// `aws.cognito.signin.user.admin`, which every user token carries, is not an admin
    /// grant: it only lets a user manage their own profile.
    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }

    /// An editor or an admin: may create, change and delete single movies.
    pub fn may_edit(&self) -> bool {
        self.role >= Role::Editor
    }

    pub fn role(&self) -> Role {
        self.role
    }

    /// A machine client holding the orders audit scope: may read every caller's orders.
    pub fn reads_every_order(&self) -> bool {
        self.reads_every_order
    }

    /// A short label for logs and the `principal` column: the username, else the subject.
    pub fn label(&self) -> &str {
        self.username.as_deref().unwrap_or(&self.subject)
    }
}

/// The group names in a `cognito:groups` claim as API Gateway flattens it: `[a b]`.
///
/// Exactly one bracket is removed from each end and the rest is split on whitespace, and
/// nothing else: Cognito group names may hold any letter, mark, symbol, number or punctuation
/// but no whitespace (CreateGroup, `GroupName` pattern `[\p{L}\p{M}\p{S}\p{N}\p{P}]+`,
/// <https://docs.aws.amazon.com/cognito-user-identity-pools/latest/APIReference/API_CreateGroup.html>),
/// so a space always separates two names while `x,admin`, `"admin"` or `[admin` are whole
/// names that are not `admin`. A value without the brackets is not API Gateway's and yields
/// no groups.
pub fn parse_groups(raw: &str) -> Vec<String> {
    let Some(inner) = raw
        .strip_prefix('[')
        .and_then(|rest| rest.strip_suffix(']'))
    else {
        tracing::warn!(
            claim = raw,
            "cognito:groups is not API Gateway's [a b] form; no groups read"
        );
        return Vec::new();
    };
    inner.split_ascii_whitespace().map(str::to_owned).collect()
}

impl<S: Send + Sync> FromRequestParts<S> for Principal {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let fallback = AccessPolicy::groups_only();
        let policy = parts.extensions.get::<AccessPolicy>().unwrap_or(&fallback);
        parts
            .extensions
            .get::<RequestContext>()
            .and_then(|ctx| Self::from_request_context(ctx, policy))
            .ok_or_else(|| Problem::unauthorized("no verified token reached the function"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SCOPE: &str = "crud-master/movies.admin";
    const WRITE: &str = "crud-master/movies.write";
    const MACHINE: &str = "machine-client";
    const USER_CLIENT: &str = "user-client";

    fn policy() -> AccessPolicy {
        AccessPolicy::with_scope(SCOPE, MACHINE).unwrap()
    }

    fn principal(pairs: &[(&str, &str)]) -> Principal {
        let claims: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).into(), (*v).into()))
            .collect();
        Principal::from_claims(&claims, None, &policy()).unwrap()
    }

    fn user(groups: &str) -> Principal {
        principal(&[
            ("sub", "u"),
            ("client_id", USER_CLIENT),
            ("scope", "aws.cognito.signin.user.admin"),
            ("cognito:groups", groups),
        ])
    }

    fn machine(client_id: &str, scope: &str) -> Principal {
        principal(&[
            ("sub", client_id),
            ("client_id", client_id),
            ("scope", scope),
        ])
    }

    #[test]
    fn groups_are_read_only_in_api_gateways_bracketed_form() {
        assert_eq!(parse_groups("[admin user]"), vec!["admin", "user"]);
        assert_eq!(parse_groups("[admin]"), vec!["admin"]);
        assert!(parse_groups("[]").is_empty());
        // Names with punctuation stay whole: only whitespace separates names.
        assert_eq!(parse_groups("[x,admin user]"), vec!["x,admin", "user"]);
        assert_eq!(parse_groups(r#"["admin"]"#), vec![r#""admin""#]);
        assert_eq!(parse_groups("[[admin user]"), vec!["[admin", "user"]);
        assert_eq!(parse_groups("[user admin]]"), vec!["user", "admin]"]);
        assert!(parse_groups("admin").is_empty(), "not API Gateway's form");
        assert!(
            parse_groups(r#"["admin","user"]"#)
                .iter()
                .all(|g| g != "admin")
        );
    }

    #[test]
    fn the_admin_group_matched_exactly_is_admin() {
        assert!(user("[admin user]").is_admin());
        assert!(user("[user admin]").is_admin());
        for groups in [
            "[user]",
            "[x,admin]",
            "[admin,x]",
            r#"["admin"]"#,
            "[[admin]",
            "[admin]]",
            "[Admin]",
            "[administrators]",
            "admin",
            "[]",
        ] {
            assert!(!user(groups).is_admin(), "groups {groups}");
        }
    }

    #[test]
    fn the_cognito_self_service_scope_is_not_admin() {
        assert!(!user("[user]").is_admin());
        assert!(!machine(MACHINE, "aws.cognito.signin.user.admin").is_admin());
    }

    #[test]
    fn editors_are_the_editors_or_admin_group_or_the_machine_clients_write_scope() {
        assert_eq!(user("[editors]").role(), Role::Editor);
        assert_eq!(user("[viewers editors]").role(), Role::Editor);
        assert_eq!(user("[admin]").role(), Role::Admin);
        assert!(user("[admin]").may_edit());
        assert_eq!(machine(MACHINE, WRITE).role(), Role::Editor);
        assert_eq!(machine(MACHINE, SCOPE).role(), Role::Admin);
        let readers = [
            user("[]"),
            user("[viewers]"),
            user("[Editors]"),
            user("[editors,x]"),
            user("editors"),
            machine(MACHINE, "crud-master/movies.read"),
            machine(MACHINE, "movies.write"),
            machine(MACHINE, "other-server/movies.write"),
            machine(USER_CLIENT, WRITE),
            machine("someone-else", WRITE),
        ];
        for p in readers {
            assert_eq!(p.role(), Role::Reader, "{p:?}");
            assert!(!p.may_edit() && !p.is_admin(), "{p:?}");
        }
        // Without a configured resource server no scope makes an editor.
        let claims: HashMap<String, String> =
            [("sub", MACHINE), ("client_id", MACHINE), ("scope", WRITE)]
                .iter()
                .map(|(k, v)| ((*k).into(), (*v).into()))
                .collect();
        let p = Principal::from_claims(&claims, None, &AccessPolicy::groups_only()).unwrap();
        assert_eq!(p.role(), Role::Reader);
    }

    #[test]
    fn only_the_machine_clients_audit_scope_reads_every_order() {
        assert!(machine(MACHINE, "crud-master/billing.audit").reads_every_order());
        for p in [
            machine(MACHINE, SCOPE),
            machine(MACHINE, "crud-master/billing.read"),
            machine(USER_CLIENT, "crud-master/billing.audit"),
            user("[admin]"),
        ] {
            assert!(!p.reads_every_order(), "{p:?}");
        }
    }

    #[test]
    fn only_the_exact_admin_scope_from_the_machine_client_is_admin() {
        assert!(machine(MACHINE, SCOPE).is_admin());
        assert!(machine(MACHINE, &format!("crud-master/movies.read {SCOPE}")).is_admin());
        let not_admin = [
            (MACHINE, "admin", "a bare admin scope"),
            (
                MACHINE,
                "movies.admin",
                "the scope without its resource server",
            ),
            (MACHINE, "crud-master/admin", "another admin-looking scope"),
            (
                MACHINE,
                "other-server/movies.admin",
                "another resource server",
            ),
            (MACHINE, "x/crud-master/movies.admin", "a suffix match"),
            (MACHINE, "crud-master/movies.admin2", "a prefix match"),
            (MACHINE, "CRUD-MASTER/MOVIES.ADMIN", "another case"),
            (
                MACHINE,
                "crud-master/movies.read crud-master/movies.write",
                "no admin scope",
            ),
            (
                USER_CLIENT,
                SCOPE,
                "the user client holding the admin scope",
            ),
            (
                "someone-else",
                SCOPE,
                "an unknown client holding the admin scope",
            ),
        ];
        for (client, scope, why) in not_admin {
            assert!(!machine(client, scope).is_admin(), "{why}");
        }
    }

    #[test]
    fn the_admin_scope_needs_client_id_not_aud() {
        // An id token names its client in `aud` and carries no scope; even with a scope
        // claim forged in, `aud` is not the client the scope was granted to.
        let id = principal(&[("sub", "u"), ("aud", MACHINE), ("scope", SCOPE)]);
        assert_eq!(id.client_id.as_deref(), Some(MACHINE));
        assert!(!id.is_admin());
    }

    #[test]
    fn the_authorizers_scope_list_is_matched_exactly_too() {
        let claims: HashMap<String, String> = [("sub", MACHINE), ("client_id", MACHINE)]
            .iter()
            .map(|(k, v)| ((*k).into(), (*v).into()))
            .collect();
        let admin = Principal::from_claims(&claims, Some(&[SCOPE.to_owned()]), &policy());
        assert!(admin.unwrap().is_admin());
        let bare = Principal::from_claims(&claims, Some(&["admin".to_owned()]), &policy());
        assert!(!bare.unwrap().is_admin());
    }

    #[test]
    fn without_a_configured_scope_only_the_group_is_admin() {
        let claims: HashMap<String, String> =
            [("sub", MACHINE), ("client_id", MACHINE), ("scope", SCOPE)]
                .iter()
                .map(|(k, v)| ((*k).into(), (*v).into()))
                .collect();
        let p = Principal::from_claims(&claims, None, &AccessPolicy::groups_only()).unwrap();
        assert!(!p.is_admin());
        assert!(Principal::from_claims(&HashMap::new(), None, &policy()).is_none());
    }

    #[test]
    fn the_policy_comes_from_both_variables_or_neither() {
        let none: [(&str, &str); 0] = [];
        assert_eq!(
            AccessPolicy::from_env(&none),
            Ok(AccessPolicy::groups_only())
        );
        let both = [("ADMIN_SCOPE", SCOPE), ("ADMIN_CLIENT_IDS", " a , b ")];
        let p = AccessPolicy::from_env(&both).unwrap();
        assert_eq!(p.client_ids, vec!["a", "b"]);
        assert_eq!(
            AccessPolicy::from_env(&[("ADMIN_SCOPE", SCOPE)]),
            Err(ConfigError::Missing("ADMIN_CLIENT_IDS".into()))
        );
        assert_eq!(
            AccessPolicy::from_env(&[("ADMIN_CLIENT_IDS", MACHINE)]),
            Err(ConfigError::Missing("ADMIN_SCOPE".into()))
        );
        assert_eq!(
            AccessPolicy::from_env(&[("ADMIN_SCOPE", SCOPE), ("ADMIN_CLIENT_IDS", " , ")]),
            Err(ConfigError::Missing("ADMIN_CLIENT_IDS".into()))
        );
        for bad in [
            "admin",
            "/movies.admin",
            "crud-master/",
            "crud-master/movies admin",
        ] {
            let err =
                AccessPolicy::from_env(&[("ADMIN_SCOPE", bad), ("ADMIN_CLIENT_IDS", MACHINE)])
                    .unwrap_err();
            assert!(err.to_string().contains("ADMIN_SCOPE"), "{bad}: {err}");
        }
        let err = AccessPolicy::from_env(&[("ADMIN_SCOPE", SCOPE), ("ADMIN_CLIENT_IDS", "a b")])
            .unwrap_err();
        assert!(err.to_string().contains("ADMIN_CLIENT_IDS"), "{err}");
    }

    fn context(claims: serde_json::Value) -> RequestContext {
        let ctx = serde_json::json!({
            "routeKey": "DELETE /api/movies", "accountId": "1", "stage": "$default",
            "requestId": "r", "apiId": "a", "domainName": "d", "timeEpoch": 0,
            "http": {"method": "DELETE", "path": "/api/movies", "protocol": "HTTP/1.1",
                     "sourceIp": "127.0.0.1", "userAgent": "t"},
            "authorizer": {"jwt": {"claims": claims, "scopes": null}},
        });
        RequestContext::ApiGatewayV2(serde_json::from_value(ctx).unwrap())
    }

    async fn extract(
        ctx: RequestContext,
        policy: Option<AccessPolicy>,
    ) -> Result<Principal, Problem> {
        let (mut parts, ()) = http::Request::new(()).into_parts();
        parts.extensions.insert(ctx);
        if let Some(p) = policy {
            parts.extensions.insert(p);
        }
        Principal::from_request_parts(&mut parts, &()).await
    }

    #[tokio::test]
    async fn the_extractor_uses_the_attached_policy_and_fails_closed_without_one() {
        let claims = serde_json::json!({"sub": MACHINE, "client_id": MACHINE, "scope": SCOPE});
        assert!(
            extract(context(claims.clone()), Some(policy()))
                .await
                .unwrap()
                .is_admin()
        );
        assert!(!extract(context(claims), None).await.unwrap().is_admin());
        let (mut parts, ()) = http::Request::new(()).into_parts();
        let refused = Principal::from_request_parts(&mut parts, &()).await;
        assert_eq!(
            refused.unwrap_err().status(),
            http::StatusCode::UNAUTHORIZED
        );
    }
}
