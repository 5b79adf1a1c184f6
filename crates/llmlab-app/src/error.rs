//! The application layer's one error type. It says what went wrong in the use case's own
//! terms; the server's `error` module (the one place errors become HTTP) maps it to a
//! status and code.

use llmlab_engine::EngineError;
use llmlab_engine::providers::CatalogError;
use llmlab_recs::RecsError;
use llmlab_store::StoreError;

/// Why a use case refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// A value the caller gave is not acceptable; `field` names it.
    #[error("{field}: {message}")]
    Invalid {
        /// The field, as the caller named it (`tags.team`, `cost_usd`).
        field: String,
        /// What is wrong, for a person.
        message: String,
    },
    /// A service tier the model has no published price for.
    #[error("{message}")]
    UnsupportedServiceTier {
        /// For a person, naming the model and the tiers offered.
        message: String,
        /// The tiers the model's price does offer.
        offered: Vec<String>,
    },
    /// A body that is not JSON at all.
    #[error("malformed JSON: {0}")]
    MalformedJson(String),
    /// No such resource for this account (another account's is not found either).
    #[error("{0} not found")]
    NotFound(&'static str),
    /// The account already holds the most `what` it may.
    #[error("an account may hold at most {limit} {what}")]
    LimitExceeded {
        /// What is limited (`budgets`).
        what: &'static str,
        /// The limit.
        limit: usize,
    },
    /// Too many attempts; retry after the given seconds.
    #[error("{message}")]
    RateLimited {
        /// Seconds to wait.
        retry_after: u64,
        /// Which limit, for a person.
        message: String,
    },
    /// A credential that is missing, malformed, expired or revoked (why, for a person).
    #[error("{0}")]
    Unauthorized(&'static str),
    /// The workspace a session names is not a workspace id.
    #[error("the workspace named is not a workspace id (a positive integer)")]
    BadWorkspace,
    /// Only a person's session may do this (an API key asked; why, for a person).
    #[error("{0}")]
    SessionRequired(&'static str),
    /// The API key lacks the scope this needs.
    #[error("this API key lacks the '{}' scope; create a key with it", .0.as_str())]
    ScopeMissing(crate::access::KeyScope),
    /// Login with an unknown email or a wrong password (one answer for both).
    #[error("invalid email or password")]
    BadCredentials,
    /// Sign-up with an email already registered.
    #[error("this email is already registered")]
    EmailTaken,
    /// The catalog refused (unknown provider or model).
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    /// The engine refused (invalid usage, amounts, zones).
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// The recommendations crate refused or failed.
    #[error(transparent)]
    Recs(#[from] RecsError),
    /// A failure of the server itself (the blocking pool stopped, bcrypt failed); logged,
    /// never shown to the caller.
    #[error("internal error: {0}")]
    Internal(String),
    /// The store failed (or found nothing, or a conflict).
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The caller's role in the workspace is below the one this needs.
    #[error("needs the {} role", .0.as_str())]
    RoleTooLow(llmlab_store::Role),
    /// The change would leave a workspace without an owner.
    #[error("a workspace keeps at least one owner")]
    LastOwner,
    /// The workspace a credential acts in was deleted (a key trusted from an instance's
    /// cache, a session in the moment of the deletion): the credential is dead.
    #[error("the workspace this credential acts in no longer exists")]
    WorkspaceGone,
    /// The change conflicts with what is stored (a member already added, a personal
    /// workspace deleted).
    #[error("{0}")]
    Conflict(&'static str),

    /// A report in another currency has a day with spend and no exchange rate in effect.
    #[error("no {currency} exchange rate is in effect on {day}: upload one dated on or before it")]
    FxRateMissing {
        /// The currency asked for.
        currency: String,
        /// The first day without one.
        day: chrono::NaiveDate,
    },

    /// A hard budget covering a call has less left than the call's worst case.
    #[error(
        "budget '{name}' has ${available} available, less than the ${requested} this call may cost"
    )]
    BudgetExceeded {
        /// The budget.
        budget_id: llmlab_store::BudgetId,
        /// Its name.
        name: String,
        /// What it has left (amount − spent − live reservations).
        available: llmlab_engine::Usd,
        /// The call's worst case.
        requested: llmlab_engine::Usd,
    },
}

impl AppError {
    /// Whether the caller's input was refused (not a failure of the server): what
    /// ingestion counts as a rejected event.
    pub fn is_invalid_input(&self) -> bool {
        match self {
            AppError::Invalid { .. } | AppError::LimitExceeded { .. } | AppError::Engine(_) => {
                !matches!(self, AppError::Engine(EngineError::Catalog(c)) if !unknown(c))
            }
            AppError::Catalog(c) => unknown(c),
            AppError::UnsupportedServiceTier { .. } => true,
            AppError::Store(StoreError::LimitExceeded(_)) => true,
            _ => false,
        }
    }

    /// 422 `unsupported_service_tier` for `model`, naming the tiers `what` offers.
    pub fn unsupported_tier(
        model: &str,
        tier: llmlab_engine::ServiceTier,
        offered: &[llmlab_engine::ServiceTier],
        what: &str,
    ) -> AppError {
        let names: Vec<String> = offered.iter().map(|t| t.as_str().to_string()).collect();
        AppError::UnsupportedServiceTier {
            message: format!(
                "{} has no {tier} price: {what} offers {}; send the call's cost as cost_usd, or \
                 send it on an offered tier",
                model.trim(),
                names.join(", ")
            ),
            offered: names,
        }
    }

    /// This error, naming `to` where it named the field `from` (the same check reached
    /// through a differently named input).
    pub fn renamed(self, from: &str, to: &str) -> AppError {
        match self {
            AppError::Invalid { field, message } if field == from => AppError::Invalid {
                field: to.to_string(),
                message,
            },
            other => other,
        }
    }

    /// An invalid value of `field`.
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> AppError {
        AppError::Invalid {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// An unknown provider or model: the caller's input, not a broken catalog.
fn unknown(c: &CatalogError) -> bool {
    matches!(
        c,
        CatalogError::UnknownProvider { .. } | CatalogError::UnknownModel { .. }
    )
}

impl AppError {
    /// This error, with the store's "not found" named as `what` (404 with its name).
    pub fn or_not_found(self, what: &'static str) -> AppError {
        match self {
            AppError::Store(StoreError::NotFound) => AppError::NotFound(what),
            other => other,
        }
    }
}
