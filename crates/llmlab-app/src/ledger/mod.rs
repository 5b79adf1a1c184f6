//! The price ledger: which price produced each cost ([`PriceRef`]), pricing one call
//! with the prices in effect at its timestamp ([`price_call`], the one pricing rule of
//! ingestion and re-pricing alike), models nobody has priced yet kept as `unpriced`, and
//! re-pricing stored events after a price changes ([`reprice`]).

use chrono::{DateTime, NaiveDate, Utc};
use llmlab_engine::ServiceTier::{Batch, Standard};
use llmlab_engine::providers::{Catalog, CatalogError};
use llmlab_engine::{Cost, Discount, EngineError, Usage, Usd, cost_at_rates};
use llmlab_store::contracts::ContractRow;
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
    /// The catalog's version of `model` in effect from `effective_from`, under the
    /// workspace's `contract` when one covered the call.
    Catalog {
        /// The catalog model.
        model: String,
        /// The first day of the price version.
        effective_from: NaiveDate,
        /// The contract whose discount was taken off the list price.
        contract: Option<ContractRef>,
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

/// The contract that discounted a catalog price.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ContractRef {
    /// The contract (see `GET /api/contracts`).
    pub id: i64,
    /// Its discount off list prices.
    pub discount: Discount,
}

impl ContractRef {
    /// The stored pair (id, basis points).
    pub fn stored(self) -> (i64, i32) {
        (self.id, i32::from(self.discount.basis_points()))
    }

    /// The contract a stored event names, if any.
    pub fn of(row: &EventRow) -> Option<ContractRef> {
        let bp = u16::try_from(row.contract_discount_bp?).ok()?;
        Some(ContractRef {
            id: row.contract_id?,
            discount: Discount::from_basis_points(bp)?,
        })
    }
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
                contract: ContractRef::of(row),
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

    /// The contract, for a discounted `catalog` price.
    pub fn contract(&self) -> Option<ContractRef> {
        match self {
            PriceRef::Catalog { contract, .. } => *contract,
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

/// A workspace's own prices, as pricing reads them: its custom price revisions and its
/// contracts (ended ones included: they priced what came before their end).
#[derive(Debug, Clone, Default)]
pub struct WorkspacePrices {
    /// Live custom price revisions.
    pub custom: Vec<CustomPriceRow>,
    /// Contracts.
    pub contracts: Vec<ContractRow>,
}

impl WorkspacePrices {
    /// Reads `workspace`'s prices.
    pub fn load(
        s: &llmlab_store::Store,
        workspace: llmlab_store::WorkspaceId,
    ) -> Result<WorkspacePrices, llmlab_store::StoreError> {
        Ok(WorkspacePrices {
            custom: s.list_custom_prices(workspace)?,
            contracts: s.list_contracts(workspace)?,
        })
    }

    /// The revision for `(provider, model)` (both lower-case) in effect at `at`: the
    /// latest-dated one from on or before that day (undated ones apply to every day),
    /// the newest among equal dates.
    pub fn lookup(
        &self,
        provider: &str,
        model: &str,
        at: DateTime<Utc>,
    ) -> Option<&CustomPriceRow> {
        let day = at.date_naive();
        self.custom
            .iter()
            .filter(|c| c.price.provider == provider && c.price.model == model)
            .filter(|c| c.price.effective_from.is_none_or(|d| d <= day))
            .max_by_key(|c| (c.price.effective_from, c.id))
    }

    /// Whether any custom price is set for `provider` (then its unknown models are kept
    /// too).
    pub fn has_provider(&self, provider: &str) -> bool {
        self.custom.iter().any(|c| c.price.provider == provider)
    }

    /// The contract covering catalog model `model` of `provider` at `at`: in effect that
    /// day and not ended by then, the longest matching model prefix first (a contract
    /// for `gpt-4o-mini` beats one for all of OpenAI), then the latest `effective_from`,
    /// then the newest.
    pub fn contract(&self, provider: &str, model: &str, at: DateTime<Utc>) -> Option<&ContractRow> {
        let (day, instant) = (at.date_naive(), at.naive_utc());
        self.contracts
            .iter()
            .filter(|c| c.spec.provider == provider)
            .filter(|c| {
                c.spec
                    .model_prefix
                    .as_deref()
                    .is_none_or(|p| model.starts_with(p))
            })
            .filter(|c| {
                c.spec.effective_from <= day && c.spec.effective_to.is_none_or(|d| day <= d)
            })
            .filter(|c| c.ended_at.is_none_or(|end| instant < end))
            .max_by_key(|c| {
                let prefix = c.spec.model_prefix.as_deref().map_or(0, str::len);
                (prefix, c.spec.effective_from, c.id)
            })
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
/// revision for the model (as sent, else as resolved; taken as already negotiated, so
/// no contract applies to it), else the catalog's version less the contract covering
/// the call, if any; a model neither knows is `unpriced` (cost 0, with a warning) unless `unknown` rejects
/// it.
pub fn price_call(
    catalog: &Catalog,
    custom: &WorkspacePrices,
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
    let contract = custom
        .contract(call.provider, call.resolved, call.at)
        .and_then(|c| {
            let bp = u16::try_from(c.spec.discount_bp).ok()?;
            Some(ContractRef {
                id: c.id,
                discount: Discount::from_basis_points(bp)?,
            })
        });
    let discount = contract.map_or(Discount::NONE, |c| c.discount);
    let priced = llmlab_engine::price_under_contract(
        catalog,
        call.provider,
        call.model,
        call.usage,
        call.at,
        discount,
    );
    match priced {
        Ok(p) => Ok(PricedCall {
            price_ref: PriceRef::Catalog {
                model: p.model.name.clone(),
                effective_from: p.effective_from(),
                contract,
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
