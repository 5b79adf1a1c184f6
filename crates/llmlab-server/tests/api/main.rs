//! The HTTP API end to end: the real server on port 0, talked to over TCP, once on SQLite
//! and once on a throwaway PostgreSQL database per test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod backup;
mod budgets;
mod channel_failures;
mod channels;
mod citus_fault;
mod client;
mod command_line;
mod commitments;
mod contracts;
mod credentials;
mod dashboard;
mod dashboard_budgets;
mod dashboard_channels;
mod dashboard_forms;
mod email_guard;
mod focus;
mod forecasts;
mod fx;
mod hard_budgets;
mod hostile;
mod invitations;
mod leaks;
mod ledger;
mod ledger_props;
mod newcomer;
mod otlp;
mod otlp_hostile;
mod outage;
mod outbox;
mod pricing_depth;
mod readme;
mod receiver;
mod reconciliation;
mod recs;
mod replica;
mod reports;
mod reprice_race;
mod retention;
mod rust_client;
mod schedule;
mod smtp;
mod tag_cardinality;
mod tests;
mod units;
mod usage_objects;
mod webhooks;
mod workspaces;

use std::net::SocketAddr;
use std::sync::mpsc;

use llmlab_app::config::Settings;
use llmlab_server::startup::Application;
use llmlab_store::Backend;
use llmlab_store::test_support::TestDb;
use serde_json::{Value, json};

pub use client::Response;

/// The string `field` of every object in the array `list`.
pub fn strings<'a>(list: &'a Value, field: &str) -> Vec<&'a str> {
    let items = list.as_array().expect("an array");
    items
        .iter()
        .map(|e| e[field].as_str().expect("a string"))
        .collect()
}

/// Asserts `r` is the contract's error with `status` and `code`; returns its JSON.
pub fn assert_error(r: &Response, status: u16, code: &str) -> Value {
    assert_eq!(r.status, status, "{}", r.text());
    let v = r.json();
    assert_eq!(v["error"]["code"], code, "{v}");
    v
}

/// The element of the array `list` whose `key` is `value`; panics naming them if none is.
pub fn find_by<'a>(list: &'a Value, key: &str, value: &str) -> &'a Value {
    list.as_array()
        .and_then(|items| items.iter().find(|item| item[key] == value))
        .unwrap_or_else(|| panic!("no {key} = {value} in {list}"))
}

/// Asserts a 422 `validation_error` naming `field`, and returns the body.
/// An exact USD amount of a response (a JSON number) in nano-dollars.
pub fn usd_nanos(v: &Value) -> i64 {
    llmlab_engine::Usd::parse(&v.to_string())
        .unwrap_or_else(|e| panic!("{v}: {e}"))
        .nanos()
}

pub fn assert_invalid(r: &Response, field: &str) -> Value {
    let v = assert_error(r, 422, "validation_error");
    assert_eq!(v["error"]["details"]["field"], field, "{v}");
    v
}

pub struct TestApp {
    pub addr: SocketAddr,
    pub backend: Backend,
    env: Vec<(String, String)>,
    db: Option<TestDb>,
    handle: actix_web::dev::ServerHandle,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        let h = self.handle.clone();
        let _ =
            std::thread::spawn(move || actix_web::rt::System::new().block_on(h.stop(false))).join();
    }
}

/// Starts the real server against a fresh database of `backend`; `None` when the
/// PostgreSQL suite is disabled with `LLMLAB_TEST_SQLITE_ONLY`.
pub fn spawn_app(backend: Backend) -> Option<TestApp> {
    spawn_app_with(backend, &[])
}

pub fn spawn_app_with(backend: Backend, extra: &[(&str, &str)]) -> Option<TestApp> {
    if backend == Backend::Postgres && llmlab_store::test_support::sqlite_only() {
        eprintln!("LLMLAB_TEST_SQLITE_ONLY=1: PostgreSQL test skipped");
        return None;
    }
    Some(spawn_app_on(TestDb::new(backend), extra))
}

/// Starts the real server on `db`, which may already hold data (a restored backup); the
/// server owns the database from then on.
pub fn spawn_app_on(db: TestDb, extra: &[(&str, &str)]) -> TestApp {
    let backend = db.backend();
    // Settings a test passes come first, so they win over these defaults.
    let mut env: Vec<(String, String)> = extra
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    env.extend::<Vec<(String, String)>>(vec![
        ("DATABASE_URL".into(), db.url().to_string()),
        ("LLMLAB_BIND".into(), "127.0.0.1:0".into()),
        (
            "LLMLAB_JWT_SECRET".into(),
            "test-secret-0123456789abcdef0123456789".into(),
        ),
        ("LLMLAB_BCRYPT_COST".into(), "10".into()),
        ("LLMLAB_DB_POOL_SIZE".into(), "4".into()),
        // Every test signs its users up from 127.0.0.1; the limit has its own tests.
        ("LLMLAB_SIGNUPS_PER_HOUR".into(), "0".into()),
        // Revocations take effect at the next request; the cache's bound has its own
        // tests (credentials.rs).
        ("LLMLAB_CREDENTIAL_CACHE_MS".into(), "0".into()),
    ]);
    let (addr, handle) = start_server(&env);
    TestApp {
        addr,
        backend,
        env,
        db: Some(db),
        handle,
    }
}

