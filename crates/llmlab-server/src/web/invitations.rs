//! The signed-in person's invitations: each with the workspace, the role and who sent
//! it, accepted or declined with a form. Accepting leads into the workspace joined.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, web};
use llmlab_app::InvitationId;
use maud::html;

use super::form::{SessionForm, hidden};
use super::html as respond;
use super::pages::{Page, see_other};
use super::session::{Visitor, visitor};
use super::view::page;
use llmlab_app::AppState;
use llmlab_app::blocking;
use llmlab_app::invitations as use_case;
use llmlab_app::workspaces::Caller;

pub async fn invitations(req: HttpRequest, state: web::Data<AppState>) -> Page {
    let v = visitor(&req, &state, None).await?;
    let email = v.email.clone();
    let pending = blocking(&state, move |s| {
        use_case::for_person(s, &email, llmlab_app::now_utc())
    })
    .await?;
    let body = html! {
        h1 { "Invitations" }
        @if pending.is_empty() {
            p { "Nobody has invited you to a workspace. When someone does, it shows here for 7 days." }
        } @else {
            p { "You join a workspace only by accepting its invitation." }
            table {
                thead { tr { th scope="col" { "Workspace" } th scope="col" { "Role" } th scope="col" { "Invited by" } th scope="col" { "Expires (UTC)" } th scope="col" { "" } } }
                tbody { @for i in &pending { tr {
                    td { (i.workspace_name) } td { (i.role.as_str()) } td { (i.invited_by_email) } td { (i.expires_at.format("%Y-%m-%d %H:%M")) }
                    td {
                        form.inline method="post" action=(format!("/invitations/{}/accept", i.id)) {
                            (hidden(&v))
                            button type="submit" { "Join " (i.workspace_name) " as " (i.role.as_str()) }
                        }
                        form.inline method="post" action=(format!("/invitations/{}/decline", i.id)) {
                            (hidden(&v))
                            button.danger type="submit" { "Decline " (i.workspace_name) }
                        }
                    }
                } } }
            }
        }
    };
    Ok(respond(
        StatusCode::OK,
        page("Invitations", &v, "/invitations", body),
    ))
}

/// The person answering an invitation, as the use cases take them.
fn invitee(v: &Visitor) -> (llmlab_app::UserId, llmlab_app::Actor, String) {
    (v.user_id, v.identity.actor(), v.email.clone())
}

/// Accepting and declining act on the person's own invitation, in no workspace of
/// theirs yet: the form's origin and the session's token are checked
/// ([`SessionForm`]), not a role in the workspace the page showed.
pub async fn accept(state: web::Data<AppState>, path: web::Path<i64>, form: SessionForm) -> Page {
    let v = form.visitor;
    let ((user, actor, email), id) = (invitee(&v), InvitationId(path.into_inner()));
    let limit = state.settings.limits.members;
    let joined = blocking(&state, move |s| {
        let who = Caller {
            user,
            actor: &actor,
        };
        let now = llmlab_app::now_utc();
        use_case::accept(s, (&who, &email), id, limit, now)
    })
    .await?;
    Ok(see_other(&format!("/overview?ws={}", joined.workspace_id)))
}

pub async fn decline(state: web::Data<AppState>, path: web::Path<i64>, form: SessionForm) -> Page {
    let v = form.visitor;
    let ((user, actor, email), id) = (invitee(&v), InvitationId(path.into_inner()));
    blocking(&state, move |s| {
        let who = Caller {
            user,
            actor: &actor,
        };
        use_case::decline(s, (&who, &email), id, llmlab_app::now_utc())
    })
    .await?;
    Ok(see_other("/invitations"))
}
