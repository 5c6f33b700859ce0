//! Cognito in moto through its JSON protocol: the pool, its clients, resource server, group and
//! users, and tokens (`InitiateAuth`, and the client-credentials token moto cannot issue).
//! <https://docs.aws.amazon.com/cognito-user-identity-pools/latest/APIReference/Welcome.html>

use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

use super::{Error, LocalAws, read_env, say, write_env};

/// The resource server and its scopes, as `terraform/modules/auth` creates them.
pub const RESOURCE_SERVER: &str = "crud-master";
pub const SCOPES: [(&str, &str); 6] = [
    ("movies.read", "Read movies"),
    ("movies.write", "Create, update and delete single movies"),
    ("movies.admin", "Delete all movies (machine client only)"),
    ("billing.read", "Read the client's orders"),
    ("billing.write", "Place orders"),
    (
        "billing.audit",
        "Read every caller's orders (machine client only)",
    ),
];
/// The pool's groups, as Terraform's `auth` module creates them.
pub const GROUPS: [(&str, &str); 2] = [
    ("admin", "may delete every movie"),
    ("editors", "may create, change and delete single movies"),
];

/// The pool's users and their groups: `user` (the default of `make token`) edits the catalogue,
/// `viewer` only reads it.
pub const USERS: [(&str, &[&str]); 3] = [
    ("user", &["editors"]),
    ("admin", &["admin"]),
    ("viewer", &[]),
];
const CLIENT_NAME: &str = "crud-master-cli";
const MACHINE_CLIENT_NAME: &str = "crud-master-machine";
/// The key id moto publishes in every pool's JWKS.
const MOTO_KEY_ID: &str = "dummy";

/// The pool as `cognito.env` records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pool {
    pub pool_id: String,
    pub client_id: String,
    pub machine_client_id: String,
    /// Password of each user in [`USERS`].
    pub passwords: BTreeMap<String, String>,
}

impl Pool {
    fn to_env(&self) -> Vec<(String, String)> {
        let mut values = vec![
            ("COGNITO_USER_POOL_ID".into(), self.pool_id.clone()),
            ("COGNITO_CLIENT_ID".into(), self.client_id.clone()),
            (
                "COGNITO_MACHINE_CLIENT_ID".into(),
                self.machine_client_id.clone(),
            ),
            ("COGNITO_RESOURCE_SERVER".into(), RESOURCE_SERVER.into()),
        ];
        for (user, password) in &self.passwords {
            values.push((password_key(user), password.clone()));
        }
        values
    }

    fn from_env(values: &BTreeMap<String, String>) -> Option<Self> {
        let get = |k: &str| values.get(k).filter(|v| !v.is_empty()).cloned();
        Some(Self {
            pool_id: get("COGNITO_USER_POOL_ID")?,
            client_id: get("COGNITO_CLIENT_ID")?,
            machine_client_id: get("COGNITO_MACHINE_CLIENT_ID")?,
            passwords: USERS
                .iter()
                .filter_map(|(u, _)| Some((u.to_string(), get(&password_key(u))?)))
                .collect(),
        })
    }

    /// The issuer of the pool's tokens.
    pub fn issuer(&self) -> String {
        let region = self.pool_id.split('_').next().unwrap_or_default();
        format!(
            "https://cognito-idp.{region}.amazonaws.com/{}",
            self.pool_id
        )
    }
}

fn password_key(user: &str) -> String {
    format!("COGNITO_{}_PASSWORD", user.to_ascii_uppercase())
}

/// Which token `InitiateAuth` should hand back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    Access,
    Id,
}

impl LocalAws {
    async fn cognito(&self, action: &str, body: Value) -> Result<Value, Error> {
        let s = &self.settings;
        cognito_call(
            &self.http,
            &s.endpoint,
            &s.region,
            &s.access_key,
            action,
            body,
        )
        .await
    }

    async fn find_pool(&self) -> Result<Option<String>, Error> {
        let mut next: Option<String> = None;
        loop {
            let mut body = json!({"MaxResults": 60});
            if let Some(token) = &next {
                body["NextToken"] = json!(token);
            }
            let page = self.cognito("ListUserPools", body).await?;
            let pools = page["UserPools"].as_array().cloned().unwrap_or_default();
            if let Some(p) = pools.iter().find(|p| p["Name"] == *self.settings.pool_name) {
                return Ok(p["Id"].as_str().map(str::to_owned));
            }
            match page["NextToken"].as_str() {
                Some(t) if !t.is_empty() => next = Some(t.to_owned()),
                _ => return Ok(None),
            }
        }
    }

