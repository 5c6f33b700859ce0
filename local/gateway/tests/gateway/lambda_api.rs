//! The Lambda API's functions over HTTP, in Lambda's shapes and errors (the event source
//! mappings, which need a broker, are driven with the AWS CLI in `tests/aws_cli.rs`).

use super::*;

/// `GET path` on the Lambda API: status, `x-amzn-errortype` and the JSON body.
async fn lambda(s: &Stack, method: &str, path: &str) -> (u16, Option<String>, Value) {
    let resp = s.to(method, path, None).send().await.unwrap();
    let status = resp.status().as_u16();
    let kind = resp
        .headers()
        .get("x-amzn-errortype")
        .map(|v| v.to_str().unwrap().to_owned());
    (status, kind, resp.json().await.unwrap())
}

#[tokio::test]
async fn the_functions_are_listed_and_described_in_lambdas_shapes() {
    let s = stack_with(|f| {
        f.memory_mb = 512;
        f.max_concurrency = 3;
        f.env
            .insert("DATABASE_PASSWORD".into(), "not-for-listing".into());
    })
    .await;
    let arn = "arn:aws:lambda:us-east-1:123456789012:function:echo";

    let (status, _, list) = lambda(&s, "GET", "/2015-03-31/functions/").await;
    assert_eq!(status, 200);
    let functions = list["Functions"].as_array().unwrap();
    assert_eq!(functions.len(), 1);
    let echo = &functions[0];
    assert_eq!(echo["FunctionName"], "echo");
    assert_eq!(echo["FunctionArn"], arn);
    assert_eq!(echo["Runtime"], "provided.al2023");
    assert_eq!(echo["Handler"], "bootstrap");
    assert_eq!(echo["MemorySize"], 512);
    assert_eq!(echo["Timeout"], 2);
    assert_eq!(echo["State"], "Active");
    assert_eq!(echo["LastUpdateStatus"], "Successful");
    assert!(list.get("NextMarker").is_none());
    assert!(!list.to_string().contains("not-for-listing"), "{list}");
    assert!(echo.get("Environment").is_none());

    // By name, by ARN (percent-encoded, as the SDKs send it), qualified.
    for name in [
        "echo",
        "arn%3Aaws%3Alambda%3Aus-east-1%3A123456789012%3Afunction%3Aecho",
        "echo:live",
    ] {
        let (status, _, got) = lambda(&s, "GET", &format!("/2015-03-31/functions/{name}")).await;
        assert_eq!(status, 200, "{name}: {got}");
        assert_eq!(&got["Configuration"], echo, "{name}");
        assert_eq!(got["Concurrency"]["ReservedConcurrentExecutions"], 3);
        let (status, _, config) = lambda(
            &s,
            "GET",
            &format!("/2015-03-31/functions/{name}/configuration"),
        )
        .await;
        assert_eq!((status, &config), (200, echo), "{name}");
    }

    let (status, kind, body) = lambda(&s, "GET", "/2015-03-31/functions/ghost").await;
    assert_eq!(
        (status, kind.as_deref()),
        (404, Some("ResourceNotFoundException"))
    );
    assert_eq!(
        body,
        json!({"Type": "User", "message": "Function not found: arn:aws:lambda:us-east-1:123456789012:function:ghost"})
    );
    let (status, kind, _) = lambda(&s, "GET", "/2015-03-31/event-source-mappings/0b1c").await;
    assert_eq!(
        (status, kind.as_deref()),
        (404, Some("ResourceNotFoundException"))
    );
    let (status, kind, _) = lambda(&s, "GET", "/2015-03-31/functions/?MaxItems=0").await;
    assert_eq!(
        (status, kind.as_deref()),
        (400, Some("InvalidParameterValueException"))
    );
    let (status, kind, _) = lambda(&s, "DELETE", "/2015-03-31/functions/echo").await;
    assert_eq!((status, kind.as_deref()), (405, Some("MethodNotAllowed")));
    let (status, kind, _) = lambda(&s, "GET", "/2015-03-31/layers").await;
    assert_eq!(
        (status, kind.as_deref()),
        (404, Some("UnknownOperationException"))
    );
    // The removed admin routes: the Lambda API is the one way to the mappings.
    for path in ["/_local/esm", "/_local/esm/disable"] {
        let method = if path.ends_with("disable") {
            "POST"
        } else {
            "GET"
        };
        let resp = s.to(method, path, None).send().await.unwrap();
        assert_eq!(resp.status(), 404, "{method} {path}");
    }
    s.gw.shutdown().await;
}
