//! API keys.

use actix_web::{HttpResponse, delete, get, post, web};
use utoipa_actix_web::service_config::ServiceConfig;

use llmlab_app::ApiKeyId;

use crate::access::{Member, Scopes};
use crate::body::JsonBody;
use crate::dto::{CreatedKey, KeyList, KeyOut, NewKeyRequest};
use crate::error::ApiError;
use crate::routes::path_id;
use llmlab_app::AppState;
use llmlab_app::blocking;
use llmlab_app::keys;

pub fn config(cfg: &mut ServiceConfig) {
    cfg.service(create).service(list).service(remove);
}

/// Creates an API key; the key is in this response only.
#[utoipa::path(tag = "keys", request_body = NewKeyRequest, responses((status = 201, body = CreatedKey), (status = 422)), security(("bearer" = [])))]
#[post("/keys")]
async fn create(
    state: web::Data<AppState>,
    who: Member,
    body: JsonBody<NewKeyRequest>,
) -> Result<HttpResponse, ApiError> {
    let scopes = match body.0.scopes {
        None => Scopes::DEFAULT,
        Some(asked) if asked.is_empty() => {
            return Err(ApiError::validation(
                "scopes",
                "name at least one of: ingest, read",
            ));
        }
        Some(asked) => Scopes::of(&asked),
    };
    let spec = keys::KeySpec::new(&body.0.name, scopes, body.0.tags.unwrap_or_default())?;
    let limit = state.settings.limits.api_keys;
    let created = blocking(&state, move |s| {
        keys::create(s, who.workspace(), &who, spec, limit)
    })
    .await?;
    let key = KeyOut::from(created.row);
    Ok(HttpResponse::Created().json(CreatedKey {
        id: key.id,
        name: key.name,
        key: created.key,
        prefix: key.prefix,
        scopes: key.scopes,
        tags: key.tags,
        created_by: key.created_by,
        created_at: key.created_at,
    }))
}

/// Lists the workspace's API keys (never the keys themselves).
#[utoipa::path(tag = "keys", responses((status = 200, body = KeyList)), security(("bearer" = [])))]
#[get("/keys")]
async fn list(state: web::Data<AppState>, who: Member) -> Result<HttpResponse, ApiError> {
    let rows = blocking(&state, move |s| keys::list(s, who.workspace())).await?;
    let keys = rows.into_iter().map(KeyOut::from).collect();
    Ok(HttpResponse::Ok().json(KeyList { keys }))
}

/// Deletes an API key; it is rejected from then on.
#[utoipa::path(tag = "keys", params(("id" = i64, Path)), responses((status = 204), (status = 404)), security(("bearer" = [])))]
#[delete("/keys/{id}")]
async fn remove(
    state: web::Data<AppState>,
    who: Member,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id: ApiKeyId = path_id(&id)?;
    let app = state.clone();
    blocking(&state, move |s| {
        keys::remove(s, &app.keys, who.workspace(), &who, id)
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}
