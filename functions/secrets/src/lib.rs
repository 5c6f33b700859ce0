//! Credentials from Secrets Manager, read once per cold start.
//!
//! When an `*_SECRET_ARN` variable is set the value comes from Secrets Manager (the SDK honours
//! `AWS_ENDPOINT_URL`, so locally this is moto); otherwise from plain variables, which is what
//! the local stack and tests use.

pub mod sdk;

use std::collections::HashMap;

use tokio::sync::OnceCell;

use settings::{ConfigError, Credentials, Env, ExposeSecret, SecretString};

/// `{"username": …, "password": …}` from a secret's value. The error names what is wrong and
/// where (line and column) but never quotes the value: serde_json's messages do (`invalid type:
/// string "hunter2"`), and this error ends up in a log line.
pub fn parse_credentials(arn: &str, raw: &SecretString) -> Result<Credentials, ConfigError> {
    serde_json::from_str(raw.expose_secret()).map_err(|e| {
        let what = match e.classify() {
            serde_json::error::Category::Syntax => "not valid JSON",
            serde_json::error::Category::Eof => "truncated JSON",
            serde_json::error::Category::Data => {
                "not an object with string fields username and password"
            }
            serde_json::error::Category::Io => "unreadable",
        };
        ConfigError::Secret {
            arn: arn.into(),
            reason: format!(
                "expected JSON with username and password: {what} (line {}, column {}; value not shown)",
                e.line(),
                e.column()
            ),
        }
    })
}

#[derive(Debug)]
pub struct SecretSource {
    /// The variables the SDK configuration reads ([`sdk::VARIABLES`]), taken from the function's
    /// environment when the source is made.
    sdk_env: HashMap<String, String>,
    client: OnceCell<aws_sdk_secretsmanager::Client>,
}

impl SecretSource {
    /// No client yet: one is created, from `env`'s AWS variables, only if a secret is read.
    pub fn new(env: &impl Env) -> Self {
        let sdk_env = sdk::VARIABLES
            .iter()
            .filter_map(|&name| Some((name.to_owned(), env.optional(name)?)))
            .collect();
        Self {
            sdk_env,
            client: OnceCell::new(),
        }
    }

    async fn client(&self) -> &aws_sdk_secretsmanager::Client {
        self.client
            .get_or_init(|| async {
                aws_sdk_secretsmanager::Client::new(&sdk::sdk_config(&self.sdk_env))
            })
            .await
    }

    /// The secret's string value.
    pub async fn get(&self, arn: &str) -> Result<SecretString, ConfigError> {
        let out = self
            .client()
            .await
            .get_secret_value()
            .secret_id(arn)
            .send()
            .await
            .map_err(|e| ConfigError::Secret {
                arn: arn.into(),
                reason: aws_sdk_secretsmanager::error::DisplayErrorContext(&e).to_string(),
            })?;
        out.secret_string()
            .map(|s| SecretString::from(s.to_owned()))
            .ok_or_else(|| ConfigError::Secret {
                arn: arn.into(),
                reason: "the secret has no string value".into(),
            })
    }

    /// The value of the secret's previous version (stage `AWSPREVIOUS`, which Secrets Manager
    /// moves to the version a new one replaced), or `None` when it has none yet
    /// (<https://docs.aws.amazon.com/secretsmanager/latest/userguide/whats-in-a-secret.html#term_version>).
    pub async fn previous(&self, arn: &str) -> Result<Option<SecretString>, ConfigError> {
        let out = self
            .client()
            .await
            .get_secret_value()
            .secret_id(arn)
            .version_stage("AWSPREVIOUS")
            .send()
            .await;
        match out {
            Ok(out) => Ok(out
                .secret_string()
                .map(|s| SecretString::from(s.to_owned()))),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_resource_not_found_exception()) =>
            {
                Ok(None)
            }
            Err(e) => Err(ConfigError::Secret {
                arn: arn.into(),
                reason: aws_sdk_secretsmanager::error::DisplayErrorContext(&e).to_string(),
            }),
        }
    }

    /// Username and password from the JSON secret named by `arn_var`, or from `user_var` and
    /// `password_var` when no ARN is configured.
    pub async fn credentials(
        &self,
        env: &impl Env,
        arn_var: &str,
        user_var: &str,
        password_var: &str,
    ) -> Result<Credentials, ConfigError> {
        match env.optional(arn_var) {
            Some(arn) => {
                let raw = self.get(&arn).await?;
                parse_credentials(&arn, &raw)
            }
            None => Ok(Credentials {
                username: env.required(user_var)?,
                password: SecretString::from(env.required(password_var)?),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn malformed_secrets_are_reported_without_their_value() {
        for raw in [
            r#""Pw-only-Zq81""#,
            r#"{"username": "app", "password": Pw-only-Zq81}"#,
            r#"{"username": "app", "password": "Pw-only-Zq81""#,
            r#"{"username": "app", "password": ["Pw-only-Zq81"]}"#,
            r#"{"username": "Pw-only-Zq81", "password": 81}"#,
            r#"{"user": "app", "pass": "Pw-only-Zq81"}"#,
            r#"Pw-only-Zq81"#,
        ] {
            let err =
                parse_credentials("arn:secret", &SecretString::from(raw.to_owned())).unwrap_err();
            let text = format!("{err} {err:?}");
            assert!(text.contains("arn:secret"), "{text}");
            assert!(
                !text.contains("Zq81") && !text.contains("81"),
                "{raw} leaked: {text}"
            );
        }
        let ok = parse_credentials(
            "arn:secret",
            &SecretString::from(r#"{"username":"app","password":"p","engine":"postgres"}"#),
        )
        .unwrap();
        assert_eq!(ok.username, "app");
    }
}
