//! The web client on the gateway's own origin, as CloudFront serves it on AWS (`web/`,
//! docs/web.md): every path outside the HTTP API's (`/api/`, `/health`) is a file of the built
//! client (`web/dist`, S3's role), `/config.json` tells the client where to sign in, and each
//! answer carries the response headers policy's headers, the Content-Security-Policy from
//! `web/csp.txt` (the file Terraform reads too).
//!
//! And Cognito's managed login, which moto does not have: `/_cognito/oauth2/authorize` (a sign-in
//! form), `/_cognito/oauth2/token` (the authorization code with PKCE, and the refresh token) and
//! `/_cognito/logout`, as documented in
//! <https://docs.aws.amazon.com/cognito/latest/developerguide/authorization-endpoint.html>,
//! <https://docs.aws.amazon.com/cognito/latest/developerguide/token-endpoint.html> and
//! <https://docs.aws.amazon.com/cognito/latest/developerguide/logout-endpoint.html>. The form's
//! password goes to moto's `InitiateAuth` (`USER_PASSWORD_AUTH`), so the tokens are moto's, as
//! `make token` gets them; the client runs the same code against this and Cognito.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use base64::Engine as _;
use bytes::Bytes;
use http::{HeaderValue, Method, Response, StatusCode, header};
use http_body_util::Full;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// The path prefix of the local managed login (Cognito serves it on its own domain).
pub const LOGIN_PREFIX: &str = "/_cognito";

/// Scopes the client asks for: what the user client may grant and the routes accept from people.
pub const SCOPES: &str = "openid email aws.cognito.signin.user.admin";

/// A code is short-lived and good once: "A maximum authorization code lifetime of 10 minutes is
/// RECOMMENDED" (RFC 6749, 4.1.2); Cognito's own pages give no figure.
const CODE_LIFETIME: Duration = Duration::from_secs(300);

/// The `web:` section of the gateway config.
#[derive(Debug, Clone)]
pub struct WebConfig {
    /// The built client (`make web`).
    pub dist: PathBuf,
    /// The Content-Security-Policy, `{auth_origin}` to be replaced by the sign-in origin.
    pub csp_file: PathBuf,
    /// moto, for the managed login's `InitiateAuth`.
    pub cognito_endpoint: String,
    pub region: String,
    /// The user app client: the one the client signs in with.
    pub client_id: String,
}

/// What a code stands for until the client redeems it.
struct Grant {
    tokens: Value,
    challenge: String,
    client_id: String,
    redirect_uri: String,
    issued: Instant,
}

pub struct Web {
    cfg: WebConfig,
    csp: String,
    grants: Mutex<HashMap<String, Grant>>,
    /// Refresh tokens revoked at `/oauth2/revoke` (moto has no RevokeToken): refused after.
    revoked: Mutex<std::collections::HashSet<String>>,
    http: reqwest::Client,
}

type Answer = Response<Full<Bytes>>;

impl Web {
    pub fn new(cfg: WebConfig) -> std::io::Result<Self> {
        let csp = std::fs::read_to_string(&cfg.csp_file)?;
        // Same origin locally: the sign-in origin is 'self'.
        let csp = csp
            .trim()
            .replace(" {auth_origin}", "")
            .replace("{auth_origin}", "");
        Ok(Self {
            cfg,
            csp,
            grants: Mutex::new(HashMap::new()),
            revoked: Mutex::new(std::collections::HashSet::new()),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .unwrap_or_default(),
        })
    }

    /// A file of the built client, or `/config.json`, for `GET`/`HEAD` of `path` on `host`.
    pub fn file(&self, method: &Method, path: &str, host: &str) -> Answer {
        if method != Method::GET && method != Method::HEAD {
            return self.headers(text(StatusCode::METHOD_NOT_ALLOWED, "Method Not Allowed"));
        }
        if path == "/config.json" {
            let config = json!({
                "authority": format!("http://{host}{LOGIN_PREFIX}"),
                "clientId": self.cfg.client_id,
                "scopes": SCOPES,
                "api": "/api",
            });
            let mut resp = body(StatusCode::OK, config.to_string(), "application/json");
            no_cache(&mut resp);
            return self.headers(resp);
        }
        let Some(relative) = safe_relative(path) else {
            return self.headers(text(StatusCode::NOT_FOUND, "Not Found"));
        };
        let file = self.cfg.dist.join(&relative);
        match std::fs::read(&file) {
            Ok(bytes) => {
                let mut resp = Response::new(Full::new(Bytes::from(bytes)));
                let h = resp.headers_mut();
                h.insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static(content_type(&file)),
                );
                // Hashed names never change; everything else is checked on every load.
                let cache = if relative.starts_with("assets/") {
                    "public, max-age=31536000, immutable"
                } else {
                    "no-cache"
                };
                h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
                self.headers(resp)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && relative == "index.html" => self
                .headers(text(
                    StatusCode::NOT_FOUND,
                    &format!(
                        "{} is missing: build the web client (make web)",
                        file.display()
                    ),
                )),
            Err(_) => self.headers(text(StatusCode::NOT_FOUND, "Not Found")),
        }
    }

