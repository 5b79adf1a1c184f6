//! Builds the application from settings and binds its listener (port 0 in tests).

use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::dev::Server;
use actix_web::middleware::{Compress, Logger, from_fn};
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use llmlab_engine::providers::Catalog;
use llmlab_store::reservations::ReserveQueue;
use llmlab_store::{GroupCommit, Store};
use utoipa::OpenApi;
use utoipa_actix_web::AppExt;
use utoipa_swagger_ui::SwaggerUi;

use llmlab_app::config::Settings;
use llmlab_app::metrics::Metrics;
use llmlab_app::outbox::{self, Transport};
use llmlab_app::quota::IngestQuota;
use llmlab_app::state::{AlertChecks, AppState, PriceCache};
use llmlab_app::webhooks::Webhooks;

use crate::auth::{JwtKeys, LoginLimiter, SignupLimiter, authenticate, random_token};
use crate::delivery::Deliveries;
use crate::error::{ApiError, ErrorCode};
use crate::openapi::ApiDoc;
use crate::routes::otlp::DecodeSlots;

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
        let replica = match &settings.read_database_url {
            Some(url) => Some(llmlab_app::replica::ReadReplica::open(
                url,
                pool,
                timeout,
                settings.replica_max_lag_ms,
            )?),
            None => None,
        };
        let listener = TcpListener::bind(&settings.bind)
            .map_err(|e| format!("cannot bind {}: {e}", settings.bind))?;
        let address = listener.local_addr().map_err(|e| e.to_string())?;
        let cost = settings.bcrypt_cost;
        let dummy_hash = web::block(move || bcrypt::hash(random_token(16), cost))
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| e.to_string())?;
        let transport: Arc<dyn Transport> = Arc::new(Deliveries::new(&settings)?);
        let writer = GroupCommit::start(store.clone(), GROUP_COMMIT_MAX)
            .map_err(|e| format!("database: {e}"))?;
        let reservations = ReserveQueue::start(store.clone(), GROUP_COMMIT_MAX)
            .map_err(|e| format!("database: {e}"))?;
        let api = openapi_document();
        let routes = web::Data::new(RouteTable::of(&api));
        let slots = web::Data::new(DecodeSlots::per_core());
        let app: llmlab_app::App = Arc::new(AppState {
            writer,
            reservations,
            store,
            replica,
            catalog: Arc::new(catalog),
            jwt: JwtKeys::new(&settings.jwt_secret),
            webhooks: Webhooks::new(&settings.webhooks, &settings.jwt_secret),
            alert_checks: AlertChecks::default(),
            prices: PriceCache::default(),
            tag_rankings: Default::default(),
            keys: llmlab_app::credentials::KeyCache::new(Duration::from_millis(
                settings.credential_cache_ms,
            )),
            ingest_quota: IngestQuota::new(settings.ingest_events_per_minute),
            metrics: Metrics::default(),
            login_limiter: LoginLimiter::new(settings.login_attempts_per_minute),
            signup_limiter: SignupLimiter::new(settings.signups_per_hour),
            started: Instant::now(),
            dummy_hash,
            settings,
        });
        // This instance's background work: the outbox's worker, the notification
        // scheduler, retention, and a word on catalog changes since the last start.
        actix_web::rt::spawn(outbox::run(app.clone(), transport));
        actix_web::rt::spawn(llmlab_app::notify::scheduler(app.clone()));
        actix_web::rt::spawn(llmlab_app::retention::scheduler(app.clone()));
        actix_web::rt::spawn(llmlab_app::catalog_changes::report(app.clone()));
        let state = web::Data::from(app);
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
                .app_data(routes.clone())
                .app_data(slots.clone())
                .service(utoipa_actix_web::scope("/api").configure(crate::routes::config))
                .service(utoipa_actix_web::scope("/v1").configure(crate::routes::otlp::config))
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
            .configure(crate::web::config)
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
    let pattern = req.resource_map().match_pattern(req.path());
    let allowed = req
        .app_data::<web::Data<RouteTable>>()
        .zip(pattern)
        .and_then(|(routes, p)| routes.methods(&p).map(|m| m.join(", ")));
    if let Some(allow) = allowed {
        let mut resp = actix_web::ResponseError::error_response(&ApiError::new(
            actix_web::http::StatusCode::METHOD_NOT_ALLOWED,
            ErrorCode::MethodNotAllowed,
            format!("{} {} is not served; use {allow}", req.method(), req.path()),
        ));
        if let Ok(v) = actix_web::http::header::HeaderValue::from_str(&allow) {
            resp.headers_mut().insert(actix_web::http::header::ALLOW, v);
        }
        return Ok(resp);
    }
    Err(ApiError::new(
        actix_web::http::StatusCode::NOT_FOUND,
        ErrorCode::NotFound,
        format!("no route for {} {}", req.method(), req.path()),
    ))
}