/// Starts a server with these settings on its own thread and actix system.
fn start_server(env: &[(String, String)]) -> (SocketAddr, actix_web::dev::ServerHandle) {
    let settings =
        Settings::from_lookup(|k| env.iter().find(|(key, _)| key == k).map(|(_, v)| v.clone()))
            .expect("settings");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        actix_web::rt::System::new().block_on(async move {
            let app = Application::build(settings).await.expect("server starts");
            let (server, addr) = app.into_parts();
            tx.send((addr, server.handle())).expect("report address");
            server.await.expect("server runs");
        })
    });
    rx.recv().expect("server started")
}

impl TestApp {
    /// The throwaway database behind this server.
    pub fn db(&self) -> &TestDb {
        self.db
            .as_ref()
            .expect("the first instance owns the database")
    }

    /// Another server instance on the same database and settings, as in a scaled-out
    /// deployment.
    pub fn second_instance(&self) -> TestApp {
        let (addr, handle) = start_server(&self.env);
        TestApp {
            addr,
            backend: self.backend,
            env: self.env.clone(),
            db: None,
            handle,
        }
    }

    /// [`TestApp::second_instance`] with `extra` settings over this one's.
    pub fn instance_with(&self, extra: &[(&str, &str)]) -> TestApp {
        let mut env: Vec<(String, String)> = extra
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        env.extend(self.env.iter().cloned());
        let (addr, handle) = start_server(&env);
        TestApp {
            addr,
            backend: self.backend,
            env,
            db: None,
            handle,
        }
    }

    /// Stops this instance at once, as a crash would, dropping open connections; the
    /// database stays (for [`TestApp::instance_with`] on the same address).
    pub fn stop(&self) {
        let h = self.handle.clone();
        std::thread::spawn(move || actix_web::rt::System::new().block_on(h.stop(false)))
            .join()
            .expect("the server stops");
    }

    pub fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> Response {
        self.call_in(None, method, path, token, body)
    }

    /// [`TestApp::call`] acting in `workspace` (`X-LLMLab-Workspace`).
    pub fn call_in(
        &self,
        workspace: Option<i64>,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> Response {
        client::api(self.addr, workspace, method, path, token, body)
    }

    pub fn get(&self, path: &str, token: &str) -> Response {
        self.call("GET", path, Some(token), None)
    }

    pub fn post(&self, path: &str, token: &str, body: Value) -> Response {
        self.call("POST", path, Some(token), Some(&body))
    }

    /// A POST without credentials (sign-up, login).
    pub fn anonymous(&self, path: &str, body: Value) -> Response {
        self.call("POST", path, None, Some(&body))
    }

    /// Brings the person signed in as `token` (signed up as `email`) into workspace `ws`
    /// with `role` the way people join: `admin` invites the email, and they accept.
    /// Returns the invitation.
    pub fn join(&self, admin: &str, ws: i64, email: &str, token: &str, role: &str) -> Value {
        let r = self.post(
            &format!("/api/workspaces/{ws}/members"),
            admin,
            json!({"email": email, "role": role}),
        );
        assert_eq!(r.status, 202, "{}", r.text());
        let invitation = r.json()["invitation"].clone();
        let accept = format!("/api/invitations/{}/accept", invitation["id"]);
        let r = self.call("POST", &accept, Some(token), None);
        assert_eq!(r.status, 200, "{}", r.text());
        assert_eq!(r.json()["workspace"]["id"], ws);
        assert_eq!(r.json()["role"], role);
        invitation
    }

    /// Signs up `email` and returns its session token.
    pub fn signup(&self, email: &str) -> String {
        let r = self.anonymous(
            "/api/auth/signup",
            json!({"email": email, "password": "correct horse"}),
        );
        assert_eq!(r.status, 201, "{}", r.text());
        r.json()["token"].as_str().unwrap().to_string()
    }
}

/// Defines `$name::sqlite` and `$name::postgres` running `$body(app)` against a server
/// on a fresh database of each backend (the store's `both_backends!`).
#[macro_export]
macro_rules! both {
    ($name:ident, $f:expr) => {
        $crate::both!($name, &[], $f);
    };
    ($name:ident, $settings:expr, $f:expr) => {
        llmlab_store::both_backends!(
            $name,
            via | backend | {
                if let Some(app) = $crate::spawn_app_with(backend, $settings) {
                    ($f)(app)
                }
            }
        );
    };
}
