//! Spend over time as SVG, drawn on the server: no script needed to see it, and a table
//! of the same figures beside it for screen readers and copying.

use std::fmt::Write;

use llmlab_engine::Usd;

/// One bar: its label and amount.
pub struct Bar {
    /// The bucket's label (`2026-11-20`).
    pub label: String,
    /// Its spend.
    pub amount: Usd,
}

const WIDTH: f64 = 720.0;
const HEIGHT: f64 = 220.0;
const LEFT: f64 = 64.0;
const BOTTOM: f64 = 28.0;
/// Room after the last bar for its label.
const RIGHT: f64 = 20.0;

/// A bar chart of `bars` with horizontal lines at `lines` (budget amounts, labelled):
/// a stack of one series.
pub fn bars(bars: &[Bar], lines: &[(String, Usd)], title: &str) -> String {
    let labels: Vec<String> = bars.iter().map(|b| b.label.clone()).collect();
    let series = [Series {
        name: "spend".into(),
        amounts: bars.iter().map(|b| b.amount).collect(),
    }];
    stacked(&labels, &series, lines, &[], title)
}

/// One stacked series: a name and an amount per bucket (the app's report type).
pub use llmlab_app::overview::Stack as Series;

/// Stacked bars: one stack per label, one colour per series (classes `s0`…`s5` in the
/// stylesheet), budget lines, and a mark over the buckets in `marked` (anomalies),
/// scaled to the tallest stack or line. Amounts are drawn, not computed with: `f64`
/// here only places pixels.
pub fn stacked(
    labels: &[String],
    series: &[Series],
    lines: &[(String, Usd)],
    marked: &[String],
    title: &str,
) -> String {
    let totals: Vec<Usd> = (0..labels.len())
        .map(|i| {
            series
                .iter()
                .map(|s| s.amounts.get(i).copied().unwrap_or(Usd::ZERO))
                .sum()
        })
        .collect();
    let top = totals
        .iter()
        .copied()
        .chain(lines.iter().map(|(_, a)| *a))
        .max()
        .unwrap_or(Usd::ZERO);
    let height = |a: Usd| -> f64 {
        if top.nanos() <= 0 {
            0.0
        } else {
            (a.nanos() as f64 / top.nanos() as f64) * (HEIGHT - BOTTOM - 8.0)
        }
    };
    let mut svg = String::with_capacity(512 + labels.len() * series.len() * 160);
    let base = frame(&mut svg, "chart-title", title, top);
    let slot = (WIDTH - LEFT - RIGHT) / labels.len().max(1) as f64;
    let label_every = (labels.len() / 8).max(1);
    for (i, label) in labels.iter().enumerate() {
        let x = LEFT + slot * i as f64 + slot * 0.1;
        let width = (slot * 0.8).max(1.0);
        let mut y = base;
        for (k, s) in series.iter().enumerate() {
            let amount = s.amounts.get(i).copied().unwrap_or(Usd::ZERO);
            let h = height(amount);
            if h <= 0.0 {
                continue;
            }
            y -= h;
            let _ = write!(
                svg,
                r#"<rect class="bar s{}" x="{x:.1}" y="{y:.1}" width="{width:.1}" height="{h:.1}"><title>{} {}: {}</title></rect>"#,
                k % 6,
                escape(label),
                escape(&s.name),
                escape(&super::view::dollars(amount))
            );
        }
        if marked.contains(label) {
            let _ = write!(
                svg,
                r#"<text class="anomaly" x="{:.1}" y="{:.1}" text-anchor="middle">▲<title>{}: anomaly</title></text>"#,
                x + width / 2.0,
                (y - 4.0).max(12.0),
                escape(label)
            );
        }
        if i % label_every == 0 {
            let _ = write!(
                svg,
                r#"<text class="{}" x="{:.1}" y="{:.0}" text-anchor="middle">{}</text>"#,
                tick_class(i / label_every),
                x + width / 2.0,
                HEIGHT - 8.0,
                escape(label.get(5..).unwrap_or(label))
            );
        }
    }
    for (name, amount) in lines {
        let y = base - height(*amount);
        let _ = write!(
            svg,
            r#"<line class="budget" x1="{LEFT}" y1="{y:.1}" x2="{WIDTH}" y2="{y:.1}"/><text class="tick" x="{WIDTH}" y="{:.1}" text-anchor="end">{} {}</text>"#,
            y - 4.0,
            escape(name),
            escape(&super::view::dollars(*amount))
        );
    }
    svg.push_str("</svg>");
    svg
}

