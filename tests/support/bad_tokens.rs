//! Every kind of bad bearer token, in one place for the gateway's own tests and the end-to-end
//! tests against moto's Cognito: each must be a 401 with a `WWW-Authenticate: Bearer` challenge
//! and `{"message":"Unauthorized"}`, as API Gateway's JWT authorizer answers
//! (<https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-jwt-authorizer.html>:
//! it checks the signature against the issuer's JWKS, `exp`, `nbf`, `iss`, and `aud` or
//! `client_id`).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

/// What the cases are made from: a valid token's claims and the key that signs them.
pub struct Forge<'a> {
    /// Claims of a token the gateway accepts (from the pool, or made by the test).
    pub claims: Value,
    /// The `kid` the pool's JWKS publishes for `key`.
    pub kid: &'a str,
    /// The pool's private key (PEM): what it signs with, the gateway accepts.
    pub key: &'a [u8],
    /// Any other RSA private key (PEM).
    pub other_key: &'a [u8],
    /// The secret of the HS256 case: public material (the key's modulus, a client id), as in
    /// the algorithm-confusion attack.
    pub hmac_secret: &'a [u8],
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// `claims` signed RS256 with the PEM (PKCS#1 or PKCS#8) `key` under `kid`.
pub fn sign(kid: &str, key: &[u8], claims: &Value) -> Result<String, String> {
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(kid.into());
    let key = EncodingKey::from_rsa_pem(key).map_err(|e| format!("RSA key: {e}"))?;
    jsonwebtoken::encode(&header, claims, &key).map_err(|e| e.to_string())
}

impl Forge<'_> {
    /// `claims` signed RS256 with the PEM `key` under `kid`.
    pub fn sign(&self, kid: &str, key: &[u8], claims: &Value) -> Result<String, String> {
        sign(kid, key, claims)
    }

    /// The valid claims with `claim` set to `value`, or removed when `value` is null.
    pub fn with(&self, claim: &str, value: Value) -> Value {
        let mut c = self.claims.clone();
        if let Some(map) = c.as_object_mut() {
            if value.is_null() {
                map.remove(claim);
            } else {
                map.insert(claim.into(), value);
            }
        }
        c
    }

    /// Every bad token, with why it is bad (`None`: no token at all).
    pub fn cases(&self) -> Result<Vec<(&'static str, Option<String>)>, String> {
        let good = self.sign(self.kid, self.key, &self.claims)?;
        let [header, _, signature] = good.split('.').collect::<Vec<_>>()[..] else {
            return Err("a signed token has three parts".into());
        };
        let none = format!(
            "{}.{}.",
            B64URL.encode(json!({"alg": "none", "typ": "JWT", "kid": self.kid}).to_string()),
            B64URL.encode(self.claims.to_string())
        );
        let mut hs = Header::new(Algorithm::HS256);
        hs.kid = Some(self.kid.into());
        let hs256 = jsonwebtoken::encode(
            &hs,
            &self.claims,
            &EncodingKey::from_secret(self.hmac_secret),
        )
        .map_err(|e| e.to_string())?;
        // The signature of the valid token over other claims, and a byte of it flipped.
        let other_claims = B64URL.encode(self.with("username", json!("someone-else")).to_string());
        let mut flipped = B64URL.decode(signature).map_err(|e| e.to_string())?;
        flipped[10] ^= 1;
        let signed =
            |claim: &str, value: Value| self.sign(self.kid, self.key, &self.with(claim, value));
        Ok(vec![
            ("missing", None),
            ("malformed", Some("not-a-jwt".into())),
            ("malformed parts", Some("a.b.c".into())),
            ("alg none", Some(none)),
            ("HS256", Some(hs256)),
            (
                "signed by another key",
                Some(self.sign(self.kid, self.other_key, &self.claims)?),
            ),
            (
                "unknown kid",
                Some(self.sign("rotated-away", self.other_key, &self.claims)?),
            ),
            (
                "tampered claims",
                Some(format!("{header}.{other_claims}.{signature}")),
            ),
            (
                "tampered signature",
                Some(format!(
                    "{header}.{}.{}",
                    good.split('.').nth(1).unwrap_or_default(),
                    B64URL.encode(flipped)
                )),
            ),
            ("expired", Some(signed("exp", json!(now() - 300))?)),
            ("no exp", Some(signed("exp", Value::Null)?)),
            ("not yet valid", Some(signed("nbf", json!(now() + 600))?)),
            (
                "wrong issuer",
                Some(signed(
                    "iss",
                    json!("https://cognito-idp.us-east-1.amazonaws.com/us-east-1_other"),
                )?),
            ),
            (
                "wrong client",
                Some(signed("client_id", json!("some-other-client"))?),
            ),
            (
                "wrong audience",
                Some(signed("aud", json!("some-other-client"))?),
            ),
        ])
    }
}

/// Checks one answer to a bad token: 401, a `Bearer` challenge, API Gateway's body.
pub async fn check_unauthorized(resp: reqwest::Response, why: &str) -> Result<(), String> {
    if resp.status() != 401 {
        return Err(format!("{why}: status {} instead of 401", resp.status()));
    }
    let challenge = resp
        .headers()
        .get("www-authenticate")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    if !challenge.starts_with("Bearer") {
        return Err(format!("{why}: WWW-Authenticate {challenge:?}"));
    }
    let body: Value = resp.json().await.map_err(|e| format!("{why}: {e}"))?;
    if body != json!({"message": "Unauthorized"}) {
        return Err(format!("{why}: body {body}"));
    }
    Ok(())
}

/// Sends every case of `forge` as `GET url` and checks each answer, after checking that the
/// valid token the cases are made from passes (so each case fails for its own reason).
pub async fn assert_all_unauthorized(http: &reqwest::Client, url: &str, forge: &Forge<'_>) {
    let valid = forge
        .sign(forge.kid, forge.key, &forge.claims)
        .unwrap_or_else(|e| panic!("signing the valid token: {e}"));
    let resp = http
        .get(url)
        .header("authorization", format!("Bearer {valid}"))
        .send()
        .await
        .unwrap_or_else(|e| panic!("the valid token: {e}"));
    assert_eq!(
        resp.status(),
        200,
        "the valid token the bad ones are made from"
    );
    let cases = forge
        .cases()
        .unwrap_or_else(|e| panic!("forging the bad tokens: {e}"));
    for (why, token) in cases {
        let mut req = http.get(url);
        if let Some(t) = &token {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        let resp = req.send().await.unwrap_or_else(|e| panic!("{why}: {e}"));
        if let Err(e) = check_unauthorized(resp, why).await {
            panic!("{e}");
        }
    }
}
