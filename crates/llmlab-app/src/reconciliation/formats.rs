//! The providers' cost reports, read into billed lines per UTC day, provider and model:
//! OpenAI's organization costs (`GET /v1/organization/costs`), Anthropic's cost report
//! (`GET /v1/organizations/cost_report`) and a FOCUS 1.2 CSV (the cloud providers'
//! exports of Bedrock, Azure OpenAI and Vertex AI charges). docs/pricing.md
//! cites the fields each one is read from.

use chrono::{DateTime, NaiveDate};
use llmlab_engine::Usd;
use llmlab_engine::providers::Catalog;
use llmlab_store::billing::BilledLine;
use serde::Deserialize;
use serde_json::value::RawValue;

use crate::AppError;

/// Lines one report may hold (results, or CSV rows).
pub const MAX_ROWS: usize = 200_000;

/// A report's format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// OpenAI's organization costs JSON.
    OpenAiCosts,
    /// Anthropic's cost report JSON.
    AnthropicCostReport,
    /// A FOCUS 1.2 CSV.
    Focus,
}

impl Format {
    /// From the `format` query parameter.
    pub fn parse(s: &str) -> Result<Format, AppError> {
        match s {
            "openai_costs" => Ok(Format::OpenAiCosts),
            "anthropic_cost_report" => Ok(Format::AnthropicCostReport),
            "focus" => Ok(Format::Focus),
            _ => Err(AppError::invalid(
                "format",
                "must be openai_costs, anthropic_cost_report or focus",
            )),
        }
    }

    /// Its name in the API.
    pub fn as_str(self) -> &'static str {
        match self {
            Format::OpenAiCosts => "openai_costs",
            Format::AnthropicCostReport => "anthropic_cost_report",
            Format::Focus => "focus",
        }
    }
}

/// What a report says.
#[derive(Debug, Default)]
pub struct Report {
    /// Billed lines (not yet summed per day, provider and model).
    pub lines: Vec<BilledLine>,
    /// First and last day it covers (its buckets, or its rows' days).
    pub span: Option<(NaiveDate, NaiveDate)>,
    /// Lines read (results, or CSV rows), skipped ones included.
    pub rows_read: usize,
    /// CSV rows of services that are not an LLM provider LLMLab knows.
    pub rows_skipped: usize,
}

impl Report {
    fn cover(&mut self, day: NaiveDate) {
        self.span = Some(match self.span {
            None => (day, day),
            Some((a, b)) => (a.min(day), b.max(day)),
        });
    }

    fn count(&mut self) -> Result<(), AppError> {
        self.rows_read += 1;
        if self.rows_read > MAX_ROWS {
            return Err(AppError::invalid(
                "body",
                format!("the report holds more than {MAX_ROWS} lines: import it in parts"),
            ));
        }
        Ok(())
    }
}

/// Reads `body` as `format`.
pub fn read(format: Format, catalog: &Catalog, body: &[u8]) -> Result<Report, AppError> {
    match format {
        Format::OpenAiCosts => openai(catalog, body),
        Format::AnthropicCostReport => anthropic(catalog, body),
        Format::Focus => focus(catalog, body),
    }
}

fn json<'a, T: Deserialize<'a>>(body: &'a [u8], what: &str) -> Result<T, AppError> {
    serde_json::from_slice(body).map_err(|e| AppError::invalid("body", format!("not {what}: {e}")))
}

/// The catalog name `text` resolves to for `provider`, or `""`.
fn model(catalog: &Catalog, provider: &str, text: Option<&str>) -> String {
    text.and_then(|t| catalog.resolve(provider, t.trim()).ok())
        .map(|r| r.entry.name.clone())
        .unwrap_or_default()
}

fn day_of(field: &str, t: Option<DateTime<chrono::Utc>>) -> Result<NaiveDate, AppError> {
    let t = t.ok_or_else(|| AppError::invalid(field, "not a time"))?;
    crate::input::in_supported_years(field, t)?;
    Ok(t.date_naive())
}

