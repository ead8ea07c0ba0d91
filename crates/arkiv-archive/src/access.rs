//! Who may do what: the one place that decides (manual §5.1 privileges, §5.11 archive access).
//!
//! Every front-end — the Administration API, the JSON API of the web, jobs (run as their
//! owner), `arkiv ... --user`, and the IMAP and SMTP services to come — acts for a [`Caller`]
//! and asks this module before it touches a message or a folder. The types carry the answers:
//! privileges are [`Privilege`]s, folder rights are [`FolderRights`] (no strings, no bits
//! elsewhere), and a message is only read through a [`Readable`] this module hands out.
//!
//! # The rules
//!
//! 1. **Own archive.** A user reads their own archive (read and write, not delete: manual §5.1).
//! 2. **Grants.** Other archives and folders only where a `read` folder right was granted; a
//!    grant covers the folder and its subfolders.
//! 3. **Administrators and compliance.** Administrators manage the server but do not read
//!    other users' mail: while `[compliance] admin_archive_access` is off (the default, §5.11
//!    "Archive Access: blocked"), an administrator reads only their own archive, whatever
//!    grants they hold. When it is on, they read every archive.
//! 4. **Moving mail across archives is reading it.** A folder moves or is renamed inside its
//!    archive by any administrator (the manual: administrators rename folders of archives they
//!    cannot see). A move into another archive needs archive access to both archives (the
//!    source's mail becomes readable to the destination's owner, and vice versa).
//! 5. **Deleting is not a way round reading.** Deleting a message needs read access to it
//!    first: an administrator blocked from an archive cannot delete its mail. A user also
//!    needs the global `delete` privilege and a `delete` folder right on the folder or one
//!    above it.
//! 6. **Granting is reading.** An administrator may grant or change folder rights on a folder
//!    only if they may read it: else a blocked administrator could give an account they control
//!    `read` on anyone's archive. Removing rights is always allowed (it only closes).
//! 7. **Exporting** (downloading a message's bytes) needs read access and `export`.
//! 8. **The local operator** (the CLI without `--user`: whoever holds the key file, which
//!    decrypts everything anyway) may do all of it.
//! 9. **Archiving profiles** (`mailboxes::profiles`): a user creates, changes and deletes their
//!    own profiles with `modifyArchiveProfiles` and runs them with `archive`, and only into
//!    their own archive; profiles that write into other archives (another target, multidrop,
//!    master password, CSV) and other users' profiles are administrators' (manual §2.3).
//!
//! Every refusal is an [`ArchiveError::Denied`] that names the rule; callers audit it.

use std::collections::BTreeSet;
use std::fmt;

use arkiv_types::{FolderId, MessageId, UserId};
use serde::{Deserialize, Serialize};

use crate::error::{ArchiveError, Result, invalid};
use crate::master::Archive;
use crate::users::UserRecord;

/// A global privilege of the manual (§5.1), besides `admin`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Privilege {
    Login,
    ChangePassword,
    Archive,
    ModifyArchiveProfiles,
    Export,
    ModifyExportProfiles,
    Delete,
}

impl Privilege {
    pub const ALL: [Privilege; 7] = [
        Privilege::Login,
        Privilege::ChangePassword,
        Privilege::Archive,
        Privilege::ModifyArchiveProfiles,
        Privilege::Export,
        Privilege::ModifyExportProfiles,
        Privilege::Delete,
    ];

    /// The manual's name (`CreateUser`'s `privileges`).
    pub fn name(self) -> &'static str {
        match self {
            Privilege::Login => "login",
            Privilege::ChangePassword => "changePassword",
            Privilege::Archive => "archive",
            Privilege::ModifyArchiveProfiles => "modifyArchiveProfiles",
            Privilege::Export => "export",
            Privilege::ModifyExportProfiles => "modifyExportProfiles",
            Privilege::Delete => "delete",
        }
    }

    /// By the manual's name, in any case.
    pub fn parse(name: &str) -> Option<Privilege> {
        Privilege::ALL
            .into_iter()
            .find(|p| p.name().eq_ignore_ascii_case(name))
    }
}

impl fmt::Display for Privilege {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A set of global privileges. Kept in user records as the manual's names (the records of
/// earlier versions hold exactly that); a name this version does not know is dropped.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(into = "Vec<String>", from = "Vec<String>")]
pub struct Privileges(BTreeSet<Privilege>);

impl Privileges {
    pub fn none() -> Privileges {
        Privileges::default()
    }

    pub fn of(list: &[Privilege]) -> Privileges {
        Privileges(list.iter().copied().collect())
    }

