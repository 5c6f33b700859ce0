//! The Lambda API (API version 2015-03-31) as far as the local stack has it, in AWS's shapes,
//! for `aws lambda ... --endpoint-url http://127.0.0.1:3000` and the SDKs:
//!
//! - `POST /2015-03-31/functions/{name}/invocations`: Invoke ([`invoke_api`]);
//! - `GET /2015-03-31/functions/`: ListFunctions; `GET .../functions/{name}`: GetFunction;
//!   `GET .../functions/{name}/configuration`: GetFunctionConfiguration;
//! - `GET /2015-03-31/event-source-mappings/`: ListEventSourceMappings;
//!   `GET .../event-source-mappings/{UUID}`: GetEventSourceMapping;
//!   `PUT .../event-source-mappings/{UUID}`: UpdateEventSourceMapping (`Enabled`, `BatchSize`,
//!   `MaximumBatchingWindowInSeconds`).
//!
//! The functions and mappings are the gateway config's: nothing here creates or deletes one.

// Path segments and query values: the SDKs percent-encode an ARN's colons.
use crate::apigw::form_params as query_params;
use crate::apigw::percent_decoded as decode;
use serde_json::{Map, Value};

use super::control::{function_name, function_not_found, invoke_api, lambda_error};
use super::*;
use crate::esm::{MAX_BATCHING_WINDOW, Update};

/// ListFunctions answers at most 50 functions a page, ListEventSourceMappings 100, whatever
/// `MaxItems` asks (1 to 10,000).
const MOST_FUNCTIONS: usize = 50;
const MOST_MAPPINGS: usize = 100;
const MAX_ITEMS: u32 = 10_000;
/// An UpdateEventSourceMapping body is a few hundred bytes; anything near this is not one.
const MAX_BODY: usize = 64 * 1024;

/// Routes a request under `/2015-03-31` (the caller checked it comes from a local tool).
pub(super) async fn lambda_api(gw: &Gateway, req: Request<Incoming>) -> Response<Full<Bytes>> {
    let path = req.uri().path().to_owned();
    let query = req.uri().query().unwrap_or_default().to_owned();
    let rest = path
        .strip_prefix("/2015-03-31")
        .unwrap_or_default()
        .trim_start_matches('/');
    let segments: Vec<&str> = rest.split('/').collect();
    let method = req.method().clone();
    match (&method, segments.as_slice()) {
        (_, ["functions", name, "invocations"]) => invoke_api(gw, req, &decode(name)).await,
        (&Method::GET, ["functions"] | ["functions", ""]) => list_functions(gw, &query),
        (&Method::GET, ["functions", name]) => get_function(gw, &decode(name)),
        (&Method::GET, ["functions", name, "configuration"]) => {
            get_function_configuration(gw, &decode(name))
        }
        (&Method::GET, ["event-source-mappings"] | ["event-source-mappings", ""]) => {
            list_event_source_mappings(gw, &query)
        }
        (&Method::GET, ["event-source-mappings", uuid]) => get_event_source_mapping(gw, uuid),
        (&Method::PUT, ["event-source-mappings", uuid]) => {
            let uuid = (*uuid).to_owned();
            update_event_source_mapping(gw, &uuid, req).await
        }
        (
            _,
            ["functions"]
            | ["functions", ""]
            | ["functions", _]
            | ["functions", _, "configuration"]
            | ["event-source-mappings"]
            | ["event-source-mappings", _],
        ) => lambda_error(
            StatusCode::METHOD_NOT_ALLOWED,
            "MethodNotAllowed",
            format!("{method} is not an operation on {path}"),
        ),
        _ => lambda_error(
            StatusCode::NOT_FOUND,
            "UnknownOperationException",
            format!(
                "Unknown operation: {method} {path} (the local Lambda API has Invoke, ListFunctions, GetFunction, GetFunctionConfiguration, ListEventSourceMappings, GetEventSourceMapping and UpdateEventSourceMapping)"
            ),
        ),
    }
}

fn param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// A refused request: its status, Lambda's exception name and the message.
#[derive(Debug, PartialEq, Eq)]
struct Refusal(StatusCode, &'static str, String);

impl Refusal {
    fn invalid_parameter(message: String) -> Self {
        Self(
            StatusCode::BAD_REQUEST,
            "InvalidParameterValueException",
            message,
        )
    }

    fn unreadable_body(why: String) -> Self {
        Self(
            StatusCode::BAD_REQUEST,
            "InvalidRequestContentException",
            format!("Could not parse request body into json: {why}"),
        )
    }

    fn into_response(self) -> Response<Full<Bytes>> {
        lambda_error(self.0, self.1, self.2)
    }
}

/// A page of items and the marker of the next page, if any.
type Page<'a, T> = (&'a [T], Option<String>);

