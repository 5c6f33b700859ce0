//! The AWS resources the local stack needs, created in moto (idempotently), and tokens: the one
//! moto setup `make dev`, `make token`, the tests and the bench share (`localaws` is its
//! command line).
//!
//! - Cognito: the user pool, the user app client (`USER_PASSWORD_AUTH`, no secret), the
//!   resource server `crud-master` with its scopes, the machine client (client credentials,
//!   every scope), the group `admin`, the users `user` and `admin` (in `admin`) with permanent
//!   passwords; written to `<state>/cognito.env`.
//! - SQS: the billing dead-letter queue (14 days' retention); written to `<state>/sqs.env`.
//! - Secrets Manager: secrets for the tests and the bench ([`LocalAws::create_secret`]).
//!
//! Cognito is spoken to with its JSON protocol here (a dozen calls; moto reads only the region
//! from the signature), SQS and Secrets Manager through the AWS SDK the functions use: README
//! "Design decisions" says why. The same calls with the AWS CLI:
//! <https://docs.aws.amazon.com/cli/latest/reference/cognito-idp/initiate-auth.html>.
//!
//! moto has no OAuth2 token endpoint (no client-credentials grant), so [`LocalAws::machine_token`]
//! mints the token Cognito's `/oauth2/token` would return (claims as documented in
//! <https://docs.aws.amazon.com/cognito/latest/developerguide/amazon-cognito-user-pools-using-the-access-token.html>),
//! signed with the key moto signs every pool's tokens with, and refuses scopes the client is not
//! allowed, as Cognito answers `invalid_scope`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

mod cognito;

pub(crate) use cognito::cognito_call;
pub use cognito::{Pool, RESOURCE_SERVER, SCOPES, TokenKind, USERS};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{action}: {0}", action = .1)]
    Http(reqwest::Error, String),
    #[error("{action}: {code}: {message}")]
    Aws {
        action: String,
        code: String,
        message: String,
    },
    #[error("{0}")]
    Sdk(String),
    #[error("{0}: {1}")]
    Io(PathBuf, std::io::Error),
    #[error("unknown user {0:?}: the local pool has user and admin")]
    UnknownUser(String),
    #[error("invalid_scope: the machine client may not request {0}")]
    InvalidScope(String),
    #[error("moto's signing key: {0}")]
    SigningKey(String),
}

impl Error {
    fn is(&self, aws_code: &str) -> bool {
        matches!(self, Error::Aws { code, .. } if code == aws_code)
    }
}

/// Which moto, which names, and where the `.env` files go.
#[derive(Debug, Clone)]
pub struct Settings {
    pub endpoint: String,
    pub region: String,
    pub access_key: String,
    /// Where `cognito.env`, `sqs.env` and moto's signing key are kept.
    pub state_dir: PathBuf,
    pub pool_name: String,
    pub dlq_name: String,
}

impl Settings {
    /// From the environment `.local/env` sets; `LOCALAWS_STATE_DIR`, `LOCALAWS_POOL_NAME` and
    /// `LOCALAWS_DLQ_NAME` give a test a pool of its own.
    pub fn from_env() -> Self {
        let var = |name: &str, default: &str| {
            std::env::var(name)
                .ok()
                .filter(|v| !v.is_empty())
                .unwrap_or_else(|| default.to_owned())
        };
        let default_state = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.local");
        Self {
            endpoint: var("AWS_ENDPOINT_URL", "http://127.0.0.1:4566"),
            region: var("AWS_REGION", "us-east-1"),
            access_key: var("AWS_ACCESS_KEY_ID", "testing"),
            state_dir: std::env::var_os("LOCALAWS_STATE_DIR")
                .map(PathBuf::from)
                .unwrap_or(default_state),
            pool_name: var("LOCALAWS_POOL_NAME", "crud-master-local"),
            dlq_name: var("LOCALAWS_DLQ_NAME", "billing-dlq"),
        }
    }
}

/// Progress, on stderr, so that stdout carries only what a command prints (a token).
pub fn say(msg: &str) {
    eprintln!("\x1b[1m[localaws]\x1b[0m {msg}");
}

pub struct LocalAws {
    pub settings: Settings,
    http: reqwest::Client,
    sdk: aws_types::SdkConfig,
}

