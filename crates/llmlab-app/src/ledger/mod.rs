//! The price ledger: which price produced each cost ([`PriceRef`]), pricing one call
//! with the prices in effect at its timestamp ([`price_call`], the one pricing rule of
//! ingestion and re-pricing alike), models nobody has priced yet kept as `unpriced`, and
//! re-pricing stored events after a price changes ([`reprice`]).

use chrono::{DateTime, NaiveDate, Utc};
use llmlab_engine::ServiceTier::{Batch, Standard};
use llmlab_engine::providers::{Catalog, CatalogError};
use llmlab_engine::{Cost, EngineError, Usage, Usd, cost_at_rates, price};
use llmlab_store::{CustomPriceRow, EventRow};

use crate::AppError;
pub use crate::usage_formats::stored_usage;
pub use llmlab_store::ledger::{RunRow, UnpricedModel};

/// What ingestion does with a model the catalog and the custom prices do not know
/// (`LLMLAB_UNKNOWN_MODELS`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum UnknownModels {
    /// Store it unpriced (cost 0), with a warning; a price added later re-prices it.
    #[default]
    Keep,
    /// Refuse it: 422 `unknown_model`.
    Reject,
}

// The server's `PriceRefOut` repeats these variants as the API's wire form (serde,
// OpenAPI); this crate speaks no HTTP, so the two stay apart.
/// Which price produced a cost.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PriceRef {
    /// The catalog's version of `model` in effect from `effective_from`.
    Catalog {
        /// The catalog model.
        model: String,
        /// The first day of the price version.
        effective_from: NaiveDate,
    },
    /// A custom price revision of the workspace (`null` for events priced before
    /// revisions were kept).
    CustomPricing {
        /// The revision (see `GET /api/pricing/custom`).
        revision: Option<i64>,
    },
    /// The cost the client sent.
    Client,
    /// No price yet: cost 0 until a price exists and the event is re-priced.
    Unpriced,
}

impl PriceRef {
    /// The stored `cost_source`.
    pub fn source(&self) -> &'static str {
        match self {
            PriceRef::Catalog { .. } => "catalog",
            PriceRef::CustomPricing { .. } => "custom_pricing",
            PriceRef::Client => "client",
            PriceRef::Unpriced => "unpriced",
        }
    }

    /// The price a stored event records.
    pub fn of(row: &EventRow) -> PriceRef {
        match (row.cost_source.as_str(), row.price_effective_from) {
            ("catalog", Some(effective_from)) => PriceRef::Catalog {
                model: row.resolved_model.clone(),
                effective_from,
            },
            ("custom_pricing", _) => PriceRef::CustomPricing {
                revision: row.price_revision,
            },
            ("unpriced", _) => PriceRef::Unpriced,
            _ => PriceRef::Client,
        }
    }

    /// The catalog version's first day, for `catalog`.
    pub fn effective_from(&self) -> Option<NaiveDate> {
        match self {
            PriceRef::Catalog { effective_from, .. } => Some(*effective_from),
            _ => None,
        }
    }

    /// The custom revision, for `custom_pricing`.
    pub fn revision(&self) -> Option<i64> {
        match self {
            PriceRef::CustomPricing { revision } => *revision,
            _ => None,
        }
    }
}

/// Something the caller should know about an accepted event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    /// `unknown_model`.
    pub code: &'static str,
    /// For a person.
    pub message: String,
    /// The closest known model names, nearest first.
    pub suggestions: Vec<String>,
}

/// The custom prices of a workspace, as pricing reads them.
pub trait CustomPrices {
    /// The revision for `(provider, model)` (both lower-case) in effect at `at`: the
    /// latest-dated one from on or before that day (undated ones apply to every day),
    /// the newest among equal dates.
    fn lookup(&self, provider: &str, model: &str, at: DateTime<Utc>) -> Option<&CustomPriceRow>;

    /// Whether any price is set for `provider` (then its unknown models are kept too).
    fn has_provider(&self, provider: &str) -> bool;
}

impl CustomPrices for [CustomPriceRow] {
    fn lookup(&self, provider: &str, model: &str, at: DateTime<Utc>) -> Option<&CustomPriceRow> {
        let day = at.date_naive();
        self.iter()
            .filter(|c| c.price.provider == provider && c.price.model == model)
            .filter(|c| c.price.effective_from.is_none_or(|d| d <= day))
            .max_by_key(|c| (c.price.effective_from, c.id))
    }