/// One page of `items` (in a stable order), from the item whose key is `Marker`, at most
/// `MaxItems` and at most `most`; the marker of the next page when there is one. The marker is
/// the key of the next page's first item.
fn paginate<'a, T>(
    items: &'a [T],
    key: impl Fn(&T) -> String,
    params: &[(String, String)],
    most: usize,
) -> Result<Page<'a, T>, Refusal> {
    let max = match param(params, "MaxItems") {
        None => most,
        Some(v) => match v.parse::<u32>() {
            Ok(n) if (1..=MAX_ITEMS).contains(&n) => (n as usize).min(most),
            _ => {
                return Err(Refusal::invalid_parameter(format!(
                    "MaxItems must be a number from 1 to {MAX_ITEMS}, not {v:?}"
                )));
            }
        },
    };
    let from = match param(params, "Marker") {
        None | Some("") => 0,
        Some(marker) => items
            .iter()
            .position(|i| key(i) == marker)
            .ok_or_else(|| Refusal::invalid_parameter(format!("Invalid Marker {marker:?}")))?,
    };
    let page = &items[from..(from + max).min(items.len())];
    let next = items.get(from + max).map(&key);
    Ok((page, next))
}

/// `Architectures`: the functions run here as built for this machine (Terraform deploys arm64).
fn architecture() -> &'static str {
    match std::env::consts::ARCH {
        "aarch64" => "arm64",
        _ => "x86_64",
    }
}

/// A function's `FunctionConfiguration`
/// (https://docs.aws.amazon.com/lambda/latest/api/API_FunctionConfiguration.html), as far as the
/// gateway knows it: memory and timeout from its config, `LastModified` the time its
/// `bootstrap` was built (what a cold start runs), else the time the gateway started.
///
/// No `Environment`: Lambda returns the variables to a caller allowed to read the function,
/// and every local tool is one; here they hold the database passwords and the broker users'
/// URLs with theirs, which a listing would print to terminals and test logs.
fn function_configuration(name: &str, cfg: Option<&FunctionConfig>, started: SystemTime) -> Value {
    let built = cfg.and_then(|c| {
        std::fs::metadata(&c.bootstrap)
            .and_then(|m| m.modified())
            .ok()
    });
    let mut c = json!({
        "FunctionName": name,
        "FunctionArn": crate::lambda::function_arn(name),
        "Runtime": "provided.al2023",
        "Handler": "bootstrap",
        "Version": "$LATEST",
        "PackageType": "Zip",
        "Architectures": [architecture()],
        "LastModified": crate::time::lambda_timestamp(built.unwrap_or(started)),
        "State": "Active",
        "LastUpdateStatus": "Successful",
    });
    if let Some(cfg) = cfg {
        c["MemorySize"] = json!(cfg.memory_mb);
        c["Timeout"] = json!(cfg.timeout.as_secs());
    }
    c
}

fn started(gw: &Gateway) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(gw.started)
}

/// https://docs.aws.amazon.com/lambda/latest/api/API_ListFunctions.html
fn list_functions(gw: &Gateway, query: &str) -> Response<Full<Bytes>> {
    let params = query_params(query);
    let mut names: Vec<&str> = gw.lambda.names().collect();
    names.sort_unstable();
    let (page, next) = match paginate(&names, |n| (*n).to_owned(), &params, MOST_FUNCTIONS) {
        Ok(p) => p,
        Err(refusal) => return refusal.into_response(),
    };
    let functions: Vec<Value> = page
        .iter()
        .map(|n| function_configuration(n, gw.functions.get(*n), started(gw)))
        .collect();
    let mut body = json!({ "Functions": functions });
    if let Some(next) = next {
        body["NextMarker"] = json!(next);
    }
    json_response(StatusCode::OK, body)
}

/// The configuration of the function `raw` names, or Lambda's 404.
fn known_function(gw: &Gateway, raw: &str) -> Result<(String, Value), String> {
    let name = function_name(raw);
    if !gw.lambda.contains(name) {
        return Err(name.to_owned());
    }
    let cfg = function_configuration(name, gw.functions.get(name), started(gw));
    Ok((name.to_owned(), cfg))
}