    /// The response headers policy CloudFront adds to every answer (terraform/modules/web).
    fn headers(&self, mut resp: Answer) -> Answer {
        let h = resp.headers_mut();
        if let Ok(v) = HeaderValue::from_str(&self.csp) {
            h.insert(header::CONTENT_SECURITY_POLICY, v);
        }
        h.insert(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        );
        h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
        h.insert(
            header::REFERRER_POLICY,
            // index.html's first requests (its script and style sheet) leave before the script
            // can take `?code=` out of the address: no Referer carries it (RFC 9700, 4.2).
            HeaderValue::from_static("no-referrer"),
        );
        resp
    }

    /// `/_cognito/...`: the local managed login.
    pub async fn login(
        &self,
        method: &Method,
        rest: &str,
        query: &str,
        form: &[u8],
        host: &str,
    ) -> Answer {
        let origin = format!("http://{host}/");
        match (method, rest) {
            (&Method::GET, "/oauth2/authorize") => {
                let q = parse_form(query.as_bytes());
                match self.check_authorize(&q, &origin) {
                    Ok(()) => login_page(&q, None),
                    Err(why) => login_error(why),
                }
            }
            (&Method::POST, "/login") => {
                let f = parse_form(form);
                if let Err(why) = self.check_authorize(&f, &origin) {
                    return login_error(why);
                }
                let (user, password) = (get(&f, "username"), get(&f, "password"));
                let tokens = self
                    .initiate_auth(
                        json!({"USERNAME": user, "PASSWORD": password}),
                        "USER_PASSWORD_AUTH",
                    )
                    .await;
                match tokens {
                    Ok(tokens) => {
                        let code = uuid::Uuid::new_v4().to_string();
                        let grant = Grant {
                            tokens,
                            challenge: get(&f, "code_challenge").to_owned(),
                            client_id: get(&f, "client_id").to_owned(),
                            redirect_uri: get(&f, "redirect_uri").to_owned(),
                            issued: Instant::now(),
                        };
                        if let Ok(mut g) = self.grants.lock() {
                            g.retain(|_, v| v.issued.elapsed() < CODE_LIFETIME);
                            g.insert(code.clone(), grant);
                        }
                        let mut to = format!("{}?code={}", get(&f, "redirect_uri"), encode(&code));
                        if !get(&f, "state").is_empty() {
                            to.push_str(&format!("&state={}", encode(get(&f, "state"))));
                        }
                        redirect(&to)
                    }
                    Err(LoginFailure::Refused) => {
                        login_page(&f, Some("Incorrect username or password."))
                    }
                    Err(LoginFailure::Unavailable(e)) => {
                        tracing::error!(error = %e, "the local managed login could not reach moto");
                        login_error("the local Cognito (moto) did not answer: is make services up?")
                    }
                }
            }
            (&Method::POST, "/oauth2/token") => self.token(&parse_form(form)).await,
            // https://docs.aws.amazon.com/cognito/latest/developerguide/revocation-endpoint.html
            (&Method::POST, "/oauth2/revoke") => {
                let f = parse_form(form);
                if get(&f, "client_id") != self.cfg.client_id {
                    return oauth_error(StatusCode::BAD_REQUEST, "invalid_client");
                }
                if let Ok(mut r) = self.revoked.lock() {
                    r.insert(get(&f, "token").to_owned());
                }
                body(StatusCode::OK, String::new(), "application/json")
            }
            (&Method::GET, "/logout") => {
                let q = parse_form(query.as_bytes());
                if get(&q, "client_id") != self.cfg.client_id {
                    return login_error("unknown client_id");
                }
                if get(&q, "logout_uri") != origin {
                    return login_error("logout_uri is not a sign-out URL of this client");
                }
                redirect(get(&q, "logout_uri"))
            }
            _ => text(StatusCode::NOT_FOUND, "Not Found"),
        }
    }

