//! The JWT authorizer through the gateway: bad tokens, route scopes, key rotation.

use super::*;

#[tokio::test]
async fn every_bad_token_is_a_401_with_www_authenticate() {
    let s = stack().await;
    let other = rsa();
    let forge = Forge {
        claims: access_claims(),
        kid: "k1",
        key: &s.key.pem,
        other_key: &other.pem,
        // The classic confusion attack: HMAC keyed with the public key material.
        hmac_secret: s.key.n.as_bytes(),
    };
    assert_all_unauthorized(&s.http, &format!("{}/api/movies", s.gw.url()), &forge).await;

    // Within the leeway an expired token still passes, as with API Gateway's small skew.
    let recent = sign("k1", &s.key, &forge.with("exp", json!(now() - 5)));
    assert_eq!(s.get("/api/movies", Some(&recent)).await.status(), 200);

    s.gw.shutdown().await;
}

/// API Gateway's answer to a valid token without any of the route's scopes.
async fn assert_insufficient_scope(s: &Stack, token: &str, why: &str) {
    let resp = s.get("/api/scoped", Some(token)).await;
    assert_eq!(resp.status(), 403, "{why}");
    assert_eq!(
        resp.headers()["www-authenticate"],
        r#"Bearer scope="crud/read crud/admin" error="insufficient_scope" error_description="expected scopes: [crud/read crud/admin]""#,
        "{why}"
    );
    assert_eq!(
        resp.json::<Value>().await.unwrap(),
        json!({"message": "Forbidden"}),
        "{why}"
    );
}

#[tokio::test]
async fn a_route_with_scopes_needs_one_of_them_in_the_scope_claim() {
    let s = stack().await;
    let user = access_claims();
    let scoped = |scope: &str| sign("k1", &s.key, &with(user.clone(), "scope", json!(scope)));

    assert_insufficient_scope(&s, &sign("k1", &s.key, &user), "a user token").await;
    // An id token names its client in `aud` and has no `scope` at all: API Gateway cannot
    // tell it from an access token except by the route's scopes.
    let id = with(
        with(
            with(user.clone(), "client_id", Value::Null),
            "scope",
            Value::Null,
        ),
        "aud",
        json!(CLIENT),
    );
    assert_eq!(
        s.get("/api/movies", Some(&sign("k1", &s.key, &id)))
            .await
            .status(),
        200
    );
    assert_insufficient_scope(&s, &sign("k1", &s.key, &id), "an id token").await;
    for scope in [
        "crud/write",
        "admin",
        "crud/read2",
        "crud/readcrud/admin",
        "CRUD/READ",
    ] {
        assert_insufficient_scope(&s, &scoped(scope), scope).await;
    }
    for scope in ["crud/read", "crud/admin", "crud/write crud/read"] {
        assert_eq!(
            s.get("/api/scoped", Some(&scoped(scope))).await.status(),
            200,
            "{scope}"
        );
    }
    s.gw.shutdown().await;
}

#[tokio::test]
async fn keys_are_cached_and_refetched_for_an_unknown_kid() {
    let s = stack().await;
    let token = sign("k1", &s.key, &access_claims());
    for _ in 0..3 {
        assert_eq!(s.get("/api/movies", Some(&token)).await.status(), 200);
    }
    assert_eq!(
        s.jwks.fetches.load(Ordering::SeqCst),
        1,
        "the JWKS is cached"
    );
    // The pool rotates: a new key appears under a new kid.
    let rotated = rsa();
    s.jwks.body.lock().unwrap()["keys"]
        .as_array_mut()
        .unwrap()
        .push(jwk("k2", &rotated));
    let new_token = sign("k2", &rotated, &access_claims());
    assert_eq!(s.get("/api/movies", Some(&new_token)).await.status(), 200);
    assert_eq!(s.jwks.fetches.load(Ordering::SeqCst), 2);
    s.gw.shutdown().await;
}
