//! Budgets: live status, create/update, delete, the pre-flight check, alerts.

use actix_web::{HttpRequest, HttpResponse, delete, get, post, web};
use chrono::{DateTime, Utc};
use llmlab_engine::Usd;
use llmlab_engine::budget::{
    BudgetSpec, BudgetStatus, Evaluation, Scope, Threshold, crossed_levels, evaluate,
};
use llmlab_engine::period::{Period, Zone};
use llmlab_store::{BudgetRow, EventFilter, NewAlert, NewBudget, Store, delivery};
use utoipa_actix_web::service_config::ServiceConfig;

use crate::access::{Ingester, Reader, Session};
use crate::body::JsonBody;
use crate::dto::{
    AlertList, AlertOut, BudgetIn, BudgetList, BudgetOut, CheckBudget, CheckQuery, CheckResponse,
    DeliveryOut, ScopeDto, WebhookSecret,
};
use crate::error::ApiError;
use crate::query::QueryPairs;
use crate::routes::db;
use crate::state::AppState;
use crate::webhooks;

pub fn config(cfg: &mut ServiceConfig) {
    cfg.service(list)
        .service(upsert)
        .service(check)
        .service(webhook_secret)
        .service(remove)
        .service(alerts);
}

fn status_str(s: BudgetStatus) -> &'static str {
    match s {
        BudgetStatus::Ok => "ok",
        BudgetStatus::Warning => "warning",
        BudgetStatus::Exceeded => "exceeded",
    }
}

/// A stored budget as engine values.
fn spec(b: &BudgetRow) -> Result<(BudgetSpec, Scope), ApiError> {
    let zone = Zone::parse(&b.timezone)?;
    let spec = BudgetSpec::new(
        Usd::from_nanos(b.amount_nanos),
        Period::parse(&b.period)?,
        zone,
        Threshold::parse(b.alert_threshold_pct as i64)?,
    )?;
    let scope = Scope {
        provider: b.scope_provider.clone(),
        model: b.scope_model.clone(),
        tag: b.scope_tag_key.clone().zip(b.scope_tag_value.clone()),
    };
    Ok((spec, scope))
}

/// Evaluates a budget against its spend in the current period (one SQL aggregate).
fn evaluate_row(
    s: &Store,
    user_id: i64,
    b: &BudgetRow,
    now: DateTime<Utc>,
) -> Result<(BudgetSpec, Evaluation), ApiError> {
    let (spec, scope) = spec(b)?;
    let window = llmlab_engine::period::period_window(spec.period, now, spec.zone);
    let filter = EventFilter {
        provider: scope.provider,
        model: scope.model,
        tags: scope.tag.into_iter().collect(),
        start_micros: window.start.map(|t| t.timestamp_micros()),
        end_micros: window.end.map(|t| t.timestamp_micros()),
    };
    let spent = s.spend(user_id, &filter)?;
    let evaluation = evaluate(&spec, Usd::from_nanos(spent), now);
    Ok((spec, evaluation))
}

fn budget_out(b: BudgetRow, e: Evaluation) -> BudgetOut {
    BudgetOut {
        id: b.id,
        name: b.name,
        amount_usd: Usd::from_nanos(b.amount_nanos),
        period: b.period,
        scope: ScopeDto {
            provider: b.scope_provider,
            model: b.scope_model,
            tag: b
                .scope_tag_key
                .zip(b.scope_tag_value)
                .map(|(k, v)| format!("{k}:{v}")),
        },
        alert_threshold_pct: i64::from(b.alert_threshold_pct),
        webhook_url: b.webhook_url,
        timezone: b.timezone,
        spent_usd: e.spent,
        remaining_usd: e.remaining,
        percent_used: e.percent_used,
        status: status_str(e.status).to_string(),
        period_start: e.window.start,
        period_end: e.window.end,
        forecast_usd: e.forecast,
        forecast_method: "linear: spend so far × period length ÷ time elapsed",
    }
}

