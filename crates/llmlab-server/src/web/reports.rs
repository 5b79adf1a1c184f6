//! Explore (spend by any filter, as the API reports it), recommendations with their
//! evidence, and pricing (the catalog, searchable, and the workspace's custom prices).

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::Utc;
use llmlab_app::Role;
use llmlab_engine::Usd;

use llmlab_recs::{AnomalyConfig, Dimension};
use maud::html;
use serde::Deserialize;

use super::chart::{self, Bar};
use super::form::{Submitted, done, hidden};
use super::session::visitor;
use super::view::{calls, count, dollars, exact, page, raw};
use super::{WebError, html as respond};
use crate::access::AdminOnly;
use crate::dto::RangeQuery;
use llmlab_app::AppState;
use llmlab_app::{blocking, blocking_read, reports};

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
    let ask = RangeQuery {
        start: blank(&q.start),
        end: blank(&q.end),
        provider: blank(&q.provider),
        model: blank(&q.model),
        tag: blank(&q.tag).into_iter().collect(),
    }
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
                label for=(name) { (label) }
                input id=(name) name=(name) value=[value] placeholder=(hint);
            }
            label for="granularity" { "Granularity" }
            select #granularity name="granularity" {
                @for g in ["hour", "day", "week", "month"] { option value=(g) selected[g == granularity.as_str()] { (g) } }
            }
            label for="tz" { "Time zone" }
            input #tz name="tz" value=(zone.name());
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
    let range = RangeQuery {
        start: blank(&q.start),
        end: blank(&q.end),
        provider: blank(&q.provider),
        model: blank(&q.model),
        tag: blank(&q.tag).into_iter().collect(),
    }
    // The range the page shows: the last 30 days unless a start is given.
    .resolve(Utc::now(), Some(30))
    .map_err(WebError::App)?;
    let (ws, filter) = (v.workspace(), range.filter);
    let response = match what.as_str() {
        "events.csv" => crate::routes::events::events_csv(state, ws, filter).await,
        _ => crate::routes::costs::focus_csv(state, ws, filter).await,
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

/// A custom price revision set through the form.
#[derive(Debug, Deserialize)]
pub struct PriceForm {
    provider: String,
    model: String,
    input: String,
    output: String,
    /// The optional rates, empty when not set: cache reads, 5-minute and 1-hour cache
    /// writes, audio in and out.
    #[serde(default)]
    cached_input: String,
    #[serde(default)]
    cache_write: String,
    #[serde(default)]
    cache_write_1h: String,
    #[serde(default)]
    input_audio: String,
    #[serde(default)]
    output_audio: String,
    #[serde(default)]
    effective_from: String,
}

/// The form's fields that may be left empty.
const OPTIONAL: [&str; 6] = [
    "cached_input",
    "cache_write",
    "cache_write_1h",
    "input_audio",
    "output_audio",
    "effective_from",
];

/// A rate in micro-dollars per million tokens, as dollars.
fn rate(micros: i64) -> Usd {
    Usd::from_nanos(micros.saturating_mul(1_000))
}

/// A revision's rates besides input and output, e.g. `cache reads $0.125 · audio in $32`.
fn other_rates(p: &llmlab_app::NewCustomPrice) -> String {
    let shown: Vec<String> = [
        ("cache reads", p.cached_input_micros),
        ("cache writes", p.cache_write_micros),
        ("1-hour writes", p.cache_write_1h_micros),
        ("audio in", p.input_audio_micros),
        ("audio out", p.output_audio_micros),
    ]
    .into_iter()
    .filter_map(|(name, micros)| Some(format!("{name} {}", exact(rate(micros?)))))
    .collect();
    if shown.is_empty() {
        "—".into()
    } else {
        shown.join(" · ")
    }
}

/// Adds a custom price revision (admins), as `PUT /api/pricing/custom/…` does.
pub async fn set_price(state: web::Data<AppState>, form: Submitted<AdminOnly, PriceForm>) -> Page {
    let (v, f) = form.into_parts();
    // An empty field is an absent one.
    let given = |text: &str| Some(text.trim().to_string()).filter(|t| !t.is_empty());
    let form = llmlab_app::pricing::RevisionForm {
        input: f.input,
        output: f.output,
        cached_input: given(&f.cached_input),
        cache_write: given(&f.cache_write),
        batch_discount_pct: None,
        cache_write_1h: given(&f.cache_write_1h),
        input_audio: given(&f.input_audio),
        output_audio: given(&f.output_audio),
        effective_from: given(&f.effective_from),
    };
    use llmlab_app::pricing::{price_key as name, revision};
    let new = revision(
        name("provider", &f.provider)?,
        name("model", &f.model)?,
        form,
    )?;
    let (ws, identity, limit) = (
        v.workspace(),
        v.identity.clone(),
        state.settings.limits.custom_prices,
    );
    blocking(&state, move |s| {
        llmlab_app::pricing::set_custom(s, ws, &identity, &new, limit)
    })
    .await?;
    Ok(done(&state, &v, "/pricing"))
}

/// Pricing's search.
#[derive(Debug, Default, Deserialize)]
pub struct PricingQuery {
    q: Option<String>,
}

/// The catalog's current prices, searchable, and the workspace's custom price revisions.
pub async fn pricing(
    req: HttpRequest,
    state: web::Data<AppState>,
    q: web::Query<PricingQuery>,
) -> Page {
    let v = visitor(&req, &state, None).await?;
    let ws = v.workspace();
    let custom = blocking(&state, move |s| llmlab_app::pricing::custom_prices(s, ws)).await?;
    let needle = blank(&q.q).unwrap_or_default().to_ascii_lowercase();
    let body = html! {
        h1 { "Pricing" }
        form.inline method="get" action="/pricing" {
            label for="q" { "Search models" }
            input #q name="q" value=(needle) type="search";
            button type="submit" { "Search" }
        }
        table {
            thead { tr { th scope="col" { "Model" } th scope="col" { "Input / MTok" } th scope="col" { "Output / MTok" } th scope="col" { "Cached / MTok" } th scope="col" { "Since" } } }
            tbody {
                @for p in state.catalog.providers() { @for m in p.models() {
                    @if needle.is_empty() || m.name.contains(&needle) || p.id.contains(&needle) {
                        @let cur = m.price_at(Utc::now().date_naive());
                        tr {
                            td { (p.id) "/" (m.name) }
                            td { "$" (cur.rates.input.to_string()) }
                            td { "$" (cur.rates.output.to_string()) }
                            td { (cur.rates.cached_input.map_or_else(|| "—".to_string(), |c| format!("${c}"))) }
                            td { (cur.effective_from) }
                        }
                    }
                } }
            }
        }
        h2 { "Custom prices of this workspace" }
        @if v.may(Role::Admin) {
            form method="post" action="/pricing/custom" {
                (hidden(&v))
                @for (name, label, hint) in [
                    ("provider", "Provider", "openai"),
                    ("model", "Model (as sent, or the catalog's name)", "gpt-5.1"),
                    ("input", "Input, USD per million tokens", "1.25"),
                    ("output", "Output, USD per million tokens", "10"),
                    ("cached_input", "Cache reads (empty: the input rate)", "0.125"),
                    ("cache_write", "Cache writes, 5 minutes (empty: the input rate)", "1.5625"),
                    ("cache_write_1h", "Cache writes, 1 hour (empty: refused)", "2.5"),
                    ("input_audio", "Audio input (empty: refused)", "32"),
                    ("output_audio", "Audio output (empty: refused)", "64"),
                    ("effective_from", "From (YYYY-MM-DD, empty: every day)", "2026-11-01"),
                ] {
                    label for=(format!("price-{name}")) { (label) }
                    input id=(format!("price-{name}")) name=(name) placeholder=(format!("e.g. {hint}")) required[OPTIONAL.iter().all(|o| *o != name)];
                }
                button type="submit" { "Add a revision" }
            }
            p.small { "Stored events keep their cost until you re-price them (" code { "POST /api/pricing/reprice" } ", dry run first)." }
        }
        @if custom.is_empty() { p { "None. Admins set them with " code { "PUT /api/pricing/custom/{provider}/{model}" } " (see docs/pricing.md)." } }
        @else {
            table {
                thead { tr { th scope="col" { "Model" } th scope="col" { "Revision" } th scope="col" { "From" } th scope="col" { "Input / MTok" } th scope="col" { "Output / MTok" } th scope="col" { "Other rates / MTok" } } }
                tbody { @for c in &custom { tr {
                    td { (c.price.provider) "/" (c.price.model) } td { (c.revision()) }
                    td { (c.price.effective_from.map_or_else(|| "every day".to_string(), |d| d.to_string())) }
                    td { (exact(rate(c.price.input_micros))) } td { (exact(rate(c.price.output_micros))) }
                    td { (other_rates(&c.price)) }
                } } }
            }
        }
    };
    Ok(respond(
        StatusCode::OK,
        page("Pricing", &v, "/pricing", body),
    ))
}
