//! `GET /api/health`.

use actix_web::{HttpResponse, get, web};
use utoipa_actix_web::service_config::ServiceConfig;

use crate::dto::Health;
use crate::state::AppState;

pub fn config(cfg: &mut ServiceConfig) {
    cfg.service(health);
}

/// Liveness, database reachability and the event writer's state.
#[utoipa::path(tag = "health", responses(
    (status = 200, description = "Serving, database reachable", body = Health),
    (status = 503, description = "Database unreachable or the event writer stopped", body = Health)))]
#[get("/health")]
async fn health(state: web::Data<AppState>) -> HttpResponse {
    let store = state.store.clone();
    let db_ok = web::block(move || store.ping())
        .await
        .is_ok_and(|r| r.is_ok());
    let writer_ok = state.writer.is_running();
    let ok = db_ok && writer_ok;
    let body = Health {
        status: if ok { "ok" } else { "degraded" },
        version: env!("CARGO_PKG_VERSION"),
        uptime_seconds: state.started.elapsed().as_secs(),
        database: if db_ok { "ok" } else { "unreachable" },
        writer: if writer_ok { "ok" } else { "stopped" },
        writer_failed_groups: state.writer.panics(),
    };
    if ok {
        HttpResponse::Ok().json(body)
    } else {
        HttpResponse::ServiceUnavailable().json(body)
    }
}
