//! Typed settings read from the environment that Terraform (or `make dev`) sets.

use std::fmt;
use std::str::FromStr;

/// Installs the process-wide rustls crypto provider. Several dependencies enable different
/// providers, so rustls cannot pick one by itself; call this first thing in `main` and in tests.
pub fn install_crypto_provider() {
    // An error only means a provider is installed already, which is what we want.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
}

/// A value that must never be printed: `Debug` shows `[REDACTED]`, there is no `Display`, its
/// own buffer is zeroed on drop (not the copies a client library makes), and `expose_secret()`
/// is the only way to read it (grep for it to audit where secrets go).
pub use secrecy::{ExposeSecret, SecretString};

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("missing environment variable {0}")]
    Missing(String),
    #[error("environment variable {name} is invalid: {reason}")]
    Invalid { name: String, reason: String },
    #[error("secret {arn} could not be read: {reason}")]
    Secret { arn: String, reason: String },
}

/// Reads variables from a source (the process environment, or a map in tests).
pub trait Env {
    fn get(&self, name: &str) -> Option<String>;

    fn optional(&self, name: &str) -> Option<String> {
        self.get(name).filter(|v| !v.trim().is_empty())
    }

    fn required(&self, name: &str) -> Result<String, ConfigError> {
        self.optional(name)
            .ok_or_else(|| ConfigError::Missing(name.to_owned()))
    }

    fn parse_or<T: FromStr>(&self, name: &str, default: T) -> Result<T, ConfigError>
    where
        T::Err: fmt::Display,
    {
        match self.optional(name) {
            None => Ok(default),
            Some(raw) => raw
                .trim()
                .parse()
                .map_err(|e: T::Err| ConfigError::Invalid {
                    name: name.to_owned(),
                    reason: e.to_string(),
                }),
        }
    }
}

/// The real process environment.
#[derive(Debug, Clone, Copy, Default)]
pub struct ProcessEnv;

impl Env for ProcessEnv {
    fn get(&self, name: &str) -> Option<String> {
        std::env::var(name).ok()
    }
}

impl Env for std::collections::HashMap<String, String> {
    fn get(&self, name: &str) -> Option<String> {
        std::collections::HashMap::get(self, name).cloned()
    }
}

impl<const N: usize> Env for [(&str, &str); N] {
    fn get(&self, name: &str) -> Option<String> {
        self.iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| (*v).to_owned())
    }
}

/// Username and password, as Secrets Manager stores them for RDS and Amazon MQ.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct Credentials {
    pub username: String,
    pub password: SecretString,
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn secrets_never_print() {
        let c: Credentials =
            serde_json::from_str(r#"{"username":"app","password":"hunter2"}"#).unwrap();
        assert_eq!(c.password.expose_secret(), "hunter2");
        let printed = format!("{c:?}");
        assert!(
            printed.contains("app") && !printed.contains("hunter2"),
            "{printed}"
        );
    }

    #[test]
    fn missing_and_invalid_variables_are_named() {
        let env = [("POOL", "x"), ("EMPTY", " ")];
        assert_eq!(
            env.required("EMPTY"),
            Err(ConfigError::Missing("EMPTY".into()))
        );
        let err = env.parse_or::<u32>("POOL", 1).unwrap_err();
        assert!(err.to_string().contains("POOL"), "{err}");
        assert_eq!(env.parse_or::<u32>("ABSENT", 7), Ok(7));
    }
}
