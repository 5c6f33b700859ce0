//! The CloudWatch dashboard and alarms, locally, from the one definition Terraform renders
//! (`terraform/modules/observability/monitoring.json`, compiled in): the widgets' series and the
//! alarms' states, computed from the [`Recorder`] with the same statistics, periods,
//! thresholds and evaluation periods. Served as `GET /_local/metrics` and drawn by
//! `GET /_local/dashboard`.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{Value, json};

use crate::metrics::{MetricId, Recorder, Stat};

/// The definition, as Terraform reads it.
pub const DEFINITION: &str =
    include_str!("../../../terraform/modules/observability/monitoring.json");

#[derive(Debug, Deserialize)]
pub struct Definition {
    pub widgets: Vec<WidgetDef>,
    pub alarms: BTreeMap<String, AlarmDef>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WidgetDef {
    pub title: String,
    pub x: u32,
    pub y: u32,
    pub width: u32,
    pub height: u32,
    pub stat: String,
    pub period: u64,
    pub metrics: Vec<MetricDef>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricDef {
    pub namespace: String,
    pub metric: String,
    pub dimensions: BTreeMap<String, String>,
    pub label: String,
    pub stat: Option<String>,
    #[serde(rename = "yAxis")]
    pub y_axis: Option<String>,
    pub each: Option<String>,
    pub when: Option<String>,
    #[serde(default)]
    pub aws_only: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlarmDef {
    pub description: String,
    pub namespace: String,
    pub metric: String,
    pub stat: String,
    pub dimensions: BTreeMap<String, String>,
    pub threshold: f64,
    pub operator: String,
    pub evaluation_periods: u64,
    pub period: u64,
    pub each: Option<String>,
    pub when: Option<String>,
    #[serde(default)]
    pub aws_only: bool,
}

impl Definition {
    pub fn parse(text: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(text)
    }

    pub fn builtin() -> Self {
        // The file is compiled in and a unit test parses it: this cannot fail at run time.
        Self::parse(DEFINITION).unwrap_or_else(|e| panic!("monitoring.json: {e}"))
    }
}

/// What the `$tokens` of the definition are locally.
#[derive(Debug, Clone)]
pub struct Deployment {
    pub api_id: String,
    /// Role => function name (locally the same).
    pub functions: BTreeMap<String, String>,
    pub broker: String,
    pub queue: String,
    pub dlq: String,
    pub db_instance: Option<String>,
    pub db_proxy: Option<String>,
}

impl Deployment {
    fn token(&self, v: &str, function: Option<&str>) -> Option<String> {
        let Some(name) = v.strip_prefix('$') else {
            return Some(v.to_owned());
        };
        match name {
            "api_id" => Some(self.api_id.clone()),
            "function" => function.map(str::to_owned),
            "broker" => Some(self.broker.clone()),
            "queue" => Some(self.queue.clone()),
            "dead_queue" => Some(format!("{}.dead", self.queue)),
            "dlq" => Some(self.dlq.clone()),
            "db_instance" => self.db_instance.clone(),
            "db_proxy" => self.db_proxy.clone(),
            other => other
                .strip_prefix("function:")
                .and_then(|role| self.functions.get(role).cloned()),
        }
    }

    fn set(&self, each: Option<&str>) -> Vec<(String, Option<String>)> {
        match each {
            None => vec![(String::new(), None)],
            Some(set) => self
                .functions
                .iter()
                .filter(|(role, _)| set == "functions" || role.as_str() != "setup")
                .map(|(role, name)| (role.clone(), Some(name.clone())))
                .collect(),
        }
    }

    fn has(&self, when: Option<&str>) -> bool {
        match when {
            None => true,
            Some("db_proxy") => self.db_proxy.is_some(),
            Some(_) => false,
        }
    }

    /// A metric's id with the tokens replaced; `None` when one has no local value.
    fn id(
        &self,
        namespace: &str,
        metric: &str,
        dims: &BTreeMap<String, String>,
        function: Option<&str>,
    ) -> Option<MetricId> {
        let mut resolved = Vec::new();
        for (k, v) in dims {
            resolved.push((k.clone(), self.token(v, function)?));
        }
        let dims: Vec<(&str, &str)> = resolved
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        Some(MetricId::new(namespace, metric, &dims))
    }
}

#[derive(Debug, Clone)]
pub struct Metric {
    pub id: MetricId,
    pub label: String,
    pub stat: String,
    pub y_axis: String,
    pub aws_only: bool,
}

#[derive(Debug, Clone)]
pub struct Widget {
    pub title: String,
    pub width: u32,
    pub period: u64,
    pub metrics: Vec<Metric>,
}

#[derive(Debug, Clone)]
pub struct Alarm {
    pub name: String,
    pub description: String,
    pub id: MetricId,
    pub stat: String,
    pub threshold: f64,
    pub operator: String,
    pub evaluation_periods: u64,
    pub period: u64,
    pub aws_only: bool,
}

/// The definition rendered for one deployment, as Terraform renders it for AWS.
#[derive(Debug, Clone)]
pub struct Dashboard {
    pub widgets: Vec<Widget>,
    pub alarms: Vec<Alarm>,
}

impl Dashboard {
    pub fn render(def: &Definition, dep: &Deployment) -> Self {
        let widgets = def
            .widgets
            .iter()
            .map(|w| Widget {
                title: w.title.clone(),
                width: w.width,
                period: w.period,
                metrics: w
                    .metrics
                    .iter()
                    .filter(|m| dep.has(m.when.as_deref()))
                    .flat_map(|m| {
                        dep.set(m.each.as_deref())
                            .into_iter()
                            .filter_map(move |(key, function)| {
                                Some(Metric {
                                    id: dep.id(
                                        &m.namespace,
                                        &m.metric,
                                        &m.dimensions,
                                        function.as_deref(),
                                    )?,
                                    label: m.label.replace("$key", &key),
                                    stat: m.stat.clone().unwrap_or_else(|| w.stat.clone()),
                                    y_axis: m.y_axis.clone().unwrap_or_else(|| "left".into()),
                                    aws_only: m.aws_only,
                                })
                            })
                    })
                    .collect(),
            })
            .collect();
        let alarms = def
            .alarms
            .iter()
            .filter(|(_, a)| dep.has(a.when.as_deref()))
            .flat_map(|(name, a)| {
                dep.set(a.each.as_deref())
                    .into_iter()
                    .filter_map(move |(key, function)| {
                        Some(Alarm {
                            name: name.replace("$key", &key),
                            description: a
                                .description
                                .replace("$function", function.as_deref().unwrap_or_default()),
                            id: dep.id(
                                &a.namespace,
                                &a.metric,
                                &a.dimensions,
                                function.as_deref(),
                            )?,
                            stat: a.stat.clone(),
                            threshold: a.threshold,
                            operator: a.operator.clone(),
                            evaluation_periods: a.evaluation_periods.max(1),
                            period: a.period.max(1),
                            aws_only: a.aws_only,
                        })
                    })
            })
            .collect();
        Self { widgets, alarms }
    }
}

/// An alarm's state, evaluated as CloudWatch does with `treat_missing_data = notBreaching`
/// (what Terraform sets): ALARM when each of the last `evaluation_periods` periods breaches;
/// a period without data does not breach; INSUFFICIENT_DATA until the metric has been
/// recorded or the first full period has passed since the gateway started.
pub fn alarm_state(alarm: &Alarm, rec: &Recorder, now: u64, started: u64) -> Value {
    if alarm.aws_only {
        return json!({"name": alarm.name, "state": "AWS_ONLY", "description": alarm.description,
            "reason": "AWS publishes this metric; the local platform does not emulate it"});
    }
    let stat = Stat::parse(&alarm.stat).unwrap_or(Stat::Sum);
    let mut values = Vec::new();
    let mut breaching = 0;
    for k in (0..alarm.evaluation_periods).rev() {
        let to = now.saturating_sub(k * alarm.period) + 1;
        let from = to.saturating_sub(alarm.period);
        let v = rec.statistic(&alarm.id, stat, from, to);
        if v.is_some_and(|v| breaches(&alarm.operator, v, alarm.threshold)) {
            breaching += 1;
        }
        values.push(v);
    }
    let seen = rec.first_seen(&alarm.id).is_some();
    let state = if breaching == alarm.evaluation_periods {
        "ALARM"
    } else if !seen && now < started + alarm.period {
        "INSUFFICIENT_DATA"
    } else {
        "OK"
    };
    json!({
        "name": alarm.name, "state": state, "description": alarm.description,
        "namespace": alarm.id.namespace, "metric": alarm.id.name, "stat": alarm.stat,
        "threshold": alarm.threshold, "operator": alarm.operator, "period": alarm.period,
        "evaluation_periods": alarm.evaluation_periods, "values": values,
    })
}

pub fn breaches(operator: &str, v: f64, threshold: f64) -> bool {
    match operator {
        "GreaterThanThreshold" => v > threshold,
        "GreaterThanOrEqualToThreshold" => v >= threshold,
        "LessThanThreshold" => v < threshold,
        "LessThanOrEqualToThreshold" => v <= threshold,
        _ => false,
    }
}

/// The page's data: every widget's series over the last `range` seconds with `period`-second
/// datapoints (CloudWatch dashboards' automatic period does the same), and every alarm.
pub fn snapshot(
    dash: &Dashboard,
    rec: &Recorder,
    range: u64,
    period: u64,
    now: u64,
    started: u64,
) -> Value {
    let from = now.saturating_sub(range);
    let widgets: Vec<Value> = dash
        .widgets
        .iter()
        .map(|w| {
            let metrics: Vec<Value> = w
                .metrics
                .iter()
                .map(|m| {
                    let stat = Stat::parse(&m.stat).unwrap_or(Stat::Sum);
                    let points: Vec<[f64; 2]> = rec
                        .datapoints(&m.id, stat, period, from, now + 1)
                        .into_iter()
                        .map(|(t, v)| [t as f64, v])
                        .collect();
                    json!({
                        "label": m.label, "namespace": m.id.namespace, "metric": m.id.name,
                        "dimensions": m.id.dimensions.iter().map(|(k, v)| json!({"Name": k, "Value": v})).collect::<Vec<_>>(),
                        "stat": m.stat, "yAxis": m.y_axis, "aws_only": m.aws_only, "points": points,
                    })
                })
                .collect();
            json!({"title": w.title, "width": w.width, "definition_period": w.period, "metrics": metrics})
        })
        .collect();
    let alarms: Vec<Value> = dash
        .alarms
        .iter()
        .map(|a| alarm_state(a, rec, now, started))
        .collect();
    let (series, buckets) = rec.size();
    json!({
        "now": now, "range": range, "period": period, "widgets": widgets, "alarms": alarms,
        "recorder": {"series": series, "buckets": buckets, "dropped_series": rec.dropped()},
    })
}

/// The period the page uses for a range: about 60 to 180 points per chart, at least 5 s.
pub fn auto_period(range: u64) -> u64 {
    [5, 10, 30, 60, 300, 900, 3600]
        .into_iter()
        .find(|p| range / p <= 180)
        .unwrap_or(3600)
}

#[cfg(test)]
mod tests {
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
        for _ in 0..4 {
            rec.put(a5xx.id.clone(), 1.0);
        }
        // 4 < 5 (GreaterThanOrEqualToThreshold 5 over one 300 s period).
        assert_eq!(alarm_state(a5xx, &rec, now, now)["state"], "OK");
        rec.put(a5xx.id.clone(), 1.0);
        assert_eq!(alarm_state(a5xx, &rec, now, now)["state"], "ALARM");
        // p99 latency needs 3 breaching periods of 300 s: one is not enough.
        let lat = dash
            .alarms
            .iter()
            .find(|a| a.name == "api-latency-p99")
            .unwrap();
        rec.put(lat.id.clone(), 5000.0);
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
}
