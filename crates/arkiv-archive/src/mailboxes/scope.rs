//! Which folders of a mailbox are archived, and which hold sent mail (manual §2.3 "Archiving
//! Specific Folders", "Defining Sent Items Folders").
//!
//! Folder paths are written with `/` between levels, whatever the server's delimiter
//! (`INBOX/Projects/Alpha`). A rule names a folder exactly (names are case-sensitive, as in
//! the manual) and, with `subfolders`, everything below it; a rule starting with `||` is a
//! regular expression matched case-sensitively anywhere in the path, `|i|` the same without
//! case (Rust `regex` syntax, which for such patterns is .NET's: classes, quantifiers,
//! anchors, alternation; no look-around or back-references).

use regex::Regex;
use serde::{Deserialize, Serialize};

use crate::error::{Result, invalid};

/// One include or exclude rule.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FolderRule {
    /// A folder path (`INBOX/Projects`), or `||regex` / `|i|regex`.
    pub name: String,
    /// The folders below it too (for a path; a regular expression decides alone).
    #[serde(default = "yes")]
    pub subfolders: bool,
}

fn yes() -> bool {
    true
}

/// The folder settings of a profile.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct FolderScope {
    /// Only these folders (empty: all folders).
    pub include: Vec<FolderRule>,
    /// Never these.
    pub exclude: Vec<FolderRule>,
    /// Leave out deleted items, drafts, junk and outbox folders (by SPECIAL-USE or by their
    /// usual names), and virtual all-mail/flagged folders, which only repeat the others.
    pub default_exclusions: bool,
    /// Folders holding sent mail, besides those the server marks `\Sent` (same rule syntax).
    pub sent_folders: Vec<FolderRule>,
    /// Take `\Sent` folders (RFC 6154 SPECIAL-USE) as sent folders.
    pub detect_sent: bool,
}

impl Default for FolderScope {
    fn default() -> Self {
        FolderScope {
            include: Vec::new(),
            exclude: Vec::new(),
            default_exclusions: true,
            sent_folders: Vec::new(),
            detect_sent: true,
        }
    }
}

/// Folder names left out by default (compared without case, the last level only).
const DEFAULT_EXCLUDED_NAMES: &[&str] = &[
    "Trash",
    "Deleted Items",
    "Deleted Messages",
    "Deleted",
    "Papierkorb",
    "Gelöschte Elemente",
    "Drafts",
    "Entwürfe",
    "Junk",
    "Junk E-mail",
    "Junk Email",
    "Spam",
    "Outbox",
    "Postausgang",
];

/// SPECIAL-USE attributes left out by default.
const DEFAULT_EXCLUDED_USES: &[&str] = &["\\Trash", "\\Drafts", "\\Junk", "\\All", "\\Flagged"];

/// A compiled rule.
enum Matcher {
    Path { name: String, subfolders: bool },
    Regex(Regex),
}

impl Matcher {
    fn new(rule: &FolderRule) -> Result<Matcher> {
        let (pattern, insensitive) = if let Some(p) = rule.name.strip_prefix("||") {
            (p, false)
        } else if let Some(p) = rule.name.strip_prefix("|i|") {
            (p, true)
        } else {
            let name = rule.name.trim().trim_matches('/').to_string();
            if name.is_empty() {
                return Err(invalid("folder rule", "an empty folder name"));
            }
            return Ok(Matcher::Path {
                name,
                subfolders: rule.subfolders,
            });
        };
        let r = regex::RegexBuilder::new(pattern)
            .case_insensitive(insensitive)
            .size_limit(1 << 20)
            .build()
            .map_err(|e| {
                invalid(
                    "folder rule",
                    format!("'{}' is not a regular expression: {e}", rule.name),
                )
            })?;
        Ok(Matcher::Regex(r))
    }

    fn matches(&self, path: &str) -> bool {
        match self {
            Matcher::Path { name, subfolders } => {
                path == name
                    || (*subfolders
                        && path.len() > name.len()
                        && path.starts_with(name.as_str())
                        && path.as_bytes()[name.len()] == b'/')
            }
            Matcher::Regex(r) => r.is_match(path),
        }
    }
}

/// The compiled scope of a profile.
pub struct Scope {
    include: Vec<Matcher>,
    exclude: Vec<Matcher>,
    sent: Vec<Matcher>,
    default_exclusions: bool,
    detect_sent: bool,
}

/// What the scope says about one folder.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FolderDecision {
    pub archived: bool,
    pub sent: bool,
    /// Why it is left out (empty when archived).
    pub reason: String,
}

