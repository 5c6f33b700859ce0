//! Routing, payload format 2.0 both ways, function failures and throttles, the Invoke API.

use super::*;

#[tokio::test]
async fn routes_claims_and_the_event_reach_the_function() {
    let s = stack().await;
    let token = sign("k1", &s.key, &access_claims());

    let resp = s.get("/health", None).await;
    assert_eq!(resp.status(), 200);
    assert!(resp.headers().contains_key("apigw-requestid"));
    assert_eq!(resp.headers()["set-cookie"], "seen=1");
    let body: Value = resp.json().await.unwrap();
    assert!(body["event"]["requestContext"].get("authorizer").is_none());
    assert_eq!(body["event"]["routeKey"], "GET /health");

    let resp = s
        .to("GET", "/api/movies/42?title=a%20b&x=1&x=2", None)
        .header("authorization", format!("Bearer {token}"))
        .header("cookie", "a=1; b=2")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let event = resp.json::<Value>().await.unwrap()["event"].clone();
    let typed: aws_lambda_events::apigw::ApiGatewayV2httpRequest =
        serde_json::from_value(event.clone()).unwrap();
    assert_eq!(typed.route_key.as_deref(), Some("GET /api/movies/{id}"));
    assert_eq!(typed.path_parameters["id"], "42");
    assert_eq!(typed.query_string_parameters.first("title"), Some("a b"));
    assert_eq!(event["queryStringParameters"]["x"], "1,2");
    assert_eq!(typed.cookies, Some(vec!["a=1".into(), "b=2".into()]));
    assert_eq!(typed.request_context.stage.as_deref(), Some("$default"));
    assert_eq!(typed.request_context.apiid.as_deref(), Some("test"));
    let jwt = typed.request_context.authorizer.unwrap().jwt.unwrap();
    assert_eq!(jwt.claims["cognito:groups"], "[admin user]");
    assert_eq!(jwt.claims["client_id"], CLIENT);
    assert!(jwt.claims["exp"].parse::<i64>().is_ok());
    let ms = event["requestContext"]["timeEpoch"].as_i64().unwrap();
    assert!((ms / 1000 - now()).abs() < 5, "timeEpoch is milliseconds");

    // A binary body arrives base64-encoded; JSON arrives as text.
    let resp = s
        .to("POST", "/api/movies", None)
        .header("authorization", &token)
        .header("content-type", "application/octet-stream")
        .body(vec![0u8, 255, 1])
        .send()
        .await
        .unwrap();
    let event = resp.json::<Value>().await.unwrap()["event"].clone();
    assert_eq!(event["isBase64Encoded"], true);
    assert_eq!(event["body"], "AP8B");

    // An id token: `aud` instead of `client_id`.
    let id = with(
        with(access_claims(), "client_id", Value::Null),
        "aud",
        json!("second-client"),
    );
    assert_eq!(
        s.get("/api/movies", Some(&sign("k1", &s.key, &id)))
            .await
            .status(),
        200
    );
    s.gw.shutdown().await;
}

#[tokio::test]
async fn unmatched_routes_failures_and_the_invoke_api() {
    let s = stack().await;
    let token = sign("k1", &s.key, &access_claims());
    for (method, path) in [
        ("GET", "/nope"),
        ("PATCH", "/api/movies/1"),
        ("GET", "/api/movies/1/x"),
    ] {
        let resp = s
            .to(method, path, None)
            .header("authorization", &token)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 404, "{method} {path}");
        assert_eq!(
            resp.json::<Value>().await.unwrap(),
            json!({"message": "Not Found"})
        );
    }
    let post = |body: Value| {
        s.to("POST", "/api/movies", None)
            .header("authorization", &token)
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
    };
    let resp = post(json!({"action": "error"})).await.unwrap();
    assert_eq!(resp.status(), 500);
    assert_eq!(
        resp.json::<Value>().await.unwrap(),
        json!({"message": "Internal Server Error"})
    );
    let resp = post(json!({"action": "sleep", "seconds": 5}))
        .await
        .unwrap();
    assert_eq!(
        resp.status(),
        500,
        "a function timeout is a Lambda error, as on AWS"
    );
    let resp = post(json!({"action": "crash"})).await.unwrap();
    assert_eq!(resp.status(), 500);
    assert_eq!(
        post(json!({})).await.unwrap().status(),
        200,
        "a new instance took over"
    );

    // The Lambda Invoke API, as `aws lambda invoke --endpoint-url` uses it.
    let invoke = |name: &str, body: &'static str| {
        s.http
            .post(format!(
                "{}/2015-03-31/functions/{name}/invocations",
                s.gw.url()
            ))
            .body(body)
            .send()
    };
    let resp = invoke("echo", r#"{"direct":true}"#).await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["x-amz-executed-version"], "$LATEST");
    assert_eq!(
        resp.json::<Value>().await.unwrap()["event"],
        json!({"direct": true})
    );
    let resp = invoke(
        "arn:aws:lambda:us-east-1:123456789012:function:echo",
        r#"{"action":"error"}"#,
    )
    .await
    .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["x-amz-function-error"], "Unhandled");
    let resp = invoke("ghost", "{}").await.unwrap();
    assert_eq!(resp.status(), 404);
    assert_eq!(
        resp.headers()["x-amzn-errortype"],
        "ResourceNotFoundException"
    );

    let esm: Value = s.get_json("/2015-03-31/event-source-mappings/").await;
    assert_eq!(esm, json!({"EventSourceMappings": []}));
    s.gw.shutdown().await;
}

/// Over the reserved concurrency with `throttle_wait` zero (Lambda's behaviour), API Gateway
/// answers 500 `{"message":"Internal Server Error"}`: "If the Lambda API rejects the invocation
/// request, API Gateway returns a 500 error code"
/// (https://docs.aws.amazon.com/lambda/latest/dg/services-apigateway-errors.html).
#[tokio::test]
async fn a_throttled_function_is_a_500_from_api_gateway() {
    let s = stack_with(|f| {
        f.max_concurrency = 1;
        f.throttle_wait = Duration::ZERO;
    })
    .await;
    let token = sign("k1", &s.key, &access_claims());
    let send = || {
        s.to("POST", "/api/movies", Some(&token))
            .header("content-type", "application/json")
            .body(r#"{"action":"sleep","seconds":0.6}"#)
            .send()
    };
    let (a, b) = tokio::join!(send(), async {
        tokio::time::sleep(Duration::from_millis(200)).await;
        send().await
    });
    let mut statuses = vec![a.unwrap(), b.unwrap()];
    statuses.sort_by_key(reqwest::Response::status);
    let throttled = statuses.pop().unwrap();
    assert_eq!(statuses[0].status(), 200);
    assert_eq!(throttled.status(), 500);
    assert_eq!(
        throttled.json::<Value>().await.unwrap(),
        json!({"message": "Internal Server Error"})
    );
    s.gw.shutdown().await;
}
