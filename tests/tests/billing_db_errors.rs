//! billing-api counts a real database error as `DbErrors` with exactly the namespace, metric name
//! and `Service` dimension Terraform's `billing-api-db-errors` alarm watches, so the alarm can
//! fire. The alarm's side is read from `terraform/` (monitoring.json and the functions'
//! environment in main.tf): if either side drifts, this test fails.

use database::migrate::Database;
use integration_tests::{TestDb, USER, amqp_url, call};
use serde_json::Value;
use telemetry::metrics::Metrics;

const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/..");

/// What the alarm matches, as Terraform deploys it for the function `role`.
struct Alarm {
    namespace: String,
    metric: String,
    dimensions: serde_json::Map<String, Value>,
    threshold: f64,
    /// The `SERVICE_NAME` Terraform gives the function (its deployed name; `$function`).
    service_name: String,
}

fn read(path: &str) -> String {
    std::fs::read_to_string(format!("{ROOT}/{path}")).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// `name = "value"` or `name = expression` in a .tf file, as written.
fn tf_assignment(tf: &str, name: &str) -> String {
    tf.lines()
        .map(str::trim)
        .find_map(|l| {
            let (k, v) = l.split_once('=')?;
            (k.trim() == name).then(|| v.trim().to_owned())
        })
        .unwrap_or_else(|| panic!("{name} is not set in the .tf file"))
}

fn billing_api_db_errors_alarm() -> Alarm {
    let monitoring: Value =
        serde_json::from_str(&read("terraform/modules/observability/monitoring.json"))
            .expect("monitoring.json is JSON");
    let alarm = &monitoring["alarms"]["$key-db-errors"];
    assert_eq!(alarm["each"], "app_functions", "{alarm}");
    // app_functions: every function but setup, so billing-api has the alarm.
    let observability = read("terraform/modules/observability/main.tf");
    let app_functions = tf_assignment(&observability, "app_functions");
    assert!(
        app_functions.contains("if k != \"setup\"") && !app_functions.contains("billing-api"),
        "{app_functions}"
    );
    // $function is the deployed name (the module gets local.function_names), which is also the
    // function's SERVICE_NAME; METRICS_NAMESPACE is a literal.
    let main = read("terraform/main.tf");
    let observability_module = main
        .split_once("module \"observability\" {")
        .expect("main.tf calls the observability module")
        .1;
    assert_eq!(
        tf_assignment(observability_module, "functions"),
        "local.function_names"
    );
    assert_eq!(
        tf_assignment(&main, "SERVICE_NAME"),
        "local.function_names[each.key]"
    );
    let metrics_namespace = tf_assignment(&main, "METRICS_NAMESPACE")
        .trim_matches('"')
        .to_owned();
    assert_eq!(alarm["namespace"], metrics_namespace.as_str());
    assert_eq!(alarm["operator"], "GreaterThanThreshold");
    assert_eq!(alarm["stat"], "Sum");
    Alarm {
        namespace: metrics_namespace,
        metric: alarm["metric"].as_str().expect("metric").to_owned(),
        dimensions: alarm["dimensions"].as_object().expect("dimensions").clone(),
        threshold: alarm["threshold"].as_f64().expect("threshold"),
        service_name: "crud-master-prod-billing-api".into(),
    }
}

#[tokio::test]
async fn a_real_database_error_fires_the_billing_api_db_errors_alarm() {
    let alarm = billing_api_db_errors_alarm();
    let orders = TestDb::new(Database::Orders).await;
    // The environment Terraform gives the function.
    let env = [
        ("METRICS_NAMESPACE", alarm.namespace.as_str()),
        ("SERVICE_NAME", alarm.service_name.as_str()),
    ];
    let (metrics, sink) = Metrics::from_env(&env, "billing-api").capture();
    let router = billing_api::router(billing_api::AppState {
        publisher: broker::Publisher::new(broker::AmqpSettings::local(
            &amqp_url(),
            "billing_db_errors",
        )),
        db: orders.db.clone(),
        metrics,
    });
    let path = format!("/api/billing/orders/{}", uuid::Uuid::new_v4());

    // Healthy: a 404, and no DbErrors.
    call(&router, "GET", &path, None, USER)
        .await
        .assert_problem(404);
    assert!(sink.lock().unwrap().is_empty(), "no metric for a 404");

    // A real error from PostgreSQL (42P01 undefined_table), not a refused connection.
    orders
        .client()
        .await
        .batch_execute("ALTER TABLE orders RENAME TO orders_moved_away")
        .await
        .expect("rename the table");
    let r = call(&router, "GET", &path, None, USER).await;
    r.assert_problem(500);
    assert!(
        r.json.get("detail").is_none(),
        "a 5xx body says nothing more"
    );

    let lines: Vec<Value> = sink
        .lock()
        .unwrap()
        .iter()
        .map(|l| serde_json::from_str(l).expect("EMF line is JSON"))
        .collect();
    assert_eq!(lines.len(), 1, "{lines:?}");
    let line = &lines[0];
    let emf = &line["_aws"]["CloudWatchMetrics"][0];
    assert_eq!(emf["Namespace"], alarm.namespace.as_str());
    let names: Vec<&str> = emf["Metrics"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m["Name"].as_str())
        .collect();
    assert_eq!(names, [alarm.metric.as_str()]);
    // The alarm's dimensions, each resolved as Terraform resolves it, are exactly the line's.
    let declared: Vec<&str> = emf["Dimensions"][0]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    let mut expected: Vec<&str> = alarm.dimensions.keys().map(String::as_str).collect();
    expected.sort_unstable();
    assert_eq!(declared, expected);
    for (name, value) in &alarm.dimensions {
        assert_eq!(value, "$function", "{name}");
        assert_eq!(line[name.as_str()], alarm.service_name.as_str(), "{name}");
    }
    let value = line[alarm.metric.as_str()].as_f64().expect("a number");
    assert!(
        value > alarm.threshold,
        "one error ({value}) exceeds the alarm's threshold ({})",
        alarm.threshold
    );
}
