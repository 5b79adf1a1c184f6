//! Custom prices: an account's own rates for a model (negotiated, fine-tuned,
//! self-hosted), set within the account's limit. Every change moves the account's
//! prices version in the same transaction (the store does it), which the credential
//! check reads, so every instance prices the next event with it.

use llmlab_store::{CustomPriceRow, NewCustomPrice, Store};

use crate::app::{AppError, ensure_room};

/// Sets the account's price for `new`'s model: replaces its price, or adds one within
/// `limit` prices.
pub fn set_custom(
    s: &Store,
    user_id: i64,
    new: &NewCustomPrice,
    limit: usize,
) -> Result<CustomPriceRow, AppError> {
    let existing = s.list_custom_prices(user_id)?;
    let replaces = existing
        .iter()
        .any(|c| c.provider == new.provider && c.model == new.model);
    if !replaces {
        ensure_room("custom_prices", existing.len(), limit)?;
    }
    Ok(s.upsert_custom_price(user_id, new)?)
}

/// Removes the account's price for `provider`/`model`; the catalog prices it again.
pub fn remove_custom(s: &Store, user_id: i64, provider: &str, model: &str) -> Result<(), AppError> {
    // Nothing with a control character can have been stored (and PostgreSQL refuses NUL
    // in a query): no such price.
    let stored = crate::app::input::check_text("provider", provider).is_ok()
        && crate::app::input::check_text("model", model).is_ok()
        && s.delete_custom_price(user_id, provider, model)?;
    if stored {
        Ok(())
    } else {
        Err(AppError::NotFound("custom price"))
    }
}
