//! Notification channels.

use actix_web::{HttpResponse, delete, get, post, web};
use llmlab_app::ChannelId;
use utoipa_actix_web::service_config::ServiceConfig;

use crate::access::{Admin, Viewer};
use crate::body::JsonBody;
use crate::dto::{
    ChannelIn, ChannelList, ChannelOut, NotificationList, NotificationOut, TestQueued,
};
use crate::error::ApiError;
use crate::routes::path_id;
use llmlab_app::AppState;
use llmlab_app::blocking;
use llmlab_app::channels::{self as use_case, Allowances, ChannelForm, Reach};

pub fn config(cfg: &mut ServiceConfig) {
    cfg.service(create)
        .service(list)
        .service(remove)
        .service(test)
        .service(deliveries);
}

/// Creates a channel (admins). Each address of an email channel is sent one message
/// asking its owner to confirm, and nothing else until they do.
#[utoipa::path(tag = "channels", request_body = ChannelIn,
    responses((status = 201, body = ChannelOut), (status = 422),
        (status = 429, description = "The confirmations would pass the workspace's hourly email; see Retry-After")),
    security(("bearer" = [])))]
#[post("/channels")]
async fn create(
    state: web::Data<AppState>,
    who: Admin,
    body: JsonBody<ChannelIn>,
) -> Result<HttpResponse, ApiError> {
    let b = body.0;
    let form = ChannelForm {
        name: b.name,
        kind: b.kind,
        url: b.url,
        to: b.to,
        events: b.events,
    };
    let reach = Reach::of(&state.settings);
    let row = blocking(&state, move |s| {
        use_case::create(s, who.workspace(), &who, &form, reach)
    })
    .await?;
    Ok(HttpResponse::Created().json(ChannelOut::from(row)))
}

/// The workspace's channels.
#[utoipa::path(tag = "channels", responses((status = 200, body = ChannelList)), security(("bearer" = [])))]
#[get("/channels")]
async fn list(state: web::Data<AppState>, who: Viewer) -> Result<HttpResponse, ApiError> {
    let rows = blocking(&state, move |s| use_case::list(s, who.workspace())).await?;
    let channels = rows.into_iter().map(ChannelOut::from).collect();
    Ok(HttpResponse::Ok().json(ChannelList { channels }))
}

/// Deletes a channel and its notifications (admins).
#[utoipa::path(tag = "channels", params(("id" = i64, Path)),
    responses((status = 204), (status = 404)), security(("bearer" = [])))]
#[delete("/channels/{id}")]
async fn remove(
    state: web::Data<AppState>,
    who: Admin,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id: ChannelId = path_id(&path)?;
    blocking(&state, move |s| {
        use_case::remove(s, who.workspace(), &who, id)
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Sends a test notification to a channel (admins); an email channel's goes to its
/// confirmed addresses only.
#[utoipa::path(tag = "channels", params(("id" = i64, Path)),
    responses((status = 202, body = TestQueued), (status = 404),
        (status = 409, description = "An email channel none of whose addresses has confirmed yet"),
        (status = 429, description = "The workspace's hourly test sends or email are used up; see Retry-After")),
    security(("bearer" = [])))]
#[post("/channels/{id}/test")]
async fn test(
    state: web::Data<AppState>,
    who: Admin,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id: ChannelId = path_id(&path)?;
    let allowances = Allowances::of(&state.settings.notify);
    let n = blocking(&state, move |s| {
        use_case::test(s, who.workspace(), id, allowances)
    })
    .await?;
    Ok(HttpResponse::Accepted().json(TestQueued {
        notification_id: n.id,
        status: n.status,
    }))
}

/// The channel's latest 100 notifications, each with every delivery attempt.
#[utoipa::path(tag = "channels", params(("id" = i64, Path)),
    responses((status = 200, body = NotificationList), (status = 404)), security(("bearer" = [])))]
#[get("/channels/{id}/deliveries")]
async fn deliveries(
    state: web::Data<AppState>,
    who: Viewer,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id: ChannelId = path_id(&path)?;
    let (_, rows) = blocking(&state, move |s| use_case::history(s, who.workspace(), id)).await?;
    let notifications = rows.into_iter().map(NotificationOut::from).collect();
    Ok(HttpResponse::Ok().json(NotificationList { notifications }))
}