/// Opens a bar chart's SVG titled `title` (element id `id`), with its axis and the
/// scale from $0 to `top`; returns the axis' height.
fn frame(svg: &mut String, id: &str, title: &str, top: Usd) -> f64 {
    let _ = write!(
        svg,
        r#"<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-labelledby="{id}"><title id="{id}">{}</title>"#,
        escape(title)
    );
    let base = HEIGHT - BOTTOM;
    let _ = write!(
        svg,
        r#"<line class="axis" x1="{LEFT}" y1="{base}" x2="{WIDTH}" y2="{base}"/><text class="tick" x="2" y="4" dominant-baseline="hanging">{}</text><text class="tick" x="2" y="{:.0}">$0</text>"#,
        escape(&super::view::dollars(top)),
        base - 4.0
    );
    base
}

/// Two series side by side per label (what was billed, what was tracked), classes `s0`
/// and `s1`, scaled to the tallest bar; a negative amount (a credit) is drawn as none.
pub fn paired(labels: &[String], pair: [&Series; 2], title: &str) -> String {
    let top = pair
        .iter()
        .flat_map(|s| s.amounts.iter().copied())
        .max()
        .unwrap_or(Usd::ZERO);
    let height = |a: Usd| -> f64 {
        if top.nanos() <= 0 || a.nanos() <= 0 {
            0.0
        } else {
            (a.nanos() as f64 / top.nanos() as f64) * (HEIGHT - BOTTOM - 8.0)
        }
    };
    let mut svg = String::with_capacity(512 + labels.len() * 320);
    let base = frame(&mut svg, "paired-title", title, top);
    let slot = (WIDTH - LEFT - RIGHT) / labels.len().max(1) as f64;
    let width = (slot * 0.4).max(1.0);
    let label_every = (labels.len() / 8).max(1);
    for (i, label) in labels.iter().enumerate() {
        let x0 = LEFT + slot * i as f64 + slot * 0.1;
        for (k, s) in pair.iter().enumerate() {
            let amount = s.amounts.get(i).copied().unwrap_or(Usd::ZERO);
            let h = height(amount);
            let x = x0 + width * k as f64;
            let _ = write!(
                svg,
                r#"<rect class="bar s{k}" x="{x:.1}" y="{:.1}" width="{width:.1}" height="{h:.1}"><title>{} {}: {}</title></rect>"#,
                base - h,
                escape(label),
                escape(&s.name),
                escape(&super::view::dollars(amount))
            );
        }
        if i % label_every == 0 {
            let _ = write!(
                svg,
                r#"<text class="{}" x="{:.1}" y="{:.0}" text-anchor="middle">{}</text>"#,
                tick_class(i / label_every),
                x0 + width,
                HEIGHT - 8.0,
                escape(label.get(5..).unwrap_or(label))
            );
        }
    }
    svg.push_str("</svg>");
    svg
}

