//! Builds the application from settings and binds its listener (port 0 in tests).

use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::dev::Server;
use actix_web::middleware::{Compress, Logger, from_fn};
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use llmlab_engine::providers::Catalog;
use llmlab_store::{GroupCommit, Store};
use utoipa::OpenApi;
use utoipa_actix_web::AppExt;
use utoipa_swagger_ui::SwaggerUi;

use crate::auth::{JwtKeys, LoginLimiter, authenticate, random_token};
use crate::config::Settings;
use crate::error::ApiError;
use crate::metrics::Metrics;
use crate::openapi::ApiDoc;
use crate::quota::IngestQuota;
use crate::state::{AlertChecks, AppState, PriceCache};
use crate::webhooks::Webhooks;

/// Most single events committed in one transaction.
const GROUP_COMMIT_MAX: usize = 256;

/// A bound, not yet running, server.
pub struct Application {
    server: Server,
    address: SocketAddr,
}

impl Application {
    /// Connects the database (running migrations), loads the catalog, binds the listener.
    pub async fn build(mut settings: Settings) -> Result<Application, String> {
        let catalog = match &settings.catalog_path {
            Some(p) => Catalog::builtin()
                .extended_with_path(p)
                .map_err(|e| format!("LLMLAB_CATALOG_PATH: {e}"))?,
            None => Catalog::builtin().clone(),
        };
        if settings.jwt_secret.is_empty() {
            settings.jwt_secret = development_secret(&settings)?;
        }
        let url = settings.database_url.clone();
        let (pool, timeout) = (
            settings.db_pool_size,
            Duration::from_millis(settings.db_timeout_ms),
        );
        let store = web::block(move || Store::connect_with(&url, pool, timeout))
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| format!("database: {e}"))?;
        let listener = TcpListener::bind(&settings.bind)
            .map_err(|e| format!("cannot bind {}: {e}", settings.bind))?;
        let address = listener.local_addr().map_err(|e| e.to_string())?;
        let cost = settings.bcrypt_cost;
        let dummy_hash = web::block(move || bcrypt::hash(random_token(16), cost))
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| e.to_string())?;
        let writer = GroupCommit::start(store.clone(), GROUP_COMMIT_MAX)
            .map_err(|e| format!("database: {e}"))?;
        let state = web::Data::new(AppState {
            writer,
            store,
            catalog: Arc::new(catalog),
            jwt: JwtKeys::new(&settings.jwt_secret),
            webhooks: Webhooks::new(&settings.webhooks, &settings.jwt_secret),
            alert_checks: AlertChecks::default(),
            prices: PriceCache::default(),
            ingest_quota: IngestQuota::new(settings.ingest_events_per_minute),
            metrics: Metrics::default(),
            login_limiter: LoginLimiter::new(settings.login_attempts_per_minute),
            started: Instant::now(),
            dummy_hash,
            settings,
        });
        crate::webhooks::spawn_worker(state.clone());
        let api = openapi_document();
        let server = HttpServer::new(move || {
            let cors = state.settings.cors_origins.iter().fold(
                actix_cors::Cors::default()
                    .allow_any_header()
                    .allow_any_method()
                    .max_age(3600),
                |c, o| {
                    if o == "*" {
                        c.allow_any_origin()
                    } else {
                        c.allowed_origin(o)
                    }
                },
            );
            // The document's route is registered before the `/api` scope, which would
            // otherwise claim every `/api/…` path.
            let (app, _) = App::new()
                .service(SwaggerUi::new("/docs/{_:.*}").url("/api/openapi.json", api.clone()))
                .into_utoipa_app()
                .app_data(state.clone())
                .service(utoipa_actix_web::scope("/api").configure(crate::routes::config))
                .split_for_parts();
            app.route(
                "/docs",
                web::get().to(|| async {
                    HttpResponse::Found()
                        .insert_header(("Location", "/docs/"))
                        .finish()
                }),
            )
            .route("/metrics", web::get().to(crate::metrics::serve))
            .default_service(web::to(not_found))
            .wrap(from_fn(authenticate))
            .wrap(from_fn(crate::metrics::record))
            .wrap(Compress::default())
            .wrap(cors)
            .wrap(Logger::new("%a \"%r\" %s %b %Dms"))
        })
        .listen(listener)
        .map_err(|e| e.to_string())?
        .shutdown_timeout(30)
        .run();
        Ok(Application { server, address })
    }

    /// The bound address (the real port when the settings asked for port 0).
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// Serves until SIGINT/SIGTERM, then finishes in-flight requests.
    pub async fn run(self) -> std::io::Result<()> {
        self.server.await
    }

    /// The server handle and address, for tests that spawn it.
    pub fn into_parts(self) -> (Server, SocketAddr) {
        (self.server, self.address)
    }
}

async fn not_found(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    Err(ApiError::new(
        actix_web::http::StatusCode::NOT_FOUND,
        "not_found",
        format!("no route for {} {}", req.method(), req.path()),
    ))
}

/// The OpenAPI document, generated from the routes' annotations.
pub fn openapi_document() -> utoipa::openapi::OpenApi {
    App::new()
        .into_utoipa_app()
        .openapi(ApiDoc::openapi())
        .service(utoipa_actix_web::scope("/api").configure(crate::routes::config))
        .split_for_parts()
        .1
}

/// The development server's signing secret: read from, or generated into, a file beside
/// the database so sessions survive restarts.
fn development_secret(settings: &Settings) -> Result<String, String> {
    let path = settings.secret_file();
    if let Ok(s) = std::fs::read_to_string(&path) {
        let s = s.trim().to_string();
        if s.len() >= crate::config::MIN_SECRET_LEN {
            return Ok(s);
        }
    }
    let secret = random_token(32);
    if let Some(dir) = path.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    write_private(&path, &secret).map_err(|e| {
        format!(
            "cannot persist the signing secret in {}: {e}",
            path.display()
        )
    })?;
    log::info!(
        "generated a development signing secret in {}",
        path.display()
    );
    Ok(secret)
}

#[cfg(unix)]
fn write_private(path: &std::path::Path, content: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(content.as_bytes())
}

#[cfg(not(unix))]
fn write_private(path: &std::path::Path, content: &str) -> std::io::Result<()> {
    std::fs::write(path, content)
}
