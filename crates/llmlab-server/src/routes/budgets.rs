//! Budgets: live status, create/update, delete, the pre-flight check, alerts.

use actix_web::{HttpResponse, delete, get, post, web};
use chrono::Utc;
use llmlab_app::ChannelId;
use llmlab_engine::Usd;
use llmlab_engine::budget::Scope;
use utoipa_actix_web::service_config::ServiceConfig;

use crate::access::{Admin, Checker, Ingester, Member, Reader};
use crate::body::JsonBody;
use crate::dto::{
    AlertList, AlertOut, BudgetIn, BudgetList, BudgetOut, CheckQuery, CheckResponse,
    ReservationOut, ReserveIn, ScopeDto, WebhookSecret,
};
use crate::error::ApiError;
use crate::query::Query;
use crate::routes::path_id;
use llmlab_app::AppState;
use llmlab_app::BudgetId;
use llmlab_app::blocking;
use llmlab_app::budgets::{self as use_case, Evaluated};

pub fn config(cfg: &mut ServiceConfig) {
    cfg.service(list)
        .service(upsert)
        .service(check)
        .service(reserve)
        .service(release)
        .service(webhook_secret)
        .service(remove)
        .service(alerts);
}

fn budget_out(
    Evaluated {
        budget: b,
        evaluation: e,
        reserved,
        forecast,
        crossing,
        channels,
        webhook_url,
    }: Evaluated,
) -> BudgetOut {
    BudgetOut {
        id: b.id.get(),
        name: b.spec.name,
        amount_usd: Usd::from_nanos(b.spec.amount_nanos),
        period: b.spec.period,
        scope: ScopeDto {
            provider: b.spec.scope_provider,
            model: b.spec.scope_model,
            tag: b
                .spec
                .scope_tag_key
                .zip(b.spec.scope_tag_value)
                .map(|(k, v)| format!("{k}:{v}")),
        },
        alert_threshold_pct: i64::from(b.spec.alert_threshold_pct),
        webhook_url,
        timezone: b.spec.timezone,
        spent_usd: e.spent,
        remaining_usd: e.remaining,
        available_usd: use_case::available(&e, reserved),
        reserved_usd: reserved,
        enforce: b.spec.enforce,
        percent_used: e.percent_used,
        status: e.status.as_str().to_string(),
        period_start: e.window.start,
        period_end: e.window.end,
        forecast_usd: forecast.map(|f| f.expected),
        forecast_low_usd: forecast.and_then(|f| f.low),
        forecast_high_usd: forecast.and_then(|f| f.high),
        forecast_method: forecast.map(|f| f.method),
        expected_crossing: crossing,
        channel_ids: channels.iter().map(|c| c.get()).collect(),
    }
}

/// The user's budgets with their live status.
#[utoipa::path(tag = "budgets", responses((status = 200, body = BudgetList)), security(("bearer" = [])))]
#[get("/budgets")]
async fn list(state: web::Data<AppState>, who: Reader) -> Result<HttpResponse, ApiError> {
    let found = blocking(&state, move |s| {
        use_case::list(s, who.workspace(), Utc::now())
    })
    .await?;
    let budgets = found.into_iter().map(budget_out).collect();
    Ok(HttpResponse::Ok().json(BudgetList { budgets }))
}

/// Creates a budget, or updates the one named by `id` (or by the same name).
#[utoipa::path(tag = "budgets", request_body = BudgetIn, responses(
    (status = 201, description = "Created", body = BudgetOut), (status = 200, description = "Updated", body = BudgetOut),
    (status = 404, description = "`id` is not this workspace's budget"), (status = 422)), security(("bearer" = [])))]
#[post("/budgets")]
async fn upsert(
    state: web::Data<AppState>,
    who: Member,
    body: JsonBody<BudgetIn>,
) -> Result<HttpResponse, ApiError> {
    let id = body.0.id.map(BudgetId);
    let channels: Option<Vec<ChannelId>> = body
        .0
        .channel_ids
        .as_ref()
        .map(|ids| ids.iter().copied().map(ChannelId).collect());
    let form = use_case::validate(
        &state.catalog,
        state.settings.webhooks.allow_private,
        body.0.into(),
    )?;
    let limits = state.settings.limits;
    let (budget, created) = blocking(&state, move |s| {
        let change = (&form, channels.as_deref());
        use_case::upsert(s, who.workspace(), &who, id, change, limits, Utc::now())
    })
    .await?;
    let body = budget_out(budget);
    Ok(if created {
        HttpResponse::Created().json(body)
    } else {
        HttpResponse::Ok().json(body)
    })
}

