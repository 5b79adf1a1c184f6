//! Custom prices: an account's own rates for a model (negotiated, fine-tuned,
//! self-hosted), set within the account's limit. Every change moves the account's
//! prices version in the same transaction (the store does it), which the credential
//! check reads, so every instance prices the next event with it.

use llmlab_store::{CustomPriceRow, NewCustomPrice, Store, WorkspaceId, prices};

use crate::auth::Identity;
use crate::{AppError, Audit, audited, audited_delete, ensure_room};

/// Sets the account's price for `new`'s model: replaces its price, or adds one within
/// `limit` prices.
pub fn set_custom(
    s: &Store,
    workspace: WorkspaceId,
    by: &Identity,
    new: &NewCustomPrice,
    limit: usize,
) -> Result<CustomPriceRow, AppError> {
    let existing = s.list_custom_prices(workspace)?;
    let replaces = existing
        .iter()
        .any(|c| c.price.provider == new.provider && c.price.model == new.model);
    if !replaces {
        ensure_room("custom_prices", existing.len(), limit)?;
    }
    audited(s, workspace, &by.actor(), |c| {
        let row = prices::upsert(c, workspace, new)?;
        let audit = Audit {
            action: "custom_price.set",
            target_kind: "custom_price",
            target_id: format!("{}/{}", row.price.provider, row.price.model),
            details: serde_json::json!({
                "input_micros": row.price.input_micros,
                "output_micros": row.price.output_micros,
                "cached_input_micros": row.price.cached_input_micros,
                "cache_write_micros": row.price.cache_write_micros,
                "batch_discount_pct": row.price.batch_discount_pct,
                "cache_write_1h_micros": row.price.cache_write_1h_micros,
                "input_audio_micros": row.price.input_audio_micros,
                "output_audio_micros": row.price.output_audio_micros,
                "audio_input_minute_picos": row.price.audio_input_minute_picos,
                "output_character_picos": row.price.output_character_picos,
                "web_search_call_picos": row.price.web_search_call_picos,
                "code_session_picos": row.price.code_session_picos,
            }),
        };
        Ok((row, audit))
    })
}

/// Removes the account's price for `provider`/`model`; the catalog prices it again.
pub fn remove_custom(
    s: &Store,
    workspace: WorkspaceId,
    by: &Identity,
    provider: &str,
    model: &str,
) -> Result<(), AppError> {
    // Nothing with a control character can have been stored (and PostgreSQL refuses NUL
    // in a query): no such price.
    if crate::input::check_text("provider", provider).is_err()
        || crate::input::check_text("model", model).is_err()
    {
        return Err(AppError::NotFound("custom price"));
    }
    let audit = Audit {
        action: "custom_price.delete",
        target_kind: "custom_price",
        target_id: format!("{provider}/{model}"),
        details: serde_json::json!({}),
    };
    audited_delete(s, workspace, &by.actor(), "custom price", audit, |c| {
        prices::delete(c, workspace, provider, model)
    })
}

/// A provider or model name of a custom price: trimmed, lower-cased, 1 to 256
/// characters, no control characters.
pub fn price_key(field: &str, s: &str) -> Result<String, AppError> {
    crate::input::check_text(field, s)?;
    let s = s.trim().to_ascii_lowercase();
    if s.is_empty() || s.len() > 256 {
        return Err(AppError::invalid(field, "must be 1 to 256 characters"));
    }
    Ok(s)
}

/// A rate in USD per million tokens (`"2.50"`), exact, as stored micro-dollars.
pub fn rate_micros(field: &str, text: &str) -> Result<i64, AppError> {
    let rate = llmlab_engine::providers::PerMTok::parse(text.trim())
        .map_err(|e| AppError::invalid(field, e.to_string()))?;
    i64::try_from(rate.micros()).map_err(|_| AppError::invalid(field, "too large"))
}