impl LocalAws {
    pub fn new(settings: Settings) -> Self {
        let secret = std::env::var("AWS_SECRET_ACCESS_KEY").unwrap_or_else(|_| "testing".into());
        let env: std::collections::HashMap<String, String> = [
            ("AWS_ENDPOINT_URL", settings.endpoint.as_str()),
            ("AWS_REGION", settings.region.as_str()),
            ("AWS_ACCESS_KEY_ID", settings.access_key.as_str()),
            ("AWS_SECRET_ACCESS_KEY", secret.as_str()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        Self {
            sdk: secrets::sdk::sdk_config(&env),
            http: reqwest::Client::builder()
                .timeout(std::time::Duration::from_secs(30))
                .build()
                .unwrap_or_default(),
            settings,
        }
    }

    pub fn from_env() -> Self {
        Self::new(Settings::from_env())
    }

    fn cognito_env(&self) -> PathBuf {
        self.settings.state_dir.join("cognito.env")
    }

    /// An SQS queue kept 14 days, as the billing dead-letter queue is on AWS; returns its URL.
    pub async fn create_dead_letter_queue(&self, name: &str) -> Result<String, Error> {
        let out = aws_sdk_sqs::Client::new(&self.sdk)
            .create_queue()
            .queue_name(name)
            .attributes(
                aws_sdk_sqs::types::QueueAttributeName::MessageRetentionPeriod,
                "1209600",
            )
            .send()
            .await
            .map_err(|e| Error::Sdk(format!("CreateQueue {name}: {}", sdk_message(&e))))?;
        out.queue_url()
            .map(str::to_owned)
            .ok_or_else(|| Error::Sdk(format!("CreateQueue {name}: no QueueUrl")))
    }

    /// A Secrets Manager secret holding `value`; returns its ARN.
    pub async fn create_secret(&self, name: &str, value: &str) -> Result<String, Error> {
        let out = aws_sdk_secretsmanager::Client::new(&self.sdk)
            .create_secret()
            .name(name)
            .secret_string(value)
            .send()
            .await
            .map_err(|e| Error::Sdk(format!("CreateSecret {name}: {}", sdk_message(&e))))?;
        out.arn()
            .map(str::to_owned)
            .ok_or_else(|| Error::Sdk(format!("CreateSecret {name}: no ARN")))
    }

    /// Everything `make dev` needs: the Cognito pool and the billing dead-letter queue, their
    /// settings in `cognito.env` and `sqs.env`.
    pub async fn setup(&self) -> Result<(Pool, String), Error> {
        let pool = self.setup_cognito().await?;
        let url = self
            .create_dead_letter_queue(&self.settings.dlq_name)
            .await?;
        write_env(
            &self.settings.state_dir.join("sqs.env"),
            &[("BILLING_DLQ_URL".into(), url.clone())],
            "written by localaws setup: the billing dead-letter queue (moto)",
        )?;
        say(&format!("dead-letter queue {url}"));
        Ok((pool, url))
    }

    /// Runs one `localaws` command (`setup`, `token [USER] [--id]`, `machine-token [SCOPE...]`,
    /// `signing-key`); `Some(Ok(Some(text)))` is what it prints, `None` an unknown command.
    pub async fn run(&self, args: &[String]) -> Option<Result<Option<String>, Error>> {
        Some(match args.first().map(String::as_str)? {
            "setup" => self.setup().await.map(|_| None),
            "token" => {
                let user = args[1..]
                    .iter()
                    .find(|a| !a.starts_with("--"))
                    .map_or("user", String::as_str);
                let kind = if args.iter().any(|a| a == "--id") {
                    TokenKind::Id
                } else {
                    TokenKind::Access
                };
                self.token(user, kind).await.map(Some)
            }
            "machine-token" => self.machine_token(&args[1..]).await.map(Some),
            "signing-key" => self.moto_signing_key().map(Some),
            _ => return None,
        })
    }

    /// The private key moto signs every pool's tokens with, as PEM. It ships inside moto (a
    /// Python package), so moto's own loader reads it out once; it is kept in the state dir.
    pub fn moto_signing_key(&self) -> Result<String, Error> {
        let path = self.settings.state_dir.join("moto-signing-key.pem");
        if let Ok(pem) = std::fs::read_to_string(&path) {
            return Ok(pem);
        }
        let out = std::process::Command::new("python3")
            .args([
                "-c",
                "from moto.utilities.utils import load_resource\nfrom joserfc import jwk\n\
                 k = jwk.RSAKey.import_key(load_resource('moto.cognitoidp.models', 'resources/jwks-private.json'))\n\
                 print(k.as_pem(private=True).decode())",
            ])
            .output()
            .map_err(|e| Error::SigningKey(format!("running python3: {e}")))?;
        if !out.status.success() {
            return Err(Error::SigningKey(format!(
                "reading it from moto failed (is moto installed? make services installs it): {}",
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
        let pem = String::from_utf8_lossy(&out.stdout).into_owned();
        write_private(&path, &pem)?;
        Ok(pem)
    }
}

fn sdk_message<E: std::error::Error>(e: &E) -> String {
    let mut msg = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        msg = format!("{msg}: {s}");
        source = s.source();
    }
    msg
}

/// `export KEY='value'` lines (what `source` reads); a missing file is empty.
pub fn read_env(path: &Path) -> Result<BTreeMap<String, String>, Error> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(BTreeMap::new()),
        Err(e) => return Err(Error::Io(path.to_owned(), e)),
    };
    Ok(text
        .lines()
        .map(str::trim)
        .filter(|l| !l.starts_with('#'))
        .map(|l| l.strip_prefix("export ").unwrap_or(l))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.trim_matches(['\'', '"']).to_owned()))
        .collect())
}

fn write_env(path: &Path, values: &[(String, String)], comment: &str) -> Result<(), Error> {
    let mut text = format!("# {comment}\n");
    for (k, v) in values {
        text.push_str(&format!("export {k}='{v}'\n"));
    }
    write_private(path, &text)
}

/// Writes `text` readable by the owner only, atomically (a reader never sees half a file).
fn write_private(path: &Path, text: &str) -> Result<(), Error> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let io = |e| Error::Io(path.to_owned(), e);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(io)?;
    f.write_all(text.as_bytes()).map_err(io)?;
    std::fs::rename(&tmp, path).map_err(io)
}
