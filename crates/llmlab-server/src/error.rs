//! The one place errors become HTTP.
//!
//! Policy: every error is the JSON shape of API.md. Validation → 422 naming the field;
//! bad credentials → 401 with `WWW-Authenticate: Bearer`; another user's resource → 404;
//! an unreachable database → 503 (the pool reconnects by itself); anything else → 500,
//! logged with its cause and never shown to the client.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use llmlab_app::StoreError;
use llmlab_engine::EngineError;
use llmlab_engine::providers::CatalogError;
use llmlab_recs::RecsError;

use llmlab_app::AppError;
use serde_json::{Value, json};

/// Every error code the API answers with (`error.code`): a closed set, listed in the
/// OpenAPI document, its wire names given by serde alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// `validation_error`.
    ValidationError,
    /// `unknown_provider`.
    UnknownProvider,
    /// `unknown_model`.
    UnknownModel,
    /// `unsupported_service_tier`.
    UnsupportedServiceTier,
    /// `limit_exceeded`.
    LimitExceeded,
    /// `unauthorized`.
    Unauthorized,
    /// `forbidden`.
    Forbidden,
    /// `not_found`.
    NotFound,
    /// `method_not_allowed`.
    MethodNotAllowed,
    /// `conflict`.
    Conflict,
    /// `budget_exceeded`.
    BudgetExceeded,
    /// `fx_rate_missing`.
    FxRateMissing,
    /// `email_taken`.
    EmailTaken,
    /// `last_owner`.
    LastOwner,
    /// `payload_too_large`.
    PayloadTooLarge,
    /// `unsupported_content_type`.
    UnsupportedContentType,
    /// `malformed_json`.
    MalformedJson,
    /// `malformed_body`.
    MalformedBody,
    /// `rate_limited`.
    RateLimited,
    /// `database_unavailable`.
    DatabaseUnavailable,
    /// `internal_error`.
    InternalError,
}

impl ErrorCode {
    /// Every code, for the OpenAPI document.
    pub const ALL: [ErrorCode; 21] = [
        ErrorCode::ValidationError,
        ErrorCode::UnknownProvider,
        ErrorCode::UnknownModel,
        ErrorCode::UnsupportedServiceTier,
        ErrorCode::LimitExceeded,
        ErrorCode::Unauthorized,
        ErrorCode::Forbidden,
        ErrorCode::NotFound,
        ErrorCode::MethodNotAllowed,
        ErrorCode::Conflict,
        ErrorCode::BudgetExceeded,
        ErrorCode::FxRateMissing,
        ErrorCode::EmailTaken,
        ErrorCode::LastOwner,
        ErrorCode::PayloadTooLarge,
        ErrorCode::UnsupportedContentType,
        ErrorCode::MalformedJson,
        ErrorCode::MalformedBody,
        ErrorCode::RateLimited,
        ErrorCode::DatabaseUnavailable,
        ErrorCode::InternalError,
    ];

    /// The wire name (`unknown_model`), as serde writes it.
    pub fn name(self) -> String {
        match serde_json::to_value(self) {
            Ok(Value::String(name)) => name,
            _ => format!("{self:?}"),
        }
    }
}

/// An error answered to the client.
#[derive(Debug)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Stable machine-readable code (`unknown_model`, `validation_error`, …).
    pub code: ErrorCode,
    /// Human message.
    pub message: String,
    /// Extra structured details (`field`, `suggestions`).
    pub details: Option<Value>,
    /// Seconds for `Retry-After` (429).
    pub retry_after: Option<u64>,
}