/// `text`, a decimal number of USD for one unit (`"0.01"`), in pico-dollars; a 422 naming
/// `field` otherwise.
pub fn unit_picos(field: &str, text: &str) -> Result<i64, AppError> {
    let price = llmlab_engine::providers::UnitPrice::parse(text.trim())
        .map_err(|e| AppError::invalid(field, e.to_string()))?;
    i64::try_from(price.picos()).map_err(|_| AppError::invalid(field, "too large"))
}

/// The workspace's custom price revisions, as the store keeps them.
pub fn custom_prices(
    s: &llmlab_store::Store,
    workspace: llmlab_store::WorkspaceId,
) -> Result<Vec<llmlab_store::CustomPriceRow>, AppError> {
    Ok(s.list_custom_prices(workspace)?)
}

/// A custom price revision as a caller sets it, each rate the text of a decimal number
/// of USD per million tokens (`"2.50"`); an absent optional rate leaves those tokens to
/// the input rate (cache reads and writes) or refuses them (1-hour writes, audio).
#[derive(Debug, Clone, Default)]
pub struct RevisionForm {
    /// Uncached input.
    pub input: String,
    /// Output.
    pub output: String,
    /// Cache reads.
    pub cached_input: Option<String>,
    /// 5-minute cache writes.
    pub cache_write: Option<String>,
    /// Batch API discount, percent.
    pub batch_discount_pct: Option<i64>,
    /// 1-hour cache writes.
    pub cache_write_1h: Option<String>,
    /// Audio input.
    pub input_audio: Option<String>,
    /// Audio output.
    pub output_audio: Option<String>,
    /// USD a minute of audio in.
    pub audio_input_minute: Option<String>,
    /// USD a character of speech.
    pub output_character: Option<String>,
    /// USD a web search call.
    pub web_search_call: Option<String>,
    /// USD a code session.
    pub code_session: Option<String>,
    /// The first day (UTC, `YYYY-MM-DD`) it prices; absent: every day.
    pub effective_from: Option<String>,
}

/// The revision `form` sets for `provider`/`model` (already [`price_key`]s), each rate
/// checked and read exactly: what the API and the dashboard both store.
pub fn revision(
    provider: String,
    model: String,
    form: RevisionForm,
) -> Result<NewCustomPrice, AppError> {
    let optional =
        |field: &str, v: &Option<String>| v.as_deref().map(|t| rate_micros(field, t)).transpose();
    let unit =
        |field: &str, v: &Option<String>| v.as_deref().map(|t| unit_picos(field, t)).transpose();
    let batch_discount_pct = match form.batch_discount_pct {
        None => None,
        Some(d @ 0..=100) => i32::try_from(d).ok(),
        Some(_) => {
            let why = "must be between 0 and 100";
            return Err(AppError::invalid("batch_discount_pct", why));
        }
    };
    Ok(NewCustomPrice {
        provider,
        model,
        input_micros: rate_micros("input_per_mtok_usd", &form.input)?,
        output_micros: rate_micros("output_per_mtok_usd", &form.output)?,
        cached_input_micros: optional("cached_input_per_mtok_usd", &form.cached_input)?,
        cache_write_micros: optional("cache_write_per_mtok_usd", &form.cache_write)?,
        batch_discount_pct,
        cache_write_1h_micros: optional("cache_write_1h_per_mtok_usd", &form.cache_write_1h)?,
        input_audio_micros: optional("input_audio_per_mtok_usd", &form.input_audio)?,
        output_audio_micros: optional("output_audio_per_mtok_usd", &form.output_audio)?,
        audio_input_minute_picos: unit("audio_input_minute_usd", &form.audio_input_minute)?,
        output_character_picos: unit("output_character_usd", &form.output_character)?,
        web_search_call_picos: unit("web_search_call_usd", &form.web_search_call)?,
        code_session_picos: unit("code_session_usd", &form.code_session)?,
        effective_from: form
            .effective_from
            .as_deref()
            .map(crate::input::parse_day)
            .transpose()?,
    })
}
