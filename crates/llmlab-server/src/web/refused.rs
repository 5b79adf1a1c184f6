//! A form the server refused, shown again: the person's input kept, and the reason
//! beside the field it is about (above the form when it is about none of them), with
//! the page's status (422, 409) instead of a page that loses what was typed.

use actix_web::http::StatusCode;
use maud::{Markup, html};

use super::WebError;

/// Why a form was refused, to show with it.
#[derive(Debug, Clone)]
pub struct Refused {
    /// The status the page is answered with.
    pub status: StatusCode,
    /// What to correct.
    pub message: String,
    /// The form field it is about, when the use case named one.
    pub field: Option<String>,
}

impl Refused {
    /// The refusal in `e` when it is the person's to correct or wait out (the input, a
    /// conflict with what exists, an allowance used up); anything else (no session, a role too low, a failure) goes on
    /// as it was.
    pub fn of(e: WebError) -> Result<Refused, WebError> {
        match e {
            WebError::App(e)
                if matches!(
                    e.status,
                    StatusCode::UNPROCESSABLE_ENTITY
                        | StatusCode::CONFLICT
                        | StatusCode::BAD_REQUEST
                ) =>
            {
                let field = e
                    .details
                    .as_ref()
                    .and_then(|d| d.get("field"))
                    .and_then(|f| f.as_str())
                    .map(str::to_string);
                Ok(Refused {
                    status: e.status,
                    message: e.message,
                    field,
                })
            }
            e => Err(e),
        }
    }

    /// Whether the refusal is about field `name`.
    pub fn about(&self, name: &str) -> bool {
        self.field.as_deref() == Some(name)
    }

    /// The reason under field `name` (whose message element is `id`), if about it.
    pub fn beside(&self, name: &str, id: &str) -> Markup {
        html! {
            @if self.about(name) { p.field-error id=(id) role="alert" { (self.message) } }
        }
    }

    /// The reason above a form with `fields`, when it is about none of them.
    pub fn above(&self, fields: &[&str]) -> Markup {
        html! {
            @if !fields.iter().any(|f| self.about(f)) { p.notice role="alert" { (self.message) } }
        }
    }
}