    pub fn contains(&self, p: Privilege) -> bool {
        self.0.contains(&p)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = Privilege> + '_ {
        self.0.iter().copied()
    }

    /// The manual's names, in the manual's order.
    pub fn names(&self) -> Vec<&'static str> {
        self.iter().map(Privilege::name).collect()
    }

    /// Parses the API's comma-separated list: `none`, `admin` (each alone), or privileges.
    /// Returns (admin, privileges).
    pub fn parse_list(list: &str) -> Result<(bool, Privileges)> {
        let items = crate::users::list_items(list);
        if items.is_empty() {
            return Err(invalid(
                "privileges",
                "empty: give none, admin, or a list such as login,export",
            ));
        }
        let mut out = Privileges::none();
        let mut admin = false;
        for it in &items {
            match *it {
                "none" | "admin" if items.len() > 1 => {
                    return Err(invalid(
                        "privileges",
                        format!("'{it}' must be the only value"),
                    ));
                }
                "none" => {}
                "admin" => admin = true,
                p => match Privilege::parse(p) {
                    Some(k) => {
                        out.0.insert(k);
                    }
                    None => {
                        let known: Vec<&str> = Privilege::ALL.iter().map(|p| p.name()).collect();
                        return Err(invalid(
                            "privileges",
                            format!(
                                "unknown privilege '{p}'; known: none, admin, {}",
                                known.join(", ")
                            ),
                        ));
                    }
                },
            }
        }
        Ok((admin, out))
    }
}

impl From<Vec<String>> for Privileges {
    fn from(v: Vec<String>) -> Self {
        Privileges(v.iter().filter_map(|s| Privilege::parse(s)).collect())
    }
}

impl From<Privileges> for Vec<String> {
    fn from(p: Privileges) -> Self {
        p.names().into_iter().map(str::to_string).collect()
    }
}

/// Rights on a folder of another archive (API `SetUserPrivilegesOnFolder`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FolderRights(u8);

impl FolderRights {
    pub const NONE: FolderRights = FolderRights(0);
    pub const READ: FolderRights = FolderRights(1);
    pub const WRITE: FolderRights = FolderRights(2);
    pub const DELETE: FolderRights = FolderRights(4);

    pub fn contains(self, other: FolderRights) -> bool {
        self.0 & other.0 == other.0 && other.0 != 0
    }

    pub fn is_none(self) -> bool {
        self.0 == 0
    }

    /// As kept in the master database's `folder_grants` table.
    pub(crate) fn bits(self) -> u8 {
        self.0
    }

    pub(crate) fn from_bits(bits: u8) -> FolderRights {
        FolderRights(bits & 7)
    }

    /// Parses the API's list: `none`, or any of `read`, `write`, `delete`.
    pub fn parse(list: &str) -> Result<FolderRights> {
        let items = crate::users::list_items(list);
        if items.is_empty() {
            return Err(invalid(
                "privileges",
                "empty: give none, or read, write, delete",
            ));
        }
        let mut bits = 0;
        for it in &items {
            bits |= match *it {
                "none" if items.len() == 1 => 0,
                "none" => return Err(invalid("privileges", "'none' must be the only value")),
                "read" => 1,
                "write" => 2,
                "delete" => 4,
                other => {
                    return Err(invalid(
                        "privileges",
                        format!(
                            "unknown folder privilege '{other}'; known: none, read, write, delete"
                        ),
                    ));
                }
            };
        }
        Ok(FolderRights(bits))
    }
}

impl fmt::Display for FolderRights {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = [(1, "read"), (2, "write"), (4, "delete")]
            .iter()
            .filter(|(b, _)| self.0 & b != 0)
            .map(|(_, n)| *n)
            .collect();
        if names.is_empty() {
            f.write_str("none")
        } else {
            f.write_str(&names.join(", "))
        }
    }
}

/// Through which door a caller came (for the audit log and the rules that differ by door).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Via {
    AdministrationApi,
    /// `arkiv admin`, the management shell (an Administration API client).
    ManagementShell,
    Web,
    /// A job run by the scheduler as its owner.
    Job,
    /// The command line on the server (the local operator, or `--user`).
    Cli,
    Imap,
    Smtp,
}

impl Via {
    pub fn as_str(self) -> &'static str {
        match self {
            Via::AdministrationApi => "AdministrationAPI",
            Via::ManagementShell => "ManagementShell",
            Via::Web => "WebAccess",
            Via::Job => "Job",
            Via::Cli => "CommandLine",
            Via::Imap => "IMAP",
            Via::Smtp => "SMTP",
        }
    }
}

