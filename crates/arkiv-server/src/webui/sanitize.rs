//! Archived HTML made safe to show (D1, issue 11 §2). Archived mail is hostile input
//! forever; three layers keep it harmless:
//!
//! 1. **ammonia** (html5ever's parser, a maintained allow-list sanitizer) keeps only
//!    formatting: no `<script>`, `<style>` blocks, forms, `<meta>`, `<base>`, SVG, frames or
//!    event-handler attributes; `style` attributes stay (mail layout lives in them) but a
//!    declaration that names a URL (`url(`, `@import`, `expression(`) drops the attribute.
//! 2. **Remote content** (`http:`/`https:` images) is removed unless the user allowed images
//!    for this one message; `cid:` images are replaced by the message's own inline parts as
//!    `data:` URIs. Links open in a new tab, without referrer.
//! 3. The result is served as its own document (`/web/messages/{id}/body`) under a strict
//!    Content-Security-Policy with the `sandbox` directive (no scripts, no forms, an opaque
//!    origin), inside an `<iframe sandbox>` on the message page: even markup that slipped past
//!    the sanitizer could neither run nor fetch.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use base64::Engine;

/// The sanitized HTML and how many remote images were held back.
pub struct Clean {
    pub html: String,
    pub blocked: usize,
}

/// Sanitizes an HTML body. `images`: (content id, content type, bytes) of the message's
/// inline images; `allow_remote`: the user asked for remote images for this message.
pub fn clean(html: &str, images: &[(String, String, Vec<u8>)], allow_remote: bool) -> Clean {
    let cids: HashMap<String, String> = images
        .iter()
        .map(|(cid, ct, data)| {
            (
                cid.to_ascii_lowercase(),
                format!(
                    "data:{ct};base64,{}",
                    base64::engine::general_purpose::STANDARD.encode(data)
                ),
            )
        })
        .collect();
    let blocked = Arc::new(AtomicUsize::new(0));
    let counter = blocked.clone();
    let mut b = ammonia::Builder::default();
    b.add_generic_attributes(["style", "align", "valign", "bgcolor", "width", "height"])
        .add_tag_attributes("table", ["border", "cellpadding", "cellspacing"])
        .add_tag_attributes("font", ["color", "face", "size"])
        .add_tags(["font", "center"])
        .url_schemes(HashSet::from(["http", "https", "mailto", "data", "cid"]))
        .link_rel(Some("noopener noreferrer"))
        .set_tag_attribute_value("a", "target", "_blank")
        .attribute_filter(move |element, attribute, value| {
            let v = value.trim();
            let lower = v.to_ascii_lowercase();
            match (element, attribute) {
                (_, "style") => {
                    let bad = ["url(", "@import", "expression(", "image-set(", "\\"];
                    (!bad.iter().any(|b| lower.contains(b))).then(|| value.into())
                }
                ("img", "src") => {
                    if let Some(cid) = lower.strip_prefix("cid:") {
                        return cids.get(cid).map(|d| d.clone().into());
                    }
                    if lower.starts_with("data:image/") && !lower.starts_with("data:image/svg") {
                        return Some(value.into());
                    }
                    if (lower.starts_with("http:") || lower.starts_with("https:")) && allow_remote {
                        return Some(value.into());
                    }
                    counter.fetch_add(
                        usize::from(lower.starts_with("http") || lower.starts_with("//")),
                        Ordering::Relaxed,
                    );
                    None
                }
                (_, "src") | (_, "srcset") | (_, "background") => None,
                (_, "href") => (lower.starts_with("http:")
                    || lower.starts_with("https:")
                    || lower.starts_with("mailto:")
                    || lower.starts_with('#'))
                .then(|| value.into()),
                _ => Some(value.into()),
            }
        });
    let html = b.clean(html).to_string();
    Clean {
        html,
        blocked: blocked.load(Ordering::Relaxed),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_markup_is_removed() {
        let evil = r#"<html><head><meta http-equiv="refresh" content="0;url=http://evil/"><style>body{background:url(http://evil/css)}</style><base href="http://evil/"></head>
<body onload="alert(1)"><script>alert(2)</script><a href="javascript:alert(3)">x</a>
<form action="http://evil/"><input name=a></form><svg><script>alert(4)</script></svg>
<img src="http://evil/pixel.gif" onerror="alert(5)"><p style="background-image:url(http://evil/bg)">p</p>
<iframe src="http://evil/"></iframe><object data="http://evil/"></object>
<img src="cid:logo@x"><p style="color:red">ok</p><a href="https://example.org/">link</a></body></html>"#;
        let c = clean(
            evil,
            &[("logo@x".into(), "image/png".into(), b"\x89PNG".to_vec())],
            false,
        );
        let h = c.html.to_ascii_lowercase();
        for bad in [
            "<script",
            "onload",
            "onerror",
            "javascript:",
            "<form",
            "<input",
            "<svg",
            "<meta",
            "<base",
            "<style",
            "url(",
            "<iframe",
            "<object",
            "http://evil",
        ] {
            assert!(!h.contains(bad), "{bad} in {h}");
        }
        assert_eq!(c.blocked, 1);
        assert!(h.contains("data:image/png;base64,"), "{h}");
        assert!(h.contains("color:red"));
        assert!(h.contains(r#"href="https://example.org/""#));
        assert!(h.contains("noopener noreferrer"));
    }

    #[test]
    fn remote_images_only_when_allowed() {
        let c = clean(r#"<img src="https://example.org/a.png">"#, &[], true);
        assert!(c.html.contains("https://example.org/a.png"));
        assert_eq!(c.blocked, 0);
        let c = clean(r#"<img src="https://example.org/a.png">"#, &[], false);
        assert!(!c.html.contains("example.org"));
        assert_eq!(c.blocked, 1);
    }
}
