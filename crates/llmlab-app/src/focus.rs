//! The FinOps FOCUS 1.2 export: one row per UTC day × provider × model × tag set × token
//! class,
//! each event's cost split over its token classes by the price that produced it, so
//! the rows' `BilledCost` add up, to the nano-dollar, to the stored events' costs, which
//! is the summary's total for the same range. docs/focus.md says where each column
//! comes from.

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, Duration, NaiveDate};
use llmlab_engine::Usd;
use llmlab_engine::providers::Catalog;
use llmlab_store::{EventCursor, EventFilter, EventRow, Store, WorkspaceId};

use crate::input::csv_field;
use crate::{AppError, ledger};

/// Events one export reads at most; a wider range is refused (narrow it or page by
/// month), so one request's time stays bounded.
pub const MAX_EVENTS: usize = 1_000_000;

/// The header row: FOCUS columns, then LLMLab's own (`x_` prefixed, as FOCUS asks).
pub const HEADER: &str = "BilledCost,EffectiveCost,ListCost,ContractedCost,BillingCurrency,\
BillingPeriodStart,BillingPeriodEnd,ChargePeriodStart,ChargePeriodEnd,ChargeCategory,\
ChargeClass,ChargeDescription,ConsumedQuantity,ConsumedUnit,PricingQuantity,PricingUnit,\
ListUnitPrice,ProviderName,PublisherName,InvoiceIssuerName,ServiceName,ServiceCategory,\
SkuId,SkuPriceId,Tags,x_Model,x_TokenClass\n";

/// Rows one export holds at most: each distinct tag set of a day and model is a row of
/// its own, so a tag with a value per call (a request id) would make a row per event;
/// past this the export is refused (narrow the range) before its memory grows with it.
pub const MAX_ROWS: usize = 200_000;

/// One row's key.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Key {
    day: NaiveDate,
    provider: String,
    model: String,
    /// The events' tags as FOCUS's `Tags` holds them: a JSON object, keys sorted.
    tags: String,
    class: &'static str,
}

/// One row's sums.
#[derive(Debug, Default, Clone, Copy)]
struct Sums {
    cost: i64,
    /// At list prices, before any contract's discount.
    list: i64,
    /// Tokens, or for a unit class its images, seconds, characters, searches or sessions.
    quantity: i64,
}

/// One class of an event: its cost, its cost at list prices, its quantity.
type Class = (&'static str, i64, i64, i64);

/// The FOCUS unit of a class billed per unit rather than per token.
fn unit_of(class: &str) -> Option<&'static str> {
    Some(match class {
        "images" => "Images",
        "transcription" => "Seconds",
        "speech" => "Characters",
        "web_search" => "Searches",
        "code_sessions" => "Sessions",
        _ => return None,
    })
}

/// `row`'s cost per token class, adding up to its stored cost: the split its price
/// reference implies, with the same split at list prices (they differ under a
/// contract); a client's cost (no rates to split by) or an event whose price can no
/// longer be found is one class of its own.
fn classes(
    catalog: &Catalog,
    history: &[llmlab_store::CustomPriceRow],
    row: &EventRow,
) -> Vec<Class> {
    let t = crate::tokens::from_store(&row.tokens);
    let u = crate::tokens::units_from_store(&row.units);
    let tokens = t.input.saturating_add(t.output);
    let cost = row.cost_nanos;
    match row.cost_source.as_str() {
        "client" => return vec![("client_reported", cost, cost, tokens)],
        "unpriced" => return vec![("unpriced", 0, 0, tokens)],
        _ => {}
    }
    let split = |at_list| ledger::stored_cost(catalog, history, row, at_list);
    let (Some(billed), Some(list)) = (split(false), split(true)) else {
        return vec![("unattributed", cost, cost, tokens)];
    };
    let (b, l) = (billed.breakdown, list.breakdown);
    let mut out = vec![
        ("input", b.input, l.input, t.uncached_input()),
        (
            "cached_input",
            b.cached_input,
            l.cached_input,
            t.cached_input,
        ),
        ("cache_write", b.cache_write, l.cache_write, t.cache_write),
        ("output", b.output, l.output, t.output - t.output_audio),
        (
            "cache_write_1h",
            b.cache_write_1h,
            l.cache_write_1h,
            t.cache_write_1h,
        ),
        ("input_audio", b.input_audio, l.input_audio, t.input_audio),
        (
            "output_audio",
            b.output_audio,
            l.output_audio,
            t.output_audio,
        ),
        ("images", b.images, l.images, u.images),
        (
            "transcription",
            b.transcription,
            l.transcription,
            u.audio_input_seconds,
        ),
        ("speech", b.speech, l.speech, u.output_characters),
        ("web_search", b.web_search, l.web_search, u.web_search_calls),
        (
            "code_sessions",
            b.code_sessions,
            l.code_sessions,
            u.code_sessions,
        ),
    ]
    .into_iter()
    .map(|(class, b, l, tokens)| (class, b.nanos(), l.nanos(), tokens))
    .collect::<Vec<Class>>();
    // The stored cost is the ledger's truth; a split that misses it (a price changed
    // under an event not re-priced since) puts the difference on output.
    let split: i64 = out.iter().map(|c| c.1).sum();
    out[3].1 += cost - split;
    if row.contract_id.is_none() {
        out[3].2 += cost - split;
    }
    out.retain(|c| c.1 != 0 || c.3 != 0);
    out
}

