use super::*;
use crate::metrics::now_ms;

fn local() -> Deployment {
    Deployment {
        api_id: "crudlocal".into(),
        functions: ["inventory", "billing-api", "billing-consumer"]
            .into_iter()
            .map(|f| (f.to_owned(), f.to_owned()))
            .collect(),
        broker: "local".into(),
        queue: "billing_queue".into(),
        dlq: "billing-dlq".into(),
        db_instance: None,
        db_proxy: None,
    }
}

#[test]
fn the_definition_renders_locally() {
    let dash = Dashboard::render(&Definition::builtin(), &local());
    assert!(dash.widgets.len() >= 9);
    let names: Vec<&str> = dash.alarms.iter().map(|a| a.name.as_str()).collect();
    for n in [
        "api-5xx",
        "billing-queue-dead-letters",
        "billing-queue-backlog",
        "inventory-errors",
        "billing-consumer-throttles",
        "billing-api-db-errors",
    ] {
        assert!(names.contains(&n), "{n} in {names:?}");
    }
    // No RDS locally: the RDS alarms need an instance identifier, the proxy one a proxy.
    assert!(!names.contains(&"proxy-connections"));
    let dead = dash
        .alarms
        .iter()
        .find(|a| a.name == "billing-queue-dead-letters")
        .unwrap();
    assert_eq!(
        dead.id,
        MetricId::new(
            "AWS/AmazonMQ",
            "MessageCount",
            &[
                ("Broker", "local"),
                ("VirtualHost", "/"),
                ("Queue", "billing_queue.dead")
            ]
        )
    );
    for w in &dash.widgets {
        for m in &w.metrics {
            assert!(Stat::parse(&m.stat).is_some(), "{}: {}", w.title, m.stat);
            assert!(!m.label.contains('$'), "{}", m.label);
        }
    }
}

#[test]
fn alarm_states_follow_threshold_and_periods() {
    let dash = Dashboard::render(&Definition::builtin(), &local());
    let rec = Recorder::new();
    let now = now_ms() / 1000;
    let a5xx = dash.alarms.iter().find(|a| a.name == "api-5xx").unwrap();
    // Just started, nothing recorded yet.
    assert_eq!(
        alarm_state(a5xx, &rec, now, now)["state"],
        "INSUFFICIENT_DATA"
    );
    // Stamped with `now`, so the second cannot tick over between the puts and the reads.
    for _ in 0..4 {
        rec.put_at(a5xx.id.clone(), 1.0, now * 1000);
    }
    // 4 < 5 (GreaterThanOrEqualToThreshold 5 over one 300 s period).
    assert_eq!(alarm_state(a5xx, &rec, now, now)["state"], "OK");
    rec.put_at(a5xx.id.clone(), 1.0, now * 1000);
    assert_eq!(alarm_state(a5xx, &rec, now, now)["state"], "ALARM");
    // p99 latency needs 3 breaching periods of 300 s: one is not enough.
    let lat = dash
        .alarms
        .iter()
        .find(|a| a.name == "api-latency-p99")
        .unwrap();
    rec.put_at(lat.id.clone(), 5000.0, now * 1000);
    assert_eq!(alarm_state(lat, &rec, now, now - 3600)["state"], "OK");
    for k in 1..3 {
        rec.put_at(lat.id.clone(), 5000.0, (now - k * 300) * 1000);
    }
    assert_eq!(alarm_state(lat, &rec, now, now - 3600)["state"], "ALARM");
}

/// The drift check: every metric and alarm of the definition is either recorded locally
/// (emulated by the gateway under AWS's name, or printed as EMF by a function) or marked
/// `aws_only`; and every alarm the README's runbook names exists.
#[test]
fn the_definition_and_the_local_recorder_agree() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut sources = String::new();
    let mut dirs = vec![root.join("functions")];
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                dirs.push(p);
            } else if p.extension().is_some_and(|x| x == "rs") {
                sources.push_str(&std::fs::read_to_string(&p).unwrap());
            }
        }
    }
    let def = Definition::builtin();
    let mut used = Vec::new();
    for w in &def.widgets {
        for m in &w.metrics {
            used.push((
                m.namespace.as_str(),
                m.metric.as_str(),
                m.aws_only,
                w.title.as_str(),
            ));
        }
    }
    for (name, a) in &def.alarms {
        used.push((
            a.namespace.as_str(),
            a.metric.as_str(),
            a.aws_only,
            name.as_str(),
        ));
    }
    for (ns, metric, aws_only, place) in used {
        let local = if ns == crate::metrics::APP_NAMESPACE {
            sources.contains(&format!("\"{metric}\""))
        } else {
            crate::metrics::EMULATED.contains(&(ns, metric))
        };
        assert!(
            local != aws_only,
            "{place}: {ns} {metric} is {} locally but aws_only is {aws_only}",
            if local { "recorded" } else { "not recorded" }
        );
    }
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let section = readme
        .split("## Monitoring, alerting and runbook")
        .nth(1)
        .and_then(|s| s.split("\n## ").next())
        .unwrap();
    let names: Vec<String> = Dashboard::render(
        &def,
        &Deployment {
            db_instance: Some("db".into()),
            db_proxy: Some("proxy".into()),
            ..local()
        },
    )
    .alarms
    .into_iter()
    .map(|a| a.name)
    .collect();
    let mut checked = 0;
    for line in section.lines().filter(|l| l.starts_with("| `")) {
        let name = line[3..].split('`').next().unwrap();
        if let Some(suffix) = name.strip_prefix("<function>") {
            assert!(names.iter().any(|n| n.ends_with(suffix)), "{name}");
        } else if name != "inspector-finding" {
            assert!(
                names.contains(&name.to_owned()),
                "the runbook's {name} is not an alarm of monitoring.json"
            );
        }
        checked += 1;
    }
    assert!(
        checked >= 10,
        "the runbook table was not found ({checked} rows)"
    );
}

#[test]
fn auto_periods() {
    assert_eq!(auto_period(300), 5);
    assert_eq!(auto_period(900), 5);
    assert_eq!(auto_period(3600), 30);
    assert_eq!(auto_period(3 * 3600), 60);
}