    /// The user pool, its clients, resource server, group and users: created when absent,
    /// passwords kept from `cognito.env` (set again, so a recreated user logs in with them).
    pub async fn setup_cognito(&self) -> Result<Pool, Error> {
        let saved = read_env(&self.cognito_env())?;
        let name = &self.settings.pool_name;
        let pool_id = match self.find_pool().await? {
            Some(id) => id,
            None => {
                say(&format!("creating user pool {name}"));
                let pool = self
                    .cognito(
                        "CreateUserPool",
                        json!({
                            "PoolName": name,
                            "Policies": {"PasswordPolicy": {
                                "MinimumLength": 12, "RequireUppercase": true,
                                "RequireLowercase": true, "RequireNumbers": true,
                                "RequireSymbols": true, "TemporaryPasswordValidityDays": 1,
                            }},
                            "AdminCreateUserConfig": {"AllowAdminCreateUserOnly": true},
                            "MfaConfiguration": "OFF",
                        }),
                    )
                    .await?;
                string_at(&pool, &["UserPool", "Id"])?
            }
        };
        let clients = self
            .cognito(
                "ListUserPoolClients",
                json!({"UserPoolId": pool_id, "MaxResults": 60}),
            )
            .await?;
        let client_named = |n: &str| {
            clients["UserPoolClients"]
                .as_array()
                .and_then(|cs| cs.iter().find(|c| c["ClientName"] == n))
                .and_then(|c| c["ClientId"].as_str())
                .map(str::to_owned)
        };
        let client_id = match client_named(CLIENT_NAME) {
            Some(id) => id,
            None => {
                say(&format!(
                    "creating app client {CLIENT_NAME} (USER_PASSWORD_AUTH, no secret)"
                ));
                let c = self
                    .cognito(
                        "CreateUserPoolClient",
                        json!({
                            "UserPoolId": pool_id, "ClientName": CLIENT_NAME, "GenerateSecret": false,
                            "ExplicitAuthFlows": ["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
                            "AccessTokenValidity": 60, "IdTokenValidity": 60,
                            "TokenValidityUnits": {"AccessToken": "minutes", "IdToken": "minutes"},
                        }),
                    )
                    .await?;
                string_at(&c, &["UserPoolClient", "ClientId"])?
            }
        };
        let described = self
            .cognito(
                "DescribeResourceServer",
                json!({"UserPoolId": pool_id, "Identifier": RESOURCE_SERVER}),
            )
            .await;
        match described {
            Ok(_) => {}
            Err(e) if e.is("ResourceNotFoundException") => {
                let names: Vec<&str> = SCOPES.iter().map(|(n, _)| *n).collect();
                say(&format!(
                    "creating resource server {RESOURCE_SERVER} ({})",
                    names.join(", ")
                ));
                let scopes: Vec<Value> = SCOPES
                    .iter()
                    .map(|(n, d)| json!({"ScopeName": n, "ScopeDescription": d}))
                    .collect();
                self.cognito(
                    "CreateResourceServer",
                    json!({"UserPoolId": pool_id, "Identifier": RESOURCE_SERVER,
                           "Name": format!("{RESOURCE_SERVER} API"), "Scopes": scopes}),
                )
                .await?;
            }
            Err(e) => return Err(e),
        }
        let machine_client_id = match client_named(MACHINE_CLIENT_NAME) {
            Some(id) => id,
            None => {
                say(&format!(
                    "creating app client {MACHINE_CLIENT_NAME} (client credentials, every {RESOURCE_SERVER} scope)"
                ));
                let scopes: Vec<String> = SCOPES
                    .iter()
                    .map(|(n, _)| format!("{RESOURCE_SERVER}/{n}"))
                    .collect();
                let c = self
                    .cognito(
                        "CreateUserPoolClient",
                        json!({
                            "UserPoolId": pool_id, "ClientName": MACHINE_CLIENT_NAME,
                            "GenerateSecret": true, "AllowedOAuthFlowsUserPoolClient": true,
                            "AllowedOAuthFlows": ["client_credentials"],
                            "AllowedOAuthScopes": scopes, "SupportedIdentityProviders": ["COGNITO"],
                        }),
                    )
                    .await?;
                string_at(&c, &["UserPoolClient", "ClientId"])?
            }
        };
        let groups = self
            .cognito("ListGroups", json!({"UserPoolId": pool_id}))
            .await?;
        for (group, description) in GROUPS {
            let exists = groups["Groups"]
                .as_array()
                .is_some_and(|gs| gs.iter().any(|g| g["GroupName"] == group));
            if !exists {
                say(&format!("creating group {group}"));
                self.cognito(
                    "CreateGroup",
                    json!({"UserPoolId": pool_id, "GroupName": group, "Description": description}),
                )
                .await?;
            }
        }
        let mut passwords = BTreeMap::new();
        for (user, user_groups) in USERS {
            let password = saved
                .get(&password_key(user))
                .cloned()
                .unwrap_or_else(strong_password);
            let found = self
                .cognito(
                    "AdminGetUser",
                    json!({"UserPoolId": pool_id, "Username": user}),
                )
                .await;
            match found {
                Ok(_) => {}
                Err(e) if e.is("UserNotFoundException") => {
                    say(&format!("creating user {user}"));
                    self.cognito(
                        "AdminCreateUser",
                        json!({"UserPoolId": pool_id, "Username": user, "MessageAction": "SUPPRESS"}),
                    )
                    .await?;
                }
                Err(e) => return Err(e),
            }
            // Permanent, so InitiateAuth answers with tokens and no NEW_PASSWORD_REQUIRED challenge.
            self.cognito(
                "AdminSetUserPassword",
                json!({"UserPoolId": pool_id, "Username": user, "Password": password, "Permanent": true}),
            )
            .await?;
            for group in user_groups {
                self.cognito(
                    "AdminAddUserToGroup",
                    json!({"UserPoolId": pool_id, "Username": user, "GroupName": group}),
                )
                .await?;
            }
            passwords.insert(user.to_owned(), password);
        }
        let pool = Pool {
            pool_id,
            client_id,
            machine_client_id,
            passwords,
        };
        write_env(
            &self.cognito_env(),
            &pool.to_env(),
            "written by localaws setup: the local Cognito pool (moto)",
        )?;
        say(&format!(
            "user pool {}, user client {}, machine client {}; users user (editors), admin (admin) and viewer",
            pool.pool_id, pool.client_id, pool.machine_client_id
        ));
        Ok(pool)
    }

    /// The saved pool, set up again when moto lost it (restarted) or nothing is saved.
    pub async fn current_pool(&self) -> Result<Pool, Error> {
        if let Some(pool) = Pool::from_env(&read_env(&self.cognito_env())?) {
            match self
                .cognito("DescribeUserPool", json!({"UserPoolId": pool.pool_id}))
                .await
            {
                Ok(_) => return Ok(pool),
                Err(e) if e.is("ResourceNotFoundException") => {}
                Err(e) => return Err(e),
            }
        }
        say(
            "the local user pool is missing or older than this tool (moto restarted?): setting it up",
        );
        self.setup_cognito().await
    }

    /// A token of `user` from `InitiateAuth` (`USER_PASSWORD_AUTH`).
    pub async fn token(&self, user: &str, kind: TokenKind) -> Result<String, Error> {
        let pool = self.current_pool().await?;
        let password = pool
            .passwords
            .get(user)
            .ok_or_else(|| Error::UnknownUser(user.to_owned()))?;
        let out = self
            .cognito(
                "InitiateAuth",
                json!({"AuthFlow": "USER_PASSWORD_AUTH", "ClientId": pool.client_id,
                       "AuthParameters": {"USERNAME": user, "PASSWORD": password}}),
            )
            .await?;
        let field = match kind {
            TokenKind::Access => "AccessToken",
            TokenKind::Id => "IdToken",
        };
        string_at(&out, &["AuthenticationResult", field])
    }

    /// A client-credentials access token of the machine client with `requested` scopes
    /// (`movies.read` or `crud-master/movies.read`; none: every scope the client is allowed).
    pub async fn machine_token(&self, requested: &[String]) -> Result<String, Error> {
        let pool = self.current_pool().await?;
        let client = self
            .cognito(
                "DescribeUserPoolClient",
                json!({"UserPoolId": pool.pool_id, "ClientId": pool.machine_client_id}),
            )
            .await?;
        let allowed: Vec<String> = client["UserPoolClient"]["AllowedOAuthScopes"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|s| s.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        let scopes: Vec<String> = if requested.is_empty() {
            allowed.clone()
        } else {
            requested
                .iter()
                .map(|s| {
                    if s.contains('/') {
                        s.clone()
                    } else {
                        format!("{RESOURCE_SERVER}/{s}")
                    }
                })
                .collect()
        };
        let refused: Vec<&str> = scopes
            .iter()
            .filter(|s| !allowed.contains(s))
            .map(String::as_str)
            .collect();
        if !refused.is_empty() {
            return Err(Error::InvalidScope(refused.join(", ")));
        }
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or_default();
        let claims = json!({
            "sub": pool.machine_client_id,
            "token_use": "access",
            "scope": scopes.join(" "),
            "auth_time": now,
            "iss": pool.issuer(),
            "exp": now + 3600,
            "iat": now,
            "version": 2,
            "jti": uuid::Uuid::new_v4().to_string(),
            "client_id": pool.machine_client_id,
        });
        let key = jsonwebtoken::EncodingKey::from_rsa_pem(self.moto_signing_key()?.as_bytes())
            .map_err(|e| Error::SigningKey(e.to_string()))?;
        // Cognito's header: `kid` and `alg` only.
        let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
        header.kid = Some(MOTO_KEY_ID.into());
        header.typ = None;
        jsonwebtoken::encode(&header, &claims, &key).map_err(|e| Error::SigningKey(e.to_string()))
    }

    /// Deletes the pool (the bench's, when its run ends).
    pub async fn delete_pool(&self, pool_id: &str) -> Result<(), Error> {
        self.cognito("DeleteUserPool", json!({"UserPoolId": pool_id}))
            .await
            .map(drop)
    }
}

/// One call of Cognito's JSON protocol (`X-Amz-Target`), as the AWS SDKs make it (moto reads
/// only the region and the access key from the signature).
pub(crate) async fn cognito_call(
    http: &reqwest::Client,
    endpoint: &str,
    region: &str,
    access_key: &str,
    action: &str,
    body: Value,
) -> Result<Value, Error> {
    let auth = format!(
        "AWS4-HMAC-SHA256 Credential={access_key}/20260101/{region}/cognito-idp/aws4_request, SignedHeaders=host, Signature=00"
    );
    let http_err = |e| Error::Http(e, action.to_owned());
    let response = http
        .post(format!("{}/", endpoint.trim_end_matches('/')))
        .header(
            "X-Amz-Target",
            format!("AWSCognitoIdentityProviderService.{action}"),
        )
        .header("Content-Type", "application/x-amz-json-1.1")
        .header("Authorization", auth)
        .body(body.to_string())
        .send()
        .await
        .map_err(http_err)?;
    let status = response.status();
    let text = response.text().await.map_err(http_err)?;
    let value: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
    if status.is_success() {
        return Ok(value);
    }
    // `__type` may carry a namespace (`...#ResourceNotFoundException`).
    let code = value["__type"].as_str().unwrap_or("").rsplit('#').next();
    Err(Error::Aws {
        action: action.to_owned(),
        code: code.filter(|c| !c.is_empty()).unwrap_or("HTTP").to_owned(),
        message: value["message"]
            .as_str()
            .map(str::to_owned)
            .unwrap_or_else(|| format!("{status} {text}")),
    })
}

fn string_at(v: &Value, path: &[&str]) -> Result<String, Error> {
    let mut cur = v;
    for p in path {
        cur = &cur[*p];
    }
    cur.as_str().map(str::to_owned).ok_or_else(|| Error::Aws {
        action: path.join("."),
        code: "MissingField".into(),
        message: format!("no {} in {v}", path.join(".")),
    })
}

/// Meets the pool's policy (12+ characters, upper, lower, digit, symbol); 80 random bits.
fn strong_password() -> String {
    let random = uuid::Uuid::new_v4().simple().to_string();
    format!("Cm-{}-9a!", &random[..20])
}

#[cfg(test)]
mod tests;
