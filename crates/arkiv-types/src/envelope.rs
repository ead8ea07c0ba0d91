//! The SMTP envelope a message arrived with.

use serde::{Deserialize, Serialize};

use crate::Timestamp;

/// Who the mail server says sent and received a message, and how it arrived (journaling,
/// SPEC A7). Headers can lie and never show Bcc recipients; the envelope is what the mail
/// server actually did, so the archive keeps it beside the message's exact bytes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Envelope {
    /// `MAIL FROM` (empty for the null reverse-path `<>` of a bounce).
    pub mail_from: String,
    /// Every `RCPT TO`, in the order given.
    pub rcpt_to: Vec<String>,
    /// The sending client's IP address.
    pub client_ip: String,
    /// The name the client gave in `HELO`/`EHLO`.
    pub helo: String,
    /// When the message was received (its final `250`).
    pub received_at: Timestamp,
    /// `ESMTP`, `ESMTPS` (over TLS), `ESMTPSA` (TLS and AUTH), as in RFC 3848.
    pub protocol: String,
    /// The account the client authenticated as, if it did.
    pub auth_user: Option<String>,
    /// The message came wrapped in an Exchange / Microsoft 365 envelope journal report:
    /// `mail_from` and `rcpt_to` are the report's sender and recipients (Bcc and expanded
    /// lists included), and the archived bytes are the original message it carried.
    pub journal_report: bool,
}
