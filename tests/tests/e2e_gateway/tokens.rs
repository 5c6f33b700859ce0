//! Every kind of bad token against moto's Cognito pool (the matrix is
//! [`integration_tests::bad_tokens`], shared with the gateway's own tests).

use integration_tests::bad_tokens::{Forge, assert_all_unauthorized};

use super::*;

#[tokio::test]
async fn every_kind_of_bad_token_is_a_401_with_www_authenticate() {
    let s = Stack::start().await;
    let (header, claims) = claims_of(&s.token("user"));
    let other = std::process::Command::new("openssl")
        .args(["genrsa", "2048"])
        .stderr(std::process::Stdio::null())
        .output()
        .expect("openssl is installed");
    assert!(other.status.success());
    let client = s.cognito["COGNITO_CLIENT_ID"].clone();
    let forge = Forge {
        claims,
        kid: header["kid"].as_str().unwrap(),
        // moto signs with a key it ships: tokens re-signed with it are valid.
        key: &s.moto_key(),
        other_key: &other.stdout,
        hmac_secret: client.as_bytes(),
    };
    assert_all_unauthorized(&s.http, &format!("{}/api/movies", s.url), &forge).await;
}