/// https://docs.aws.amazon.com/lambda/latest/api/API_GetFunction.html: no `Code` (a pre-signed
/// URL of the package in S3 on AWS; nothing is uploaded here) and no tags.
fn get_function(gw: &Gateway, raw: &str) -> Response<Full<Bytes>> {
    let (name, configuration) = match known_function(gw, raw) {
        Ok(f) => f,
        Err(name) => return function_not_found(&name),
    };
    let mut body = json!({ "Configuration": configuration });
    // The gateway's max_concurrency is what reserved concurrency is on AWS: at most that many
    // instances at once, and throttling beyond.
    if let Some(cfg) = gw.functions.get(&name) {
        body["Concurrency"] = json!({ "ReservedConcurrentExecutions": cfg.max_concurrency });
    }
    json_response(StatusCode::OK, body)
}

/// https://docs.aws.amazon.com/lambda/latest/api/API_GetFunctionConfiguration.html
fn get_function_configuration(gw: &Gateway, raw: &str) -> Response<Full<Bytes>> {
    match known_function(gw, raw) {
        Ok((_, configuration)) => json_response(StatusCode::OK, configuration),
        Err(name) => function_not_found(&name),
    }
}

/// https://docs.aws.amazon.com/lambda/latest/api/API_ListEventSourceMappings.html: filtered by
/// `FunctionName` (any form [`function_name`] takes; a function the gateway does not have
/// matches no mapping) and `EventSourceArn`, in the config's order.
fn list_event_source_mappings(gw: &Gateway, query: &str) -> Response<Full<Bytes>> {
    let params = query_params(query);
    let function = param(&params, "FunctionName").map(function_name);
    let source = param(&params, "EventSourceArn");
    let mappings: Vec<&EventSourceMapping> = gw
        .mappings
        .iter()
        .filter(|m| function.is_none_or(|f| f == m.function()))
        .filter(|m| source.is_none_or(|s| s == m.event_source_arn()))
        .collect();
    let (page, next) = match paginate(&mappings, |m| m.uuid().to_string(), &params, MOST_MAPPINGS) {
        Ok(p) => p,
        Err(refusal) => return refusal.into_response(),
    };
    let configurations: Vec<Value> = page.iter().map(|m| m.configuration()).collect();
    let mut body = json!({ "EventSourceMappings": configurations });
    if let Some(next) = next {
        body["NextMarker"] = json!(next);
    }
    json_response(StatusCode::OK, body)
}

fn mapping<'a>(gw: &'a Gateway, uuid: &str) -> Result<&'a EventSourceMapping, Refusal> {
    let uuid = decode(uuid);
    gw.mappings
        .iter()
        .find(|m| m.uuid().to_string().eq_ignore_ascii_case(&uuid))
        .ok_or_else(|| {
            Refusal(
                StatusCode::NOT_FOUND,
                "ResourceNotFoundException",
                format!("The resource you requested does not exist. (event source mapping {uuid})"),
            )
        })
}

/// https://docs.aws.amazon.com/lambda/latest/api/API_GetEventSourceMapping.html
fn get_event_source_mapping(gw: &Gateway, uuid: &str) -> Response<Full<Bytes>> {
    match mapping(gw, uuid) {
        Ok(m) => json_response(StatusCode::OK, m.configuration()),
        Err(refusal) => refusal.into_response(),
    }
}

