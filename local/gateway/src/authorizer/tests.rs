//! Unit tests of [`super`].

use super::*;

#[tokio::test]
async fn a_remembered_token_still_obeys_time_and_key_rules() {
    let auth = Authorizer::new(AuthorizerConfig::cognito(
        "http://127.0.0.1:1",
        "us-east-1",
        "pool",
        vec!["client".into()],
    ));
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let verified = |exp: i64| Verified {
        claims: serde_json::json!({"exp": exp, "sub": "u"})
            .as_object()
            .unwrap()
            .clone(),
        scopes: vec![],
    };
    auth.keys
        .write()
        .unwrap()
        .by_kid
        .insert("k1".into(), DecodingKey::from_secret(b"placeholder"));

    auth.remember("fresh", "k1".into(), &verified(now + 600));
    assert!(auth.remembered("fresh").await.is_some());

    auth.remember("expired", "k1".into(), &verified(now - 3600));
    assert!(
        auth.remembered("expired").await.is_none(),
        "exp is checked on every hit"
    );

    auth.remember("rotated", "k2".into(), &verified(now + 600));
    assert!(
        auth.remembered("rotated").await.is_none(),
        "its key is no longer published"
    );
    assert!(auth.remembered("never-seen").await.is_none());
}

#[test]
fn claims_flatten_like_api_gateway() {
    let claims = serde_json::json!({
        "cognito:groups": ["admin", "user"],
        "exp": 1_700_000_000,
        "scope": "aws.cognito.signin.user.admin",
        "email_verified": true,
        "nested": {"b": 1, "a": "x"},
    });
    let flat = flatten_claims(claims.as_object().unwrap());
    assert_eq!(flat["cognito:groups"], "[admin user]");
    assert_eq!(flat["exp"], "1700000000");
    assert_eq!(flat["scope"], "aws.cognito.signin.user.admin");
    assert_eq!(flat["email_verified"], "true");
    assert_eq!(flat["nested"], "map[a:x b:1]");
}

#[test]
fn www_authenticate_names_the_failure() {
    assert!(AuthError::Missing.www_authenticate().starts_with("Bearer"));
    let e = AuthError::Invalid("the token has expired".into());
    assert_eq!(
        e.www_authenticate(),
        r#"Bearer scope="" error="invalid_token" error_description="the token has expired""#
    );
    let e = AuthError::InsufficientScope(vec!["a/read".into(), "b".into()]);
    assert_eq!(e.status(), 403);
    assert_eq!(
        e.www_authenticate(),
        r#"Bearer scope="a/read b" error="insufficient_scope" error_description="expected scopes: [a/read b]""#
    );
    assert_eq!(AuthError::Missing.www_authenticate(), "Bearer");
}