/// Who acts: a user (as they were when authenticated) or the local operator.
#[derive(Clone, Debug)]
pub struct Caller {
    who: Who,
    pub via: Via,
    /// The client address, or `local`.
    pub client: String,
}

#[derive(Clone, Debug)]
enum Who {
    User {
        id: UserId,
        name: String,
        admin: bool,
        privileges: Privileges,
    },
    Operator,
}

impl Caller {
    /// The local operator: the command line without `--user`, run by whoever holds the key
    /// file (which decrypts everything anyway). Rule 8.
    pub fn operator() -> Caller {
        Caller {
            who: Who::Operator,
            via: Via::Cli,
            client: "local".into(),
        }
    }

    /// A user the front-end has authenticated (or the scheduler runs a job for, or the local
    /// operator acts as): see [`Archive::caller`].
    fn user(u: &UserRecord, via: Via, client: &str) -> Caller {
        Caller {
            who: Who::User {
                id: u.id,
                name: u.name.clone(),
                admin: u.admin,
                privileges: u.privileges.clone(),
            },
            via,
            client: client.to_string(),
        }
    }

    /// The user's name (`operator` for the local operator).
    pub fn name(&self) -> &str {
        match &self.who {
            Who::User { name, .. } => name,
            Who::Operator => "operator",
        }
    }

    pub fn user_id(&self) -> Option<UserId> {
        match &self.who {
            Who::User { id, .. } => Some(*id),
            Who::Operator => None,
        }
    }

    pub fn is_operator(&self) -> bool {
        matches!(self.who, Who::Operator)
    }

    pub fn is_admin(&self) -> bool {
        match &self.who {
            Who::User { admin, .. } => *admin,
            Who::Operator => true,
        }
    }

    /// Whether the caller holds a global privilege (administrators and the operator hold all).
    pub fn has(&self, p: Privilege) -> bool {
        match &self.who {
            Who::User {
                admin, privileges, ..
            } => *admin || privileges.contains(p),
            Who::Operator => true,
        }
    }

    /// Refuses unless the caller is an administrator (or the operator).
    pub fn require_admin(&self) -> Result<()> {
        if self.is_admin() {
            Ok(())
        } else {
            Err(denied(format!("'{}' is not an administrator", self.name())))
        }
    }

    /// Refuses unless the caller holds `p`.
    pub fn require(&self, p: Privilege) -> Result<()> {
        if self.has(p) {
            Ok(())
        } else {
            Err(denied(format!("'{}' has no '{p}' privilege", self.name())))
        }
    }
}

fn denied(why: String) -> ArchiveError {
    ArchiveError::Denied(why)
}

/// A message the caller may read: only this module makes one (rules 1–3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Readable {
    pub id: MessageId,
    pub folder: FolderId,
}

/// A message the caller may export, i.e. have its bytes (rule 7): only this module makes one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Exportable(Readable);

impl Exportable {
    pub fn id(&self) -> MessageId {
        self.0.id
    }
}

/// A message the caller may delete (rule 5): only this module makes one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Deletable(Readable);

impl Deletable {
    pub fn id(&self) -> MessageId {
        self.0.id
    }
}

/// The folders a caller may read (rules 1–3, 8).
#[derive(Clone, Debug)]
pub enum Scope {
    Everything,
    Folders(BTreeSet<FolderId>),
}

impl Scope {
    pub fn contains(&self, f: FolderId) -> bool {
        match self {
            Scope::Everything => true,
            Scope::Folders(s) => s.contains(&f),
        }
    }

    /// The folder ids, or `None` for everything.
    pub fn ids(&self) -> Option<Vec<FolderId>> {
        match self {
            Scope::Everything => None,
            Scope::Folders(s) => Some(s.iter().copied().collect()),
        }
    }
}

impl Archive {
    /// The caller for a user the front-end has authenticated, the scheduler runs a job for,
    /// or the local operator acts as (`--user`). The user's record is read now: privileges
    /// are as they are at this moment.
    pub fn caller(&self, name: &str, via: Via, client: &str) -> Result<Caller> {
        Ok(Caller::user(&self.user(name)?, via, client))
    }

    /// The caller for the owner of a job (by id: whatever their name is now).
    pub fn owner_caller(&self, id: UserId, via: Via, client: &str) -> Result<Caller> {
        Ok(Caller::user(&self.user_by_id(id)?, via, client))
    }