    fn has_provider(&self, provider: &str) -> bool {
        self.iter().any(|c| c.price.provider == provider)
    }
}

/// One call to price.
pub struct Call<'a> {
    /// Provider id, lower-case.
    pub provider: &'a str,
    /// The model as sent.
    pub model: &'a str,
    /// The name it resolves to (the lower-cased name as sent when the catalog lacks it).
    pub resolved: &'a str,
    /// Its tokens.
    pub usage: &'a Usage,
    /// When it happened.
    pub at: DateTime<Utc>,
}

/// A call's cost and where it came from.
pub struct PricedCall {
    /// The cost.
    pub cost: Cost,
    /// The price that produced it.
    pub price_ref: PriceRef,
    /// Set for an unpriced call.
    pub warning: Option<Warning>,
}

fn zero() -> Cost {
    Cost {
        total: Usd::ZERO,
        breakdown: Default::default(),
        long_context: false,
        batch_discount_pct: 0,
    }
}

/// Prices `call` with the prices in effect at its timestamp: the workspace's custom
/// revision for the model (as sent, else as resolved), else the catalog's version; a
/// model neither knows is `unpriced` (cost 0, with a warning) unless `unknown` rejects
/// it.
pub fn price_call(
    catalog: &Catalog,
    custom: &(impl CustomPrices + ?Sized),
    call: &Call<'_>,
    unknown: UnknownModels,
) -> Result<PricedCall, AppError> {
    let sent = call.model.to_ascii_lowercase();
    let revision = custom
        .lookup(call.provider, &sent, call.at)
        .or_else(|| custom.lookup(call.provider, call.resolved, call.at));
    if let Some(c) = revision {
        let (tier, offered) = (call.usage.service_tier(), [Standard, Batch]);
        if !offered.contains(&tier) {
            let why = "its custom price";
            return Err(AppError::unsupported_tier(call.model, tier, &offered, why));
        }
        let discount = c.price.batch_discount_pct.map(|d| d.clamp(0, 100) as u8);
        return Ok(PricedCall {
            cost: cost_at_rates(&crate::ingest::custom_rates(c), discount, call.usage)?,
            price_ref: PriceRef::CustomPricing {
                revision: Some(c.revision()),
            },
            warning: None,
        });
    }
    match price(catalog, call.provider, call.model, call.usage, call.at) {
        Ok(p) => Ok(PricedCall {
            price_ref: PriceRef::Catalog {
                model: p.model.name.clone(),
                effective_from: p.effective_from(),
            },
            cost: p.cost,
            warning: None,
        }),
        Err(EngineError::Catalog(e @ CatalogError::UnknownModel { .. }))
            if unknown == UnknownModels::Keep =>
        {
            let CatalogError::UnknownModel { suggestions, .. } = &e else {
                return Err(e.into());
            };
            Ok(PricedCall {
                cost: zero(),
                price_ref: PriceRef::Unpriced,
                warning: Some(Warning {
                    code: "unknown_model",
                    message: format!(
                        "{e}: stored unpriced (cost 0); set a custom price and re-price to \
                         cost it"
                    ),
                    suggestions: suggestions.clone(),
                }),
            })
        }
        Err(EngineError::UnsupportedServiceTier { tier, offered }) => Err(
            AppError::unsupported_tier(call.model, tier, &offered, "the catalog's price"),
        ),
        Err(e) => Err(e.into()),
    }
}

mod reprice;

pub use reprice::*;

/// Models with events stored without a price, most calls first (the 1,000 most called).
pub fn unpriced(
    s: &llmlab_store::Store,
    workspace: llmlab_store::WorkspaceId,
) -> Result<Vec<llmlab_store::ledger::UnpricedModel>, AppError> {
    Ok(s.with_conn(|c| llmlab_store::ledger::unpriced(c, workspace, 1_000))?)
}

/// The 100 latest re-pricing runs, newest first.
pub fn runs(
    s: &llmlab_store::Store,
    workspace: llmlab_store::WorkspaceId,
) -> Result<Vec<llmlab_store::ledger::RunRow>, AppError> {
    Ok(s.with_conn(|c| llmlab_store::ledger::runs(c, workspace, 100))?)
}