impl ApiError {
    /// An error with no details.
    pub fn new(status: StatusCode, code: ErrorCode, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
            details: None,
            retry_after: None,
        }
    }

    /// 422 naming the field.
    pub fn validation(field: impl Into<String>, message: impl Into<String>) -> ApiError {
        let field = field.into();
        ApiError {
            details: Some(json!({ "field": field })),
            ..ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                ErrorCode::ValidationError,
                message,
            )
        }
    }

    /// 401.
    pub fn unauthorized(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::UNAUTHORIZED, ErrorCode::Unauthorized, message)
    }

    /// 404.
    pub fn not_found(what: &str) -> ApiError {
        ApiError::new(
            StatusCode::NOT_FOUND,
            ErrorCode::NotFound,
            format!("{what} not found"),
        )
    }

    /// 400 for a body that is not JSON at all or has the wrong content type.
    pub fn bad_request(code: ErrorCode, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, code, message)
    }

    /// 500, logging the cause; the client sees a generic message.
    pub fn internal(cause: impl std::fmt::Display) -> ApiError {
        log::error!("internal error: {cause}");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            ErrorCode::InternalError,
            "internal server error",
        )
    }

    /// 429 with `Retry-After`.
    pub fn rate_limited(retry_after: u64, message: impl Into<String>) -> ApiError {
        ApiError {
            retry_after: Some(retry_after.max(1)),
            ..ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                ErrorCode::RateLimited,
                message,
            )
        }
    }

    /// 403: the credential may not do this (an API key managing the account, a key
    /// without the scope).
    pub fn forbidden(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::FORBIDDEN, ErrorCode::Forbidden, message)
    }

    /// 422 `limit_exceeded`: the account already holds the most `what` it may.
    pub fn limit_exceeded(what: &str, limit: usize) -> ApiError {
        ApiError {
            details: Some(json!({ "field": what, "limit": limit })),
            ..ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                ErrorCode::LimitExceeded,
                format!("an account may hold at most {limit} {what}; delete some first"),
            )
        }
    }

    /// Adds a key to `details`.
    pub fn with_detail(mut self, key: &str, value: Value) -> ApiError {
        let mut details = self.details.take().unwrap_or_else(|| json!({}));
        if let Some(map) = details.as_object_mut() {
            map.insert(key.to_string(), value);
        }
        self.details = Some(details);
        self
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {}: {}",
            self.status.as_u16(),
            self.code.name(),
            self.message
        )
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let mut body = json!({ "code": self.code, "message": self.message });
        if let (Some(details), Some(map)) = (&self.details, body.as_object_mut()) {
            map.insert("details".into(), details.clone());
        }
        let mut resp = HttpResponse::build(self.status);
        if self.status == StatusCode::UNAUTHORIZED {
            resp.insert_header((header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer")));
        }
        if let Some(secs) = self.retry_after {
            resp.insert_header((header::RETRY_AFTER, secs.to_string()));
        }
        resp.json(json!({ "error": body }))
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> ApiError {
        match e {
            StoreError::Unavailable(msg) => {
                log::warn!("database unavailable: {msg}");
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    ErrorCode::DatabaseUnavailable,
                    "the database is unreachable; retry shortly",
                )
            }
            // What the write belonged to was deleted while it ran.
            StoreError::NotFound | StoreError::Gone(_) => ApiError::not_found("resource"),
            StoreError::Conflict(msg) => {
                ApiError::new(StatusCode::CONFLICT, ErrorCode::Conflict, msg)
            }
            StoreError::LimitExceeded(msg) => {
                log::warn!("ledger ceiling reached: {msg}");
                ApiError {
                    details: Some(json!({ "field": "events" })),
                    ..ApiError::new(
                        StatusCode::UNPROCESSABLE_ENTITY,
                        ErrorCode::LimitExceeded,
                        "this account's recorded spend or tokens would pass the ledger's \
                         ceiling ($9,000,000,000 or 9e18 tokens); nothing was stored",
                    )
                }
            }
            StoreError::RateLimited {
                kind,
                retry_after_secs,
            } => ApiError::rate_limited(
                retry_after_secs,
                format!("this workspace's hourly {kind} allowance is used up; retry later"),
            ),
            other => ApiError::internal(other),
        }
    }
}

impl From<CatalogError> for ApiError {
    fn from(e: CatalogError) -> ApiError {
        match &e {
            CatalogError::UnknownProvider { known, .. } => ApiError {
                details: Some(json!({ "field": "provider", "known": known })),
                ..ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    ErrorCode::UnknownProvider,
                    e.to_string(),
                )
            },
            CatalogError::UnknownModel { suggestions, .. } => ApiError {
                details: Some(json!({ "field": "model", "suggestions": suggestions })),
                ..ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    ErrorCode::UnknownModel,
                    e.to_string(),
                )
            },
            _ => ApiError::internal(e),
        }
    }
}

impl From<EngineError> for ApiError {
    fn from(e: EngineError) -> ApiError {
        match e {
            EngineError::Catalog(c) => c.into(),
            EngineError::InvalidUsage { field, .. } | EngineError::InvalidValue { field, .. } => {
                ApiError::validation(field, e.to_string())
            }
            EngineError::InvalidTimeZone(_) => ApiError::validation("tz", e.to_string()),
            EngineError::InvalidAmount(_) => ApiError::validation("cost_usd", e.to_string()),
            EngineError::UnsupportedServiceTier { ref offered, .. } => ApiError {
                details: Some(json!({
                    "field": "service_tier",
                    "offered": offered.iter().map(|t| t.as_str()).collect::<Vec<_>>(),
                })),
                ..ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    ErrorCode::UnsupportedServiceTier,
                    e.to_string(),
                )
            },
            EngineError::CostOverflow => {
                ApiError::validation("input_tokens", "the cost of this call is out of range")
            }
            other => ApiError::validation("body", other.to_string()),
        }
    }
}