/// The [`Update`] an UpdateEventSourceMapping body asks of the mapping to `function`. What the
/// local mapping cannot do (filters, destinations, another function, ...) is refused by name
/// rather than ignored, so a script does not believe it took effect.
fn parse_update(body: &[u8], function: &str) -> Result<Update, Refusal> {
    let unreadable = Refusal::unreadable_body;
    let fields: Map<String, Value> = if body.iter().all(u8::is_ascii_whitespace) {
        Map::new()
    } else {
        serde_json::from_slice(body).map_err(|e| unreadable(e.to_string()))?
    };
    let invalid = Refusal::invalid_parameter;
    let integer = |key: &str, v: &Value| {
        v.as_u64()
            .ok_or_else(|| unreadable(format!("{key} must be an integer, not {v}")))
    };
    let mut update = Update::default();
    for (key, value) in &fields {
        if value.is_null() {
            continue;
        }
        match key.as_str() {
            "Enabled" => {
                update.enabled = Some(value.as_bool().ok_or_else(|| {
                    unreadable(format!("Enabled must be a boolean, not {value}"))
                })?);
            }
            "BatchSize" => {
                let n = integer(key, value)?;
                // The gateway config's cap, and Terraform's (README, "Billing"): a larger batch
                // could outlast billing-consumer's timeout and be redelivered for good.
                let most = billing::MAX_BILLING_BATCH as u64;
                if !(1..=most).contains(&n) {
                    return Err(invalid(format!(
                        "BatchSize must be between 1 and {most} on the local event source mapping, not {n}"
                    )));
                }
                update.batch_size = u16::try_from(n).ok();
            }
            "MaximumBatchingWindowInSeconds" => {
                let n = integer(key, value)?;
                if n > MAX_BATCHING_WINDOW.as_secs() {
                    return Err(invalid(format!(
                        "MaximumBatchingWindowInSeconds must be between 0 and {}, not {n}",
                        MAX_BATCHING_WINDOW.as_secs()
                    )));
                }
                update.batching_window = Some(Duration::from_secs(n));
            }
            // The SDKs may send the mapping's own function back; another one is a change the
            // local mapping does not make.
            "FunctionName" => {
                let named = value.as_str().map(function_name);
                if named != Some(function) {
                    return Err(invalid(format!(
                        "FunctionName {value}: the local event source mapping stays on {function} (local/gateway.yaml)"
                    )));
                }
            }
            "UUID" => {}
            other => {
                return Err(invalid(format!(
                    "{other} is not supported by the local event source mapping; it takes Enabled, BatchSize and MaximumBatchingWindowInSeconds"
                )));
            }
        }
    }
    Ok(update)
}

