//! API Gateway's JWT authorizer, against a Cognito user pool's JWKS.
//!
//! Rules (those of API Gateway's JWT authorizer, docs/security.md): RS256 only; the key is found by `kid` in the JWKS (cached, fetched
//! again when a token names a `kid` we do not know, at most once per [`JWKS_MIN_REFRESH`]);
//! `iss` must equal the pool's issuer; `aud` (id tokens) or, when there is no `aud`,
//! `client_id` (access tokens) must be an allowed client; `exp` and `nbf` are checked with a
//! small leeway. Any failure is a 401 whose `WWW-Authenticate` says why, as API Gateway does.
//! Then the route's scopes: the token's `scope` claim must hold one of them, else 403.
//!
//! JWKS fetches never hold the key cache's lock and run one at a time (single flight: requests
//! that need the keys while a fetch is under way wait for that fetch instead of starting
//! their own); a failed fetch is remembered for [`JWKS_FAILURE_TTL`], during which tokens
//! that need a fetch are refused at once. Tokens whose key is cached never wait for a fetch, so
//! a slow or down JWKS endpoint cannot stall them.

use std::collections::HashMap;
use std::sync::RwLock;
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Map, Value};

pub const JWKS_MIN_REFRESH: Duration = Duration::from_secs(5);
/// How long a failed JWKS fetch is remembered (no new fetch, immediate 401s).
pub const JWKS_FAILURE_TTL: Duration = Duration::from_secs(5);
/// A JWKS fetch that takes longer fails.
pub const JWKS_TIMEOUT: Duration = Duration::from_secs(3);

#[derive(Debug, Clone)]
pub struct AuthorizerConfig {
    /// `https://cognito-idp.<region>.amazonaws.com/<pool id>`: what Cognito (and moto) put in `iss`.
    pub issuer: String,
    /// Where the keys are: on AWS `<issuer>/.well-known/jwks.json`; on moto
    /// `<AWS_ENDPOINT_URL>/<pool id>/.well-known/jwks.json`.
    pub jwks_url: String,
    /// The app client ids allowed (API Gateway's `audience` list).
    pub audiences: Vec<String>,
    pub leeway_secs: u64,
    /// How often an unknown `kid` may trigger a JWKS fetch.
    pub jwks_min_refresh: Duration,
    /// How long a failed fetch is remembered.
    pub jwks_failure_ttl: Duration,
    /// The time budget of one fetch.
    pub jwks_timeout: Duration,
}

impl AuthorizerConfig {
    /// The configuration for a Cognito pool served by an AWS endpoint (moto locally).
    pub fn cognito(endpoint: &str, region: &str, pool_id: &str, clients: Vec<String>) -> Self {
        Self {
            issuer: format!("https://cognito-idp.{region}.amazonaws.com/{pool_id}"),
            jwks_url: format!(
                "{}/{pool_id}/.well-known/jwks.json",
                endpoint.trim_end_matches('/')
            ),
            audiences: clients,
            leeway_secs: 30,
            jwks_min_refresh: JWKS_MIN_REFRESH,
            jwks_failure_ttl: JWKS_FAILURE_TTL,
            jwks_timeout: JWKS_TIMEOUT,
        }
    }
}

/// Why a request was not authorized.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("no bearer token")]
    Missing,
    #[error("{0}")]
    Invalid(String),
    /// A valid token without any of the route's scopes (an ID token has none at all).
    #[error("the token has none of the route's scopes {0:?}")]
    InsufficientScope(Vec<String>),
}

impl AuthError {
    pub fn status(&self) -> u16 {
        match self {
            Self::InsufficientScope(_) => 403,
            _ => 401,
        }
    }

