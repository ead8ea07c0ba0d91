use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Why a textual id could not be parsed.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ParseIdError(String);

/// An archive store, numbered from 1 in creation order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct StoreId(pub u32);

impl fmt::Display for StoreId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl FromStr for StoreId {
    type Err = ParseIdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        s.trim().parse::<u32>().map(StoreId).map_err(|_| {
            ParseIdError(format!(
                "'{s}' is not a store id (expected a number such as 1)"
            ))
        })
    }
}

/// A user of the archive (and owner of one user archive).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct UserId(pub u64);

/// A folder in the master database's folder tree. Root folders are user archives.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct FolderId(pub u64);

/// One archived message: a placement of content in a folder, `<store_id>:<message_num>`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct MessageId {
    pub store: StoreId,
    pub num: u64,
}

impl MessageId {
    pub fn new(store: StoreId, num: u64) -> Self {
        MessageId { store, num }
    }
}

impl fmt::Display for MessageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.store.0, self.num)
    }
}

impl FromStr for MessageId {
    type Err = ParseIdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || {
            ParseIdError(format!(
                "'{s}' is not a message id (expected <store>:<number>, e.g. 2:1000)"
            ))
        };
        let (store, num) = s.trim().split_once(':').ok_or_else(bad)?;
        Ok(MessageId {
            store: StoreId(store.parse().map_err(|_| bad())?),
            num: num.parse().map_err(|_| bad())?,
        })
    }
}

/// The BLAKE3 hash of a message's exact original bytes.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ContentHash(pub [u8; 32]);

impl ContentHash {
    pub fn of(bytes: &[u8]) -> Self {
        ContentHash(*blake3::hash(bytes).as_bytes())
    }
    pub fn to_hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }
}

impl fmt::Debug for ContentHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ContentHash({})", self.to_hex())
    }
}

impl fmt::Display for ContentHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

/// A folder inside a user archive: a list of names, shown joined by `/`.
///
/// The empty path is the archive's root. Names are kept exactly (case-sensitive, any Unicode);
/// a `/` inside a source folder name is replaced by `∕` (U+2215) so that paths stay unambiguous.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct FolderPath(Vec<String>);

impl FolderPath {
    pub fn root() -> Self {
        FolderPath(Vec::new())
    }

    /// Builds a path from raw source folder names, dropping empty names.
    pub fn from_names<I, S>(names: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        FolderPath(
            names
                .into_iter()
                .map(|n| n.as_ref().trim().replace('/', "\u{2215}"))
                .filter(|n| !n.is_empty())
                .collect(),
        )
    }

    /// Parses `A/B/C` (leading/trailing slashes ignored).
    pub fn parse(s: &str) -> Self {
        FolderPath::from_names(s.split('/'))
    }

    pub fn names(&self) -> &[String] {
        &self.0
    }

    pub fn is_root(&self) -> bool {
        self.0.is_empty()
    }

    pub fn join(&self, other: &FolderPath) -> FolderPath {
        let mut v = self.0.clone();
        v.extend(other.0.iter().cloned());
        FolderPath(v)
    }

    pub fn child(&self, name: &str) -> FolderPath {
        self.join(&FolderPath::from_names([name]))
    }

    pub fn starts_with(&self, prefix: &FolderPath) -> bool {
        self.0.starts_with(&prefix.0)
    }
}

impl fmt::Display for FolderPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.join("/"))
    }
}

/// The status of an archive store (manual §5.15 "Setting the Status").
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum StoreStatus {
    /// "Archive here": the one store new messages are written to.
    Current,
    /// Readable, messages may be moved or deleted.
    Normal,
    /// Readable only: nothing is moved, deleted or added.
    WriteProtected,
    /// Not part of the archive until enabled again.
    Disabled,
}

impl StoreStatus {
    pub fn as_str(&self) -> &'static str {
        match self {
            StoreStatus::Current => "current",
            StoreStatus::Normal => "normal",
            StoreStatus::WriteProtected => "writeProtected",
            StoreStatus::Disabled => "disabled",
        }
    }
    pub fn is_readable(&self) -> bool {
        !matches!(self, StoreStatus::Disabled)
    }
    pub fn is_writable(&self) -> bool {
        matches!(self, StoreStatus::Current | StoreStatus::Normal)
    }
}

impl fmt::Display for StoreStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for StoreStatus {
    type Err = ParseIdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().replace(['-', '_'], "").as_str() {
            "current" | "archivehere" => Ok(StoreStatus::Current),
            "normal" => Ok(StoreStatus::Normal),
            "writeprotected" | "readonly" => Ok(StoreStatus::WriteProtected),
            "disabled" => Ok(StoreStatus::Disabled),
            _ => Err(ParseIdError(format!(
                "'{s}' is not a store status (current, normal, writeProtected, disabled)"
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_id_round_trips_and_rejects_garbage() {
        let id: MessageId = "2:1000".parse().unwrap();
        assert_eq!(id, MessageId::new(StoreId(2), 1000));
        assert_eq!(id.to_string(), "2:1000");
        for bad in ["", "2", ":1", "a:b", "2:-1", "1:2:3"] {
            assert!(bad.parse::<MessageId>().is_err(), "{bad}");
        }
    }

    #[test]
    fn folder_paths_are_unambiguous() {
        let p = FolderPath::from_names(["Inbox", "a/b", " ", "Sub"]);
        assert_eq!(p.to_string(), "Inbox/a\u{2215}b/Sub");
        assert_eq!(
            FolderPath::parse("/Inbox//Sub/"),
            FolderPath::from_names(["Inbox", "Sub"])
        );
        assert!(FolderPath::parse("Inbox/Sub").starts_with(&FolderPath::parse("Inbox")));
    }

    #[test]
    fn store_status_parses_manual_names() {
        assert_eq!(
            "writeProtected".parse::<StoreStatus>().unwrap(),
            StoreStatus::WriteProtected
        );
        assert_eq!(
            "archive-here".parse::<StoreStatus>().unwrap(),
            StoreStatus::Current
        );
        assert!("locked?".parse::<StoreStatus>().is_err());
    }
}
