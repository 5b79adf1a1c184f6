//! The OpenAPI document. Paths and schemas are collected from the registered handlers
//! (utoipa-actix-web), so a route cannot be served without being documented.

use utoipa::Modify;

use crate::error::ErrorCode;
use utoipa::OpenApi;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};

/// Document metadata and the bearer security scheme.
#[derive(OpenApi)]
#[openapi(
    info(title = "LLMLab API", description = "Exact cost tracking, budgets and recommendations for LLM API calls."),
    modifiers(&BearerAuth),
    tags(
        (name = "auth"), (name = "keys"), (name = "events"), (name = "costs"),
        (name = "budgets"), (name = "commitments"), (name = "contracts"), (name = "reconciliation"), (name = "fx"), (name = "channels"), (name = "pricing"), (name = "recommendations"),
        (name = "workspaces"),
        (name = "health")
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

/// The JSON error shape of every non-2xx answer.
fn error_schema() -> utoipa::openapi::schema::Object {
    use utoipa::openapi::schema::{ObjectBuilder, Type};
    let inner = ObjectBuilder::new()
        .property(
            "code",
            ObjectBuilder::new()
                .schema_type(Type::String)
                .enum_values(Some(ErrorCode::ALL.iter().map(|c| c.name()))),
        )
        .required("code")
        .property("message", ObjectBuilder::new().schema_type(Type::String))
        .required("message")
        .property(
            "details",
            ObjectBuilder::new()
                .schema_type(Type::Object)
                .description(Some("`field` names the offending field of a 422")),
        );
    ObjectBuilder::new()
        .property("error", inner)
        .required("error")
        .build()
}

/// Whether `path` acts in the request's workspace (the rest belong to the person, or
/// name their workspace in the path).
fn in_workspace(path: &str) -> bool {
    !path.starts_with("/api/auth/")
        && !path.starts_with("/api/workspaces")
        && !path.starts_with("/api/invitations")
}

/// `X-LLMLab-Workspace`: which of the caller's workspaces a session acts in.
fn workspace_header() -> utoipa::openapi::path::Parameter {
    use utoipa::openapi::Required;
    use utoipa::openapi::path::{ParameterBuilder, ParameterIn};
    use utoipa::openapi::schema::{ObjectBuilder, Type};
    ParameterBuilder::new()
        .name(crate::auth::WORKSPACE_HEADER)
        .parameter_in(ParameterIn::Header)
        .required(Required::False)
        .description(Some(
            "The workspace a session acts in (default: the user's personal one); an API key \
             acts only in its own. Not a member: 404.",
        ))
        .schema(Some(
            ObjectBuilder::new()
                .schema_type(Type::Integer)
                .format(Some(utoipa::openapi::SchemaFormat::KnownFormat(
                    utoipa::openapi::KnownFormat::Int64,
                )))
                .minimum(Some(1)),
        ))
        .build()
}

/// Adds to every operation the error statuses it can answer (the routes annotate their
/// successes and domain errors; the statuses every operation of a kind shares are added
/// here, from the same facts the server acts on), each with the error schema.
pub fn complete_error_responses(doc: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::{ContentBuilder, Ref, RefOr, ResponseBuilder};
    let components = doc.components.get_or_insert_with(Default::default);
    components
        .schemas
        .insert("Error".into(), RefOr::T(error_schema().into()));
    let error = || {
        ContentBuilder::new()
            .schema(Some(Ref::from_schema_name("Error")))
            .build()
    };
    for (path, item) in doc.paths.paths.iter_mut() {
        let ops = [
            ("get", item.get.as_mut()),
            ("put", item.put.as_mut()),
            ("post", item.post.as_mut()),
            ("delete", item.delete.as_mut()),
            ("patch", item.patch.as_mut()),
        ];
        for (method, op) in ops {
            let Some(op) = op else { continue };
            let secured = op.security.as_ref().is_some_and(|s| !s.is_empty());
            let mut statuses: Vec<(&str, &str)> = Vec::new();
            if secured && in_workspace(path) {
                op.parameters
                    .get_or_insert_with(Vec::new)
                    .push(utoipa::openapi::RefOr::T(workspace_header()));
                statuses.push(("404", "No workspace of the caller has this id"));
            }
            if secured {
                statuses.push(("401", "Missing, malformed, expired or revoked credentials"));
                statuses.push((
                    "403",
                    "The credential may not do this (an API key without the scope or managing the workspace, or a role too low)",
                ));
            }
            if secured || path.starts_with("/api/auth/") {
                statuses.push(("503", "Database unreachable; retry shortly"));
            }
            if op.request_body.is_some() {
                statuses.push(("400", "Not JSON, or not sent as application/json"));
                statuses.push(("413", "Body over the configured limit"));
                statuses.push(("422", "Invalid body; details.field names the field"));
            }
            if op.parameters.as_ref().is_some_and(|p| !p.is_empty()) {
                statuses.push(("422", "Invalid parameter; details.field names it"));
            }
            if path.contains('{') {
                statuses.push(("404", "No such resource in this workspace"));
            }
            if matches!(
                (method, path.as_str()),
                ("post", "/api/events/track")
                    | ("post", "/api/events/batch")
                    | ("post", "/api/auth/login")
                    | ("post", "/api/auth/signup")
            ) {
                statuses.push(("429", "Rate limited; see Retry-After"));
            }
            for (status, description) in statuses {
                op.responses
                    .responses
                    .entry(status.to_string())
                    .or_insert_with(|| {
                        RefOr::T(ResponseBuilder::new().description(description).build())
                    });
            }
            // Every error answer, annotated in a route or added above, is the error shape.
            for (status, response) in op.responses.responses.iter_mut() {
                if let RefOr::T(r) = response
                    && !status.starts_with('2')
                    && r.content.is_empty()
                {
                    r.content.insert("application/json".into(), error().into());
                }
            }
        }
    }
}
