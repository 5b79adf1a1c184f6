//! `GET /api/health`, and the orchestrators' pair: `/api/health/live` (the process
//! answers) and `/api/health/ready` (it can serve: database reachable, schema current,
//! event writer running).

use actix_web::{HttpResponse, get, web};
use utoipa_actix_web::service_config::ServiceConfig;

use crate::dto::{Health, Live, Ready};
use llmlab_app::AppState;

pub fn config(cfg: &mut ServiceConfig) {
    cfg.service(health).service(live).service(ready);
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
    let writer_ok = state.writer.is_running() && state.reservations.is_running();
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

/// The process is up and answering; no dependency is checked (a restart would not help
/// a database outage).
#[utoipa::path(tag = "health", responses((status = 200, description = "Alive", body = Live)))]
#[get("/health/live")]
async fn live() -> HttpResponse {
    HttpResponse::Ok().json(Live { status: "ok" })
}

/// Ready for traffic: the database answers, every migration of this build is applied
/// and the event writer runs. 503 otherwise, saying which check failed.
#[utoipa::path(tag = "health", responses(
    (status = 200, description = "Ready", body = Ready),
    (status = 503, description = "Not ready: see the failed check", body = Ready)))]
#[get("/health/ready")]
async fn ready(state: web::Data<AppState>) -> HttpResponse {
    let store = state.store.clone();
    let pending = web::block(move || store.pending_migrations())
        .await
        .ok()
        .and_then(Result::ok);
    let writer_ok = state.writer.is_running() && state.reservations.is_running();
    let body = Ready {
        status: if pending == Some(0) && writer_ok {
            "ready"
        } else {
            "not_ready"
        },
        database: if pending.is_some() {
            "ok"
        } else {
            "unreachable"
        },
        migrations: match pending {
            Some(0) => "applied",
            Some(_) => "pending",
            None => "unknown",
        },
        writer: if writer_ok { "ok" } else { "stopped" },
    };
    if body.status == "ready" {
        HttpResponse::Ok().json(body)
    } else {
        HttpResponse::ServiceUnavailable().json(body)
    }
}