impl Scope {
    /// Compiles the rules; a bad regular expression is an error naming it.
    pub fn new(s: &FolderScope) -> Result<Scope> {
        let compile = |rules: &[FolderRule]| -> Result<Vec<Matcher>> {
            rules.iter().map(Matcher::new).collect()
        };
        Ok(Scope {
            include: compile(&s.include)?,
            exclude: compile(&s.exclude)?,
            sent: compile(&s.sent_folders)?,
            default_exclusions: s.default_exclusions,
            detect_sent: s.detect_sent,
        })
    }

    /// Decides for the folder at `path` (levels joined with `/`) with its SPECIAL-USE.
    pub fn decide(
        &self,
        path: &str,
        special_use: Option<&str>,
        selectable: bool,
    ) -> FolderDecision {
        let sent = (self.detect_sent
            && special_use.is_some_and(|u| u.eq_ignore_ascii_case("\\Sent")))
            || self.sent.iter().any(|m| m.matches(path));
        let out = |archived: bool, reason: &str| FolderDecision {
            archived,
            sent,
            reason: reason.to_string(),
        };
        if !selectable {
            return out(false, "holds no messages (\\Noselect)");
        }
        if !self.include.is_empty() && !self.include.iter().any(|m| m.matches(path)) {
            return out(false, "not in the folders to include");
        }
        if self.exclude.iter().any(|m| m.matches(path)) {
            return out(false, "in the folders to exclude");
        }
        if self.default_exclusions {
            if let Some(u) = special_use
                && DEFAULT_EXCLUDED_USES
                    .iter()
                    .any(|x| x.eq_ignore_ascii_case(u))
            {
                return out(
                    false,
                    &format!(
                        "excluded by default ({u}; switch default exclusions off to archive it)"
                    ),
                );
            }
            let last = path.rsplit('/').next().unwrap_or(path);
            if DEFAULT_EXCLUDED_NAMES
                .iter()
                .any(|n| n.to_lowercase() == last.to_lowercase())
                && !sent
            {
                return out(
                    false,
                    "excluded by default (deleted items, drafts, junk or outbox; switch default exclusions off to archive it)",
                );
            }
        }
        out(true, "")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(name: &str, subfolders: bool) -> FolderRule {
        FolderRule {
            name: name.into(),
            subfolders,
        }
    }

    #[test]
    fn includes_excludes_and_default_exclusions() {
        let s = Scope::new(&FolderScope::default()).unwrap();
        assert!(s.decide("INBOX", None, true).archived);
        assert!(!s.decide("Trash", Some("\\Trash"), true).archived);
        assert!(!s.decide("INBOX/Deleted Items", None, true).archived);
        assert!(!s.decide("Gmail/All Mail", Some("\\All"), true).archived);
        assert!(!s.decide("Parent", None, false).archived);
        let d = s.decide("Sent", Some("\\Sent"), true);
        assert!(d.archived && d.sent);

        let s = Scope::new(&FolderScope {
            include: vec![rule("Archive", true)],
            exclude: vec![rule("Archive/Private", false)],
            ..FolderScope::default()
        })
        .unwrap();
        assert!(s.decide("Archive", None, true).archived);
        assert!(s.decide("Archive/2019", None, true).archived);
        assert!(!s.decide("Archive/Private", None, true).archived);
        assert!(
            s.decide("Archive/Private/Sub", None, true).archived,
            "exclusion without subfolders"
        );
        assert!(
            !s.decide("Archived", None, true).archived,
            "a prefix is not a parent"
        );
        assert!(
            !s.decide("archive", None, true).archived,
            "names are case-sensitive"
        );
        assert!(!s.decide("INBOX", None, true).archived);

        let s = Scope::new(&FolderScope {
            default_exclusions: false,
            ..FolderScope::default()
        })
        .unwrap();
        assert!(s.decide("Trash", Some("\\Trash"), true).archived);
    }

    #[test]
    fn regular_expressions_and_sent_folders() {
        let s = Scope::new(&FolderScope {
            include: vec![rule(r"||^Folder\d/Folder\d\.\d$", false)],
            sent_folders: vec![rule("|i|^gesendet", false)],
            ..FolderScope::default()
        })
        .unwrap();
        assert!(s.decide("Folder1/Folder1.1", None, true).archived);
        assert!(!s.decide("Folder1/Folder1.1/x", None, true).archived);
        assert!(!s.decide("folder1/Folder1.1", None, true).archived);
        assert!(s.decide("Gesendete Objekte", None, true).sent);
        let e = Scope::new(&FolderScope {
            include: vec![rule("||(unclosed", false)],
            ..FolderScope::default()
        })
        .err()
        .unwrap();
        assert!(e.to_string().contains("(unclosed"), "{e}");
    }
}