impl From<AppError> for ApiError {
    fn from(e: AppError) -> ApiError {
        match e {
            AppError::Invalid { field, message } => ApiError::validation(field, message),
            AppError::UnsupportedServiceTier { message, offered } => ApiError {
                details: Some(json!({ "field": "service_tier", "offered": offered })),
                ..ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    ErrorCode::UnsupportedServiceTier,
                    message,
                )
            },
            AppError::MalformedJson(e) => {
                ApiError::bad_request(ErrorCode::MalformedJson, format!("malformed JSON: {e}"))
            }
            AppError::NotFound(what) => ApiError::not_found(what),
            AppError::LimitExceeded { what, limit } => ApiError::limit_exceeded(what, limit),
            AppError::RateLimited {
                retry_after,
                message,
            } => ApiError::rate_limited(retry_after, message),
            AppError::BadCredentials => ApiError::unauthorized("invalid email or password"),
            AppError::EmailTaken => ApiError::new(
                StatusCode::CONFLICT,
                ErrorCode::EmailTaken,
                "this email is already registered",
            ),
            AppError::Catalog(e) => e.into(),
            AppError::Engine(e) => e.into(),
            AppError::Recs(e) => e.into(),
            AppError::Store(e) => e.into(),
            AppError::Internal(cause) => ApiError::internal(cause),
            AppError::RoleTooLow(role) => ApiError::forbidden(format!(
                "this needs the '{}' role in the workspace",
                role.as_str()
            ))
            .with_detail("required_role", serde_json::json!(role.as_str())),
            AppError::LastOwner => ApiError::new(
                StatusCode::CONFLICT,
                ErrorCode::LastOwner,
                "a workspace keeps at least one owner: make another member owner first",
            ),
            AppError::Conflict(message) => {
                ApiError::new(StatusCode::CONFLICT, ErrorCode::Conflict, message)
            }
            AppError::BudgetExceeded {
                budget_id,
                ref name,
                available,
                requested,
            } => ApiError {
                details: Some(serde_json::json!({
                    "budget_id": budget_id.get(),
                    "name": name,
                    "available_usd": llmlab_app::money::number(available),
                    "requested_usd": llmlab_app::money::number(requested),
                })),
                ..ApiError::new(
                    StatusCode::CONFLICT,
                    ErrorCode::BudgetExceeded,
                    e.to_string(),
                )
            },
            AppError::FxRateMissing { ref currency, day } => ApiError {
                details: Some(serde_json::json!({ "currency": currency, "date": day })),
                ..ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    ErrorCode::FxRateMissing,
                    e.to_string(),
                )
            },
            AppError::WorkspaceGone => ApiError::unauthorized(
                "invalid or revoked credential: its workspace no longer exists",
            ),
            AppError::Unauthorized(why) => ApiError::unauthorized(why),
            AppError::BadWorkspace => ApiError::validation(
                crate::auth::WORKSPACE_HEADER,
                format!(
                    "{} must be a workspace id (a positive integer)",
                    crate::auth::WORKSPACE_HEADER
                ),
            ),
            AppError::SessionRequired(why) => {
                ApiError::forbidden(why).with_detail("required", serde_json::json!("session"))
            }
            AppError::ScopeMissing(scope) => ApiError::forbidden(e_scope(scope))
                .with_detail("required_scope", serde_json::json!(scope.as_str())),
        }
    }
}

fn e_scope(scope: llmlab_app::access::KeyScope) -> String {
    format!(
        "this API key lacks the '{}' scope; create a key with it",
        scope.as_str()
    )
}

impl From<RecsError> for ApiError {
    fn from(e: RecsError) -> ApiError {
        match &e {
            RecsError::InvalidConfig { field, .. } => ApiError::validation(*field, e.to_string()),
            _ => ApiError::internal(e),
        }
    }
}

impl From<actix_web::error::BlockingError> for ApiError {
    fn from(e: actix_web::error::BlockingError) -> ApiError {
        ApiError::internal(e)
    }
}
