//! Small SVG line charts for `bench/results.md` and `docs/performance.md`: no library, a
//! self-contained file per chart (axes, ticks, one polyline and dot per series, a legend).

use std::fmt::Write as _;

const COLORS: [&str; 4] = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e"];

/// One series: label and (x, y) points, x ascending.
pub struct Series<'a> {
    pub label: &'a str,
    pub points: Vec<(f64, f64)>,
}

fn nice_max(v: f64) -> f64 {
    if v <= 0.0 || !v.is_finite() {
        return 1.0;
    }
    let mag = 10f64.powf(v.log10().floor());
    [1.0, 2.0, 2.5, 5.0, 10.0]
        .into_iter()
        .map(|m| m * mag)
        .find(|m| *m >= v)
        .unwrap_or(10.0 * mag)
}

fn num(v: f64) -> String {
    if v >= 100.0 || v == v.round() {
        format!("{v:.0}")
    } else {
        format!("{v:.2}")
    }
}

/// A line chart; x positions are spaced evenly by rank (concurrency levels 1, 2, 4, ...).
pub fn line_chart(title: &str, x_label: &str, y_label: &str, series: &[Series]) -> String {
    chart(title, x_label, y_label, series, None)
}

/// A line chart with one more series on its own axis at the right, drawn dashed (the power
/// tuning's cost next to its times).
pub fn line_chart_with_right_axis(
    title: &str,
    x_label: &str,
    y_label: &str,
    series: &[Series],
    right_label: &str,
    right: &Series,
) -> String {
    chart(title, x_label, y_label, series, Some((right_label, right)))
}

