//! The confirmation message: the one email an address gets from a channel before its
//! owner agrees to more.
//!
//! Whoever creates a channel chooses its name and their workspace's name, and may be
//! anyone with an account. So the message speaks in the server's voice only, with a
//! fixed subject; those two names appear once each, set apart in quotation marks and
//! called what they are (text the sender typed, unchecked), never as a sentence of the
//! message. It says who asked (the workspace, by number and by its name), what
//! confirming does, and that ignoring it is enough. The plain text is here; the server
//! draws the same message as HTML.

/// The subject of every confirmation: no word of it is the sender's.
pub const SUBJECT: &str = "Confirm email notifications from LLMLab";

/// What the message says, filled in for one address.
#[derive(Debug, Clone)]
pub struct Confirmation {
    /// The address asked.
    pub address: String,
    /// The workspace that asked: its number.
    pub workspace_id: i64,
    /// The name the workspace gave itself.
    pub workspace: String,
    /// The name of the channel.
    pub channel: String,
    /// The confirmation page (absolute).
    pub link: String,
    /// The server's public URL, which sends the message.
    pub server: String,
}

impl Confirmation {
    /// The plain-text part.
    pub fn text(&self) -> String {
        let Confirmation {
            address,
            workspace_id,
            workspace,
            channel,
            link,
            server,
        } = self;
        format!(
            "Someone using LLMLab, a service that tracks what AI API calls cost, has asked \
             to send budget alerts and spend reports to {address}. LLMLab sends nothing more \
             to this address unless you confirm.\n\n\
             Who asked: LLMLab workspace number {workspace_id}, which calls itself\n\
             \x20   “{workspace}”\n\
             Its notification channel calls itself\n\
             \x20   “{channel}”\n\n\
             These two names were chosen by whoever set up the channel. LLMLab has not \
             checked them: they are not a message from LLMLab, and nothing in them is a bill, \
             a request or an instruction from us.\n\n\
             To receive this channel's notifications, open this page and press Confirm:\n\
             {link}\n\n\
             If you did not expect this, ignore this email: without your confirmation you \
             receive nothing else from this channel.\n\n\
             -- \nLLMLab at {server}\n"
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_senders_names_are_quoted_never_the_subject() {
        let c = Confirmation {
            address: "victim@example.com".into(),
            workspace_id: 42,
            workspace: "Billing <script>".into(),
            channel: "Your invoice is overdue - pay at evil.example".into(),
            link: "https://llmlab.example.com/email/confirm/1/ab".into(),
            server: "https://llmlab.example.com".into(),
        };
        let text = c.text();
        assert!(text.contains("“Your invoice is overdue - pay at evil.example”"));
        assert!(text.contains("workspace number 42"));
        assert!(text.contains("ignore this email"));
        assert!(text.contains("https://llmlab.example.com/email/confirm/1/ab\n"));
        assert!(!SUBJECT.contains("evil") && !SUBJECT.contains("Billing"));
    }
}