    /// The caller of a session opened earlier for user `id`: refused (as `NoSuchUser`) if
    /// the user is gone, renamed to another id, or no longer allowed to log on.
    pub fn session_caller(&self, name: &str, id: UserId, via: Via, client: &str) -> Result<Caller> {
        let u = self.user(name)?;
        if u.id != id {
            return Err(ArchiveError::NoSuchUser(name.to_string()));
        }
        Ok(Caller::user(&u, via, client))
    }

    /// Whether the caller reads every archive (the operator; administrators when compliance
    /// allows, rule 3).
    fn reads_everything(&self, caller: &Caller) -> bool {
        caller.is_operator()
            || (caller.is_admin()
                && self
                    .admin_archive_access
                    .load(std::sync::atomic::Ordering::SeqCst))
    }

    /// Every folder the caller may read.
    pub fn scope(&self, caller: &Caller) -> Result<Scope> {
        if self.reads_everything(caller) {
            return Ok(Scope::Everything);
        }
        let Who::User {
            id, name, admin, ..
        } = &caller.who
        else {
            return Ok(Scope::Everything);
        };
        let mut roots = Vec::new();
        if let Some(own) = self.find_folder(name, &arkiv_types::FolderPath::root())? {
            roots.push(own);
        }
        // Rule 3: while compliance blocks archive access, grants do not open other archives
        // to administrators (they could grant themselves anything).
        if !admin {
            for (folder, rights) in self.grants_of(*id)? {
                if rights.contains(FolderRights::READ) {
                    roots.push(folder);
                }
            }
        }
        let mut set = BTreeSet::new();
        for r in roots {
            set.extend(self.folder_subtree(r)?);
        }
        Ok(Scope::Folders(set))
    }

    /// Every folder the caller may read, as a list (the whole tree for "everything").
    pub fn readable_folders(&self, caller: &Caller) -> Result<Vec<FolderId>> {
        match self.scope(caller)? {
            Scope::Everything => {
                let mut all = Vec::new();
                for (root, _) in self.child_folders(None)? {
                    all.extend(self.folder_subtree(root)?);
                }
                Ok(all)
            }
            Scope::Folders(s) => Ok(s.into_iter().collect()),
        }
    }

    /// Whether the caller may read a folder (rules 1–3).
    pub fn may_read_folder(&self, caller: &Caller, folder: FolderId) -> Result<bool> {
        Ok(self.scope(caller)?.contains(folder))
    }

    /// A message the caller may read; one they may not read answers as one that does not
    /// exist (ids reveal nothing).
    pub fn readable(&self, caller: &Caller, id: MessageId) -> Result<Readable> {
        // Who reads everything learns why a message is not there; others learn nothing.
        let all = self.reads_everything(caller);
        let gone = |e: ArchiveError| {
            if all {
                e
            } else {
                ArchiveError::NoSuchMessage(id.to_string())
            }
        };
        let rec = self
            .store(id.store)
            .map_err(gone)?
            .message(id.num)
            .map_err(|e| gone(e.into()))?;
        if !self.may_read_folder(caller, rec.folder)? {
            return Err(ArchiveError::NoSuchMessage(id.to_string()));
        }
        Ok(Readable {
            id,
            folder: rec.folder,
        })
    }

    /// A message the caller may export (rule 7).
    pub fn exportable(&self, caller: &Caller, id: MessageId) -> Result<Exportable> {
        let r = self.readable(caller, id)?;
        caller.require(Privilege::Export).map_err(|_| {
            denied(format!(
                "'{}' has no 'export' privilege: downloading a message exports it",
                caller.name()
            ))
        })?;
        Ok(Exportable(r))
    }

    /// A message the caller may delete (rule 5).
    pub fn deletable(&self, caller: &Caller, id: MessageId) -> Result<Deletable> {
        let r = self.readable(caller, id).map_err(|e| match e {
            ArchiveError::NoSuchMessage(_) if caller.is_admin() => denied(format!(
                "message {id} is not in an archive '{}' may read (compliance: archive access \
                 is blocked for administrators), or does not exist",
                caller.name()
            )),
            e => e,
        })?;
        if caller.is_admin() {
            return Ok(Deletable(r));
        }
        if !caller.has(Privilege::Delete)
            || !self.has_right_above(caller, r.folder, FolderRights::DELETE)?
        {
            return Err(denied(format!(
                "'{}' may not delete here: it takes the 'delete' privilege and a 'delete' folder privilege",
                caller.name()
            )));
        }
        Ok(Deletable(r))
    }

