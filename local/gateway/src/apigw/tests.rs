//! Unit tests of [`super`].

use super::*;
use aws_lambda_events::apigw::ApiGatewayV2httpRequest;
use http_body_util::BodyExt;

fn fixture(name: &str) -> Value {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn request(
    method: &str,
    path: &str,
    query: &str,
    content_type: Option<&str>,
    body: &[u8],
) -> IncomingRequest {
    let mut headers = HeaderMap::new();
    headers.insert("Host", HeaderValue::from_static("127.0.0.1:3000"));
    headers.insert("User-Agent", HeaderValue::from_static("curl/8.5.0"));
    headers.append("X-Multi", HeaderValue::from_static("a"));
    headers.append("X-Multi", HeaderValue::from_static("b"));
    headers.insert("Cookie", HeaderValue::from_static("c1=v1; c2=v2"));
    if let Some(ct) = content_type {
        headers.insert("Content-Type", HeaderValue::from_str(ct).unwrap());
    }
    IncomingRequest {
        method: method.into(),
        raw_path: path.into(),
        raw_query: query.into(),
        headers,
        body: Bytes::copy_from_slice(body),
        source_ip: "127.0.0.1".into(),
        protocol: "HTTP/1.1".into(),
    }
}

fn context(with_claims: bool) -> EventContext {
    let claims = serde_json::json!({
        "sub": "abc", "cognito:groups": ["admin", "user"], "exp": 1_700_000_000,
        "scope": "aws.cognito.signin.user.admin", "client_id": "client1", "username": "admin",
    });
    EventContext {
        route_key: "GET /api/movies/{id}".into(),
        path_parameters: [("id".to_owned(), "42".to_owned())].into(),
        authorizer: with_claims.then(|| Verified {
            claims: claims.as_object().unwrap().clone(),
            scopes: vec!["aws.cognito.signin.user.admin".into()],
        }),
        route_has_scopes: false,
        request_id: "JsQ1AjmdIAMEPvA=".into(),
        time_epoch_ms: 1_583_348_638_390,
        api_id: "local".into(),
    }
}

#[test]
fn event_deserializes_into_the_aws_lambda_events_type() {
    let req = request("GET", "/api/movies/42", "title=a%20b&x=1&x=2", None, b"");
    let event = build_event(&req, &context(true));
    let typed: ApiGatewayV2httpRequest = serde_json::from_value(event.clone()).unwrap();
    assert_eq!(typed.version.as_deref(), Some("2.0"));
    assert_eq!(typed.route_key.as_deref(), Some("GET /api/movies/{id}"));
    assert_eq!(typed.raw_path.as_deref(), Some("/api/movies/42"));
    assert_eq!(
        typed.raw_query_string.as_deref(),
        Some("title=a%20b&x=1&x=2")
    );
    assert_eq!(typed.cookies, Some(vec!["c1=v1".into(), "c2=v2".into()]));
    assert_eq!(typed.headers.get("x-multi").unwrap(), "a,b");
    assert!(typed.headers.get("cookie").is_none());
    assert_eq!(typed.query_string_parameters.first("title"), Some("a b"));
    assert_eq!(event["queryStringParameters"]["x"], "1,2");
    assert_eq!(
        typed.path_parameters.get("id").map(String::as_str),
        Some("42")
    );
    let rc = &typed.request_context;
    assert_eq!(rc.stage.as_deref(), Some("$default"));
    assert_eq!(rc.time_epoch, 1_583_348_638_390);
    assert_eq!(rc.time.as_deref(), Some("04/Mar/2020:19:03:58 +0000"));
    assert_eq!(rc.http.method, http::Method::GET);
    assert_eq!(rc.http.source_ip.as_deref(), Some("127.0.0.1"));
    assert_eq!(rc.http.user_agent.as_deref(), Some("curl/8.5.0"));
    assert_eq!(rc.domain_name.as_deref(), Some("127.0.0.1:3000"));
    let jwt = rc.authorizer.as_ref().unwrap().jwt.as_ref().unwrap();
    assert_eq!(jwt.claims["cognito:groups"], "[admin user]");
    assert_eq!(jwt.claims["exp"], "1700000000");
    assert!(!typed.is_base64_encoded);
    assert!(typed.body.is_none());
}

#[test]
fn built_event_has_the_shape_of_the_aws_fixture() {
    let reference = fixture("example-apigw-v2-request-jwt-authorizer.json");
    let event = build_event(
        &request("GET", "/my/path", "a=1", Some("application/json"), b"{}"),
        &context(true),
    );
    for key in reference.as_object().unwrap().keys() {
        if key == "stageVariables" {
            continue; // our API has no stage variables, and API Gateway then omits them
        }
        assert!(event.get(key).is_some(), "event lacks top-level {key}");
    }
    let ours = event["requestContext"].as_object().unwrap();
    for key in reference["requestContext"].as_object().unwrap().keys() {
        if key == "authentication" {
            continue; // only with mutual TLS
        }
        assert!(ours.contains_key(key), "requestContext lacks {key}");
    }
    for key in reference["requestContext"]["http"]
        .as_object()
        .unwrap()
        .keys()
    {
        assert!(ours["http"].get(key).is_some(), "http lacks {key}");
    }
}

#[test]
fn no_authorizer_for_public_routes_and_binary_bodies_are_base64() {
    let req = request(
        "POST",
        "/health",
        "",
        Some("application/octet-stream"),
        &[0, 159, 146, 150],
    );
    let event = build_event(&req, &context(false));
    let typed: ApiGatewayV2httpRequest = serde_json::from_value(event.clone()).unwrap();
    assert!(typed.request_context.authorizer.is_none());
    assert!(typed.is_base64_encoded);
    assert_eq!(
        B64.decode(typed.body.unwrap()).unwrap(),
        vec![0, 159, 146, 150]
    );
    assert!(event.get("queryStringParameters").is_none());

    let form = build_event(
        &request(
            "POST",
            "/x",
            "",
            Some("application/x-www-form-urlencoded"),
            b"a=1",
        ),
        &context(false),
    );
    assert_eq!(
        form["isBase64Encoded"], true,
        "API Gateway encodes form bodies"
    );
    let json_body = build_event(
        &request(
            "POST",
            "/x",
            "",
            Some("application/json; charset=utf-8"),
            br#"{"a":1}"#,
        ),
        &context(false),
    );
    assert_eq!(json_body["isBase64Encoded"], false);
    assert_eq!(json_body["body"], r#"{"a":1}"#);
}

#[test]
fn a_trailing_slash_stays_in_raw_path_only() {
    let req = request("POST", "/api/movies/", "", Some("application/json"), b"{}");
    let event = build_event(&req, &context(true));
    assert_eq!(event["rawPath"], "/api/movies/");
    assert_eq!(event["requestContext"]["http"]["path"], "/api/movies");
    let root = build_event(&request("GET", "/", "", None, b""), &context(false));
    assert_eq!(root["requestContext"]["http"]["path"], "/");
}

#[test]
fn lambda_http_reads_our_event() {
    // lambda_http is what the functions use: our event becomes the request their router
    // sees, with the path, query, headers, cookies, body and JWT claims we put in.
    use lambda_http::RequestExt;
    let req = request(
        "POST",
        "/api/movies/42",
        "title=a%20b",
        Some("application/json"),
        br#"{"title":"x"}"#,
    );
    let event = build_event(&req, &context(true));
    let parsed: lambda_http::request::LambdaRequest = serde_json::from_value(event).unwrap();
    let http = lambda_http::Request::from(parsed);
    assert_eq!(http.method(), "POST");
    assert_eq!(http.uri().path(), "/api/movies/42");
    assert_eq!(http.query_string_parameters().first("title"), Some("a b"));
    assert_eq!(http.headers()["x-multi"], "a,b");
    assert_eq!(http.headers()["cookie"], "c1=v1; c2=v2");
    assert_eq!(http.body().as_ref(), br#"{"title":"x"}"#);
    let lambda_http::request::RequestContext::ApiGatewayV2(ctx) = http.request_context() else {
        panic!("not an HTTP API payload 2.0 context");
    };
    let jwt = ctx.authorizer.unwrap().jwt.unwrap();
    assert_eq!(jwt.claims["username"], "admin");
    assert_eq!(jwt.claims["cognito:groups"], "[admin user]");
}

async fn body_of(resp: Response<Full<Bytes>>) -> (StatusCode, HeaderMap, Bytes) {
    let (parts, body) = resp.into_parts();
    (
        parts.status,
        parts.headers,
        body.collect().await.unwrap().to_bytes(),
    )
}

#[tokio::test]
async fn structured_response_maps_status_headers_cookies_and_base64() {
    let payload = serde_json::json!({
        "statusCode": 201,
        "headers": {"content-type": "image/png", "x-a": "1"},
        "multiValueHeaders": {"x-b": ["1", "2"]},
        "cookies": ["s=1; HttpOnly", "t=2"],
        "body": B64.encode([1u8, 2, 3]),
        "isBase64Encoded": true,
    });
    let (status, headers, body) =
        body_of(map_response(payload.to_string().as_bytes()).unwrap()).await;
    assert_eq!(status, 201);
    assert_eq!(headers["content-type"], "image/png");
    assert_eq!(headers.get_all("x-b").iter().count(), 2);
    let cookies: Vec<_> = headers
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap())
        .collect();
    assert_eq!(cookies, vec!["s=1; HttpOnly", "t=2"]);
    assert_eq!(&body[..], &[1, 2, 3]);
}

#[tokio::test]
async fn response_from_the_aws_lambda_events_type_maps() {
    use aws_lambda_events::apigw::ApiGatewayV2httpResponse;
    let mut typed = ApiGatewayV2httpResponse::default();
    typed.status_code = 404;
    typed.headers.insert(
        "content-type",
        HeaderValue::from_static("application/problem+json"),
    );
    typed.body = Some(aws_lambda_events::encodings::Body::Text(
        r#"{"status":404}"#.into(),
    ));
    typed.cookies = vec!["a=b".into()];
    let payload = serde_json::to_vec(&typed).unwrap();
    let (status, headers, body) = body_of(map_response(&payload).unwrap()).await;
    assert_eq!(status, 404);
    assert_eq!(headers["content-type"], "application/problem+json");
    assert_eq!(headers["set-cookie"], "a=b");
    assert_eq!(&body[..], br#"{"status":404}"#);
}

#[tokio::test]
async fn plain_json_is_a_200_and_garbage_is_an_error() {
    let (status, headers, body) = body_of(map_response(br#"{"hello":"world"}"#).unwrap()).await;
    assert_eq!(status, 200);
    assert_eq!(headers["content-type"], "application/json");
    assert_eq!(&body[..], br#"{"hello":"world"}"#);
    assert_eq!(
        map_response(b"not json").unwrap_err(),
        MappingError::NotJson
    );
    assert!(map_response(br#"{"statusCode":"abc"}"#).is_err());
}