/// The user's budgets with their live status.
#[utoipa::path(tag = "budgets", responses((status = 200, body = BudgetList)), security(("bearer" = [])))]
#[get("/budgets")]
async fn list(state: web::Data<AppState>, who: Reader) -> Result<HttpResponse, ApiError> {
    let budgets = db(&state, move |s: &Store| -> Result<_, ApiError> {
        let now = Utc::now();
        let mut out = Vec::new();
        for b in s.list_budgets(who.user_id)? {
            let (_, e) = evaluate_row(s, who.user_id, &b, now)?;
            out.push(budget_out(b, e));
        }
        Ok(out)
    })
    .await?;
    Ok(HttpResponse::Ok().json(BudgetList { budgets }))
}

/// Validates a budget body into a store form.
fn parse_budget(state: &AppState, b: BudgetIn) -> Result<NewBudget, ApiError> {
    let name = b.name.trim().to_string();
    crate::text::check("name", &name)?;
    if name.is_empty() || name.len() > 200 {
        return Err(ApiError::validation("name", "must be 1 to 200 characters"));
    }
    let period = Period::parse(&b.period)?;
    let zone = Zone::parse(b.timezone.as_deref().unwrap_or("UTC"))
        .map_err(|e| ApiError::validation("timezone", e.to_string()))?;
    let threshold = Threshold::parse(b.alert_threshold_pct.unwrap_or(80))?;
    BudgetSpec::new(b.amount_usd, period, zone, threshold)?;
    let scope = b.scope.unwrap_or_default();
    for (field, value) in [
        ("scope.provider", &scope.provider),
        ("scope.model", &scope.model),
        ("scope.tag", &scope.tag),
        ("webhook_url", &b.webhook_url),
        ("timezone", &b.timezone),
    ] {
        if let Some(v) = value {
            crate::text::check(field, v)?;
        }
    }
    let provider = scope
        .provider
        .map(|p| p.trim().to_ascii_lowercase())
        .filter(|p| !p.is_empty());
    if let Some(p) = &provider
        && state.catalog.provider(p).is_none()
    {
        return Err(ApiError::validation(
            "scope.provider",
            format!("unknown provider '{p}'"),
        ));
    }
    let model = scope
        .model
        .map(|m| m.trim().to_ascii_lowercase())
        .filter(|m| !m.is_empty());
    // A model scope counts the canonical name events resolve to.
    let model = match (&provider, model) {
        (Some(p), Some(m)) => Some(
            state
                .catalog
                .resolve(p, &m)
                .map(|r| r.entry.name.clone())
                .unwrap_or(m),
        ),
        (_, m) => m,
    };
    let tag = scope.tag.as_deref().map(Scope::parse_tag).transpose()?;
    let webhook_url = b
        .webhook_url
        .map(|u| u.trim().to_string())
        .filter(|u| !u.is_empty());
    if let Some(u) = &webhook_url {
        if u.len() > 2048 {
            return Err(ApiError::validation(
                "webhook_url",
                "must be at most 2048 bytes",
            ));
        }
        webhooks::check_target(u, state.settings.webhooks.allow_private)
            .map_err(|why| ApiError::validation("webhook_url", why))?;
    }
    Ok(NewBudget {
        name,
        amount_nanos: b.amount_usd.nanos(),
        period: b.period.trim().to_ascii_lowercase(),
        timezone: zone.name().to_string(),
        scope_provider: provider,
        scope_model: model,
        scope_tag_key: tag.as_ref().map(|t| t.0.clone()),
        scope_tag_value: tag.map(|t| t.1),
        alert_threshold_pct: i32::from(threshold.pct()),
        webhook_url,
    })
}

/// Creates a budget, or updates the one named by `id` (or by the same name).
#[utoipa::path(tag = "budgets", request_body = BudgetIn, responses(
    (status = 201, description = "Created", body = BudgetOut), (status = 200, description = "Updated", body = BudgetOut),
    (status = 404, description = "`id` is not this user's budget"), (status = 422)), security(("bearer" = [])))]
