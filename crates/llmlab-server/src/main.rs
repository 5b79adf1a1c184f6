//! `llmlab-server`: reads settings from the environment (and `.env`) and serves the API.

use std::process::ExitCode;

fn main() -> ExitCode {
    // Before anything reads settings or opens a database: `--help` must not start a server.
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        [] => {}
        ["--help" | "-h"] => {
            print!("{}", llmlab_app::config::help::text());
            return ExitCode::SUCCESS;
        }
        ["--version" | "-V"] => {
            println!("llmlab-server {}", env!("CARGO_PKG_VERSION"));
            return ExitCode::SUCCESS;
        }
        _ => {
            eprintln!(
                "llmlab-server: unexpected argument(s) {args:?}; settings come from the \
                 environment (see llmlab-server --help)"
            );
            return ExitCode::from(2);
        }
    }
    let _ = dotenvy::dotenv();
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
    let settings = match llmlab_app::config::Settings::from_env() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("llmlab-server: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = actix_web::rt::System::new().block_on(async {
        let app = llmlab_server::startup::Application::build(settings).await?;
        log::info!("LLMLab listening on http://{}", app.address());
        app.run().await.map_err(|e| e.to_string())
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("llmlab-server: {e}");
            ExitCode::FAILURE
        }
    }
}
