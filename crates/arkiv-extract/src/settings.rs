//! Which attachments are read, and the limits on reading them.

use std::collections::BTreeSet;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// The formats Arkiv reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Kind {
    Text,
    Html,
    Pdf,
    Docx,
    Xlsx,
    Pptx,
    /// ODT, ODS, ODP (and their templates): `content.xml` in a ZIP container.
    OpenDocument,
    Rtf,
    Eml,
    Msg,
    Zip,
}

/// The file-type groups an administrator picks from, with their extensions.
pub const GROUPS: &[(&str, &[&str])] = &[
    ("text", &["txt", "csv", "tsv", "log"]),
    ("html", &["htm", "html", "xhtml"]),
    ("pdf", &["pdf"]),
    (
        "office",
        &[
            "docx", "docm", "dotx", "xlsx", "xlsm", "xltx", "pptx", "pptm", "ppsx", "potx",
        ],
    ),
    ("opendocument", &["odt", "ott", "ods", "ots", "odp", "otp"]),
    ("rtf", &["rtf"]),
    ("messages", &["eml", "msg"]),
    ("archives", &["zip"]),
];

impl Kind {
    /// The reader for a file extension (lower case, no dot); `None` if Arkiv has none.
    pub fn for_extension(ext: &str) -> Option<Kind> {
        Some(match ext {
            "txt" | "csv" | "tsv" | "log" => Kind::Text,
            "htm" | "html" | "xhtml" => Kind::Html,
            "pdf" => Kind::Pdf,
            "docx" | "docm" | "dotx" => Kind::Docx,
            "xlsx" | "xlsm" | "xltx" => Kind::Xlsx,
            "pptx" | "pptm" | "ppsx" | "potx" => Kind::Pptx,
            "odt" | "ott" | "ods" | "ots" | "odp" | "otp" => Kind::OpenDocument,
            "rtf" => Kind::Rtf,
            "eml" => Kind::Eml,
            "msg" => Kind::Msg,
            "zip" => Kind::Zip,
            _ => return None,
        })
    }

    fn for_content_type(ct: &str) -> Option<Kind> {
        Some(match ct {
            "text/plain" | "text/csv" => Kind::Text,
            "text/html" => Kind::Html,
            "application/pdf" => Kind::Pdf,
            "application/rtf" | "text/rtf" => Kind::Rtf,
            "message/rfc822" => Kind::Eml,
            "application/vnd.ms-outlook" => Kind::Msg,
            "application/zip" | "application/x-zip-compressed" => Kind::Zip,
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document" => Kind::Docx,
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet" => Kind::Xlsx,
            "application/vnd.openxmlformats-officedocument.presentationml.presentation" => {
                Kind::Pptx
            }
            "application/vnd.oasis.opendocument.text"
            | "application/vnd.oasis.opendocument.spreadsheet"
            | "application/vnd.oasis.opendocument.presentation" => Kind::OpenDocument,
            _ => return None,
        })
    }

    /// The reader for a file, by its name's extension, else by its content type.
    pub fn detect(name: Option<&str>, content_type: &str) -> Option<Kind> {
        extension(name)
            .and_then(|e| Kind::for_extension(&e))
            .or_else(|| Kind::for_content_type(content_type))
    }

    /// The usual extension of the format: a file without a name is read when this one is.
    pub fn extension(self) -> &'static str {
        match self {
            Kind::Text => "txt",
            Kind::Html => "html",
            Kind::Pdf => "pdf",
            Kind::Docx => "docx",
            Kind::Xlsx => "xlsx",
            Kind::Pptx => "pptx",
            Kind::OpenDocument => "odt",
            Kind::Rtf => "rtf",
            Kind::Eml => "eml",
            Kind::Msg => "msg",
            Kind::Zip => "zip",
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Kind::Text => "text",
            Kind::Html => "HTML",
            Kind::Pdf => "PDF",
            Kind::Docx => "DOCX",
            Kind::Xlsx => "XLSX",
            Kind::Pptx => "PPTX",
            Kind::OpenDocument => "OpenDocument",
            Kind::Rtf => "RTF",
            Kind::Eml => "EML",
            Kind::Msg => "MSG",
            Kind::Zip => "ZIP",
        }
    }
}

/// The lower-case extension of a file name, if it has one.
fn extension(name: Option<&str>) -> Option<String> {
    let name = name?;
    let base = name.rsplit(['/', '\\']).next()?;
    let (_, ext) = base.rsplit_once('.')?;
    (!ext.is_empty() && ext.len() <= 10).then(|| ext.to_ascii_lowercase())
}

/// Bounds on one attachment's extraction.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limits {
    /// Larger attachments are not read (their names are still indexed).
    pub max_input_bytes: u64,
    /// Text beyond this is dropped.
    pub max_output_bytes: u64,
    /// Attachments inside attachments (ZIP in message in ZIP ...).
    pub max_depth: u32,
    /// Members of one ZIP (or Office) file.
    pub max_members: u64,
    /// Bytes unpacked from ZIP containers, in all, for one attachment.
    pub max_unpacked_bytes: u64,
    /// Largest unpacked/packed ratio of a ZIP member.
    pub max_ratio: u64,
    #[serde(with = "secs")]
    pub timeout: Duration,
    /// Address space of the sandbox process.
    pub max_memory_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_input_bytes: 64 << 20,
            max_output_bytes: 1 << 20,
            max_depth: 3,
            max_members: 10_000,
            max_unpacked_bytes: 256 << 20,
            max_ratio: 200,
            timeout: Duration::from_secs(20),
            max_memory_bytes: 1 << 30,
        }
    }
}