fn amount(field: &str, text: &str) -> Result<Usd, AppError> {
    Usd::parse_rounded(text.trim().trim_matches('"'))
        .map_err(|_| AppError::invalid(field, format!("'{text}' is not an amount")))
}

fn usd_only(field: &str, currency: &str) -> Result<(), AppError> {
    if currency.eq_ignore_ascii_case("usd") {
        Ok(())
    } else {
        Err(AppError::invalid(
            field,
            format!("'{currency}': only reports in USD can be reconciled"),
        ))
    }
}

/// One page of a paginated report, or an array of the pages of one query. (Not an
/// untagged enum: serde buffers those, and a buffered number has lost its digits.)
fn pages<'a, T: Deserialize<'a>>(body: &'a [u8], what: &str) -> Result<Vec<T>, AppError> {
    match body.iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'[') => json(body, what),
        _ => json(body, what).map(|p| vec![p]),
    }
}

#[derive(Deserialize)]
struct OpenAiPage<'a> {
    #[serde(borrow)]
    data: Vec<OpenAiBucket<'a>>,
}

#[derive(Deserialize)]
struct OpenAiBucket<'a> {
    start_time: i64,
    #[serde(borrow, default)]
    results: Vec<OpenAiResult<'a>>,
}

#[derive(Deserialize)]
struct OpenAiResult<'a> {
    #[serde(borrow)]
    amount: Option<OpenAiAmount<'a>>,
    line_item: Option<String>,
}

#[derive(Deserialize)]
struct OpenAiAmount<'a> {
    #[serde(borrow)]
    value: &'a RawValue,
    currency: Option<String>,
}

/// OpenAI: `data[]` buckets of one day (`start_time`, Unix seconds), each with
/// `results[]` of `amount.value` in `amount.currency`; `line_item` (with
/// `group_by=line_item`) names the model before its first comma. A page, or an array of
/// the pages of one query.
fn openai(catalog: &Catalog, body: &[u8]) -> Result<Report, AppError> {
    let pages: Vec<OpenAiPage<'_>> = pages(body, "OpenAI's costs JSON (a page of buckets)")?;
    let mut report = Report::default();
    for bucket in pages.into_iter().flat_map(|p| p.data) {
        let day = day_of("start_time", DateTime::from_timestamp(bucket.start_time, 0))?;
        report.cover(day);
        for r in bucket.results {
            report.count()?;
            let Some(a) = r.amount else { continue };
            usd_only("currency", a.currency.as_deref().unwrap_or("usd"))?;
            let item = r
                .line_item
                .as_deref()
                .map(|l| l.split(',').next().unwrap_or(l));
            report.lines.push(BilledLine {
                day,
                provider: "openai".into(),
                model: model(catalog, "openai", item),
                billed_nanos: amount("amount.value", a.value.get())?.nanos(),
            });
        }
    }
    Ok(report)
}

#[derive(Deserialize)]
struct AnthropicReport {
    data: Vec<AnthropicBucket>,
}

#[derive(Deserialize)]
struct AnthropicBucket {
    starting_at: String,
    #[serde(default)]
    results: Vec<AnthropicResult>,
}

#[derive(Deserialize)]
struct AnthropicResult {
    amount: String,
    currency: Option<String>,
    model: Option<String>,
}

/// Anthropic: `data[]` buckets of one day (`starting_at`, RFC 3339), each with
/// `results[]` whose `amount` is a decimal string in the currency's lowest unit (cents:
/// `"123.45"` is $1.2345) and `model` when grouped by description.
fn anthropic(catalog: &Catalog, body: &[u8]) -> Result<Report, AppError> {
    let pages: Vec<AnthropicReport> = pages(body, "Anthropic's cost report JSON")?;
    let mut report = Report::default();
    for bucket in pages.into_iter().flat_map(|p| p.data) {
        let at = DateTime::parse_from_rfc3339(&bucket.starting_at).ok();
        let day = day_of("starting_at", at.map(|t| t.to_utc()))?;
        report.cover(day);
        for r in bucket.results {
            report.count()?;
            usd_only("currency", r.currency.as_deref().unwrap_or("USD"))?;
            // Cents to dollars by the exponent, so the one rounding stays the only one.
            let dollars = amount("amount", &format!("{}e-2", r.amount.trim()))?;
            report.lines.push(BilledLine {
                day,
                provider: "anthropic".into(),
                model: model(catalog, "anthropic", r.model.as_deref()),
                billed_nanos: dollars.nanos(),
            });
        }
    }
    Ok(report)
}