fn chart(
    title: &str,
    x_label: &str,
    y_label: &str,
    series: &[Series],
    right: Option<(&str, &Series)>,
) -> String {
    let r = if right.is_some() { 70.0 } else { 20.0 };
    let (w, h, l, t, b) = (560.0, 300.0, 60.0, 30.0, 50.0);
    let xs: Vec<f64> = series
        .first()
        .map(|s| s.points.iter().map(|p| p.0).collect())
        .unwrap_or_default();
    let ymax = nice_max(
        series
            .iter()
            .flat_map(|s| s.points.iter().map(|p| p.1))
            .fold(0.0, f64::max),
    );
    let n = xs.len().max(2) as f64 - 1.0;
    let x_at = |i: usize| l + (w - l - r) * i as f64 / n;
    let y_at = |v: f64| t + (h - t - b) * (1.0 - v / ymax);
    let mut s = String::new();
    let _ = write!(
        s,
        r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}" width="{w}" height="{h}" font-family="sans-serif" font-size="11">
<rect width="100%" height="100%" fill="#fff"/>
<text x="{}" y="18" text-anchor="middle" font-size="13" font-weight="bold">{title}</text>
"##,
        w / 2.0
    );
    for k in 0..=4 {
        let v = ymax * f64::from(k) / 4.0;
        let y = y_at(v);
        let _ = writeln!(
            s,
            r##"<line x1="{l}" x2="{}" y1="{y:.1}" y2="{y:.1}" stroke="#e5e5e5"/><text x="{}" y="{:.1}" text-anchor="end">{}</text>"##,
            w - r,
            l - 6.0,
            y + 4.0,
            num(v)
        );
    }
    for (i, x) in xs.iter().enumerate() {
        let _ = writeln!(
            s,
            r##"<text x="{:.1}" y="{}" text-anchor="middle">{}</text>"##,
            x_at(i),
            h - b + 16.0,
            num(*x)
        );
    }
    let _ = writeln!(
        s,
        r##"<text x="{}" y="{}" text-anchor="middle">{x_label}</text><text x="14" y="{}" text-anchor="middle" transform="rotate(-90 14 {})">{y_label}</text>"##,
        (l + w - r) / 2.0,
        h - 12.0,
        (t + h - b) / 2.0,
        (t + h - b) / 2.0
    );
    for (k, se) in series.iter().enumerate() {
        let c = COLORS[k % COLORS.len()];
        let pts: Vec<String> = se
            .points
            .iter()
            .enumerate()
            .map(|(i, p)| format!("{:.1},{:.1}", x_at(i), y_at(p.1)))
            .collect();
        let _ = writeln!(
            s,
            r##"<polyline fill="none" stroke="{c}" stroke-width="2" points="{}"/>"##,
            pts.join(" ")
        );
        for p in &pts {
            let (x, y) = p.split_once(',').unwrap_or_default();
            let _ = writeln!(s, r##"<circle cx="{x}" cy="{y}" r="3" fill="{c}"/>"##);
        }
        let ly = t + 4.0 + 14.0 * k as f64;
        let _ = writeln!(
            s,
            r##"<line x1="{}" x2="{}" y1="{ly}" y2="{ly}" stroke="{c}" stroke-width="2"/><text x="{}" y="{}">{}</text>"##,
            l + 10.0,
            l + 26.0,
            l + 30.0,
            ly + 4.0,
            se.label
        );
    }
    if let Some((label, se)) = right {
        let c = COLORS[series.len() % COLORS.len()];
        let rmax = nice_max(se.points.iter().map(|p| p.1).fold(0.0, f64::max));
        let ry = |v: f64| t + (h - t - b) * (1.0 - v / rmax);
        for k in 0..=4 {
            let v = rmax * f64::from(k) / 4.0;
            let _ = writeln!(
                s,
                r##"<text x="{}" y="{:.1}" fill="{c}">{}</text>"##,
                w - r + 6.0,
                ry(v) + 4.0,
                num(v)
            );
        }
        let mid = (t + h - b) / 2.0;
        let _ = writeln!(
            s,
            r##"<text x="{}" y="{mid}" text-anchor="middle" fill="{c}" transform="rotate(90 {} {mid})">{label}</text>"##,
            w - 10.0,
            w - 10.0
        );
        let pts: Vec<String> = se
            .points
            .iter()
            .enumerate()
            .map(|(i, p)| format!("{:.1},{:.1}", x_at(i), ry(p.1)))
            .collect();
        let _ = writeln!(
            s,
            r##"<polyline fill="none" stroke="{c}" stroke-width="2" stroke-dasharray="5,3" points="{}"/>"##,
            pts.join(" ")
        );
        for p in &pts {
            let (x, y) = p.split_once(',').unwrap_or_default();
            let _ = writeln!(
                s,
                r##"<rect x="{x}" y="{y}" width="5" height="5" transform="translate(-2.5 -2.5)" fill="{c}"/>"##
            );
        }
        let ly = t + 4.0 + 14.0 * series.len() as f64;
        let _ = writeln!(
            s,
            r##"<line x1="{}" x2="{}" y1="{ly}" y2="{ly}" stroke="{c}" stroke-width="2" stroke-dasharray="5,3"/><text x="{}" y="{}">{} (right axis)</text>"##,
            l + 10.0,
            l + 26.0,
            l + 30.0,
            ly + 4.0,
            se.label
        );
    }
    s.push_str("</svg>\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_every_point_and_label() {
        let svg = line_chart(
            "Latency",
            "in flight",
            "ms",
            &[
                Series {
                    label: "p50",
                    points: vec![(1.0, 0.1), (2.0, 0.2), (4.0, 0.5)],
                },
                Series {
                    label: "p99",
                    points: vec![(1.0, 0.2), (2.0, 0.4), (4.0, 1.3)],
                },
            ],
        );
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>\n"));
        assert_eq!(svg.matches("<circle").count(), 6);
        assert_eq!(svg.matches("<polyline").count(), 2);
        assert!(svg.contains(">p99<") && svg.contains(">4<"));
        assert_eq!(nice_max(1.3), 2.0);
        assert_eq!(nice_max(3048.0), 5000.0);
    }

    #[test]
    fn right_axis_series_is_dashed_and_labelled() {
        let svg = line_chart_with_right_axis(
            "inventory",
            "memory MB",
            "ms",
            &[Series {
                label: "warm p50",
                points: vec![(128.0, 2.0), (256.0, 1.0)],
            }],
            "USD per million",
            &Series {
                label: "cost",
                points: vec![(128.0, 0.2), (256.0, 0.21)],
            },
        );
        assert_eq!(svg.matches("<polyline").count(), 2);
        assert_eq!(
            svg.matches("stroke-dasharray").count(),
            2,
            "line and legend"
        );
        assert_eq!(svg.matches("<rect x=").count(), 2);
        assert!(svg.contains("cost (right axis)") && svg.contains(">USD per million<"));
    }
}