    /// Whether the caller holds `right` on `folder` or a folder above it.
    fn has_right_above(
        &self,
        caller: &Caller,
        folder: FolderId,
        right: FolderRights,
    ) -> Result<bool> {
        let Some(uid) = caller.user_id() else {
            return Ok(true);
        };
        let grants = self.grants_of(uid)?;
        let mut cur = Some(folder);
        while let Some(f) = cur {
            if grants.iter().any(|(g, r)| *g == f && r.contains(right)) {
                return Ok(true);
            }
            cur = self.parent_folder(f)?;
        }
        Ok(false)
    }

    /// Whether the caller may move the folder `from` under the archive `to_archive` (rule 4).
    pub fn check_move(&self, caller: &Caller, from: FolderId, to_archive: &str) -> Result<()> {
        caller.require_admin()?;
        let (from_archive, _) = self.folder_location(from)?;
        if from_archive.eq_ignore_ascii_case(to_archive) || self.reads_everything(caller) {
            return Ok(());
        }
        let to_root = self.find_folder(to_archive, &arkiv_types::FolderPath::root())?;
        let from_root = self.find_folder(&from_archive, &arkiv_types::FolderPath::root())?;
        let scope = self.scope(caller)?;
        let reads = |f: Option<FolderId>| f.is_some_and(|f| scope.contains(f));
        if !reads(from_root) || !reads(to_root) {
            return Err(denied(format!(
                "moving mail from archive '{from_archive}' into archive '{to_archive}' discloses \
                 it: it needs archive access to both (compliance blocks administrators' access \
                 to other users' archives)"
            )));
        }
        Ok(())
    }

    /// Whether the caller may set `rights` for a user on `folder` (rule 6).
    pub fn check_grant(
        &self,
        caller: &Caller,
        folder: FolderId,
        rights: FolderRights,
    ) -> Result<()> {
        caller.require_admin()?;
        if rights.is_none() || self.may_read_folder(caller, folder)? {
            return Ok(());
        }
        let (archive, _) = self.folder_location(folder)?;
        Err(denied(format!(
            "granting rights on archive '{archive}' needs archive access to it: '{}' may not \
             read it (compliance blocks administrators' access to other users' archives)",
            caller.name()
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn privileges_parse_and_keep_the_manuals_names() {
        let (admin, p) = Privileges::parse_list("login, Export").unwrap();
        assert!(!admin);
        assert!(p.contains(Privilege::Login) && p.contains(Privilege::Export));
        assert!(!p.contains(Privilege::Delete));
        assert_eq!(p.names(), ["login", "export"]);
        assert!(Privileges::parse_list("admin").unwrap().0);
        assert!(Privileges::parse_list("admin,login").is_err());
        assert!(Privileges::parse_list("root").is_err());
        assert!(Privileges::parse_list("").is_err());
        // The wire format of user records: a list of names (unknown ones dropped).
        let bytes = postcard::to_stdvec(&p).unwrap();
        let as_strings: Vec<String> = postcard::from_bytes(&bytes).unwrap();
        assert_eq!(as_strings, ["login", "export"]);
        let back: Privileges =
            postcard::from_bytes(&postcard::to_stdvec(&vec!["delete", "future"]).unwrap()).unwrap();
        assert_eq!(back, Privileges::of(&[Privilege::Delete]));
    }

    #[test]
    fn folder_rights() {
        let r = FolderRights::parse("read, delete").unwrap();
        assert!(r.contains(FolderRights::READ) && r.contains(FolderRights::DELETE));
        assert!(!r.contains(FolderRights::WRITE));
        assert!(!r.contains(FolderRights::NONE));
        assert_eq!(r.to_string(), "read, delete");
        assert!(FolderRights::parse("none").unwrap().is_none());
        assert!(FolderRights::parse("none,read").is_err());
        assert!(FolderRights::parse("all").is_err());
    }

    #[test]
    fn callers() {
        let op = Caller::operator();
        assert!(op.is_admin() && op.has(Privilege::Delete) && op.require_admin().is_ok());
        let u = UserRecord {
            id: UserId(7),
            name: "alice".into(),
            full_name: None,
            emails: vec![],
            password_hash: None,
            admin: false,
            created_at: arkiv_types::Timestamp(0),
            privileges: Privileges::of(&[Privilege::Login]),
            authentication: Default::default(),
            distinguished_name: None,
            pop3_user_names: vec![],
        };
        let c = Caller::user(&u, Via::Web, "192.0.2.1");
        assert!(c.has(Privilege::Login) && !c.has(Privilege::Export));
        assert!(matches!(c.require_admin(), Err(ArchiveError::Denied(_))));
        assert!(matches!(
            c.require(Privilege::Export),
            Err(ArchiveError::Denied(_))
        ));
    }
}