    /// What Cognito checks before it shows the sign-in page: the client, the redirect URI it has
    /// registered (here the gateway's own origin), the code flow and an S256 challenge.
    fn check_authorize(
        &self,
        q: &HashMap<String, String>,
        origin: &str,
    ) -> Result<(), &'static str> {
        if get(q, "client_id") != self.cfg.client_id {
            return Err("unknown client_id");
        }
        if get(q, "redirect_uri") != origin {
            return Err("redirect_uri is not a callback URL of this client");
        }
        if get(q, "response_type") != "code" {
            return Err("response_type must be code");
        }
        if get(q, "code_challenge_method") != "S256" || get(q, "code_challenge").len() < 43 {
            return Err("a PKCE code_challenge with code_challenge_method S256 is required");
        }
        Ok(())
    }

    async fn token(&self, f: &HashMap<String, String>) -> Answer {
        if get(f, "client_id") != self.cfg.client_id {
            return oauth_error(StatusCode::UNAUTHORIZED, "invalid_client");
        }
        match get(f, "grant_type") {
            "authorization_code" => {
                let grant = self
                    .grants
                    .lock()
                    .ok()
                    .and_then(|mut g| g.remove(get(f, "code")));
                let Some(grant) = grant.filter(|g| g.issued.elapsed() < CODE_LIFETIME) else {
                    return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant");
                };
                let verifier = get(f, "code_verifier");
                let verifier_hash = base64::engine::general_purpose::URL_SAFE_NO_PAD
                    .encode(Sha256::digest(verifier.as_bytes()));
                // RFC 7636, 4.1: 43 to 128 characters.
                if !(43..=128).contains(&verifier.len())
                    || grant.client_id != get(f, "client_id")
                    || grant.redirect_uri != get(f, "redirect_uri")
                    || verifier_hash != grant.challenge
                {
                    return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant");
                }
                token_answer(&grant.tokens)
            }
            "refresh_token" => {
                let revoked = self
                    .revoked
                    .lock()
                    .is_ok_and(|r| r.contains(get(f, "refresh_token")));
                if revoked {
                    return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant");
                }
                let refreshed = self
                    .initiate_auth(
                        json!({"REFRESH_TOKEN": get(f, "refresh_token")}),
                        "REFRESH_TOKEN_AUTH",
                    )
                    .await;
                match refreshed {
                    Ok(tokens) => token_answer(&tokens),
                    Err(LoginFailure::Refused) => {
                        oauth_error(StatusCode::BAD_REQUEST, "invalid_grant")
                    }
                    Err(LoginFailure::Unavailable(e)) => {
                        tracing::error!(error = %e, "the local managed login could not reach moto");
                        oauth_error(StatusCode::SERVICE_UNAVAILABLE, "temporarily_unavailable")
                    }
                }
            }
            _ => oauth_error(StatusCode::BAD_REQUEST, "unsupported_grant_type"),
        }
    }

    /// moto's `InitiateAuth` for the user client: its `AuthenticationResult`.
    async fn initiate_auth(&self, params: Value, flow: &str) -> Result<Value, LoginFailure> {
        let out = crate::localaws::cognito_call(
            &self.http,
            &self.cfg.cognito_endpoint,
            &self.cfg.region,
            "testing",
            "InitiateAuth",
            json!({"AuthFlow": flow, "ClientId": self.cfg.client_id, "AuthParameters": params}),
        )
        .await;
        match out {
            Ok(v) if v["AuthenticationResult"]["AccessToken"].is_string() => {
                Ok(v["AuthenticationResult"].clone())
            }
            Ok(v) => Err(LoginFailure::Unavailable(format!("no tokens in {v}"))),
            Err(e @ crate::localaws::Error::Aws { .. }) => {
                tracing::info!(error = %e, "the local managed login refused a sign-in");
                Err(LoginFailure::Refused)
            }
            Err(e) => Err(LoginFailure::Unavailable(e.to_string())),
        }
    }
}

enum LoginFailure {
    Refused,
    Unavailable(String),
}

