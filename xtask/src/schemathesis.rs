//! The OpenAPI document against the server it describes: schemathesis (PyPI, pinned)
//! generates requests from `/api/openapi.json` — examples, boundary values, fuzzing and
//! stateful sequences along the links it infers — against a fresh debug server on
//! SQLite, and checks every answer: no 5xx, statuses, content types, headers and bodies
//! as documented, valid data accepted, invalid data refused. Settings and the reasons
//! for each are in `xtask/schemathesis.toml`; the run is bounded by its `max-time`.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::Result;
use crate::bench::client::Client;
use crate::bench::server::{Launch, Server};

/// The schemathesis release the run is pinned to.
const VERSION: &str = "4.32.5";

/// Installs schemathesis (once) into `target/schemathesis-<version>`, starts the debug
/// server on a fresh SQLite file and runs schemathesis against it.
pub fn run(root: &Path) -> Result<()> {
    let target = root.join("target");
    let st = install(&target)?;
    let mut build = crate::cargo();
    build.args(["build", "-p", "llmlab-server"]);
    crate::run(build)?;
    let bin = target.join("debug").join("llmlab-server");
    let dir = target.join("schemathesis-run");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let database_url = format!("sqlite://{}", dir.join("llmlab.db").display());
    let server = Server::start(&Launch {
        bin: &bin,
        database_url: &database_url,
        dir: &dir,
        env: &[],
    })?;
    let token = signup(server.addr, "schemathesis@example.com")?;
    let logout_token = signup(server.addr, "schemathesis-logout@example.com")?;
    let base = format!("http://{}", server.addr);
    let mut cmd = Command::new(st);
    cmd.current_dir(&dir)
        .env("LLMLAB_TOKEN", token)
        .env("LLMLAB_LOGOUT_TOKEN", logout_token)
        .arg("--config-file")
        .arg(root.join("xtask").join("schemathesis.toml"))
        .args(["run", "--no-color", "--url", &base])
        .arg(format!("{base}/api/openapi.json"))
        .args(["--report", "junit", "--report-dir"])
        .arg(dir.join("report"));
    let outcome = crate::run(cmd);
    let outcome = outcome.map_err(|e| server.explain(e));
    server.stop();
    outcome
}

/// A venv with schemathesis, made once per target directory.
fn install(target: &Path) -> Result<PathBuf> {
    let venv = target.join(format!("schemathesis-{VERSION}"));
    let st = venv.join("bin").join("st");
    if st.is_file() {
        return Ok(st);
    }
    let mut mk = Command::new("python3");
    mk.args(["-m", "venv"]).arg(&venv);
    crate::run(mk)?;
    let mut pip = Command::new(venv.join("bin").join("pip"));
    pip.args(["install", "--quiet", &format!("schemathesis=={VERSION}")]);
    crate::run(pip)?;
    if st.is_file() {
        Ok(st)
    } else {
        Err(format!(
            "{} is missing after installing schemathesis",
            st.display()
        ))
    }
}

fn signup(addr: std::net::SocketAddr, email: &str) -> Result<String> {
    let body = format!(r#"{{"email":"{email}","password":"correct horse battery"}}"#);
    let (status, text) =
        Client::new(addr, None).call("POST", "/api/auth/signup", Some(body.as_bytes()))?;
    if status != 201 {
        return Err(format!(
            "sign-up for schemathesis answered {status}: {text}"
        ));
    }
    let v: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| format!("sign-up answer: {e}"))?;
    v["token"]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| format!("no token in {text}"))
}