/// The FOCUS rows of `workspace`'s events in `filter`, as CSV (header included).
pub fn export(
    s: &Store,
    catalog: &Catalog,
    workspace: WorkspaceId,
    filter: &EventFilter,
    rates: Option<&crate::fx::Rates>,
) -> Result<String, AppError> {
    let history = s.with_conn(|c| llmlab_store::prices::history(c, workspace))?;
    let mut rows: BTreeMap<Key, Sums> = BTreeMap::new();
    let (mut cursor, mut seen): (Option<EventCursor>, usize) = (None, 0);
    loop {
        let page = s.list_events(workspace, filter, cursor, 1000)?;
        seen += page.events.len();
        if seen > MAX_EVENTS {
            return Err(AppError::invalid(
                "start",
                format!("the range holds more than {MAX_EVENTS} events: export it in parts"),
            ));
        }
        for e in &page.events {
            let day = DateTime::from_timestamp_micros(e.ts)
                .unwrap_or_default()
                .date_naive();
            // Re-encoded from the map, so one tag set is one text however it was stored.
            let tags = serde_json::to_string(&e.tags()).unwrap_or_else(|_| "{}".into());
            for (class, cost, list, tokens) in classes(catalog, &history, e) {
                let key = Key {
                    day,
                    provider: e.provider.clone(),
                    model: e.resolved_model.clone(),
                    tags: tags.clone(),
                    class,
                };
                let sums = rows.entry(key).or_default();
                sums.cost += cost;
                sums.list += list;
                sums.quantity += tokens;
            }
        }
        if rows.len() > MAX_ROWS {
            return Err(AppError::invalid(
                "start",
                format!(
                    "the range makes more than {MAX_ROWS} rows (days × models × tag sets): \
                     export it in parts"
                ),
            ));
        }
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    let mut csv = String::from(HEADER);
    for (key, sums) in rows {
        let (sums, currency) = match rates {
            None => (sums, "USD"),
            // Each row is one UTC day: its amounts at that day's rate.
            Some(r) => {
                let at = |nanos: i64| {
                    r.convert_quietly(Usd::from_nanos(nanos), key.day)
                        .map(|a| a.nanos())
                };
                let converted = Sums {
                    cost: at(sums.cost)?,
                    list: at(sums.list)?,
                    ..sums
                };
                (converted, r.currency.as_str())
            }
        };
        csv.push_str(&line(catalog, &key, sums, currency));
    }
    Ok(csv)
}

fn line(catalog: &Catalog, k: &Key, sums: Sums, currency: &str) -> String {
    let provider = catalog
        .providers()
        .iter()
        .find(|p| p.id == k.provider)
        .map_or(k.provider.clone(), |p| p.display_name.clone());
    let day_start = k.day.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc();
    let month = NaiveDate::from_ymd_opt(k.day.year(), k.day.month(), 1).unwrap_or(k.day);
    let next_month = month
        .checked_add_months(chrono::Months::new(1))
        .unwrap_or(month);
    let at = |d: NaiveDate| {
        d.and_hms_opt(0, 0, 0)
            .unwrap_or_default()
            .and_utc()
            .to_rfc3339()
    };
    let cost = Usd::from_nanos(sums.cost).to_string();
    // Tokens are priced per million, the other units one by one.
    let (consumed_unit, pricing_unit, per, description) = match unit_of(k.class) {
        Some(unit) => (
            unit,
            unit,
            1,
            format!("{} {}", k.model, k.class.replace('_', " ")),
        ),
        None => (
            "Tokens",
            "1M Tokens",
            1_000_000,
            format!("{} {} tokens", k.model, k.class.replace('_', " ")),
        ),
    };
    let unit_price = (sums.quantity > 0).then(|| {
        // The list price per pricing unit, exact to the nano-dollar (rounded half away
        // from zero by the one money rule).
        Usd::from_nanos(sums.list)
            .mul_div(per, sums.quantity)
            .map(|u| u.to_string())
            .unwrap_or_default()
    });
    let pricing_quantity = if per == 1 {
        sums.quantity.to_string()
    } else {
        format!("{}", Usd::from_nanos(sums.quantity.saturating_mul(1_000)))
    };
    let fields = [
        cost.clone(),
        cost.clone(),
        Usd::from_nanos(sums.list).to_string(),
        cost,
        currency.into(),
        at(month),
        at(next_month),
        day_start.to_rfc3339(),
        (day_start + Duration::days(1)).to_rfc3339(),
        "Usage".into(),
        String::new(),
        description,
        sums.quantity.to_string(),
        consumed_unit.into(),
        pricing_quantity,
        pricing_unit.into(),
        unit_price.unwrap_or_default(),
        provider.clone(),
        provider.clone(),
        provider,
        format!("{} API", k.provider),
        "AI and Machine Learning".into(),
        format!("{}/{}/{}", k.provider, k.model, k.class),
        String::new(),
        k.tags.clone(),
        k.model.clone(),
        k.class.to_string(),
    ];
    let mut out = fields
        .iter()
        .map(|f| csv_field(f))
        .collect::<Vec<_>>()
        .join(",");
    out.push('\n');
    out
}