/// A budget's burn-down (its element ids suffixed with `id`): the spend so far, added up
/// bucket by bucket, against the even line from nothing to the amount and the amount
/// itself, with the forecast from today to the period's end and its interval as a band.
pub fn burn_down(
    id: &str,
    steps: &[llmlab_app::budgets::BurnStep],
    amount: Usd,
    forecast: Option<llmlab_engine::forecast::Forecast>,
    title: &str,
) -> String {
    let ahead = forecast.map(|f| f.high.unwrap_or(f.expected).max(f.expected));
    let top = steps
        .iter()
        .filter_map(|s| s.so_far)
        .chain([amount])
        .chain(ahead)
        .max()
        .unwrap_or(Usd::ZERO);
    let base = HEIGHT - BOTTOM;
    let y = |a: Usd| -> f64 {
        if top.nanos() <= 0 {
            base
        } else {
            base - (a.nanos() as f64 / top.nanos() as f64) * (HEIGHT - BOTTOM - 8.0)
        }
    };
    let slot = (WIDTH - LEFT - RIGHT) / steps.len().max(1) as f64;
    let x = |i: usize| LEFT + slot * i as f64;
    let mut svg = String::with_capacity(1024 + steps.len() * 48);
    let _ = write!(
        svg,
        r#"<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-labelledby="chart-title-{id}"><title id="chart-title-{id}">{}</title>"#,
        escape(title)
    );
    let _ = write!(
        svg,
        r#"<line class="axis" x1="{LEFT}" y1="{base}" x2="{WIDTH}" y2="{base}"/><text class="tick" x="2" y="4" dominant-baseline="hanging">{}</text><text class="tick" x="2" y="{:.0}">$0</text>"#,
        escape(&super::view::dollars(top)),
        base - 4.0
    );
    let (end_x, amount_y) = (x(steps.len()), y(amount));
    let _ = write!(
        svg,
        r#"<line class="even" x1="{LEFT}" y1="{base}" x2="{end_x:.1}" y2="{amount_y:.1}"/><line class="budget" x1="{LEFT}" y1="{amount_y:.1}" x2="{WIDTH}" y2="{amount_y:.1}"/><text class="tick" x="{WIDTH}" y="{:.1}" text-anchor="end">{}</text>"#,
        amount_y - 4.0,
        escape(&super::view::dollars(amount))
    );
    let mut points = format!("{LEFT},{base}");
    let mut last = (LEFT, base);
    for (i, step) in steps.iter().enumerate() {
        if let Some(so_far) = step.so_far {
            last = (x(i + 1), y(so_far));
            let _ = write!(points, " {:.1},{:.1}", last.0, last.1);
        }
    }
    if let Some(f) = forecast {
        if let (Some(low), Some(high)) = (f.low, f.high) {
            let _ = write!(
                svg,
                r#"<polygon class="band" points="{:.1},{:.1} {end_x:.1},{:.1} {end_x:.1},{:.1}"><title>80 % range at the end: {} – {}</title></polygon>"#,
                last.0,
                last.1,
                y(high),
                y(low),
                escape(&super::view::dollars(low)),
                escape(&super::view::dollars(high))
            );
        }
        let _ = write!(
            svg,
            r#"<line class="forecast" x1="{:.1}" y1="{:.1}" x2="{end_x:.1}" y2="{:.1}"><title>forecast at the end: {}</title></line>"#,
            last.0,
            last.1,
            y(f.expected),
            escape(&super::view::dollars(f.expected))
        );
    }
    let _ = write!(svg, r#"<polyline class="spent" points="{points}"/>"#);
    let label_every = (steps.len() / 6).max(1);
    for (i, step) in steps.iter().enumerate().step_by(label_every) {
        let label = step.label.get(5..).unwrap_or(&step.label);
        let _ = write!(
            svg,
            r#"<text class="{}" x="{:.1}" y="{:.0}" text-anchor="middle">{}</text>"#,
            tick_class(i / label_every),
            x(i) + slot / 2.0,
            HEIGHT - 8.0,
            escape(label)
        );
    }
    svg.push_str("</svg>");
    svg
}

/// The class of the `n`th label along the time axis: every other one is `minor`, which a
/// phone's stylesheet hides so the rest stay legible at a larger size.
fn tick_class(n: usize) -> &'static str {
    if n % 2 == 1 { "tick minor" } else { "tick" }
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn bars_scale_to_the_largest_and_escape_labels() {
        let usd = |s: &str| Usd::parse(s).unwrap();
        let svg = bars(
            &[
                Bar {
                    label: "2026-11-01".into(),
                    amount: usd("1"),
                },
                Bar {
                    label: "2026-11-02".into(),
                    amount: usd("4"),
                },
            ],
            &[("<b>".into(), usd("2"))],
            "Daily spend",
        );
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert!(svg.contains("2026-11-02 spend: $4.00"));
        assert!(svg.contains("&lt;b&gt; $2.00"));
        assert!(!svg.contains("<b>"));
        // The largest bar takes the whole height, the first a quarter of it.
        let full = HEIGHT - BOTTOM - 8.0;
        assert!(svg.contains(&format!(r#"height="{full:.1}""#)));
        assert!(svg.contains(&format!(r#"height="{:.1}""#, full / 4.0)));
        assert!(bars(&[], &[], "empty").contains("$0"));
    }

    #[test]
    fn stacks_add_up_and_anomalies_are_marked() {
        let usd = |s: &str| Usd::parse(s).unwrap();
        let labels = vec!["2026-11-01".to_string(), "2026-11-02".to_string()];
        let series = [
            Series {
                name: "openai".into(),
                amounts: vec![usd("1"), usd("3")],
            },
            Series {
                name: "anthropic".into(),
                amounts: vec![usd("1"), usd("1")],
            },
        ];
        let svg = stacked(&labels, &series, &[], &["2026-11-02".to_string()], "t");
        let full = HEIGHT - BOTTOM - 8.0;
        // The tallest stack (4) fills the height: 3/4 of it openai, 1/4 anthropic.
        assert!(svg.contains(&format!(
            r#"height="{:.1}"><title>2026-11-02 openai: $3.00"#,
            full * 0.75
        )));
        assert!(svg.contains(&format!(
            r#"height="{:.1}"><title>2026-11-02 anthropic: $1.00"#,
            full * 0.25
        )));
        assert!(svg.contains(r#"class="bar s1""#));
        assert_eq!(svg.matches("anomaly</title>").count(), 1);
    }
}