    /// The `WWW-Authenticate` value (RFC 6750 section 3), as API Gateway's HTTP API words it:
    /// a bare `Bearer` without a token; `scope="" error="invalid_token"` and a description for
    /// a bad one (the AWS guide "Troubleshooting issues with HTTP API JWT authorizers",
    /// <https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-troubleshooting-jwt.html>);
    /// the route's scopes and `error="insufficient_scope"` for a token without them, as a
    /// deployed HTTP API answers (403 `{"message":"Forbidden"}`, recorded in
    /// <https://github.com/LeonardSchuler/aws-secure-serverless-api> README).
    pub fn www_authenticate(&self) -> String {
        match self {
            Self::Missing => "Bearer".into(),
            Self::Invalid(reason) => format!(
                r#"Bearer scope="" error="invalid_token" error_description="{}""#,
                reason.replace('"', "'")
            ),
            Self::InsufficientScope(required) => {
                let scopes = required.join(" ").replace('"', "'");
                format!(
                    r#"Bearer scope="{scopes}" error="insufficient_scope" error_description="expected scopes: [{scopes}]""#
                )
            }
        }
    }
}

/// The verified claims and the token's scopes.
#[derive(Debug, Clone)]
pub struct Verified {
    pub claims: Map<String, Value>,
    pub scopes: Vec<String>,
}

pub struct Authorizer {
    cfg: AuthorizerConfig,
    http: reqwest::Client,
    /// Held only to read or swap the cache, never across an await.
    keys: RwLock<Keys>,
    /// Held for the whole of a JWKS fetch: one fetch at a time.
    fetching: tokio::sync::Mutex<()>,
    /// Tokens whose signature, issuer and client already checked out, so a client sending the
    /// same token again costs a map lookup instead of an RSA verification. Time-based rules
    /// (`exp`, `nbf`) and the signing key's presence are checked again on every hit.
    verified: std::sync::Mutex<HashMap<String, Remembered>>,
}

struct Remembered {
    verified: Verified,
    kid: String,
    exp: Option<f64>,
    nbf: Option<f64>,
}

/// Bounds the memory of remembered tokens; when full the map starts over.
const REMEMBERED_MAX: usize = 4096;

#[derive(Default)]
struct Keys {
    by_kid: HashMap<String, DecodingKey>,
    fetched: Option<Instant>,
    /// When the last fetch failed, if it did (cleared by a successful one).
    failed: Option<Instant>,
}

/// What the cache says about a `kid`.
enum Cached {
    Key(DecodingKey),
    /// Unknown, and a fetch is allowed now.
    Fetch,
    /// Refused without a fetch: the keys were fetched too recently, or the last fetch failed
    /// moments ago.
    Refuse(AuthError),
}

fn invalid(reason: impl Into<String>) -> AuthError {
    AuthError::Invalid(reason.into())
}

impl Authorizer {
    pub fn new(cfg: AuthorizerConfig) -> Self {
        let http = reqwest::Client::builder()
            .timeout(cfg.jwks_timeout)
            .connect_timeout(cfg.jwks_timeout)
            .build()
            .unwrap_or_default();
        Self {
            cfg,
            http,
            keys: RwLock::new(Keys::default()),
            fetching: tokio::sync::Mutex::new(()),
            verified: std::sync::Mutex::new(HashMap::new()),
        }
    }

    /// A token verified before, if its times still hold and its key is still published.
    async fn remembered(&self, token: &str) -> Option<Verified> {
        let (kid, exp, nbf, verified) = {
            let map = self.verified.lock().ok()?;
            let r = map.get(token)?;
            (r.kid.clone(), r.exp, r.nbf, r.verified.clone())
        };
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .ok()?
            .as_secs_f64();
        let leeway = self.cfg.leeway_secs as f64;
        let in_time =
            exp.is_some_and(|e| now <= e + leeway) && nbf.is_none_or(|n| now + leeway >= n);
        let key_published = self
            .keys
            .read()
            .is_ok_and(|keys| keys.by_kid.contains_key(&kid));
        if !in_time || !key_published {
            if let Ok(mut map) = self.verified.lock() {
                map.remove(token);
            }
            return None;
        }
        Some(verified)
    }

