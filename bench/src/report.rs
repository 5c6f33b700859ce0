//! The results as Markdown tables (printed and written to `bench/results.md`), each figure next
//! to its target and the reference it is compared with.

use std::fmt::Write;
use std::time::Duration;

use crate::stats::{Summary, ms};

#[derive(Default)]
pub struct Report {
    text: String,
    /// (what, figure, target, verdict) of every target check, for the summary.
    checks: Vec<[String; 4]>,
    pub passes: usize,
    pub misses: usize,
}

pub fn verdict(ok: bool) -> &'static str {
    if ok { "PASS" } else { "MISS" }
}

impl Report {
    pub fn heading(&mut self, title: &str, intro: &str) {
        let _ = write!(self.text, "\n### {title}\n\n");
        if !intro.is_empty() {
            let _ = write!(self.text, "{intro}\n\n");
        }
    }

    pub fn line(&mut self, line: &str) {
        let _ = writeln!(self.text, "{line}");
    }

    pub fn table(&mut self, header: &[&str]) {
        let _ = writeln!(self.text, "| {} |", header.join(" | "));
        let _ = writeln!(
            self.text,
            "|{}",
            header.iter().map(|_| "---|").collect::<String>()
        );
    }

    pub fn row(&mut self, cells: &[String]) {
        let _ = writeln!(self.text, "| {} |", cells.join(" | "));
    }

    /// Records a target check and returns its verdict for the row.
    pub fn check(&mut self, what: &str, figure: &str, target: &str, ok: bool) -> String {
        if ok {
            self.passes += 1;
        } else {
            self.misses += 1;
        }
        let v = format!("**{}**", verdict(ok));
        self.checks.push([
            what.to_owned(),
            figure.to_owned(),
            target.to_owned(),
            v.clone(),
        ]);
        v
    }

    /// Every target check in one table.
    pub fn summary_table(&self) -> String {
        let mut out = String::from("| target | figure | required | result |\n|---|---|---|---|\n");
        for [what, figure, target, v] in &self.checks {
            let _ = writeln!(out, "| {what} | {figure} | {target} | {v} |");
        }
        out
    }

    pub fn text(&self) -> &str {
        &self.text
    }
}

/// `p50 / p99 / max` cells plus req/s and errors.
pub fn latency_cells(s: &Summary) -> Vec<String> {
    vec![
        s.count.to_string(),
        ms(s.p50),
        ms(s.p99),
        ms(s.max),
        format!("{:.0}", s.rps),
        s.errors.to_string(),
    ]
}

/// Decimal megabytes, as sizes are usually quoted (and as the 3 MB target reads).
pub fn mb(bytes: u64) -> String {
    format!("{:.2}", bytes as f64 / 1e6)
}

pub fn mib(bytes: u64) -> String {
    format!("{:.2}", bytes as f64 / (1024.0 * 1024.0))
}

pub fn ratio(a: Duration, b: Duration) -> String {
    if b.is_zero() {
        return "-".into();
    }
    format!("{:.2}x", a.as_secs_f64() / b.as_secs_f64())
}
