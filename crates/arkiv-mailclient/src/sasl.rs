//! SASL PLAIN (RFC 4616): `authzid NUL authcid NUL passwd`, base64-encoded.

use base64::Engine;

/// The base64 of a PLAIN initial response. `authzid` empty = log on as oneself.
pub(crate) fn plain(authzid: Option<&str>, user: &str, password: &str) -> String {
    let mut raw = Vec::with_capacity(user.len() + password.len() + 2);
    raw.extend_from_slice(authzid.unwrap_or("").as_bytes());
    raw.push(0);
    raw.extend_from_slice(user.as_bytes());
    raw.push(0);
    raw.extend_from_slice(password.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(raw)
}

#[cfg(test)]
mod tests {
    #[test]
    fn rfc4616_examples() {
        // RFC 4616 §4: "\0tim\0tanstaaftanstaaf" and "Ursel\0Kurt\0xipj3plmq".
        assert_eq!(
            super::plain(None, "tim", "tanstaaftanstaaf"),
            "AHRpbQB0YW5zdGFhZnRhbnN0YWFm"
        );
        assert_eq!(
            super::plain(Some("Ursel"), "Kurt", "xipj3plmq"),
            "VXJzZWwAS3VydAB4aXBqM3BsbXE="
        );
    }
}