    fn remember(&self, token: &str, kid: String, verified: &Verified) {
        let time = |name: &str| verified.claims.get(name).and_then(Value::as_f64);
        if let Ok(mut map) = self.verified.lock() {
            if map.len() >= REMEMBERED_MAX {
                map.clear();
            }
            map.insert(
                token.to_owned(),
                Remembered {
                    verified: verified.clone(),
                    kid,
                    exp: time("exp"),
                    nbf: time("nbf"),
                },
            );
        }
    }

    /// Checks an `Authorization` header value and the route's required scopes.
    pub async fn authorize(
        &self,
        authorization: Option<&str>,
        required_scopes: &[String],
    ) -> Result<Verified, AuthError> {
        let header = authorization.map(str::trim).filter(|h| !h.is_empty());
        let Some(header) = header else {
            return Err(AuthError::Missing);
        };
        // API Gateway accepts the token with or without the `Bearer ` prefix.
        let token = match header.split_once(' ') {
            Some((scheme, rest)) if scheme.eq_ignore_ascii_case("bearer") => rest.trim(),
            Some(_) => return Err(invalid("unsupported authorization scheme")),
            None => header,
        };
        let verified = self.verify(token).await?;
        if !required_scopes.is_empty()
            && !required_scopes.iter().any(|s| verified.scopes.contains(s))
        {
            return Err(AuthError::InsufficientScope(required_scopes.to_vec()));
        }
        Ok(verified)
    }

    pub async fn verify(&self, token: &str) -> Result<Verified, AuthError> {
        if let Some(verified) = self.remembered(token).await {
            return Ok(verified);
        }
        let header = jsonwebtoken::decode_header(token)
            .map_err(|e| invalid(format!("malformed token: {e}")))?;
        if header.alg != Algorithm::RS256 {
            return Err(invalid(format!(
                "signing method {:?} is invalid",
                header.alg
            )));
        }
        let kid = header.kid.ok_or_else(|| invalid("the token has no kid"))?;
        let key = self.key(&kid).await?;
        let verified = self.verify_with(token, &key)?;
        self.remember(token, kid, &verified);
        Ok(verified)
    }

    /// The signature, issuer, times and client of `token`, with `key`.
    fn verify_with(&self, token: &str, key: &DecodingKey) -> Result<Verified, AuthError> {
        let mut validation = Validation::new(Algorithm::RS256);
        validation.leeway = self.cfg.leeway_secs;
        validation.validate_exp = true;
        validation.validate_nbf = true;
        validation.validate_aud = false;
        validation.set_issuer(&[&self.cfg.issuer]);
        validation.set_required_spec_claims(&["exp", "iss"]);
        let data =
            jsonwebtoken::decode::<Map<String, Value>>(token, key, &validation).map_err(|e| {
                use jsonwebtoken::errors::ErrorKind;
                invalid(match e.kind() {
                    ErrorKind::ExpiredSignature => "the token has expired".to_owned(),
                    ErrorKind::ImmatureSignature => "the token is not valid yet".to_owned(),
                    ErrorKind::InvalidIssuer => "the token has an invalid issuer".to_owned(),
                    ErrorKind::InvalidSignature => "the token signature is invalid".to_owned(),
                    other => format!("invalid token: {other:?}"),
                })
            })?;
        let claims = data.claims;
        self.check_client(&claims)?;
        let scopes = claims
            .get("scope")
            .and_then(Value::as_str)
            .map(|s| s.split_whitespace().map(str::to_owned).collect())
            .unwrap_or_default();
        Ok(Verified { claims, scopes })
    }

    fn check_client(&self, claims: &Map<String, Value>) -> Result<(), AuthError> {
        let allowed = |v: &str| self.cfg.audiences.iter().any(|a| a == v);
        match claims.get("aud") {
            Some(Value::String(aud)) if allowed(aud) => Ok(()),
            Some(Value::Array(auds)) if auds.iter().filter_map(Value::as_str).any(allowed) => {
                Ok(())
            }
            Some(_) => Err(invalid("the token has an invalid audience")),
            None => match claims.get("client_id").and_then(Value::as_str) {
                Some(c) if allowed(c) => Ok(()),
                Some(_) => Err(invalid("the token has an invalid client_id")),
                None => Err(invalid("the token has neither aud nor client_id")),
            },
        }
    }

