//! The web client on the gateway's origin (`web:`): files with the response headers policy,
//! `/config.json`, the HTTP API's paths still the API's, and the local managed login behind the
//! same origin rule.

use super::*;

async fn web_stack() -> (Stack, std::path::PathBuf) {
    let dir = std::env::temp_dir().join(format!("gateway-web-{}", uuid_like()));
    std::fs::create_dir_all(dir.join("dist/assets")).unwrap();
    std::fs::write(
        dir.join("dist/index.html"),
        "<!doctype html><title>t</title>",
    )
    .unwrap();
    std::fs::write(
        dir.join("dist/assets/app.0123456789abcdef.js"),
        "export {};",
    )
    .unwrap();
    std::fs::write(
        dir.join("csp.txt"),
        "default-src 'none'; script-src 'self'; connect-src 'self' {auth_origin}\n",
    )
    .unwrap();
    let web = local_gateway::web::WebConfig {
        dist: dir.join("dist"),
        csp_file: dir.join("csp.txt"),
        // No moto here: the sign-ins below are refused before any password is checked.
        cognito_endpoint: "http://127.0.0.1:9".into(),
        region: "us-east-1".into(),
        client_id: CLIENT.into(),
    };
    let s = stack_configured(|_| {}, |cfg| cfg.web = Some(web)).await;
    (s, dir)
}

fn uuid_like() -> String {
    format!(
        "{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    )
}

#[tokio::test]
async fn the_client_is_served_beside_the_api_with_its_policy() {
    let (s, dir) = web_stack().await;
    let index = s.get("/", None).await;
    assert_eq!(index.status(), 200);
    let h = index.headers().clone();
    assert_eq!(h["content-type"], "text/html; charset=utf-8");
    assert_eq!(h["cache-control"], "no-cache");
    assert_eq!(
        h["content-security-policy"],
        "default-src 'none'; script-src 'self'; connect-src 'self'"
    );
    assert_eq!(h["x-frame-options"], "DENY");
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert!(index.text().await.unwrap().starts_with("<!doctype html>"));

    let asset = s.get("/assets/app.0123456789abcdef.js", None).await;
    assert_eq!(asset.status(), 200);
    assert_eq!(
        asset.headers()["cache-control"],
        "public, max-age=31536000, immutable"
    );
    assert_eq!(
        asset.headers()["content-type"],
        "text/javascript; charset=utf-8"
    );

    let config: Value = s.get("/config.json", None).await.json().await.unwrap();
    assert_eq!(
        config,
        json!({"authority": format!("http://127.0.0.1:{}/_cognito", s.gw.addr.port()),
               "clientId": CLIENT, "scopes": "openid email aws.cognito.signin.user.admin", "api": "/api"})
    );

    // The HTTP API keeps its paths (a token is still needed), unknown ones are its 404.
    assert_eq!(s.get("/api/movies", None).await.status(), 401);
    assert_eq!(s.get("/api/nothing-here", None).await.status(), 404);
    for hidden in ["/.git/config", "/assets/.env", "/nope.js"] {
        assert_eq!(s.get(hidden, None).await.status(), 404, "{hidden}");
    }
    s.gw.shutdown().await;
    std::fs::remove_dir_all(dir).unwrap();
}

#[tokio::test]
async fn the_local_managed_login_keeps_the_origin_rule_and_cognitos_checks() {
    let (s, dir) = web_stack().await;
    let port = s.gw.addr.port();
    let redirect = format!("http%3A%2F%2F127.0.0.1%3A{port}%2F");
    let authorize = |client: &str, redirect: &str, method: &str| {
        format!(
            "/_cognito/oauth2/authorize?response_type=code&client_id={client}&redirect_uri={redirect}&scope=openid&state=s1&code_challenge=Fv2mGeXN3kKGTbpAz-faWDq1tn3FxHA1oHcwuuhUCIc&code_challenge_method={method}"
        )
    };
    let page = s.get(&authorize(CLIENT, &redirect, "S256"), None).await;
    assert_eq!(page.status(), 200);
    assert!(
        page.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("form-action 'self'")
    );
    let html = page.text().await.unwrap();
    assert!(html.contains(r#"<label for="password">"#), "{html}");
    assert!(html.contains(r#"name="state" value="s1""#), "{html}");
    for bad in [
        authorize("other-client", &redirect, "S256"),
        authorize(CLIENT, "https%3A%2F%2Fevil.example%2F", "S256"),
        authorize(CLIENT, &redirect, "plain"),
    ] {
        assert_eq!(s.get(&bad, None).await.status(), 400, "{bad}");
    }
    // A page of another site may not post to the sign-in form, as to any route.
    let cross = s
        .to("POST", "/_cognito/login", None)
        .header("origin", "https://evil.example")
        .header("content-type", "application/x-www-form-urlencoded")
        .body("username=user&password=x")
        .send()
        .await
        .unwrap();
    assert_eq!(cross.status(), 403);
    // A code nobody was given.
    let token = s
        .to("POST", "/_cognito/oauth2/token", None)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!(
            "grant_type=authorization_code&client_id={CLIENT}&code=made-up&redirect_uri={redirect}&code_verifier=v"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(token.status(), 400);
    assert_eq!(
        token.json::<Value>().await.unwrap(),
        json!({"error": "invalid_grant"})
    );
    s.gw.shutdown().await;
    std::fs::remove_dir_all(dir).unwrap();
}
