//! Explore (spend by any filter, as the API reports it, and its downloads) and
//! recommendations with their evidence.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::Utc;

use llmlab_recs::{AnomalyConfig, Dimension};
use maud::html;
use serde::Deserialize;

use super::chart::{self, Bar};
use super::session::visitor;
use super::view::{calls, count, dollars, page, raw};
use super::{WebError, html as respond};
use crate::dto::RangeQuery;
use llmlab_app::AppState;
use llmlab_app::{blocking_read, reports};

type Page = Result<HttpResponse, WebError>;

/// Explore's filters: the API's own query parameters.
#[derive(Debug, Default, Deserialize)]
pub struct ExploreQuery {
    start: Option<String>,
    end: Option<String>,
    provider: Option<String>,
    model: Option<String>,
    tag: Option<String>,
    granularity: Option<String>,
    tz: Option<String>,
}

impl ExploreQuery {
    /// The filters as the API's range query (blank fields are absent).
    fn range(&self) -> RangeQuery {
        RangeQuery {
            start: blank(&self.start),
            end: blank(&self.end),
            provider: blank(&self.provider),
            model: blank(&self.model),
            tag: blank(&self.tag).into_iter().collect(),
        }
    }
}

fn blank(v: &Option<String>) -> Option<String> {
    v.as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// Spend by the filters the API takes, as a chart and a table that equal
/// `GET /api/costs/summary` with the same parameters, and a link to the CSV export.
pub async fn explore(
    req: HttpRequest,
    state: web::Data<AppState>,
    q: web::Query<ExploreQuery>,
) -> Page {
    let v = visitor(&req, &state, None).await?;
    let ask = q
        .range()
        .resolve(Utc::now(), Some(30))
        .and_then(|r| r.summary(blank(&q.granularity).as_deref(), blank(&q.tz).as_deref()))
        .map_err(WebError::App)?;
    let (granularity, zone) = (ask.granularity, ask.zone);
    // The range shown, as dates the form takes back (`end` is the last day included):
    // what the chart covers when the person gave none, not an example that looks like it.
    let shown_start = blank(&q.start).unwrap_or_else(|| ask.start.date_naive().to_string());
    let shown_end = blank(&q.end).unwrap_or_else(|| {
        (ask.end - chrono::Duration::microseconds(1))
            .date_naive()
            .to_string()
    });
    let ws = v.workspace();
    let series = blocking_read(&state, move |s| reports::summary_of(s, ws, &ask)).await?;
    let total = series.total();
    let bars: Vec<Bar> = series
        .buckets
        .iter()
        .map(|b| Bar {
            label: b.label.clone(),
            amount: b.totals.cost,
        })
        .collect();
    let query: Vec<String> = [
        ("start", blank(&q.start)),
        ("end", blank(&q.end)),
        ("provider", blank(&q.provider)),
        ("model", blank(&q.model)),
        ("tag", blank(&q.tag)),
    ]
    .into_iter()
    .filter_map(|(k, v)| v.map(|v| format!("{k}={}", urlencode(&v))))
    .collect();
    let query = query.join("&");
    let body = html! {
        h1 { "Explore" }
        form.filters method="get" action="/explore" {
            @for (name, label, value, hint) in [
                ("start", "From", Some(shown_start), "YYYY-MM-DD"),
                ("end", "To", Some(shown_end), "YYYY-MM-DD"),
                ("provider", "Provider", blank(&q.provider), "all providers"),
                ("model", "Model", blank(&q.model), "all models"),
                ("tag", "Tag", blank(&q.tag), "key:value (all events)"),
            ] {
                div.field { label for=(name) { (label) } input id=(name) name=(name) value=[value] placeholder=(hint); }
            }
            div.field {
                label for="granularity" { "Granularity" }
                select #granularity name="granularity" {
                    @for g in ["hour", "day", "week", "month"] { option value=(g) selected[g == granularity.as_str()] { (g) } }
                }
            }
            div.field { label for="tz" { "Time zone" } input #tz name="tz" value=(zone.name()); }
            button type="submit" { "Show" }
        }
        p { "Total: " strong #explore-total { (dollars(total.cost)) } " in " (calls(total.calls))
            @if series.unpriced_calls > 0 { " (" (series.unpriced_calls) " unpriced)" }
            " · download " a href=(format!("/explore/events.csv?{query}")) download { "these events (CSV)" }
            " or " a href=(format!("/explore/focus.csv?{query}")) download { "their FOCUS rows" } }
        (raw(chart::bars(&bars, &[], "Spend by bucket")))
        table {
            thead { tr { th scope="col" { "Bucket" } th scope="col" { "Spend" } th scope="col" { "Calls" } th scope="col" { "Input tokens" } th scope="col" { "Output tokens" } } }
            tbody { @for b in &series.buckets { tr {
                td { (b.label) } td { (dollars(b.totals.cost)) } td { (count(b.totals.calls)) }
                td { (count(u64::try_from(b.totals.tokens.input).unwrap_or(0))) }
                td { (count(u64::try_from(b.totals.tokens.output).unwrap_or(0))) }
            } } }
        }
    };
    Ok(respond(
        StatusCode::OK,
        page("Explore", &v, "/explore", body),
    ))
}

/// Explore's range and filters downloaded with the dashboard's session, as the API's exports
/// answer them with a key: `events.csv` (`GET /api/events/export`) or `focus.csv`
/// (`GET /api/costs/export?format=focus`). A read, so a plain GET like every page (the
/// session cookie is `SameSite=Strict`: another site's link arrives without it).
pub async fn download(
    req: HttpRequest,
    state: web::Data<AppState>,
    what: web::Path<String>,
    q: web::Query<ExploreQuery>,
) -> Page {
    let v = visitor(&req, &state, None).await?;
    let range = q
        .range()
        // The range the page shows: the last 30 days unless a start is given.
        .resolve(Utc::now(), Some(30))
        .map_err(WebError::App)?;
    let (ws, filter) = (v.workspace(), range.filter);
    let response = match what.as_str() {
        "events.csv" => crate::routes::events::events_csv(state, ws, filter, None).await,
        _ => crate::routes::costs::focus_csv(state, ws, filter, None).await,
    };
    response.map_err(WebError::App)
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b':' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn dimension(d: &Dimension) -> String {
    match d {
        Dimension::Model { provider, model } => format!("{provider}/{model}"),
        Dimension::Provider(p) => p.clone(),
        Dimension::Tag { key, value } => format!("{key}={value}"),
        Dimension::OtherTagValues { key } => format!("{key}: its other values"),
    }
}

/// Anomalies with their evidence, model switches with their arithmetic, optimizations.
pub async fn recommendations(req: HttpRequest, state: web::Data<AppState>) -> Page {
    let v = visitor(&req, &state, None).await?;
    let (ws, catalog, now) = (v.workspace(), state.catalog.clone(), Utc::now());
    let found = blocking_read(&state, move |s| {
        llmlab_app::recommendations::report(s, &catalog, ws, &AnomalyConfig::default(), 30, now)
    })
    .await?;
    let body = html! {
        h1 { "Recommendations" }
        p { "From the last 30 days of this workspace's own calls. Possible savings: "
            strong { (dollars(found.total_monthly_savings)) } " per 30 days (each model counted once)." }
        h2 { "Anomalies" }
        @if found.anomalies.is_empty() { p { "No day stands out." } }
        @for a in &found.anomalies {
            article.card {
                h3 { (a.date) ": " (dollars(a.cost)) " (" (format!("{:?}", a.severity).to_lowercase()) ")" }
                p { "Baseline " (dollars(a.mean)) " ± " (dollars(a.stddev)) " over " (a.baseline_days) " days; z = " (a.z_score)
                    @if let Some(z) = a.seasonal_z_score { ", against the same weekdays z = " (z) } "." }
                @if !a.drivers.is_empty() {
                    ul { @for d in &a.drivers {
                        li { (dimension(&d.dimension)) ": " (dollars(d.cost)) " against " (dollars(d.baseline)) " usually (" (d.share_pct) " % of the excess)" }
                    } }
                }
            }
        }
        h2 { "Cheaper models" }
        @if found.switches.is_empty() { p { "No switch would save money on this traffic." } }
        @for s in &found.switches {
            article.card {
                h3 { (s.provider) "/" (s.current_model) " → " (s.suggested_provider) "/" (s.suggested_model) }
                p { (dollars(s.current_monthly_cost)) " → " (dollars(s.projected_monthly_cost)) " per 30 days: saves "
                    strong { (dollars(s.monthly_savings)) } " (" (s.savings_pct) " %)." }
                p.small { (s.rationale) }
            }
        }
        h2 { "Optimizations" }
        @if found.optimizations.is_empty() { p { "Nothing to tune in how the models are used." } }
        @for o in &found.optimizations {
            article.card {
                h3 { (o.title) }
                p { (o.description) }
                p.small { "Saves about " (dollars(o.estimated_monthly_savings)) " per 30 days." }
            }
        }
    };
    Ok(respond(
        StatusCode::OK,
        page("Recommendations", &v, "/recommendations", body),
    ))
}
