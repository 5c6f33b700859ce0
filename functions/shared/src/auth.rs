//! Who is calling, from the JWT claims API Gateway's authorizer put in the request context.
//!
//! The authorizer has already checked the signature, issuer, client and expiry; here we only
//! read the claims. They arrive as strings: `cognito:groups` is `"[admin user]"`.

use std::collections::HashMap;

use axum::extract::FromRequestParts;
use http::request::Parts;
use lambda_http::request::RequestContext;

use crate::Problem;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Principal {
    /// `sub`: the user, or the machine client for client-credentials tokens.
    pub subject: String,
    pub username: Option<String>,
    pub client_id: Option<String>,
    pub groups: Vec<String>,
    pub scopes: Vec<String>,
}

impl Principal {
    pub fn from_claims(
        claims: &HashMap<String, String>,
        scopes: Option<&[String]>,
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
            groups: claims
                .get("cognito:groups")
                .map(|g| parse_list(g))
                .unwrap_or_default(),
            scopes: all_scopes,
        })
    }

    pub fn from_request_context(ctx: &RequestContext) -> Option<Self> {
        match ctx {
            RequestContext::ApiGatewayV2(ctx) => {
                let jwt = ctx.authorizer.as_ref()?.jwt.as_ref()?;
                Self::from_claims(&jwt.claims, jwt.scopes.as_deref())
            }
            #[allow(unreachable_patterns)]
            _ => None,
        }
    }

    /// Members of the Cognito `admin` group, or machine clients granted an `admin` scope of
    /// our resource server. `aws.cognito.signin.user.admin`, which every user token carries,
    /// is not an admin grant: it only lets a user manage their own profile.
    pub fn is_admin(&self) -> bool {
        self.groups.iter().any(|g| g == "admin")
            || self.scopes.iter().any(|s| {
                s == "admin"
                    || s.rsplit_once('/')
                        .is_some_and(|(_, name)| name == "admin" || name == "movies.admin")
            })
    }

    /// A short label for logs and the `principal` column: the username, else the subject.
    pub fn label(&self) -> &str {
        self.username.as_deref().unwrap_or(&self.subject)
    }
}

/// Parses a claim that API Gateway flattened to a string: `[a b]`, `["a","b"]` or `a`.
pub fn parse_list(raw: &str) -> Vec<String> {
    let raw = raw.trim();
    if let Ok(list) = serde_json::from_str::<Vec<String>>(raw) {
        return list;
    }
    raw.trim_start_matches('[')
        .trim_end_matches(']')
        .split([' ', ','])
        .map(|s| s.trim_matches('"'))
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

impl<S: Send + Sync> FromRequestParts<S> for Principal {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<RequestContext>()
            .and_then(Self::from_request_context)
            .ok_or_else(|| Problem::unauthorized("no verified token reached the function"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).into(), (*v).into()))
            .collect()
    }

    #[test]
    fn groups_arrive_as_bracketed_strings() {
        assert_eq!(parse_list("[admin user]"), vec!["admin", "user"]);
        assert_eq!(parse_list(r#"["admin","user"]"#), vec!["admin", "user"]);
        assert_eq!(parse_list("admin"), vec!["admin"]);
        assert!(parse_list("[]").is_empty());
    }

    #[test]
    fn admin_comes_from_group_or_admin_scope_only() {
        let user = Principal::from_claims(
            &claims(&[
                ("sub", "1"),
                ("scope", "aws.cognito.signin.user.admin"),
                ("cognito:groups", "[user]"),
            ]),
            None,
        )
        .unwrap();
        assert!(
            !user.is_admin(),
            "the Cognito self-service scope is not admin"
        );
        let admin = Principal::from_claims(
            &claims(&[("sub", "2"), ("cognito:groups", "[admin user]")]),
            None,
        )
        .unwrap();
        assert!(admin.is_admin());
        let machine = Principal::from_claims(
            &claims(&[
                ("sub", "c"),
                ("scope", "crud-master/movies.read crud-master/movies.admin"),
            ]),
            None,
        )
        .unwrap();
        assert!(machine.is_admin());
        assert!(Principal::from_claims(&claims(&[("username", "x")]), None).is_none());
    }
}
