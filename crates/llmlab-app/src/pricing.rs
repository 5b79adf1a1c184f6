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

/// The workspace's custom price revisions, as the store keeps them.
pub fn custom_prices(
    s: &llmlab_store::Store,
    workspace: llmlab_store::WorkspaceId,
) -> Result<Vec<llmlab_store::CustomPriceRow>, AppError> {
    Ok(s.list_custom_prices(workspace)?)
}