/// The OpenAPI document, generated from the routes' annotations.
pub fn openapi_document() -> utoipa::openapi::OpenApi {
    let mut doc = App::new()
        .into_utoipa_app()
        .openapi(ApiDoc::openapi())
        .service(utoipa_actix_web::scope("/api").configure(crate::routes::config))
        .service(utoipa_actix_web::scope("/v1").configure(crate::routes::otlp::config))
        .split_for_parts()
        .1;
    crate::openapi::complete_error_responses(&mut doc);
    doc
}

/// Which methods each documented path serves, read off the OpenAPI document (which the
/// routes generate): a method a path does not serve is a 405 with `Allow`, answered
/// before authentication, since no handler would run.
#[derive(Debug, Default)]
pub struct RouteTable(std::collections::HashMap<String, Vec<&'static str>>);

impl RouteTable {
    /// The table of `doc`.
    pub fn of(doc: &utoipa::openapi::OpenApi) -> RouteTable {
        let mut map = std::collections::HashMap::new();
        for (path, item) in &doc.paths.paths {
            let methods: Vec<&'static str> = [
                ("GET", item.get.is_some()),
                ("PUT", item.put.is_some()),
                ("POST", item.post.is_some()),
                ("DELETE", item.delete.is_some()),
                ("PATCH", item.patch.is_some()),
            ]
            .into_iter()
            .filter_map(|(m, has)| has.then_some(m))
            .collect();
            map.insert(path.clone(), methods);
        }
        RouteTable(map)
    }

    /// The methods of the documented path whose router pattern is `pattern`
    /// (`/api/pricing/custom/{provider}/{model:.*}`), if it is one.
    pub fn methods(&self, pattern: &str) -> Option<&[&'static str]> {
        // `{name:regex}` → `{name}`, the document's form.
        let mut path = String::with_capacity(pattern.len());
        let (mut depth, mut skipping) = (0u32, false);
        for c in pattern.chars() {
            match c {
                '{' => {
                    depth += 1;
                    if !skipping {
                        path.push(c);
                    }
                }
                '}' => {
                    depth = depth.saturating_sub(1);
                    if depth == 0 {
                        skipping = false;
                        path.push(c);
                    } else if !skipping {
                        path.push(c);
                    }
                }
                ':' if depth == 1 => skipping = true,
                _ if skipping => {}
                _ => path.push(c),
            }
        }
        self.0.get(&path).map(Vec::as_slice)
    }
}

/// The development server's signing secret: read from, or generated into, a file beside
/// the database so sessions survive restarts.
fn development_secret(settings: &Settings) -> Result<String, String> {
    let path = settings.secret_file();
    if path.exists() {
        check_private(&path)?;
    }
    if let Ok(s) = std::fs::read_to_string(&path) {
        let s = s.trim().to_string();
        if s.len() >= llmlab_app::config::MIN_SECRET_LEN {
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

/// Refuses a secret file that another user owns or may read: whoever can read it can
/// sign sessions for every account.
#[cfg(unix)]
fn check_private(path: &std::path::Path) -> Result<(), String> {
    use std::os::unix::fs::MetadataExt;
    let meta =
        std::fs::metadata(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    // The owner of `/proc/self` is this process's user, with no unsafe call to ask.
    let me = std::fs::metadata("/proc/self").map(|m| m.uid()).ok();
    if let Some(me) = me
        && meta.uid() != me
    {
        return Err(format!(
            "{} is owned by uid {}, not by the server's user (uid {me}); \
             remove it to let the server generate its own, or chown it",
            path.display(),
            meta.uid()
        ));
    }
    if meta.mode() & 0o077 != 0 {
        return Err(format!(
            "{} can be read by other users (mode {:o}); run `chmod 600 {}` \
             or set LLMLAB_JWT_SECRET",
            path.display(),
            meta.mode() & 0o777,
            path.display()
        ));
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_private(_: &std::path::Path) -> Result<(), String> {
    Ok(())
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
