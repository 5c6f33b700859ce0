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

#[derive(Clone, Debug)]
pub struct Metrics {
    namespace: String,
    service: String,
    /// Tests read the emitted lines from here instead of stdout.
    captured: Option<Arc<Mutex<Vec<String>>>>,
}

impl Metrics {
    /// `METRICS_NAMESPACE` (default `CrudMaster`) and `SERVICE_NAME` (default: `service`).
    pub fn from_env(service: &str) -> Self {
        let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        Self {
            namespace: env("METRICS_NAMESPACE").unwrap_or_else(|| "CrudMaster".into()),
            service: env("SERVICE_NAME").unwrap_or_else(|| service.into()),
            captured: None,
        }
    }

    pub fn capturing(service: &str) -> (Self, Arc<Mutex<Vec<String>>>) {
        let sink = Arc::new(Mutex::new(Vec::new()));
        let m = Self {
            namespace: "CrudMaster".into(),
            service: service.into(),
            captured: Some(sink.clone()),
        };
        (m, sink)
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
        match &self.captured {
            Some(sink) => sink.lock().map(|mut v| v.push(line)).unwrap_or_default(),
            None => {
                let mut out = std::io::stdout().lock();
                let _ = writeln!(out, "{line}");
            }
        }
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