#[post("/budgets")]
async fn upsert(
    state: web::Data<AppState>,
    who: Session,
    body: JsonBody<BudgetIn>,
) -> Result<HttpResponse, ApiError> {
    let id = body.0.id;
    let form = parse_budget(&state, body.0)?;
    let limits = state.settings.limits;
    let (row, created, eval) = db(&state, move |s: &Store| -> Result<_, ApiError> {
        let existing = match id {
            Some(id) => Some(s.get_budget(who.user_id, id)?),
            None => s.find_budget_by_name(who.user_id, &form.name)?,
        };
        let (row, created) = match existing {
            Some(b) => (s.update_budget(who.user_id, b.id, &form)?, false),
            None => {
                let limit = limits.budgets;
                if s.list_budgets(who.user_id)?.len() >= limit {
                    return Err(ApiError::limit_exceeded("budgets", limit));
                }
                (s.create_budget(who.user_id, &form)?, true)
            }
        };
        let (_, eval) = evaluate_row(s, who.user_id, &row, Utc::now())?;
        Ok((row, created, eval))
    })
    .await?;
    let body = budget_out(row, eval);
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
    who: Session,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id: i64 = id.parse().map_err(|_| ApiError::not_found("budget"))?;
    if db(&state, move |s| s.delete_budget(who.user_id, id)).await? {
        Ok(HttpResponse::NoContent().finish())
    } else {
        Err(ApiError::not_found("budget"))
    }
}

/// Pre-flight: may a gateway make this call? Answered from the database, so every
/// server instance agrees.
#[utoipa::path(tag = "budgets", params(CheckQuery), responses((status = 200, body = CheckResponse), (status = 422)), security(("bearer" = [])))]
#[get("/budgets/check")]
async fn check(
    state: web::Data<AppState>,
    who: Ingester,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let q = QueryPairs::parse(req.query_string())?;
    let provider = q.get("provider").map(str::to_ascii_lowercase);
    let model = q.get("model").map(|m| match &provider {
        Some(p) => state
            .catalog
            .resolve(p, m)
            .map(|r| r.entry.name.clone())
            .unwrap_or_else(|_| m.to_ascii_lowercase()),
        None => m.to_ascii_lowercase(),
    });
    let tag = q.get("tag").map(Scope::parse_tag).transpose()?;
    let response = db(&state, move |s: &Store| -> Result<_, ApiError> {
        let now = Utc::now();
        let mut budgets = Vec::new();
        let mut allowed = true;
        for b in s.list_budgets(who.user_id)? {
            let (_, scope) = spec(&b)?;
            let tags: Vec<(String, String)> = tag.iter().cloned().collect();
            if !scope.covers(provider.as_deref(), model.as_deref(), &tags) {
                continue;
            }
            let (_, e) = evaluate_row(s, who.user_id, &b, now)?;
            allowed &= e.status != BudgetStatus::Exceeded;
            budgets.push(CheckBudget {
                id: b.id,
                name: b.name,
                status: status_str(e.status).into(),
                remaining_usd: e.remaining,
            });
        }
        Ok(CheckResponse { allowed, budgets })
    })
    .await?;
    Ok(HttpResponse::Ok().json(response))
}

/// Alerts recorded for a budget, newest first.
#[utoipa::path(tag = "budgets", params(("budget_id" = i64, Path)), responses((status = 200, body = AlertList), (status = 404)), security(("bearer" = [])))]
#[get("/budgets/{budget_id}/alerts")]
async fn alerts(
    state: web::Data<AppState>,
    who: Reader,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id: i64 = id.parse().map_err(|_| ApiError::not_found("budget"))?;
    let (rows, deliveries) = db(&state, move |s: &Store| -> Result<_, ApiError> {
        s.get_budget(who.user_id, id)?;
        Ok((
            s.list_alerts(who.user_id, id)?,
            s.list_deliveries(who.user_id, id)?,
        ))
    })
    .await?;
    let mut by_alert: std::collections::HashMap<i64, Vec<DeliveryOut>> = Default::default();
    for d in deliveries {
        by_alert.entry(d.alert_id).or_default().push(DeliveryOut {
            attempt: d.attempt,
            attempted_at: d.attempted_at.and_utc(),
            url: d.url,
            status_code: d.status_code,
            ok: d.ok,
            error: d.error,
            duration_ms: d.duration_ms,
        });
    }
    let alerts = rows
        .into_iter()
        .map(|a| AlertOut {
            deliveries: by_alert.remove(&a.id).unwrap_or_default(),
            next_attempt_at: a.next_attempt_at.map(|t| t.and_utc()),
            id: a.id,
            level: a.level,
            period_start: DateTime::from_timestamp_micros(a.period_start),
            spent_usd: Usd::from_nanos(a.spent_nanos),
            amount_usd: Usd::from_nanos(a.amount_nanos),
            created_at: a.created_at.and_utc(),
            delivery_status: a.delivery_status,
            attempts: i64::from(a.attempts),
            last_error: a.last_error,
        })
        .collect();
    Ok(HttpResponse::Ok().json(AlertList { alerts }))
}