    fn cached(&self, kid: &str) -> Cached {
        let Ok(keys) = self.keys.read() else {
            return Cached::Refuse(invalid("the signing keys are unavailable"));
        };
        if let Some(k) = keys.by_kid.get(kid) {
            return Cached::Key(k.clone());
        }
        if keys
            .failed
            .is_some_and(|t| t.elapsed() < self.cfg.jwks_failure_ttl)
        {
            return Cached::Refuse(invalid("the signing keys could not be fetched"));
        }
        // An unknown kid may mean the pool rotated its keys: fetch again, but not on every
        // request that carries a made-up kid.
        if keys
            .fetched
            .is_some_and(|t| t.elapsed() < self.cfg.jwks_min_refresh)
        {
            return Cached::Refuse(invalid("the token was signed by an unknown key"));
        }
        Cached::Fetch
    }

    async fn key(&self, kid: &str) -> Result<DecodingKey, AuthError> {
        match self.cached(kid) {
            Cached::Key(k) => return Ok(k),
            Cached::Refuse(e) => return Err(e),
            Cached::Fetch => {}
        }
        let _flight = self.fetching.lock().await;
        // The fetch we waited for may have brought the key, or failed.
        match self.cached(kid) {
            Cached::Key(k) => return Ok(k),
            Cached::Refuse(e) => return Err(e),
            Cached::Fetch => {}
        }
        let fetched = self.fetch().await;
        let Ok(mut keys) = self.keys.write() else {
            return Err(invalid("the signing keys are unavailable"));
        };
        match fetched {
            Ok(fresh) => {
                keys.by_kid = fresh;
                keys.fetched = Some(Instant::now());
                keys.failed = None;
            }
            Err(e) => {
                keys.failed = Some(Instant::now());
                tracing::error!(url = %self.cfg.jwks_url, error = %e, "could not fetch the JWKS");
                return Err(invalid("the signing keys could not be fetched"));
            }
        }
        keys.by_kid
            .get(kid)
            .cloned()
            .ok_or_else(|| invalid("the token was signed by an unknown key"))
    }

    async fn fetch(&self) -> Result<HashMap<String, DecodingKey>, String> {
        let set: JwkSet = self
            .http
            .get(&self.cfg.jwks_url)
            .send()
            .await
            .and_then(|r| r.error_for_status())
            .map_err(|e| e.to_string())?
            .json()
            .await
            .map_err(|e| e.to_string())?;
        Ok(set
            .keys
            .iter()
            .filter_map(|jwk| {
                let kid = jwk.common.key_id.clone()?;
                DecodingKey::from_jwk(jwk).ok().map(|k| (kid, k))
            })
            .collect())
    }
}

/// Claims as API Gateway passes them to the function: every value a string; arrays print as
/// `[a b]` and objects as `map[k:v]` (API Gateway is written in Go and uses its `%v`).
pub fn flatten_claims(claims: &Map<String, Value>) -> Map<String, Value> {
    claims
        .iter()
        .map(|(k, v)| (k.clone(), Value::String(go_format(v))))
        .collect()
}

fn go_format(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => match (n.as_i64(), n.as_u64(), n.as_f64()) {
            (Some(i), _, _) => i.to_string(),
            (_, Some(u), _) => u.to_string(),
            (_, _, Some(f)) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{f:.0}"),
            _ => n.to_string(),
        },
        Value::Array(items) => format!(
            "[{}]",
            items.iter().map(go_format).collect::<Vec<_>>().join(" ")
        ),
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            let parts: Vec<String> = keys
                .iter()
                .map(|k| format!("{k}:{}", go_format(&map[*k])))
                .collect();
            format!("map[{}]", parts.join(" "))
        }
    }
}

#[cfg(test)]
mod tests;
