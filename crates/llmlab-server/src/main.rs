//! `llmlab-server`: reads settings from the environment (and `.env`) and serves the API.

use std::process::ExitCode;

fn main() -> ExitCode {
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
