//! The `/_local/` control APIs and the dashboard.

use super::*;

#[tokio::test]
async fn the_local_control_apis_answer_only_local_tools() {
    let s = stack().await;
    let port = s.gw.addr.port();
    let send = |path: &str, host: Option<String>, origin: Option<String>| {
        let mut req = if path.ends_with("/invocations") {
            s.to("POST", path, None).body("{}")
        } else {
            s.to("GET", path, None)
        };
        if let Some(h) = host {
            req = req.header("host", h);
        }
        if let Some(o) = origin {
            req = req.header("origin", o);
        }
        req.send()
    };
    for path in [
        "/_local/health",
        "/2015-03-31/functions/echo/invocations",
        "/2015-03-31/functions/",
        "/2015-03-31/event-source-mappings/",
    ] {
        for host in [
            format!("127.0.0.1:{port}"),
            format!("localhost:{port}"),
            format!("[::1]:{port}"),
        ] {
            let resp = send(path, Some(host.clone()), None).await.unwrap();
            assert_eq!(resp.status(), 200, "{path} with Host {host}");
        }
        for (host, origin) in [
            (format!("evil.example:{port}"), None),
            (format!("127.0.0.1.nip.io:{port}"), None),
            (
                format!("127.0.0.1:{port}"),
                Some("http://evil.example".to_owned()),
            ),
            (format!("127.0.0.1:{port}"), Some("null".to_owned())),
            (
                format!("127.0.0.1:{port}"),
                Some(format!("http://127.0.0.1:{port}")),
            ),
        ] {
            let resp = send(path, Some(host.clone()), origin.clone())
                .await
                .unwrap();
            assert_eq!(
                resp.status(),
                403,
                "{path} with Host {host}, Origin {origin:?}"
            );
            assert_eq!(resp.headers()["x-amzn-errortype"], "AccessDeniedException");
            assert_eq!(
                resp.json::<Value>().await.unwrap(),
                json!({"message": "Forbidden"})
            );
        }
    }
    // The HTTP API answers a page of the gateway's own origin, and no other site: not a
    // cross-origin request, not a DNS-rebinding one (its own name as Host).
    let health = |host: String, origin: Option<String>| {
        let mut req = s.to("GET", "/health", None).header("host", host);
        if let Some(o) = origin {
            req = req.header("origin", o);
        }
        req.send()
    };
    for (host, origin) in [
        (format!("127.0.0.1:{port}"), None),
        (
            format!("127.0.0.1:{port}"),
            Some(format!("http://127.0.0.1:{port}")),
        ),
        (
            format!("localhost:{port}"),
            Some(format!("http://localhost:{port}")),
        ),
    ] {
        let resp = health(host.clone(), origin.clone()).await.unwrap();
        assert_eq!(resp.status(), 200, "Host {host}, Origin {origin:?}");
    }
    for (host, origin) in [
        ("api.example".to_owned(), None),
        (format!("127.0.0.1.nip.io:{port}"), None),
        (
            format!("127.0.0.1:{port}"),
            Some("http://evil.example".to_owned()),
        ),
        (format!("127.0.0.1:{port}"), Some("null".to_owned())),
        (
            format!("127.0.0.1:{port}"),
            Some(format!("http://127.0.0.1:{}", port + 1)),
        ),
    ] {
        let resp = health(host.clone(), origin.clone()).await.unwrap();
        assert_eq!(resp.status(), 403, "Host {host}, Origin {origin:?}");
        assert_eq!(
            resp.json::<Value>().await.unwrap(),
            json!({"message": "Forbidden"})
        );
    }
    s.gw.shutdown().await;
}

/// The dashboard's data over real HTTP: requests through the HTTP API become AWS/ApiGateway and
/// AWS/Lambda datapoints under the definition's widgets; the page is served with a CSP and no
/// external script; bad parameters are a 400 problem; a browser's cross-origin request is refused.
#[tokio::test]
async fn the_dashboard_shows_what_the_api_and_the_function_did() {
    let s = stack().await;
    let token = sign("k1", &s.key, &access_claims());
    for _ in 0..5 {
        let r = s.get("/api/movies", Some(&token)).await;
        assert_eq!(r.status(), 200);
    }
    let r = s.get("/api/movies", None).await;
    assert_eq!(r.status(), 401);
    let data: Value = s.get_json("/_local/metrics?range=300&period=60").await;
    let series = |title: &str, label: &str| -> f64 {
        let w = data["widgets"]
            .as_array()
            .unwrap()
            .iter()
            .find(|w| w["title"] == title)
            .unwrap_or_else(|| panic!("no widget {title}"));
        let m = w["metrics"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["label"] == label)
            .unwrap_or_else(|| panic!("no {label} in {title}: {w}"));
        m["points"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p[1].as_f64().unwrap())
            .sum()
    };
    assert_eq!(series("API requests and errors", "requests"), 6.0);
    assert_eq!(series("API requests and errors", "4xx"), 1.0);
    assert_eq!(series("API requests and errors", "5xx"), 0.0);
    assert!(series("API latency (ms)", "p99") > 0.0);
    assert!(series("Lambda duration p99 (ms)", "echo") > 0.0);
    assert_eq!(series("Lambda errors and throttles", "echo errors"), 0.0);
    let alarms = data["alarms"].as_array().unwrap();
    let a5xx = alarms.iter().find(|a| a["name"] == "api-5xx").unwrap();
    assert_eq!(a5xx["state"], "OK");
    assert_eq!(a5xx["threshold"], 5.0);
    assert!(alarms.iter().any(|a| a["name"] == "echo-errors"));

    let page = s.get("/_local/dashboard", None).await;
    assert_eq!(page.status(), 200);
    assert!(
        page.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("connect-src 'self'")
    );
    let html = page.text().await.unwrap();
    assert!(html.contains("/_local/metrics"));
    assert!(!html.contains("<script src"), "no external script");

    for q in ["range=5", "range=x", "period=0", "range=999999"] {
        let r = s.get(&format!("/_local/metrics?{q}"), None).await;
        assert_eq!(r.status(), 400, "{q}");
        assert_eq!(r.headers()["content-type"], "application/problem+json");
    }
    let r = s
        .to("GET", "/_local/metrics", None)
        .header("origin", "http://evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    s.gw.shutdown().await;
}
