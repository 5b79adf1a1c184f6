//! Pricing: the catalog's current prices, searchable, and the workspace's custom price
//! revisions, which admins add through a form (shown again with its input when refused).

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::Utc;
use llmlab_app::Role;
use llmlab_engine::Usd;
use maud::html;
use serde::Deserialize;

use super::form::{Submitted, done, hidden};
use super::refused::Refused;
use super::session::{Visitor, visitor};
use super::view::{exact, page};
use super::{WebError, html as respond};
use crate::access::AdminOnly;
use llmlab_app::AppState;
use llmlab_app::blocking;

type Page = Result<HttpResponse, WebError>;

/// A custom price revision set through the form.
#[derive(Debug, Clone, Default, Deserialize)]
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

impl PriceForm {
    /// What was typed in field `name`.
    fn value(&self, name: &str) -> &str {
        match name {
            "provider" => &self.provider,
            "model" => &self.model,
            "input" => &self.input,
            "output" => &self.output,
            "cached_input" => &self.cached_input,
            "cache_write" => &self.cache_write,
            "cache_write_1h" => &self.cache_write_1h,
            "input_audio" => &self.input_audio,
            "output_audio" => &self.output_audio,
            "effective_from" => &self.effective_from,
            _ => "",
        }
    }
}

/// The form's fields: name, label and an example value.
const FIELDS: [(&str, &str, &str); 10] = [
    ("provider", "Provider", "openai"),
    ("model", "Model (as sent, or the catalog's name)", "gpt-5.1"),
    ("input", "Input, USD per million tokens", "1.25"),
    ("output", "Output, USD per million tokens", "10"),
    (
        "cached_input",
        "Cache reads (empty: the input rate)",
        "0.125",
    ),
    (
        "cache_write",
        "Cache writes, 5 minutes (empty: the input rate)",
        "1.5625",
    ),
    (
        "cache_write_1h",
        "Cache writes, 1 hour (empty: refused)",
        "2.5",
    ),
    ("input_audio", "Audio input (empty: refused)", "32"),
    ("output_audio", "Audio output (empty: refused)", "64"),
    (
        "effective_from",
        "From (YYYY-MM-DD, empty: every day)",
        "2026-11-01",
    ),
];

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
    match add_revision(&state, &v, f.clone()).await {
        Ok(()) => Ok(done(&state, &v, "/pricing")),
        Err(e) => {
            // The use case names the API's fields (`output_per_mtok_usd`); the form's
            // are the same without the unit.
            let mut refused = Refused::of(e)?;
            if let Some(short) = refused
                .field
                .as_deref()
                .and_then(|f| f.strip_suffix("_per_mtok_usd"))
            {
                refused.field = Some(short.to_string());
            }
            show(&state, &v, String::new(), Some((f, refused))).await
        }
    }
}

/// Adds the revision form `f` describes.
async fn add_revision(
    state: &web::Data<AppState>,
    v: &Visitor,
    f: PriceForm,
) -> Result<(), WebError> {
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
        // The form sets token rates; per-unit prices are set through the API.
        ..llmlab_app::pricing::RevisionForm::default()
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
    blocking(state, move |s| {
        llmlab_app::pricing::set_custom(s, ws, &identity, &new, limit)
    })
    .await?;
    Ok(())
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
    let needle =
        q.q.as_deref()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase();
    show(&state, &v, needle, None).await
}

/// The pricing page (models matching `needle`), with a refused revision form shown
/// again when there is one.
async fn show(
    state: &web::Data<AppState>,
    v: &Visitor,
    needle: String,
    retry: Option<(PriceForm, Refused)>,
) -> Page {
    let ws = v.workspace();
    let (custom, contracts) = blocking(state, move |s| {
        let custom = llmlab_app::pricing::custom_prices(s, ws)?;
        Ok::<_, llmlab_app::AppError>((custom, llmlab_app::contracts::list(s, ws)?))
    })
    .await?;
    let (typed, refused) = match &retry {
        Some((f, r)) => (f.clone(), Some(r)),
        None => (PriceForm::default(), None),
    };
    let names = FIELDS.map(|(name, _, _)| name);
    let body = html! {
        h1 { "Pricing" }
        p { "How the prices compare with what the providers billed: " a href="/reconciliation" { "Reconciliation" } "." }
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
                (hidden(v))
                @if let Some(r) = refused { (r.above(&names)) }
                @for (name, label, hint) in FIELDS {
                    @let about = refused.is_some_and(|r| r.about(name));
                    label for=(format!("price-{name}")) { (label) }
                    input id=(format!("price-{name}")) name=(name) value=(typed.value(name))
                        placeholder=(format!("e.g. {hint}")) required[OPTIONAL.iter().all(|o| *o != name)]
                        aria-invalid=[about.then_some("true")] aria-describedby=[about.then(|| format!("price-{name}-error"))];
                    @if let Some(r) = refused { (r.beside(name, &format!("price-{name}-error"))) }
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
        h2 { "Contracts of this workspace" }
        @if contracts.is_empty() {
            p { "None. A negotiated discount off the catalog's prices is a contract: admins add one with "
                code { "POST /api/contracts" } " (see docs/pricing.md)." }
        } @else {
            table {
                thead { tr { th scope="col" { "Name" } th scope="col" { "Covers" } th scope="col" { "Off list" }
                    th scope="col" { "From" } th scope="col" { "To" } th scope="col" { "Ended" } } }
                tbody { @for c in &contracts { tr {
                    td { (c.spec.name) }
                    td { (c.spec.provider) @if let Some(p) = &c.spec.model_prefix { "/" (p) "…" } }
                    td { (llmlab_engine::Discount::from_basis_points(u16::try_from(c.spec.discount_bp).unwrap_or(0)).unwrap_or_default()) " %" }
                    td { (c.spec.effective_from) }
                    td { (c.spec.effective_to.map_or_else(|| "open".to_string(), |d| d.to_string())) }
                    td { (c.ended_at.map_or_else(|| "—".to_string(), |t| t.format("%Y-%m-%d %H:%M UTC").to_string())) }
                } } }
            }
        }
    };
    let status = refused.map_or(StatusCode::OK, |r| r.status);
    Ok(respond(status, page("Pricing", v, "/pricing", body)))
}