/// The token endpoint's answer from an `AuthenticationResult`.
fn token_answer(r: &Value) -> Answer {
    let mut out = json!({
        "access_token": r["AccessToken"],
        "id_token": r["IdToken"],
        "token_type": "Bearer",
        "expires_in": r["ExpiresIn"].as_u64().unwrap_or(3600),
    });
    if r["RefreshToken"].is_string() {
        out["refresh_token"] = r["RefreshToken"].clone();
    }
    let mut resp = body(StatusCode::OK, out.to_string(), "application/json");
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

fn oauth_error(status: StatusCode, error: &str) -> Answer {
    body(
        status,
        json!({ "error": error }).to_string(),
        "application/json",
    )
}

/// `/a/b.js` → `a/b.js`, `/` → `index.html`; `None` for anything but plain names (no `..`, no
/// escapes, no hidden files).
fn safe_relative(path: &str) -> Option<String> {
    let rel = path.strip_prefix('/')?;
    let rel = if rel.is_empty() { "index.html" } else { rel };
    let plain = rel.split('/').all(|seg| {
        !seg.is_empty()
            && !seg.starts_with('.')
            && seg
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
    });
    plain.then(|| rel.to_owned())
}

fn content_type(file: &Path) -> &'static str {
    match file
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or_default()
    {
        "html" => "text/html; charset=utf-8",
        "js" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" => "application/json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "webmanifest" => "application/manifest+json",
        "txt" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

fn body(status: StatusCode, text: String, content_type: &'static str) -> Answer {
    let mut resp = Response::new(Full::new(Bytes::from(text)));
    *resp.status_mut() = status;
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    resp
}

fn text(status: StatusCode, msg: &str) -> Answer {
    body(status, msg.to_owned(), "text/plain; charset=utf-8")
}

fn no_cache(resp: &mut Answer) {
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
}

fn redirect(to: &str) -> Answer {
    let mut resp = text(StatusCode::FOUND, "");
    if let Ok(v) = HeaderValue::from_str(to) {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    resp
}

/// The sign-in form, with the authorize request's parameters carried along (as Cognito's
/// managed login page does) and the error of the last try.
fn login_page(q: &HashMap<String, String>, error: Option<&str>) -> Answer {
    let hidden: String = [
        "client_id",
        "redirect_uri",
        "response_type",
        "scope",
        "state",
        "code_challenge",
        "code_challenge_method",
    ]
    .iter()
    .map(|k| {
        format!(
            r#"<input type="hidden" name="{k}" value="{}">"#,
            escape(get(q, k))
        )
    })
    .collect();
    let error = error
        .map(|e| format!(r#"<p id="error" role="alert">{}</p>"#, escape(e)))
        .unwrap_or_default();
    let user = escape(get(q, "username"));
    let page = format!(
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sign in · crud-master (local managed login)</title>
<style>body{{font:16px/1.5 system-ui,sans-serif;max-width:24rem;margin:3rem auto;padding:0 1rem}}label{{display:block;margin-top:1rem}}input:not([type=hidden]){{width:100%;padding:.5rem;font:inherit;box-sizing:border-box}}button{{margin-top:1.5rem;padding:.6rem 1.2rem;font:inherit}}#error{{color:#a40000}}</style>
</head><body><main>
<h1>Sign in</h1>
<p>Local stand-in for Cognito's managed login (moto checks the password). Users: user (editors), admin, viewer; passwords in <code>.local/cognito.env</code>.</p>
{error}<form method="post" action="{LOGIN_PREFIX}/login">{hidden}
<label for="username">Username</label><input id="username" name="username" autocomplete="username" required value="{user}">
<label for="password">Password</label><input id="password" name="password" type="password" autocomplete="current-password" required>
<button type="submit">Sign in</button></form></main></body></html>"#
    );
    let mut resp = body(StatusCode::OK, page, "text/html; charset=utf-8");
    login_headers(&mut resp);
    resp
}

fn login_error(why: &str) -> Answer {
    let page = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Sign-in error</title></head><body><main><h1>Sign-in error</h1><p role=\"alert\">{}</p></main></body></html>",
        escape(why)
    );
    let mut resp = body(StatusCode::BAD_REQUEST, page, "text/html; charset=utf-8");
    login_headers(&mut resp);
    resp
}

fn login_headers(resp: &mut Answer) {
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
        ),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    // Not no-referrer: under it a browser sends `Origin: null` with the form's POST, which the
    // gateway's origin rule refuses as it refuses any other site.
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
}

fn get<'a>(m: &'a HashMap<String, String>, k: &str) -> &'a str {
    m.get(k).map_or("", String::as_str)
}

/// A query string or a form body, by name (the gateway's one form decoder).
fn parse_form(raw: &[u8]) -> HashMap<String, String> {
    crate::apigw::form_params(&String::from_utf8_lossy(raw))
        .into_iter()
        .collect()
}

fn encode(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_paths_reach_the_file_system() {
        assert_eq!(safe_relative("/").as_deref(), Some("index.html"));
        assert_eq!(
            safe_relative("/assets/app.0f3a.js").as_deref(),
            Some("assets/app.0f3a.js")
        );
        for bad in [
            "/../Cargo.toml",
            "/assets/../../x",
            "/.git/config",
            "/a//b",
            "/a%2e%2e/b",
            "/a\\b",
            "x",
        ] {
            assert_eq!(safe_relative(bad), None, "{bad}");
        }
    }

    #[test]
    fn forms_decode_plus_and_percent() {
        let f = parse_form(b"a=1+2&b=%2Fx%3D&c&d=");
        assert_eq!(get(&f, "a"), "1 2");
        assert_eq!(get(&f, "b"), "/x=");
        assert_eq!(get(&f, "c"), "");
        assert_eq!(get(&f, "missing"), "");
    }

    fn web() -> Web {
        let dir = std::env::temp_dir().join(format!("web-test-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(dir.join("dist/assets")).unwrap();
        std::fs::write(dir.join("dist/index.html"), "<!doctype html>").unwrap();
        std::fs::write(dir.join("dist/assets/app.abc.js"), "1").unwrap();
        std::fs::write(
            dir.join("csp.txt"),
            "default-src 'none'; connect-src 'self' {auth_origin}; form-action 'self'\n",
        )
        .unwrap();
        Web::new(WebConfig {
            dist: dir.join("dist"),
            csp_file: dir.join("csp.txt"),
            // Nothing listens there: the tests below never reach moto.
            cognito_endpoint: "http://127.0.0.1:9".into(),
            region: "us-east-1".into(),
            client_id: "client-1".into(),
        })
        .unwrap()
    }

    fn header_of(resp: &Answer, name: header::HeaderName) -> &str {
        resp.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    }

    #[test]
    fn files_carry_the_policy_and_their_cache_rule() {
        let w = web();
        let index = w.file(&Method::GET, "/", "127.0.0.1:3000");
        assert_eq!(index.status(), 200);
        assert_eq!(header_of(&index, header::CACHE_CONTROL), "no-cache");
        assert_eq!(
            header_of(&index, header::CONTENT_SECURITY_POLICY),
            "default-src 'none'; connect-src 'self'; form-action 'self'"
        );
        assert_eq!(
            header_of(&index, header::CONTENT_TYPE),
            "text/html; charset=utf-8"
        );
        let asset = w.file(&Method::GET, "/assets/app.abc.js", "127.0.0.1:3000");
        assert_eq!(
            header_of(&asset, header::CACHE_CONTROL),
            "public, max-age=31536000, immutable"
        );
        assert_eq!(
            w.file(&Method::GET, "/nope.js", "127.0.0.1:3000").status(),
            404
        );
        assert_eq!(w.file(&Method::POST, "/", "127.0.0.1:3000").status(), 405);
        let config = w.file(&Method::GET, "/config.json", "127.0.0.1:4000");
        assert_eq!(config.status(), 200);
    }

    #[tokio::test]
    async fn authorize_demands_this_client_its_origin_and_s256() {
        let w = web();
        let host = "127.0.0.1:3000";
        let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
        let q = |client: &str, redirect: &str, method: &str| {
            format!(
                "response_type=code&client_id={client}&redirect_uri={}&code_challenge={challenge}&code_challenge_method={method}&state=s",
                encode(redirect)
            )
        };
        let ok = w
            .login(
                &Method::GET,
                "/oauth2/authorize",
                &q("client-1", "http://127.0.0.1:3000/", "S256"),
                b"",
                host,
            )
            .await;
        assert_eq!(ok.status(), 200);
        for bad in [
            q("other", "http://127.0.0.1:3000/", "S256"),
            q("client-1", "http://evil.example/", "S256"),
            q("client-1", "http://127.0.0.1:3000/", "plain"),
        ] {
            let resp = w
                .login(&Method::GET, "/oauth2/authorize", &bad, b"", host)
                .await;
            assert_eq!(resp.status(), 400, "{bad}");
        }
    }

    #[tokio::test]
    async fn a_code_is_redeemed_once_with_its_verifier() {
        let w = web();
        // The challenge from Python's hashlib and base64.urlsafe_b64encode (padding dropped).
        let verifier = "dBjftJeZ4CVP-mJ92ZOWhcDFUlWkR8sGJ7vbLfZGCnw";
        let challenge = "Fv2mGeXN3kKGTbpAz-faWDq1tn3FxHA1oHcwuuhUCIc";
        let redirect = "http://127.0.0.1:3000/";
        // What signing in as someone leaves: code-1, for this challenge.
        let give_code = || {
            w.grants.lock().unwrap().insert(
                "code-1".into(),
                Grant {
                    tokens: json!({"AccessToken": "a", "IdToken": "i", "RefreshToken": "r", "ExpiresIn": 3600}),
                    challenge: challenge.into(),
                    client_id: "client-1".into(),
                    redirect_uri: redirect.into(),
                    issued: Instant::now(),
                },
            );
        };
        give_code();
        let form = |v: &str| {
            format!(
                "grant_type=authorization_code&client_id=client-1&code=code-1&redirect_uri={}&code_verifier={v}",
                encode(redirect)
            )
        };
        let wrong = w
            .login(
                &Method::POST,
                "/oauth2/token",
                "",
                form("x".repeat(43).as_str()).as_bytes(),
                "h",
            )
            .await;
        assert_eq!(
            wrong.status(),
            400,
            "a wrong verifier spends the code, as a replay would"
        );
        give_code();
        let ok = w
            .login(
                &Method::POST,
                "/oauth2/token",
                "",
                form(verifier).as_bytes(),
                "h",
            )
            .await;
        assert_eq!(ok.status(), 200);
        let answer: Value = serde_json::from_slice(
            &http_body_util::BodyExt::collect(ok.into_body())
                .await
                .unwrap()
                .to_bytes(),
        )
        .unwrap();
        assert_eq!(answer["access_token"], "a");
        assert_eq!(answer["refresh_token"], "r");
        assert_eq!(answer["token_type"], "Bearer");
        let again = w
            .login(
                &Method::POST,
                "/oauth2/token",
                "",
                form(verifier).as_bytes(),
                "h",
            )
            .await;
        assert_eq!(again.status(), 400, "a code is good once");
    }

    async fn text_of(resp: Answer) -> String {
        let bytes = http_body_util::BodyExt::collect(resp.into_body())
            .await
            .unwrap()
            .to_bytes();
        String::from_utf8(bytes.to_vec()).unwrap()
    }

    #[tokio::test]
    async fn reflected_parameters_are_escaped() {
        let w = web();
        let q = format!(
            "response_type=code&client_id=client-1&redirect_uri={}&code_challenge={}&code_challenge_method=S256&state={}",
            encode("http://127.0.0.1:3000/"),
            "E".repeat(43),
            encode("\"><script>alert(1)</script>")
        );
        let page = text_of(
            w.login(&Method::GET, "/oauth2/authorize", &q, b"", "127.0.0.1:3000")
                .await,
        )
        .await;
        assert!(!page.contains("<script>"), "{page}");
        assert!(
            page.contains(r#"value="&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;""#),
            "{page}"
        );
    }

    #[tokio::test]
    async fn a_revoked_refresh_token_is_refused() {
        let w = web();
        let revoke = w
            .login(
                &Method::POST,
                "/oauth2/revoke",
                "",
                b"token=r1&client_id=client-1",
                "h",
            )
            .await;
        assert_eq!(revoke.status(), 200);
        // Refused before moto is asked (nothing listens at the test's endpoint).
        let refresh = w
            .login(
                &Method::POST,
                "/oauth2/token",
                "",
                b"grant_type=refresh_token&client_id=client-1&refresh_token=r1",
                "h",
            )
            .await;
        assert_eq!(refresh.status(), 400);
        assert_eq!(text_of(refresh).await, r#"{"error":"invalid_grant"}"#);
    }
}
