//! CloudWatch Embedded Metric Format: a metric is a JSON log line, so publishing costs no API
//! call and no latency. Namespace and dimension names match the Terraform dashboard and alarms.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value, json};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Count,
    Milliseconds,
}

impl Unit {
    fn as_str(self) -> &'static str {
        match self {
            Self::Count => "Count",
            Self::Milliseconds => "Milliseconds",
        }
    }
}

/// Where the EMF lines go: stdout, which Lambda sends to CloudWatch Logs.
#[derive(Clone, Debug)]
pub struct Metrics {
    namespace: String,
    service: String,
    /// Set by [`Metrics::capture`]: tests read the lines here instead of stdout.
    captured: Option<Sink>,
}

/// The lines a capturing [`Metrics`] emitted.
pub type Sink = Arc<Mutex<Vec<String>>>;

impl Metrics {
    /// `METRICS_NAMESPACE` (default `CrudMaster`) and `SERVICE_NAME` (default: `service`), as
    /// Terraform sets them for each function.
    pub fn from_env(env: &impl settings::Env, service: &str) -> Self {
        Self {
            namespace: env
                .optional("METRICS_NAMESPACE")
                .unwrap_or_else(|| "CrudMaster".into()),
            service: env
                .optional("SERVICE_NAME")
                .unwrap_or_else(|| service.into()),
            captured: None,
        }
    }

    /// The default namespace and `service`, lines captured instead of printed.
    pub fn capturing(service: &str) -> (Self, Sink) {
        Self::from_env(&[("", "")], service).capture()
    }

    /// These metrics, lines captured instead of printed.
    pub fn capture(mut self) -> (Self, Sink) {
        let sink = Sink::default();
        self.captured = Some(sink.clone());
        (self, sink)
    }

    pub fn line(&self, values: &[(&str, f64, Unit)]) -> String {
        let timestamp = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or_default();
        let definitions: Vec<Value> = values
            .iter()
            .map(|(name, _, unit)| json!({"Name": name, "Unit": unit.as_str()}))
            .collect();
        let mut root = Map::new();
        root.insert(
            "_aws".into(),
            json!({
                "Timestamp": timestamp,
                "CloudWatchMetrics": [{
                    "Namespace": self.namespace,
                    "Dimensions": [["Service"]],
                    "Metrics": definitions,
                }]
            }),
        );
        root.insert("Service".into(), Value::String(self.service.clone()));
        for (name, value, _) in values {
            root.insert((*name).into(), json!(value));
        }
        Value::Object(root).to_string()
    }

    /// Emits one EMF line holding all `values`.
    pub fn emit(&self, values: &[(&str, f64, Unit)]) {
        if values.is_empty() {
            return;
        }
        let line = self.line(values);
        if let Some(sink) = &self.captured {
            return sink.lock().map(|mut v| v.push(line)).unwrap_or_default();
        }
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{line}");
    }

    pub fn count(&self, name: &str, value: usize) {
        self.emit(&[(name, value as f64, Unit::Count)]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emf_line_declares_every_value() {
        let (m, sink) = Metrics::capturing("inventory");
        m.emit(&[
            ("MoviesCreated", 1.0, Unit::Count),
            ("DbErrors", 0.0, Unit::Count),
        ]);
        let lines = sink.lock().unwrap();
        let v: Value = serde_json::from_str(&lines[0]).unwrap();
        assert_eq!(v["_aws"]["CloudWatchMetrics"][0]["Namespace"], "CrudMaster");
        assert_eq!(
            v["_aws"]["CloudWatchMetrics"][0]["Dimensions"][0][0],
            "Service"
        );
        assert_eq!(v["Service"], "inventory");
        assert_eq!(v["MoviesCreated"], 1.0);
        assert_eq!(
            v["_aws"]["CloudWatchMetrics"][0]["Metrics"][1]["Name"],
            "DbErrors"
        );
    }
}
