//! The HTTP exchanges with the server, and what each answer means for the batch.

use std::time::Duration;

use serde::Deserialize;

use crate::Error;
use crate::event::Event;

/// The server's answer to one batch, as the sender acts on it.
#[derive(Debug)]
pub(crate) enum Outcome {
    /// Every item was answered (stored, a duplicate, or rejected on its own merits).
    Answered(BatchAnswer),
    /// Worth sending again as it is: no connection, a timeout, 429, 502–504. `after` is
    /// the server's `Retry-After`, when it gave one.
    Retry {
        after: Option<Duration>,
        reason: String,
    },
    /// The batch as a whole is too big for the server (413, or its ingestion quota per
    /// request); halves of it may pass.
    TooLarge(String),
    /// Sending it again cannot help (401, 403, a malformed request).
    Refused(String),
}

/// The counts of a 200 from `POST /api/events/batch`.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct BatchAnswer {
    pub accepted: u64,
    pub duplicates: u64,
    pub rejected: u64,
    pub results: Vec<ItemAnswer>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct ItemAnswer {
    pub index: usize,
    pub status: String,
    #[serde(default)]
    pub error: Option<serde_json::Value>,
}

#[derive(Debug)]
pub(crate) struct Transport {
    agent: ureq::Agent,
    endpoint: String,
    authorization: String,
}

impl Transport {
    pub fn new(endpoint: &str, api_key: &str, timeout: Duration) -> Transport {
        let config = ureq::Agent::config_builder()
            .timeout_global(Some(timeout))
            .http_status_as_error(false)
            .user_agent(concat!("llmlab-client/", env!("CARGO_PKG_VERSION")))
            .build();
        Transport {
            agent: config.into(),
            endpoint: endpoint.trim_end_matches('/').to_owned(),
            authorization: format!("Bearer {api_key}"),
        }
    }

    pub fn send_batch(&self, events: &[Event]) -> Outcome {
        #[derive(serde::Serialize)]
        struct Body<'a> {
            events: &'a [Event],
        }
        let body = match serde_json::to_vec(&Body { events }) {
            Ok(body) => body,
            Err(e) => return Outcome::Refused(format!("cannot encode the batch: {e}")),
        };
        let sent = self
            .agent
            .post(format!("{}/api/events/batch", self.endpoint))
            .header("Authorization", &self.authorization)
            .content_type("application/json")
            .send(&body[..]);
        let mut response = match sent {
            Ok(response) => response,
            Err(e) => {
                return Outcome::Retry {
                    after: None,
                    reason: e.to_string(),
                };
            }
        };
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(parse_retry_after);
        let text = response
            .body_mut()
            .with_config()
            .limit(16 * 1024 * 1024)
            .read_to_string();
        let text = match text {
            Ok(text) => text,
            // The answer was lost on the way: the batch may or may not be stored, and its
            // event ids make sending it again safe either way.
            Err(e) => {
                return Outcome::Retry {
                    after: retry_after,
                    reason: e.to_string(),
                };
            }
        };
        classify(status, retry_after, &text)
    }

    pub fn get_json<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, &str)],
    ) -> Result<T, Error> {
        let mut request = self
            .agent
            .get(format!("{}{path}", self.endpoint))
            .header("Authorization", &self.authorization);
        for (key, value) in query {
            request = request.query(key, value);
        }
        let mut response = request
            .call()
            .map_err(|e| Error::Unreachable(e.to_string()))?;
        let status = response.status().as_u16();
        let text = response
            .body_mut()
            .read_to_string()
            .map_err(|e| Error::Unreachable(e.to_string()))?;
        if status != 200 {
            return Err(Error::Server {
                status,
                message: error_message(&text),
            });
        }
        serde_json::from_str(&text).map_err(|e| Error::Unexpected(e.to_string()))
    }
}

