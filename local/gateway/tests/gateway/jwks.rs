//! The authorizer's JWKS fetching when the endpoint hangs or fails.

use super::*;

fn authorizer(jwks: &Jwks, failure_ttl: Duration) -> Arc<Authorizer> {
    Arc::new(Authorizer::new(AuthorizerConfig {
        issuer: issuer(),
        jwks_url: jwks.url.clone(),
        audiences: vec![CLIENT.into()],
        leeway_secs: 30,
        jwks_min_refresh: Duration::ZERO,
        jwks_failure_ttl: failure_ttl,
        jwks_timeout: Duration::from_millis(1500),
    }))
}

/// A token of its own (a distinct `jti`), so no verification is served from memory.
fn fresh_token(kid: &str, key: &Rsa) -> String {
    sign(
        kid,
        key,
        &with(
            access_claims(),
            "jti",
            json!(uuid::Uuid::new_v4().to_string()),
        ),
    )
}

#[tokio::test]
async fn a_hanging_jwks_endpoint_is_fetched_once_and_stalls_no_cached_key() {
    let key = rsa();
    let jwks = serve_jwks(json!({"keys": [jwk("k1", &key)]})).await;
    let auth = authorizer(&jwks, Duration::from_secs(30));
    auth.verify(&fresh_token("k1", &key)).await.unwrap();
    assert_eq!(jwks.fetches.load(Ordering::SeqCst), 1);

    // The endpoint now accepts connections and never answers. Eight tokens name a kid the
    // cache does not know, at once: one fetch between them, outside the cache's lock.
    jwks.mode.store(HANG, Ordering::SeqCst);
    let rotated = rsa();
    let tokens: Vec<_> = (0..8).map(|_| fresh_token("k2", &rotated)).collect();
    let started = Instant::now();
    let waiting: Vec<_> = tokens
        .into_iter()
        .map(|token| {
            let auth = auth.clone();
            tokio::spawn(async move { auth.verify(&token).await })
        })
        .collect();
    let known = fresh_token("k1", &key);
    tokio::time::sleep(Duration::from_millis(300)).await;
    // Under the hanging fetch's 1.5 s timeout, which began 0.3 s ago.
    let cached = tokio::time::timeout(Duration::from_secs(1), auth.verify(&known))
        .await
        .expect("a token whose key is cached does not wait for the hanging fetch");
    assert!(cached.is_ok());
    for w in waiting {
        let refused = w.await.unwrap().unwrap_err();
        assert!(matches!(refused, AuthError::Invalid(_)), "{refused:?}");
    }
    assert_eq!(
        jwks.fetches.load(Ordering::SeqCst),
        2,
        "one fetch for the eight"
    );
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "the eight waited for one fetch's timeout, not one each: {:?}",
        started.elapsed()
    );

    // The failure is remembered: refused without a new fetch (a fetch would hang for 1.5 s).
    let token = fresh_token("k2", &rotated);
    let t = Instant::now();
    assert!(auth.verify(&token).await.is_err());
    assert!(t.elapsed() < Duration::from_secs(1), "{:?}", t.elapsed());
    assert_eq!(jwks.fetches.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_failed_jwks_fetch_is_remembered_for_a_few_seconds_then_retried() {
    let key = rsa();
    let jwks = serve_jwks(json!({"keys": [jwk("k1", &key)]})).await;
    jwks.mode.store(FAIL, Ordering::SeqCst);
    // Signed before the clock starts: signing in a debug build on a loaded machine is slow.
    let tokens: Vec<_> = (0..5).map(|_| fresh_token("k1", &key)).collect();
    let auth = authorizer(&jwks, Duration::from_secs(3));
    for token in &tokens {
        let refused = auth.verify(token).await.unwrap_err();
        assert_eq!(
            refused,
            AuthError::Invalid("the signing keys could not be fetched".into())
        );
    }
    assert_eq!(
        jwks.fetches.load(Ordering::SeqCst),
        1,
        "one fetch, then the failure is remembered"
    );

    jwks.mode.store(SERVE, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(3100)).await;
    assert!(auth.verify(&fresh_token("k1", &key)).await.is_ok());
    assert_eq!(jwks.fetches.load(Ordering::SeqCst), 2);

    // A JWKS endpoint that is down (connection refused) fails the same way.
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/jwks.json", closed.local_addr().unwrap());
    drop(closed);
    let down = Jwks {
        url,
        ..serve_jwks(json!({"keys": []})).await
    };
    let auth = authorizer(&down, Duration::from_secs(30));
    let tokens: Vec<_> = (0..3).map(|_| fresh_token("k1", &key)).collect();
    let t = Instant::now();
    for token in &tokens {
        assert!(auth.verify(token).await.is_err());
    }
    assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
}
