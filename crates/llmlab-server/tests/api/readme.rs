//! The README's walk, run as a reader runs it: every shell block from "Five minutes with
//! curl" on, in order, in one bash session against a fresh server (with SMTP, as the
//! email part says it needs). Only the server's address and the Slack URL placeholder
//! are replaced (by a local receiver); every HTTP answer is recorded, and what the
//! README says the commands print is checked against what they printed.

use std::process::Command;
use std::time::{Duration, Instant};

use crate::channels::spawn;
use crate::receiver::Receiver;
use crate::smtp::SmtpSink;

/// The shell blocks of the README from its "Five minutes with curl" section on.
fn walk() -> String {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md"))
        .expect("README.md");
    let from = readme
        .find("## Five minutes with curl")
        .expect("the curl walk");
    let mut script = String::new();
    let mut rest = &readme[from..];
    while let Some(at) = rest.find("```sh\n") {
        let block = &rest[at + 6..];
        let end = block.find("```").expect("a closed block");
        script.push_str(&block[..end]);
        rest = &block[end + 3..];
    }
    script
}

/// Defines `curl` as the real one that also records `status command` in `$STATUS_LOG`
/// and prints the body as curl would; the walk then runs with `-euo pipefail`.
const PRELUDE: &str = r#"set -euo pipefail
curl() {
  local out
  out=$(command curl -sS -w '\n%{http_code}' "$@")
  printf '%s\n' "${out%$'\n'*}"
  local args="$*"
  printf '%s %s\n' "${out##*$'\n'}" "${args//$'\n'/ }" >> "$STATUS_LOG"
}
"#;

fn the_readme_walk(backend: llmlab_store::Backend) {
    let sink = SmtpSink::start();
    let Some(app) = spawn(backend, &sink) else {
        return;
    };
    let slack = Receiver::start(|_| 200);
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("statuses");
    let script = walk()
        .replace("localhost:8000", &app.addr.to_string())
        .replace(
            "https://hooks.slack.com/services/T…/B…/…",
            &format!("http://{}/slack", slack.addr),
        );
    assert!(script.contains("/api/events/track"), "{script}");
    let out = Command::new("bash")
        .arg("-c")
        .arg(format!("{PRELUDE}{script}"))
        .current_dir(dir.path())
        .env("STATUS_LOG", &log)
        .output()
        .expect("bash (and curl and jq) to run the README");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "the walk stopped:\n{stderr}\n{stdout}"
    );
    // Every answer a success, but the one the README announces: the email channel's
    // test before its address is confirmed.
    let statuses = std::fs::read_to_string(&log).unwrap();
    let refused: Vec<&str> = statuses
        .lines()
        .filter(|l| !matches!(&l[..3], "200" | "201" | "202" | "204"))
        .collect();
    assert_eq!(refused.len(), 1, "{statuses}");
    assert!(
        refused[0].starts_with("409 -s -X POST") && refused[0].contains("/test"),
        "{statuses}"
    );
    // What the README says they print.
    for printed in [
        r#""cost_usd":0.00525"#,
        r#""resolved_model":"gpt-4o""#,
        r#""cost_source":"unpriced""#,
        r#""code":"unknown_model""#,
        r#""dry_run":true"#,
        r#""events_changed":1"#,
        r#""new_cost_usd":0.0075"#,
        r#""cost_usd":0.015"#,
    ] {
        assert!(stdout.contains(printed), "{printed} not printed:\n{stdout}");
    }
    // The FOCUS export of the last 30 days holds the walk's first call.
    let focus = std::fs::read_to_string(dir.path().join("spend-focus.csv")).unwrap();
    assert!(focus.starts_with("BilledCost,"), "{focus}");
    assert!(focus.contains(r#""{""feature"":""search""}""#), "{focus}");
    // The Slack channel's test reached it.
    let deadline = Instant::now() + Duration::from_secs(30);
    while slack.requests().is_empty() {
        assert!(
            Instant::now() < deadline,
            "no test notification reached Slack"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

llmlab_store::both_backends!(the_readme_walk_works_verbatim, via the_readme_walk);