impl Transport {
    /// Sends `method` to `path` with `body` as JSON (none for a DELETE); the status and
    /// the answer's text.
    pub fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<&serde_json::Value>,
    ) -> Result<(u16, String), Error> {
        let url = format!("{}{path}", self.endpoint);
        let sent = match (method, body) {
            ("DELETE", _) => self
                .agent
                .delete(&url)
                .header("Authorization", &self.authorization)
                .call(),
            (_, body) => self
                .agent
                .post(&url)
                .header("Authorization", &self.authorization)
                .header("Content-Type", "application/json")
                .send(body.map(|b| b.to_string()).unwrap_or_default()),
        };
        let mut response = sent.map_err(|e| Error::Unreachable(e.to_string()))?;
        let status = response.status().as_u16();
        let text = response
            .body_mut()
            .read_to_string()
            .map_err(|e| Error::Unreachable(e.to_string()))?;
        Ok((status, text))
    }
}

fn classify(status: u16, retry_after: Option<Duration>, text: &str) -> Outcome {
    match status {
        200 => match serde_json::from_str::<BatchAnswer>(text) {
            Ok(answer) => Outcome::Answered(answer),
            Err(e) => Outcome::Refused(format!("unexpected answer to a batch: {e}")),
        },
        413 => Outcome::TooLarge(error_message(text)),
        // A batch bigger than the workspace's per-minute quota is refused as a whole
        // (`details.field` = "events"); smaller batches pass in time.
        422 if error_field(text).as_deref() == Some("events") => {
            Outcome::TooLarge(error_message(text))
        }
        429 | 502..=504 => Outcome::Retry {
            after: retry_after,
            reason: format!("{status}: {}", error_message(text)),
        },
        // Another 5xx is a server fault; its event ids make a retry safe.
        500..=599 => Outcome::Retry {
            after: retry_after,
            reason: format!("{status}: {}", error_message(text)),
        },
        _ => Outcome::Refused(format!("{status}: {}", error_message(text))),
    }
}

/// The contract's `{"error": {"message": …}}`, or the start of whatever came instead.
pub(crate) fn error_message(text: &str) -> String {
    serde_json::from_str::<serde_json::Value>(text)
        .ok()
        .and_then(|v| v["error"]["message"].as_str().map(str::to_owned))
        .unwrap_or_else(|| text.chars().take(200).collect())
}

fn error_field(text: &str) -> Option<String> {
    let v = serde_json::from_str::<serde_json::Value>(text).ok()?;
    v["error"]["details"]["field"].as_str().map(str::to_owned)
}

/// `Retry-After` in seconds (the server's form; an HTTP date is not sent by LLMLab and
/// falls back to the client's own backoff).
fn parse_retry_after(value: &str) -> Option<Duration> {
    value.trim().parse::<u64>().ok().map(Duration::from_secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_classified_by_what_a_resend_can_do() {
        let ok = r#"{"accepted":1,"duplicates":1,"rejected":0,"results":[{"index":0,"status":"accepted","id":7},{"index":1,"status":"duplicate","id":6}]}"#;
        assert!(
            matches!(classify(200, None, ok), Outcome::Answered(a) if a.accepted == 1 && a.duplicates == 1)
        );
        let quota = r#"{"error":{"code":"validation_error","message":"a batch of 900 events exceeds the ingestion quota","details":{"field":"events"}}}"#;
        assert!(matches!(classify(422, None, quota), Outcome::TooLarge(m) if m.contains("quota")));
        let bad = r#"{"error":{"code":"validation_error","message":"bad","details":{"field":"events[0].model"}}}"#;
        assert!(matches!(classify(422, None, bad), Outcome::Refused(_)));
        assert!(matches!(classify(413, None, "{}"), Outcome::TooLarge(_)));
        let wait = Some(Duration::from_secs(3));
        assert!(matches!(classify(429, wait, "{}"), Outcome::Retry { after, .. } if after == wait));
        assert!(matches!(
            classify(503, None, "{}"),
            Outcome::Retry { after: None, .. }
        ));
        assert!(matches!(classify(401, None, "{}"), Outcome::Refused(_)));
    }

    #[test]
    fn retry_after_is_read_in_seconds() {
        assert_eq!(parse_retry_after(" 7 "), Some(Duration::from_secs(7)));
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), None);
        assert_eq!(parse_retry_after("-1"), None);
    }
}
