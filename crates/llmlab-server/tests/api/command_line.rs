//! The binary's command line. Seen: `llmlab-server --help` and `--version` started a
//! server on 127.0.0.1:8000 and created `./llmlab.db` in the working directory.

use std::process::{Command, Output};

/// Runs the server binary with `args` in an empty directory, with no settings in the
/// environment that would point it elsewhere; what it printed, and the directory's
/// entries afterwards.
fn run(args: &[&str]) -> (Output, Vec<String>) {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_llmlab-server"));
    cmd.args(args)
        .current_dir(dir.path())
        .env("RUST_LOG", "off");
    for (key, _) in std::env::vars() {
        if key.starts_with("LLMLAB_") || key == "DATABASE_URL" {
            cmd.env_remove(key);
        }
    }
    // A server that starts would not exit by itself: bound it.
    cmd.env("LLMLAB_BIND", "127.0.0.1:0");
    let child = cmd
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let killer = std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_secs(20));
        let _ = Command::new("kill").arg(pid.to_string()).status();
    });
    let out = child.wait_with_output().unwrap();
    drop(killer);
    let entries = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    (out, entries)
}

#[test]
fn help_and_version_print_and_exit_without_a_database() {
    let (out, files) = run(&["--help"]);
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8(out.stdout).unwrap();
    for setting in llmlab_app::config::help::SETTINGS {
        assert!(
            text.contains(setting.name),
            "{} missing:\n{text}",
            setting.name
        );
    }
    assert!(text.contains("LLMLAB_BIND") && text.contains("default 127.0.0.1:8000"));
    assert_eq!(files, Vec::<String>::new(), "--help created files");

    let (out, files) = run(&["--version"]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        format!("llmlab-server {}\n", env!("CARGO_PKG_VERSION"))
    );
    assert!(files.is_empty(), "--version created {files:?}");
}

#[test]
fn an_unknown_argument_is_an_error_not_a_start() {
    let (out, files) = run(&["--port", "9000"]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("--port") && err.contains("--help"), "{err}");
    assert!(files.is_empty(), "an unknown argument created {files:?}");
}