/// https://docs.aws.amazon.com/lambda/latest/api/API_UpdateEventSourceMapping.html: 202 and the
/// configuration after the change. A disabled mapping reads `Disabling` until a batch in
/// flight is done; a new batch size or window takes effect with the next batch.
async fn update_event_source_mapping(
    gw: &Gateway,
    uuid: &str,
    req: Request<Incoming>,
) -> Response<Full<Bytes>> {
    let m = match mapping(gw, uuid) {
        Ok(m) => m,
        Err(refusal) => return refusal.into_response(),
    };
    let body = match Limited::new(req.into_body(), MAX_BODY).collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => {
            let why = format!("the body is larger than {MAX_BODY} bytes");
            return Refusal::unreadable_body(why).into_response();
        }
    };
    match parse_update(&body, m.function()) {
        Ok(update) => {
            m.update(update);
            json_response(StatusCode::ACCEPTED, m.configuration())
        }
        Err(refusal) => refusal.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(q: &str) -> Vec<(String, String)> {
        query_params(q)
    }

    #[test]
    fn query_values_are_decoded() {
        let p = params(
            "FunctionName=arn%3Aaws%3Alambda%3Aus-east-1%3A123456789012%3Afunction%3Abilling-consumer&MaxItems=2&Empty=&Flag",
        );
        assert_eq!(
            param(&p, "FunctionName"),
            Some("arn:aws:lambda:us-east-1:123456789012:function:billing-consumer")
        );
        assert_eq!(param(&p, "MaxItems"), Some("2"));
        assert_eq!(param(&p, "Empty"), Some(""));
        assert_eq!(param(&p, "Flag"), Some(""));
        assert_eq!(param(&p, "Marker"), None);
        assert_eq!(param(&params("a=x+y%2B"), "a"), Some("x y+"));
    }

    #[test]
    fn pages_follow_the_marker() {
        let items = ["a", "b", "c", "d", "e"];
        let key = |s: &&str| (*s).to_owned();
        let (page, next) = paginate(&items, key, &params(""), 50).unwrap();
        assert_eq!((page, next), (&items[..], None));
        let (page, next) = paginate(&items, key, &params("MaxItems=2"), 50).unwrap();
        assert_eq!((page, next.as_deref()), (&items[..2], Some("c")));
        let (page, next) = paginate(&items, key, &params("MaxItems=2&Marker=c"), 50).unwrap();
        assert_eq!((page, next.as_deref()), (&items[2..4], Some("e")));
        let (page, next) = paginate(&items, key, &params("MaxItems=2&Marker=e"), 50).unwrap();
        assert_eq!((page, next), (&items[4..], None));
        // The service's own page size caps MaxItems.
        let (page, next) = paginate(&items, key, &params("MaxItems=10000"), 3).unwrap();
        assert_eq!((page, next.as_deref()), (&items[..3], Some("d")));
        for bad in ["MaxItems=0", "MaxItems=10001", "MaxItems=x", "Marker=zz"] {
            let Err(refusal) = paginate(&items, key, &params(bad), 50) else {
                panic!("{bad} accepted");
            };
            let resp = refusal.into_response();
            assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "{bad}");
            assert_eq!(
                resp.headers()["x-amzn-errortype"],
                "InvalidParameterValueException"
            );
        }
    }

    #[test]
    fn an_update_takes_enabled_batch_size_and_window() {
        let f = "billing-consumer";
        assert_eq!(
            parse_update(br#"{"Enabled": false}"#, f),
            Ok(Update {
                enabled: Some(false),
                ..Update::default()
            })
        );
        assert_eq!(
            parse_update(
                br#"{"UUID": "x", "FunctionName": "arn:aws:lambda:us-east-1:123456789012:function:billing-consumer", "BatchSize": 10, "MaximumBatchingWindowInSeconds": 2, "Enabled": true, "FilterCriteria": null}"#,
                f
            ),
            Ok(Update {
                enabled: Some(true),
                batch_size: Some(10),
                batching_window: Some(Duration::from_secs(2)),
            })
        );
        assert_eq!(parse_update(b"", f), Ok(Update::default()));
        assert_eq!(parse_update(b"{}", f), Ok(Update::default()));
    }

    #[test]
    fn an_update_the_local_mapping_cannot_make_is_refused_by_name() {
        let f = "billing-consumer";
        let kind = |body: &str| parse_update(body.as_bytes(), f).map_err(|r| (r.0, r.1));
        for body in [
            r#"{"BatchSize": 0}"#,
            r#"{"BatchSize": 1001}"#,
            r#"{"MaximumBatchingWindowInSeconds": 301}"#,
            r#"{"FunctionName": "inventory"}"#,
            r#"{"FilterCriteria": {"Filters": []}}"#,
            r#"{"DestinationConfig": {}}"#,
        ] {
            assert_eq!(
                kind(body),
                Err((StatusCode::BAD_REQUEST, "InvalidParameterValueException")),
                "{body}"
            );
        }
        for body in [
            "not json",
            "[1]",
            r#"{"Enabled": "no"}"#,
            r#"{"BatchSize": 2.5}"#,
            r#"{"BatchSize": -1}"#,
        ] {
            assert_eq!(
                kind(body),
                Err((StatusCode::BAD_REQUEST, "InvalidRequestContentException")),
                "{body}"
            );
        }
        let Err(Refusal(_, _, message)) = parse_update(br#"{"FilterCriteria": {}}"#, f) else {
            panic!("accepted");
        };
        assert!(
            message.starts_with("FilterCriteria is not supported"),
            "{message}"
        );
    }

    #[test]
    fn a_function_configuration_has_no_environment() {
        let mut cfg = FunctionConfig::new("billing-consumer", "/nonexistent/bootstrap");
        cfg.env
            .insert("DATABASE_PASSWORD".into(), "secret-value".into());
        cfg.memory_mb = 512;
        cfg.timeout = Duration::from_secs(30);
        let started = UNIX_EPOCH + Duration::from_millis(1_700_000_000_250);
        let c = function_configuration("billing-consumer", Some(&cfg), started);
        assert_eq!(c["FunctionName"], "billing-consumer");
        assert_eq!(
            c["FunctionArn"],
            crate::lambda::function_arn("billing-consumer")
        );
        assert_eq!(c["Runtime"], "provided.al2023");
        assert_eq!(c["Handler"], "bootstrap");
        assert_eq!(c["MemorySize"], 512);
        assert_eq!(c["Timeout"], 30);
        assert_eq!(c["State"], "Active");
        assert_eq!(c["LastUpdateStatus"], "Successful");
        assert_eq!(c["LastModified"], "2023-11-14T22:13:20.250+0000");
        assert!(matches!(
            c["Architectures"][0].as_str(),
            Some("arm64" | "x86_64")
        ));
        assert!(c.get("Environment").is_none());
        assert!(!c.to_string().contains("secret-value"));
        // A function the config does not describe (an in-process invoker only) has no sizes.
        let bare = function_configuration("other", None, started);
        assert!(bare.get("MemorySize").is_none() && bare.get("Timeout").is_none());
    }
}