/// The LLM provider a FOCUS row bills, from its `ServiceName` and `ProviderName`.
fn focus_provider(catalog: &Catalog, service: &str, provider: &str) -> Option<String> {
    let (s, p) = (service.to_ascii_lowercase(), provider.to_ascii_lowercase());
    if s.contains("bedrock") {
        return Some("bedrock".into());
    }
    if s.contains("openai")
        && (s.contains("azure") || p.contains("microsoft") || p.contains("azure"))
    {
        return Some("azure".into());
    }
    if s.contains("vertex") || s.contains("gemini") {
        return Some("google".into());
    }
    let named = |name: &str| {
        catalog
            .providers()
            .iter()
            .find(|c| c.id == name || c.display_name.to_ascii_lowercase() == name)
            .map(|c| c.id.clone())
    };
    named(s.trim_end_matches(" api").trim()).or_else(|| named(p.trim()))
}

/// FOCUS 1.2: `BilledCost` in `BillingCurrency` for `ChargePeriodStart`'s UTC day, the
/// provider from `ServiceName`/`ProviderName`, the model from `x_Model` where present.
/// Rows of other services are skipped, as are taxes and purchases (`ChargeCategory`
/// `Tax`, `Purchase`): usage, credits and adjustments are what calls cost.
fn focus(catalog: &Catalog, body: &[u8]) -> Result<Report, AppError> {
    let mut csv = csv::ReaderBuilder::new().flexible(false).from_reader(body);
    let header = csv
        .headers()
        .map_err(|e| AppError::invalid("body", format!("not a CSV: {e}")))?
        .clone();
    let col = |name: &str| {
        header
            .iter()
            .position(|h| h.trim_start_matches('\u{feff}') == name)
    };
    let need = |name: &'static str| {
        col(name)
            .ok_or_else(|| AppError::invalid("body", format!("a FOCUS file has a {name} column")))
    };
    let (billed, start, currency) = (
        need("BilledCost")?,
        need("ChargePeriodStart")?,
        need("BillingCurrency")?,
    );
    let (service, provider) = (col("ServiceName"), col("ProviderName"));
    let (category, model_col) = (col("ChargeCategory"), col("x_Model"));
    let mut report = Report::default();
    for (i, record) in csv.records().enumerate() {
        report.count()?;
        let row = record.map_err(|e| AppError::invalid("body", format!("row {}: {e}", i + 2)))?;
        let get = |c: Option<usize>| c.and_then(|c| row.get(c)).unwrap_or("");
        if matches!(get(category), "Tax" | "Purchase") {
            report.rows_skipped += 1;
            continue;
        }
        let Some(p) = focus_provider(catalog, get(service), get(provider)) else {
            report.rows_skipped += 1;
            continue;
        };
        usd_only("BillingCurrency", get(Some(currency)))?;
        let text = get(Some(start));
        let at = DateTime::parse_from_rfc3339(text)
            .map(|t| t.to_utc())
            .ok()
            .or_else(|| {
                crate::input::parse_day(text)
                    .ok()?
                    .and_hms_opt(0, 0, 0)
                    .map(|t| t.and_utc())
            });
        let day = day_of("ChargePeriodStart", at)?;
        report.cover(day);
        let m = get(model_col);
        report.lines.push(BilledLine {
            day,
            model: model(catalog, &p, (!m.is_empty()).then_some(m)),
            provider: p,
            billed_nanos: amount("BilledCost", get(Some(billed)))?.nanos(),
        });
    }
    Ok(report)
}
