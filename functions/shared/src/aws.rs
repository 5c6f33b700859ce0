//! The AWS SDK configuration, from the variables Lambda sets, without `aws-config`.
//!
//! On Lambda the role's credentials and the region are in the environment (`AWS_ACCESS_KEY_ID`,
//! `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`, `AWS_REGION`), so the default provider chain
//! (profiles, SSO, IMDS, STS web identity) is dead weight: leaving it out makes every binary about
//! a megabyte smaller and the first SDK call milliseconds faster. `AWS_ENDPOINT_URL` points the
//! clients at moto locally.

use aws_credential_types::Credentials;
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_types::SdkConfig;
use aws_types::region::Region;

use crate::config::Env;

/// The shared SDK configuration for every service client (`Client::new(&config)`).
pub fn sdk_config(env: &impl Env) -> SdkConfig {
    let mut builder = SdkConfig::builder()
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
}