mod secs {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(d.as_secs())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        Ok(Duration::from_secs(u64::deserialize(d)?))
    }
}

/// Which attachments have their contents indexed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Settings {
    /// Extensions (lower case, no dot) whose contents are read.
    extensions: BTreeSet<String>,
    pub limits: Limits,
}

impl Settings {
    /// From group names (see [`GROUPS`]; `all` for every group) and other extensions (read as
    /// text unless Arkiv knows the format). An unknown group name is an error.
    pub fn new(groups: &[String], extensions: &[String], limits: Limits) -> Result<Self, String> {
        let mut set = BTreeSet::new();
        for g in groups {
            let g = g.trim().to_ascii_lowercase();
            if g == "all" {
                for (_, exts) in GROUPS {
                    set.extend(exts.iter().map(|e| e.to_string()));
                }
                continue;
            }
            match GROUPS.iter().find(|(name, _)| *name == g) {
                Some((_, exts)) => set.extend(exts.iter().map(|e| e.to_string())),
                None => {
                    let names: Vec<&str> = GROUPS.iter().map(|(n, _)| *n).collect();
                    return Err(format!(
                        "unknown file-type group {g:?}; the groups are {}, or all",
                        names.join(", ")
                    ));
                }
            }
        }
        for e in extensions {
            let e = e.trim().trim_start_matches('.').to_ascii_lowercase();
            if e.is_empty() || e.len() > 10 || !e.chars().all(|c| c.is_ascii_alphanumeric()) {
                return Err(format!(
                    "{e:?} is not a file extension (letters and digits, e.g. \"md\")"
                ));
            }
            set.insert(e);
        }
        Ok(Settings {
            extensions: set,
            limits,
        })
    }

    /// True if no attachment contents are read (the default: file names only).
    pub fn is_off(&self) -> bool {
        self.extensions.is_empty()
    }

    /// The extensions read, sorted (the manual's "Attachments currently indexed").
    pub fn extensions(&self) -> Vec<String> {
        self.extensions.iter().cloned().collect()
    }

    /// How to read an attachment, or `None` if its contents are not indexed. A file without
    /// a usable extension is judged by its content type.
    pub fn kind_of(&self, name: Option<&str>, content_type: &str) -> Option<Kind> {
        if self.is_off() {
            return None;
        }
        match extension(name) {
            Some(ext) if self.extensions.contains(&ext) => {
                Some(Kind::for_extension(&ext).unwrap_or(Kind::Text))
            }
            Some(ext) if Kind::for_extension(&ext).is_some() => None,
            _ => {
                let kind = Kind::for_content_type(content_type)?;
                self.extensions.contains(kind.extension()).then_some(kind)
            }
        }
    }

    /// A short fingerprint of what is read: an index built with another one needs a rebuild
    /// to apply the new settings to messages archived before.
    pub fn fingerprint(&self) -> String {
        if self.is_off() {
            return "names-only".into();
        }
        let list = self.extensions().join(" ");
        format!("contents:{list}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(groups: &[&str], exts: &[&str]) -> Settings {
        Settings::new(
            &groups.iter().map(|g| g.to_string()).collect::<Vec<_>>(),
            &exts.iter().map(|g| g.to_string()).collect::<Vec<_>>(),
            Limits::default(),
        )
        .unwrap()
    }

    #[test]
    fn default_reads_names_only() {
        let d = Settings::default();
        assert!(d.is_off());
        assert_eq!(d.kind_of(Some("a.pdf"), "application/pdf"), None);
        assert_eq!(d.fingerprint(), "names-only");
    }

    #[test]
    fn groups_and_extensions() {
        let st = s(&["pdf", "office"], &["md", ".LOG"]);
        assert_eq!(st.kind_of(Some("Report.PDF"), ""), Some(Kind::Pdf));
        assert_eq!(st.kind_of(Some("x.docx"), ""), Some(Kind::Docx));
        assert_eq!(st.kind_of(Some("notes.md"), ""), Some(Kind::Text));
        assert_eq!(st.kind_of(Some("a.log"), ""), Some(Kind::Text));
        assert_eq!(st.kind_of(Some("a.odt"), ""), None);
        assert_eq!(st.kind_of(Some("a.txt"), "text/plain"), None);
        // No extension: the content type decides, if its group is on.
        assert_eq!(st.kind_of(None, "application/pdf"), Some(Kind::Pdf));
        assert_eq!(st.kind_of(Some("noext"), "text/plain"), None);
        assert_eq!(
            st.fingerprint(),
            s(&["office", "pdf"], &["log", "md"]).fingerprint()
        );
        assert_ne!(st.fingerprint(), s(&["pdf"], &[]).fingerprint());
        let all = s(&["all"], &[]);
        assert_eq!(all.kind_of(Some("a.zip"), ""), Some(Kind::Zip));
        assert_eq!(all.kind_of(Some("a.msg"), ""), Some(Kind::Msg));
    }

    #[test]
    fn bad_settings_are_refused() {
        let e = Settings::new(&["pdfs".into()], &[], Limits::default()).unwrap_err();
        assert!(e.contains("pdfs") && e.contains("opendocument"), "{e}");
        let e = Settings::new(&[], &["a b".into()], Limits::default()).unwrap_err();
        assert!(e.contains("not a file extension"), "{e}");
    }
}
