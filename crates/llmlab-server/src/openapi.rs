//! The OpenAPI document. Paths and schemas are collected from the registered handlers
//! (utoipa-actix-web), so a route cannot be served without being documented.

use utoipa::Modify;
use utoipa::OpenApi;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};

/// Document metadata and the bearer security scheme.
#[derive(OpenApi)]
#[openapi(
    info(title = "LLMLab API", description = "Exact cost tracking, budgets and recommendations for LLM API calls."),
    modifiers(&BearerAuth),
    tags(
        (name = "auth"), (name = "keys"), (name = "events"), (name = "costs"),
        (name = "budgets"), (name = "pricing"), (name = "recommendations"), (name = "health")
    )
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("A session token (JWT) or an API key (llmlab_…)"))
                    .build(),
            ),
        );
    }
}
