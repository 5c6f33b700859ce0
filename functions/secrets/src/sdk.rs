//! The AWS SDK configuration, from the variables Lambda sets, without `aws-config`.
//!
//! On Lambda the role's credentials and the region are in the environment (`AWS_ACCESS_KEY_ID`,
//! `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`, `AWS_REGION`), so the default provider chain
//! (profiles, SSO, IMDS, STS web identity) is dead weight: leaving it out makes every binary about
//! a megabyte smaller and the first SDK call milliseconds faster. `AWS_ENDPOINT_URL` points the
//! clients at moto locally.
//!
//! The HTTP client trusts the five Amazon Trust Services roots only, compiled in, instead of the
//! SDK default of loading the platform's root store: that default reads and parses every
//! certificate of the system bundle (and of `/etc/ssl/certs`) on the first request, which was
//! the largest CPU cost of a cold start under Lambda's CPU share (`make bench`, power tuning;
//! docs/performance.md). AWS service endpoints carry Amazon Trust Services certificates
//! (<https://aws.amazon.com/blogs/security/how-to-prepare-for-aws-move-to-its-own-certificate-authority/>),
//! and Amazon Trust Services recommends exactly these five roots for custom trust stores
//! (<https://www.amazontrust.com/repository/>). `AWS_CA_BUNDLE` (a PEM file, as the AWS CLI reads
//! it) replaces them, for an endpoint signed by another CA.

use aws_credential_types::Credentials;
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_smithy_http_client::tls::{self, TlsContext, TrustStore, rustls_provider::CryptoMode};
use aws_smithy_runtime_api::client::http::SharedHttpClient;
use aws_types::SdkConfig;
use aws_types::region::Region;

use settings::Env;

/// Every variable [`sdk_config`] reads.
pub const VARIABLES: [&str; 7] = [
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_ENDPOINT_URL",
    "AWS_CA_BUNDLE",
];

/// The Amazon Trust Services roots (Amazon Root CA 1 to 4, Starfield Services Root Certificate
/// Authority - G2), PEM.
pub const AMAZON_TRUST_SERVICES_ROOTS: &[u8] = include_bytes!("amazon-trust-services-roots.pem");

/// The PEM roots the SDK clients trust: `AWS_CA_BUNDLE`'s file when set and readable, else the
/// Amazon Trust Services roots.
fn trusted_roots(env: &impl Env) -> Vec<u8> {
    match env.optional("AWS_CA_BUNDLE") {
        Some(path) => std::fs::read(&path).unwrap_or_else(|e| {
            tracing::warn!(%path, error = %e, "AWS_CA_BUNDLE unreadable: trusting the Amazon Trust Services roots");
            AMAZON_TRUST_SERVICES_ROOTS.to_vec()
        }),
        None => AMAZON_TRUST_SERVICES_ROOTS.to_vec(),
    }
}

/// rustls (aws-lc, as everywhere else) with [`trusted_roots`]. Plain `http://` endpoints (moto)
/// go through the same client, so a local cold start does what it does on AWS except the
/// handshake itself.
pub fn http_client(env: &impl Env) -> SharedHttpClient {
    let trust = TrustStore::empty().with_pem_certificate(trusted_roots(env));
    let builder = aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(CryptoMode::AwsLc));
    match TlsContext::builder().with_trust_store(trust).build() {
        Ok(context) => builder.tls_context(context).build_https(),
        Err(e) => {
            tracing::warn!(error = %e, "TLS context: using the SDK's default trust store");
            builder.build_https()
        }
    }
}

/// The shared SDK configuration for every service client (`Client::new(&config)`).
pub fn sdk_config(env: &impl Env) -> SdkConfig {
    let mut builder = SdkConfig::builder()
        .http_client(http_client(env))
        .behavior_version(
            aws_smithy_runtime_api::client::behavior_version::BehaviorVersion::latest(),
        )
        .region(
            env.optional("AWS_REGION")
                .or_else(|| env.optional("AWS_DEFAULT_REGION"))
                .map(Region::new),
        );
    if let (Some(key), Some(secret)) = (
        env.optional("AWS_ACCESS_KEY_ID"),
        env.optional("AWS_SECRET_ACCESS_KEY"),
    ) {
        builder = builder.credentials_provider(SharedCredentialsProvider::new(Credentials::new(
            key,
            secret,
            env.optional("AWS_SESSION_TOKEN"),
            None,
            "environment",
        )));
    }
    if let Some(url) = env.optional("AWS_ENDPOINT_URL") {
        builder = builder.endpoint_url(url);
    }
    builder.build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_what_lambda_sets() {
        let env = [
            ("AWS_REGION", "eu-west-1"),
            ("AWS_ACCESS_KEY_ID", "AKIA"),
            ("AWS_SECRET_ACCESS_KEY", "s"),
            ("AWS_ENDPOINT_URL", "http://127.0.0.1:4566"),
        ];
        let c = sdk_config(&env);
        assert_eq!(c.region().map(|r| r.as_ref()), Some("eu-west-1"));
        assert_eq!(c.endpoint_url(), Some("http://127.0.0.1:4566"));
        assert!(c.credentials_provider().is_some());
        assert!(sdk_config(&[("X", "")]).credentials_provider().is_none());
    }

    /// [`crate::SecretSource`] hands the SDK configuration only these variables: one read here
    /// and missing there would be silently ignored on AWS.
    #[test]
    fn variables_lists_every_variable_read_here() {
        let source = include_str!("sdk.rs");
        let read: std::collections::BTreeSet<&str> = source
            .split("env.optional(\"")
            .skip(1)
            .filter_map(|rest| rest.split('"').next())
            .collect();
        assert_eq!(read, VARIABLES.into_iter().collect());
    }

    #[test]
    fn trusts_the_five_amazon_trust_services_roots() {
        use rustls::pki_types::CertificateDer;
        use rustls::pki_types::pem::PemObject;
        let certs: Vec<CertificateDer> =
            CertificateDer::pem_slice_iter(AMAZON_TRUST_SERVICES_ROOTS)
                .collect::<Result<_, _>>()
                .unwrap();
        assert_eq!(certs.len(), 5);
        let mut roots = rustls::RootCertStore::empty();
        let (valid, invalid) = roots.add_parsable_certificates(certs);
        assert_eq!((valid, invalid), (5, 0));
        assert_eq!(trusted_roots(&[("X", "")]), AMAZON_TRUST_SERVICES_ROOTS);
    }

    #[test]
    fn aws_ca_bundle_replaces_them() {
        let path = std::env::temp_dir().join(format!("aws-ca-bundle-{}.pem", std::process::id()));
        std::fs::write(&path, b"-----BEGIN CERTIFICATE-----\n").unwrap();
        let p = path.display().to_string();
        assert_eq!(
            trusted_roots(&[("AWS_CA_BUNDLE", p.as_str())]),
            b"-----BEGIN CERTIFICATE-----\n"
        );
        std::fs::remove_file(&path).unwrap();
        assert_eq!(
            trusted_roots(&[("AWS_CA_BUNDLE", "/nonexistent/bundle.pem")]),
            AMAZON_TRUST_SERVICES_ROOTS
        );
    }
}