/// Deletes a budget.
#[utoipa::path(tag = "budgets", params(("budget_id" = i64, Path)), responses((status = 204), (status = 404)), security(("bearer" = [])))]
#[delete("/budgets/{budget_id}")]
async fn remove(
    state: web::Data<AppState>,
    who: Member,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id: BudgetId = path_id(&id)?;
    blocking(&state, move |s| {
        use_case::remove(s, who.workspace(), &who, id)
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Pre-flight: may a gateway make this call? Answered from the database, so every
/// server instance agrees.
#[utoipa::path(tag = "budgets", params(CheckQuery), responses((status = 200, body = CheckResponse), (status = 422)), security(("bearer" = [])))]
#[get("/budgets/check")]
async fn check(
    state: web::Data<AppState>,
    who: Checker,
    q: Query<CheckQuery>,
) -> Result<HttpResponse, ApiError> {
    let CheckQuery {
        provider,
        model,
        tag,
    } = q.0;
    // Given more than once, the last counts; an empty one is no tag.
    let tag = tag
        .last()
        .map(|t| t.trim())
        .filter(|t| !t.is_empty())
        .map(Scope::parse_tag)
        .transpose()?;
    let call = Scope {
        provider: provider.map(|p| p.to_ascii_lowercase()),
        model: model.map(|m| m.to_ascii_lowercase()),
        tag,
    };
    let catalog = state.catalog.clone();
    let found = blocking(&state, move |s| {
        use_case::check(s, &catalog, who.workspace(), call, Utc::now())
    })
    .await?;
    let response = CheckResponse::from(found);
    Ok(HttpResponse::Ok().json(response))
}

/// Reserves a call's worst case against every hard budget covering it, atomically
/// across callers and server instances; 409 `budget_exceeded` when one has less left.
#[utoipa::path(tag = "budgets", request_body = ReserveIn, responses(
    (status = 201, description = "Reserved", body = ReservationOut),
    (status = 409, description = "`budget_exceeded`: a hard budget covering the call has less available than its worst case"),
    (status = 422, description = "Invalid call, unknown provider or model, or too many live reservations")), security(("bearer" = [])))]
#[post("/budgets/reserve")]
async fn reserve(
    state: web::Data<AppState>,
    who: Ingester,
    body: JsonBody<ReserveIn>,
) -> Result<HttpResponse, ApiError> {
    let reservation = use_case::reserve(&state, who.tenant(), body.0.into()).await?;
    Ok(HttpResponse::Created().json(ReservationOut::from(reservation)))
}

/// Releases a reservation before its call is made, or when it will not be. Releasing
/// one already settled, released or expired is not an error: nothing is held either way.
#[utoipa::path(tag = "budgets", params(("reservation_id" = String, Path)), responses((status = 204), (status = 422)), security(("bearer" = [])))]
#[delete("/budgets/reservations/{reservation_id}")]
async fn release(
    state: web::Data<AppState>,
    who: Ingester,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    use_case::release(&state, who.workspace(), id.into_inner()).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Alerts recorded for a budget, newest first.
#[utoipa::path(tag = "budgets", params(("budget_id" = i64, Path)), responses((status = 200, body = AlertList), (status = 404)), security(("bearer" = [])))]
#[get("/budgets/{budget_id}/alerts")]
async fn alerts(
    state: web::Data<AppState>,
    who: Reader,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id: BudgetId = path_id(&id)?;
    let found = blocking(&state, move |s| use_case::alerts(s, who.workspace(), id)).await?;
    let alerts = found.into_iter().map(AlertOut::from).collect();
    Ok(HttpResponse::Ok().json(AlertList { alerts }))
}

/// The secret this workspace's webhook receivers verify deliveries with.
#[utoipa::path(tag = "budgets", responses((status = 200, body = WebhookSecret)), security(("bearer" = [])))]
#[get("/budgets/webhook-secret")]
async fn webhook_secret(state: web::Data<AppState>, who: Admin) -> Result<HttpResponse, ApiError> {
    let app = state.clone();
    let secret = blocking(&state, move |s| {
        use_case::webhook_secret(&app, s, who.workspace(), &who)
    })
    .await?;
    Ok(HttpResponse::Ok().json(WebhookSecret {
        secret,
        header: "X-LLMLab-Signature",
        scheme: "t=<unix seconds>,v1=<hex HMAC-SHA256(secret, \"<t>.<raw body>\")>",
    }))
}
