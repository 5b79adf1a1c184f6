//! The page an email confirmation link opens, served without sign-in: its owner may have
//! no account. Opening it only shows what is asked; the button confirms (a POST), so a
//! mail scanner that follows links confirms nothing. A link that is not one the server
//! signed is a 404 page, whether its recipient exists or not.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use maud::{Markup, html};

use super::view::{notice, shell};
use super::{WebError, html as respond};
use llmlab_app::consent::{self, Request};
use llmlab_app::{AppError, AppState, blocking};

type Page = Result<HttpResponse, WebError>;

fn body(r: &Request, action: &str, just_confirmed: bool) -> Markup {
    let title = if r.confirmed_at.is_some() {
        "Email notifications confirmed"
    } else {
        "Confirm email notifications"
    };
    shell(
        title,
        html! {
            main.narrow {
                h1 { (title) }
                @if just_confirmed {
                    (notice(&format!("{} will receive this channel's notifications.", r.address)))
                }
                p {
                    "LLMLab workspace number " (r.workspace_id.get())
                    " asks to send budget alerts and spend reports to " b { (r.address) } ". It calls itself"
                }
                blockquote { "“" (r.workspace) "”" }
                p { "and its notification channel" }
                blockquote { "“" (r.channel) "”" }
                p {
                    "Whoever set up the channel chose these names; LLMLab has not checked them, "
                    "and they are not a message from LLMLab."
                }
                @if r.confirmed_at.is_none() {
                    form method="post" action=(action) {
                        button type="submit" { "Confirm" }
                    }
                    p { "If you did not expect this, close this page: nothing is sent to you unless you confirm." }
                } @else {
                    p { "This address is confirmed for this channel. Its administrators can remove it by deleting the channel." }
                }
            }
        },
    )
}

/// What the link asks, with the button that confirms it.
pub async fn show(state: web::Data<AppState>, path: web::Path<(String, String)>) -> Page {
    answer(state, path, false).await
}

/// Confirms what the link asks.
pub async fn confirm(state: web::Data<AppState>, path: web::Path<(String, String)>) -> Page {
    answer(state, path, true).await
}

/// The page of the link in `path`, after confirming what it asks when `confirming` (the
/// button); either way the link's signature is checked first.
async fn answer(
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    confirming: bool,
) -> Page {
    let (id, token) = path.into_inner();
    let action = format!("/email/confirm/{id}/{token}");
    let Ok(id) = id.parse::<i64>() else {
        return Err(AppError::NotFound("confirmation").into());
    };
    let secret = state.settings.jwt_secret.clone();
    let r = blocking(&state, move |s| {
        let act = if confirming {
            consent::confirm
        } else {
            consent::show
        };
        act(s, secret.as_bytes(), id, &token)
    })
    .await?;
    Ok(respond(StatusCode::OK, body(&r, &action, confirming)))
}