/// Shortest time between two budget evaluations of one user under sustained ingestion.
const EVALUATION_INTERVAL: std::time::Duration = std::time::Duration::from_millis(100);

/// After ingestion: records an alert for every budget of the user whose spend has
/// reached its threshold or amount in the current period, and wakes the webhook worker
/// for the new ones. The unique constraint on (budget, period, level) makes it one alert
/// however many events or instances race. Runs off the request path (coalesced per user,
/// see [`AlertChecks`](crate::state::AlertChecks)); a failure is logged, never returned
/// to the ingesting client.
pub fn after_ingest(state: &web::Data<AppState>, user_id: i64) {
    if !state.alert_checks.begin(user_id) {
        return;
    }
    let state = state.clone();
    actix_web::rt::spawn(async move {
        loop {
            let started = std::time::Instant::now();
            match db(&state, move |s: &Store| {
                record_alerts(s, user_id, Utc::now())
            })
            .await
            {
                Ok(true) => state.webhooks.wake(),
                Ok(false) => {}
                Err(e) => log::warn!("budget alert evaluation failed for user {user_id}: {e}"),
            }
            if !state.alert_checks.finish(user_id) {
                break;
            }
            // Events arrived meanwhile: evaluate again, but under sustained ingestion at
            // most every EVALUATION_INTERVAL (an alert is then at most that late), not
            // once per request.
            actix_web::rt::time::sleep(EVALUATION_INTERVAL.saturating_sub(started.elapsed())).await;
        }
    });
}

/// Records the alerts due now; `true` when one with a webhook to call was created.
fn record_alerts(s: &Store, user_id: i64, now: DateTime<Utc>) -> Result<bool, ApiError> {
    let mut to_deliver = false;
    for b in s.list_budgets(user_id)? {
        let (spec, e) = evaluate_row(s, user_id, &b, now)?;
        let period_start = e.window.start.map_or(0, |t| t.timestamp_micros());
        for level in crossed_levels(&spec, Usd::ZERO, e.spent) {
            let alert = NewAlert {
                budget_id: b.id,
                period_start,
                level: status_str(level).to_string(),
                spent_nanos: e.spent.nanos(),
                amount_nanos: b.amount_nanos,
                delivery_status: if b.webhook_url.is_some() {
                    delivery::PENDING
                } else {
                    delivery::NONE
                }
                .to_string(),
            };
            let created = s.record_alert(user_id, &alert)?;
            to_deliver |= created.is_some() && b.webhook_url.is_some();
        }
    }
    Ok(to_deliver)
}

/// The secret this user's webhook receivers verify deliveries with.
#[utoipa::path(tag = "budgets", responses((status = 200, body = WebhookSecret)), security(("bearer" = [])))]
#[get("/budgets/webhook-secret")]
async fn webhook_secret(state: web::Data<AppState>, who: Session) -> HttpResponse {
    HttpResponse::Ok().json(WebhookSecret {
        secret: state.webhooks.secret_for(who.user_id),
        header: "X-LLMLab-Signature",
        scheme: "t=<unix seconds>,v1=<hex HMAC-SHA256(secret, \"<t>.<raw body>\")>",
    })
}
