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
mod tests;
