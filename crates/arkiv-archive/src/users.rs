//! Users: the owners of user archives (manual §5.1).

use arkiv_types::{FolderPath, Timestamp, UserId};
use redb::ReadableTable;
use serde::{Deserialize, Serialize};

use crate::access::Privileges;
use crate::error::{ArchiveError, Result, invalid};
use crate::master::{Archive, USER_NAMES, USERS};

/// A user as stored (sealed) in the master database.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct UserRecord {
    pub id: UserId,
    pub name: String,
    pub full_name: Option<String>,
    /// Lower-cased; each address belongs to at most one user.
    pub emails: Vec<String>,
    #[serde(default)]
    pub password_hash: Option<String>,
    pub admin: bool,
    pub created_at: Timestamp,
    /// Global privileges besides `admin` (manual §5.1), kept as their names.
    pub privileges: Privileges,
    /// How the user logs on (API `SetUserAuthentication`).
    pub authentication: Authentication,
    /// The user's LDAP distinguished name (API `SetUserDistinguishedName`), kept for the
    /// directory synchronization.
    pub distinguished_name: Option<String>,
    /// The POP3 user names whose mail is this user's (API `SetUserPop3UserNames`), for
    /// archiving from POP3 mailboxes.
    pub pop3_user_names: Vec<String>,
}

/// How a user logs on (manual §5.1): with the password Arkiv keeps (`integrated`), or
/// against the directory service the user was synchronized from (`directoryServices`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Authentication {
    #[default]
    Integrated,
    DirectoryServices,
}

impl Authentication {
    /// The API's names: `integrated` or `directoryServices`.
    pub fn parse(s: &str) -> Result<Authentication> {
        match s {
            "integrated" => Ok(Authentication::Integrated),
            "directoryServices" => Ok(Authentication::DirectoryServices),
            other => Err(invalid(
                "authentication",
                format!("'{other}': give 'integrated' or 'directoryServices'"),
            )),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Authentication::Integrated => "integrated",
            Authentication::DirectoryServices => "directoryServices",
        }
    }
}

/// The user record as written before authentication, DN and POP3 names were kept: still read
/// (the new fields take their defaults) and rewritten in the new layout on the next change.
#[derive(Deserialize)]
#[cfg_attr(test, derive(Serialize))]
struct UserRecordV1 {
    id: UserId,
    name: String,
    full_name: Option<String>,
    emails: Vec<String>,
    password_hash: Option<String>,
    admin: bool,
    created_at: Timestamp,
    privileges: Vec<String>,
}

/// The user record as written before global privileges were kept (data directories of the
/// first archive-core stop): read with no privileges besides `admin`.
#[derive(Deserialize)]
#[cfg_attr(test, derive(Serialize))]
struct UserRecordV0 {
    id: UserId,
    name: String,
    full_name: Option<String>,
    emails: Vec<String>,
    password_hash: Option<String>,
    admin: bool,
    created_at: Timestamp,
}

impl From<UserRecordV0> for UserRecord {
    fn from(u: UserRecordV0) -> Self {
        UserRecordV1 {
            id: u.id,
            name: u.name,
            full_name: u.full_name,
            emails: u.emails,
            password_hash: u.password_hash,
            admin: u.admin,
            created_at: u.created_at,
            privileges: Vec::new(),
        }
        .into()
    }
}

impl From<UserRecordV1> for UserRecord {
    fn from(u: UserRecordV1) -> Self {
        UserRecord {
            id: u.id,
            name: u.name,
            full_name: u.full_name,
            emails: u.emails,
            password_hash: u.password_hash,
            admin: u.admin,
            created_at: u.created_at,
            privileges: u.privileges.into(),
            authentication: Authentication::Integrated,
            distinguished_name: None,
            pop3_user_names: Vec::new(),
        }
    }
}

/// The items of one of the API's comma-separated lists, trimmed, empty ones left out.
pub fn list_items(list: &str) -> Vec<&str> {
    list.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect()
}

/// What `add_user` takes.
#[derive(Clone, Debug, Default)]
pub struct NewUser {
    pub name: String,
    pub authentication: Authentication,
    pub distinguished_name: Option<String>,
    pub full_name: Option<String>,
    pub emails: Vec<String>,
    pub password: Option<String>,
    pub admin: bool,
    pub privileges: Privileges,
}

/// A user as shown to people and scripts (never the password hash).
#[derive(Clone, Debug, Serialize)]
pub struct UserView {
    pub name: String,
    pub full_name: Option<String>,
    pub emails: Vec<String>,
    pub admin: bool,
    pub has_password: bool,
    pub created_at: String,
}

impl From<&UserRecord> for UserView {
    fn from(u: &UserRecord) -> Self {
        UserView {
            name: u.name.clone(),
            full_name: u.full_name.clone(),
            emails: u.emails.clone(),
            admin: u.admin,
            has_password: u.password_hash.is_some(),
            created_at: u.created_at.to_rfc3339(),
        }
    }
}

pub(crate) fn validate_user_name(name: &str) -> Result<()> {
    let bad = |d: &str| Err(invalid("user name", format!("'{name}' {d}")));
    if name.trim().is_empty() {
        return bad("is empty");
    }
    if name != name.trim() {
        return bad("starts or ends with white space");
    }
    if name.chars().count() > 64 {
        return bad("is longer than 64 characters");
    }
    if name
        .chars()
        .any(|c| c.is_control() || c == '/' || c == '\\')
    {
        return bad("contains '/', '\\' or a control character");
    }
    Ok(())
}

fn normalize_email(e: &str) -> Result<String> {
    let e = e
        .trim()
        .trim_start_matches('<')
        .trim_end_matches('>')
        .to_lowercase();
    let ok = e
        .split_once('@')
        .is_some_and(|(l, d)| !l.is_empty() && !d.is_empty() && !d.contains('@'))
        && !e.chars().any(|c| c.is_whitespace() || c.is_control());
    if !ok {
        return Err(invalid(
            "email address",
            format!("'{e}' is not an address like name@example.com"),
        ));
    }
    Ok(e)
}

/// The one rule by which user names compare, everywhere (logon, lookups, creating and
/// renaming users, owners): Unicode compatibility normalization (NFKC), then lower case. So
/// names that look alike and must not be two accounts are one name: `Kim` with the KELVIN
/// SIGN and `kim`, `ﬁona` and `fiona`, full-width `ａｄｍｉｎ` and `admin`.
pub fn fold_name(name: &str) -> String {
    use unicode_normalization::UnicodeNormalization;
    let lower = name.nfkc().collect::<String>().to_lowercase();
    lower.nfkc().collect()
}

/// Whether two user names are the same name (see [`fold_name`]).
pub fn same_name(a: &str, b: &str) -> bool {
    a == b || fold_name(a) == fold_name(b)
}

impl Archive {
    fn name_key(&self, name: &str) -> [u8; 32] {
        self.names
            .hash_parts(&[b"user", fold_name(name).as_bytes()])
    }

    /// Makes the name index agree with the user records (after a change of the name rule):
    /// a user whose name key is missing gets it, unless another user holds that key (then
    /// the first created keeps the name; the other is reached by renaming it).
    pub(crate) fn rekey_user_names(&self) -> Result<()> {
        let users = self.users()?;
        let t = self.read_txn()?;
        let names = t.open_table(USER_NAMES).map_err(|e| self.dberr(e))?;
        let mut missing = Vec::new();
        for u in &users {
            if names
                .get(self.name_key(&u.name).as_slice())
                .map_err(|e| self.dberr(e))?
                .is_none()
            {
                missing.push((self.name_key(&u.name), u.id.0));
            }
        }
        drop(names);
        drop(t);
        if missing.is_empty() {
            return Ok(());
        }
        let txn = self.write_txn()?;
        {
            let mut names = txn.open_table(USER_NAMES).map_err(|e| self.dberr(e))?;
            for (key, id) in missing {
                names
                    .insert(key.as_slice(), id)
                    .map_err(|e| self.dberr(e))?;
            }
        }
        txn.commit().map_err(|e| self.dberr(e))
    }

    /// Creates a user and their archive (or gives them back the archive of a deleted user of
    /// the same name).
    pub fn add_user(&self, new: NewUser) -> Result<UserRecord> {
        validate_user_name(&new.name)?;
        let mut emails = Vec::new();
        for e in &new.emails {
            let e = normalize_email(e)?;
            if !emails.contains(&e) {
                emails.push(e);
            }
        }
        let existing = self.users()?;
        for u in &existing {
            if same_name(&u.name, &new.name) {
                return Err(ArchiveError::UserExists(new.name));
            }
            if let Some(e) = u.emails.iter().find(|e| emails.contains(e)) {
                return Err(invalid(
                    "email address",
                    format!("{e} already belongs to user '{}'", u.name),
                ));
            }
        }
        let password_hash = match &new.password {
            Some(p) => {
                crate::policy::check_password(&new.name, p).map_err(ArchiveError::WeakPassword)?;
                Some(arkiv_crypto::password::hash(p)?)
            }
            None => None,
        };
        let txn = self.write_txn()?;
        let id = UserId(self.next_id(&txn, "next_user")?);
        let rec = UserRecord {
            id,
            name: new.name.clone(),
            full_name: new.full_name.filter(|s| !s.trim().is_empty()),
            emails,
            password_hash,
            admin: new.admin,
            created_at: Timestamp::now(),
            privileges: new.privileges,
            authentication: new.authentication,
            distinguished_name: clean_dn(new.distinguished_name)?,
            pop3_user_names: Vec::new(),
        };
        let sealed = self.seal("users", id.0, &rec)?;
        txn.open_table(USERS)
            .map_err(|e| self.dberr(e))?
            .insert(id.0, sealed.as_slice())
            .map_err(|e| self.dberr(e))?;
        txn.open_table(USER_NAMES)
            .map_err(|e| self.dberr(e))?
            .insert(self.name_key(&new.name).as_slice(), id.0)
            .map_err(|e| self.dberr(e))?;
        self.ensure_folder_in(&txn, &new.name, &FolderPath::root())?;
        txn.commit().map_err(|e| self.dberr(e))?;
        Ok(rec)
    }

    /// Every user, sorted by name.
    pub fn users(&self) -> Result<Vec<UserRecord>> {
        let t = self.read_txn()?;
        let users = t.open_table(USERS).map_err(|e| self.dberr(e))?;
        let mut out = Vec::new();
        for r in users.iter().map_err(|e| self.dberr(e))? {
            let (k, v) = r.map_err(|e| self.dberr(e))?;
            out.push(self.open_user(k.value(), v.value())?);
        }
        out.sort_by_key(|u| fold_name(&u.name));
        Ok(out)
    }

    pub fn user(&self, name: &str) -> Result<UserRecord> {
        let t = self.read_txn()?;
        let names = t.open_table(USER_NAMES).map_err(|e| self.dberr(e))?;
        let id = names
            .get(self.name_key(name).as_slice())
            .map_err(|e| self.dberr(e))?
            .map(|v| v.value())
            .ok_or_else(|| ArchiveError::NoSuchUser(name.to_string()))?;
        let users = t.open_table(USERS).map_err(|e| self.dberr(e))?;
        let v = users
            .get(id)
            .map_err(|e| self.dberr(e))?
            .ok_or_else(|| ArchiveError::NoSuchUser(name.to_string()))?;
        self.open_user(id, v.value())
    }

    /// A user by id (a job's owner, a saved search's owner).
    pub fn user_by_id(&self, id: UserId) -> Result<UserRecord> {
        let t = self.read_txn()?;
        let users = t.open_table(USERS).map_err(|e| self.dberr(e))?;
        let v = users
            .get(id.0)
            .map_err(|e| self.dberr(e))?
            .ok_or_else(|| ArchiveError::NoSuchUser(format!("#{}", id.0)))?;
        self.open_user(id.0, v.value())
    }

    fn open_user(&self, id: u64, sealed: &[u8]) -> Result<UserRecord> {
        // Newest layout first: an older record is shorter, so a newer decoder runs out of
        // input on it, never misreads it.
        match self.open_sealed::<UserRecord>("users", id, sealed) {
            Ok(u) => Ok(u),
            Err(e) => self
                .open_sealed::<UserRecordV1>("users", id, sealed)
                .map(UserRecord::from)
                .or_else(|_| {
                    self.open_sealed::<UserRecordV0>("users", id, sealed)
                        .map(UserRecord::from)
                })
                .map_err(|_| e),
        }
    }

    /// Sets how a user logs on (API `SetUserAuthentication`).
    pub fn set_user_authentication(&self, name: &str, auth: Authentication) -> Result<()> {
        self.update_user(name, |u| u.authentication = auth)?;
        Ok(())
    }

    /// Sets or clears a user's LDAP distinguished name (API `SetUserDistinguishedName`).
    pub fn set_user_distinguished_name(&self, name: &str, dn: Option<String>) -> Result<()> {
        let dn = clean_dn(dn)?;
        self.update_user(name, |u| u.distinguished_name = dn)?;
        Ok(())
    }

    /// Replaces a user's POP3 user names (API `SetUserPop3UserNames`). A POP3 user name
    /// belongs to one user only: mail fetched under it is that user's.
    pub fn set_user_pop3_user_names(&self, name: &str, names: &[String]) -> Result<()> {
        let mut list: Vec<String> = Vec::new();
        for n in names.iter().map(|n| n.trim()).filter(|n| !n.is_empty()) {
            if n.chars().any(|c| c.is_control() || c.is_whitespace()) {
                return Err(invalid(
                    "POP3 user name",
                    format!("'{n}' contains white space or control characters"),
                ));
            }
            if !list.iter().any(|l| l.eq_ignore_ascii_case(n)) {
                list.push(n.to_string());
            }
        }
        let me = self.user(name)?;
        for u in self.users()?.iter().filter(|u| u.id != me.id) {
            if let Some(n) = u
                .pop3_user_names
                .iter()
                .find(|n| list.iter().any(|l| l.eq_ignore_ascii_case(n)))
            {
                return Err(invalid(
                    "POP3 user name",
                    format!("'{n}' already belongs to user '{}'", u.name),
                ));
            }
        }
        self.update_user(name, |u| u.pop3_user_names = list)?;
        Ok(())
    }

    /// Deletes a user. Their archive and its messages stay (manual §5.1).
    pub fn delete_user(&self, name: &str) -> Result<()> {
        let u = self.user(name)?;
        let txn = self.write_txn()?;
        txn.open_table(USERS)
            .map_err(|e| self.dberr(e))?
            .remove(u.id.0)
            .map_err(|e| self.dberr(e))?;
        txn.open_table(USER_NAMES)
            .map_err(|e| self.dberr(e))?
            .remove(self.name_key(name).as_slice())
            .map_err(|e| self.dberr(e))?;
        txn.commit().map_err(|e| self.dberr(e))?;
        self.auth.users_changed();
        Ok(())
    }

    /// Changes a user's record (not the name) under the same sealing.
    fn update_user(&self, name: &str, change: impl FnOnce(&mut UserRecord)) -> Result<UserRecord> {
        let mut u = self.user(name)?;
        change(&mut u);
        let sealed = self.seal("users", u.id.0, &u)?;
        let txn = self.write_txn()?;
        txn.open_table(USERS)
            .map_err(|e| self.dberr(e))?
            .insert(u.id.0, sealed.as_slice())
            .map_err(|e| self.dberr(e))?;
        txn.commit().map_err(|e| self.dberr(e))?;
        self.auth.users_changed();
        Ok(u)
    }

    /// Sets a user's password (the password policy applies).
    pub fn set_user_password(&self, name: &str, password: &str) -> Result<()> {
        crate::policy::check_password(name, password).map_err(ArchiveError::WeakPassword)?;
        let hash = arkiv_crypto::password::hash(password)?;
        self.update_user(name, |u| u.password_hash = Some(hash))?;
        Ok(())
    }

    /// Renames a user (API `RenameUser`), and with them their archive, the owner of their saved
    /// searches and of their jobs. Messages, grants and permissions follow by id.
    pub fn rename_user(&self, old: &str, new: &str) -> Result<()> {
        validate_user_name(new)?;
        let mut u = self.user(old)?;
        let root = self.find_folder(&u.name, &FolderPath::root())?;
        if !same_name(&u.name, new) {
            if self.users()?.iter().any(|o| same_name(&o.name, new)) {
                return Err(ArchiveError::UserExists(new.to_string()));
            }
            if self.find_folder(new, &FolderPath::root())?.is_some() {
                return Err(invalid(
                    "user name",
                    format!("an archive named '{new}' exists (of a deleted user)"),
                ));
            }
        }
        let old_name = std::mem::replace(&mut u.name, new.to_string());
        // Read with their older layouts understood, before the write transaction.
        let saved_before = self.saved_all()?;
        let jobs_before = self.jobs()?;
        let txn = self.write_txn()?;
        {
            let mut names = txn.open_table(USER_NAMES).map_err(|e| self.dberr(e))?;
            names
                .remove(self.name_key(&old_name).as_slice())
                .map_err(|e| self.dberr(e))?;
            names
                .insert(self.name_key(new).as_slice(), u.id.0)
                .map_err(|e| self.dberr(e))?;
            let sealed = self.seal("users", u.id.0, &u)?;
            txn.open_table(USERS)
                .map_err(|e| self.dberr(e))?
                .insert(u.id.0, sealed.as_slice())
                .map_err(|e| self.dberr(e))?;
        }
        if let Some(root) = root {
            self.rename_root_folder(&txn, root, &old_name, new)?;
        }
        // Owners are kept by id and need nothing; the names shown with them, and searches
        // saved "as" the user (by name), follow.
        let is_old = |n: &str| same_name(n, &old_name);
        let mut saved = Vec::new();
        for (id, mut s) in saved_before {
            let mut changed = s.owner_id == u.id && s.owner != new;
            if changed {
                s.owner = new.to_string();
            }
            // A search saved "as alice" searches as whoever alice is now.
            if s.criteria.user.as_deref().is_some_and(is_old) {
                s.criteria.user = Some(new.to_string());
                changed = true;
            }
            if changed {
                saved.push((id, s));
            }
        }
        self.reseal(&txn, crate::saved::SAVED, "saved_searches", &saved)?;
        let jobs: Vec<(u64, crate::jobs::Job)> = jobs_before
            .into_iter()
            .filter(|j| j.owner_id == u.id)
            .map(|mut j| {
                j.owner = new.to_string();
                (j.id, j)
            })
            .collect();
        self.reseal(&txn, crate::jobs::JOBS, "jobs", &jobs)?;
        txn.commit().map_err(|e| self.dberr(e))?;
        self.auth.users_changed();
        // The archive's new name goes into the stores' folder names.
        self.sync_all_store_folders()
    }

    /// Seals and writes records of `table` (in the newest layout).
    fn reseal<T: Serialize>(
        &self,
        txn: &redb::WriteTransaction,
        table: redb::TableDefinition<u64, &[u8]>,
        name: &str,
        records: &[(u64, T)],
    ) -> Result<()> {
        let mut t = txn.open_table(table).map_err(|e| self.dberr(e))?;
        for (k, rec) in records {
            let v = self.seal(name, *k, rec)?;
            t.insert(*k, v.as_slice()).map_err(|e| self.dberr(e))?;
        }
        Ok(())
    }

    /// Sets (or, with `None`, clears) a user's full name.
    pub fn set_user_full_name(&self, name: &str, full_name: Option<String>) -> Result<()> {
        self.update_user(name, |u| {
            u.full_name = full_name.filter(|s| !s.trim().is_empty())
        })?;
        Ok(())
    }

    /// Replaces a user's email addresses; each address belongs to one user only.
    pub fn set_user_emails(&self, name: &str, emails: &[String]) -> Result<()> {
        let mut list = Vec::new();
        for e in emails {
            let e = normalize_email(e)?;
            if !list.contains(&e) {
                list.push(e);
            }
        }
        let me = self.user(name)?;
        for u in self.users()?.iter().filter(|u| u.id != me.id) {
            if let Some(e) = u.emails.iter().find(|e| list.contains(e)) {
                return Err(invalid(
                    "email address",
                    format!("{e} already belongs to user '{}'", u.name),
                ));
            }
        }
        self.update_user(name, |u| u.emails = list)?;
        Ok(())
    }

    /// Sets a user's global privileges (see [`Privileges::parse_list`]).
    pub fn set_user_privileges(
        &self,
        name: &str,
        admin: bool,
        privileges: Privileges,
    ) -> Result<()> {
        self.update_user(name, |u| {
            u.admin = admin;
            u.privileges = privileges;
        })?;
        Ok(())
    }

    /// Checks a user's password (constant work whether or not the user exists). A user who
    /// logs on through a directory service has no password here: always false.
    pub fn check_password(&self, name: &str, password: &str) -> Result<bool> {
        self.check_password_in(name, password, &mut Default::default())
    }

    /// [`Archive::check_password`] computing in a kept workspace (`crate::auth`).
    pub(crate) fn check_password_in(
        &self,
        name: &str,
        password: &str,
        ws: &mut arkiv_crypto::password::Workspace,
    ) -> Result<bool> {
        match self.user(name) {
            Ok(u) => {
                // A user without a password costs the same time as one with.
                let hash = u.password_hash.as_deref().unwrap_or(DUMMY_HASH);
                let ok = arkiv_crypto::password::verify_in(password, hash, ws)
                    && u.password_hash.is_some();
                Ok(ok && u.authentication == Authentication::Integrated)
            }
            Err(ArchiveError::NoSuchUser(_)) => {
                let _ = arkiv_crypto::password::verify_in(password, DUMMY_HASH, ws);
                Ok(false)
            }
            Err(e) => Err(e),
        }
    }
}

/// An Argon2id hash nothing matches, verified when there is no real one to verify (so that
/// the time taken does not tell whether a user exists or has a password).
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";

/// Checks an LDAP distinguished name's shape (`attr=value` pairs separated by commas); empty
/// means none.
fn clean_dn(dn: Option<String>) -> Result<Option<String>> {
    let Some(dn) = dn.map(|d| d.trim().to_string()).filter(|d| !d.is_empty()) else {
        return Ok(None);
    };
    // Split at commas not escaped with a backslash (RFC 4514: `CN=Doe\, John`).
    let mut rdns = vec![String::new()];
    let mut escaped = false;
    for c in dn.chars() {
        match c {
            ',' if !escaped => rdns.push(String::new()),
            c => rdns.last_mut().expect("never empty").push(c),
        }
        escaped = c == '\\' && !escaped;
    }
    let ok = dn.len() <= 1024
        && !dn.chars().any(char::is_control)
        && rdns.iter().all(|rdn| {
            rdn.split_once('=')
                .is_some_and(|(a, v)| !a.trim().is_empty() && !v.trim().is_empty())
        });
    if !ok {
        return Err(invalid(
            "distinguished name",
            format!("'{dn}' is not an LDAP DN such as CN=Alice,OU=Staff,DC=example,DC=com"),
        ));
    }
    Ok(Some(dn))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each older layout fails the newer decoders (it is shorter) and reads with its own.
    #[test]
    fn older_user_records_are_read_by_their_own_layout() {
        let v0 = UserRecordV0 {
            id: UserId(3),
            name: "ann".into(),
            full_name: Some("Ann".into()),
            emails: vec!["ann@example.com".into()],
            password_hash: None,
            admin: true,
            created_at: Timestamp(5),
        };
        let bytes = postcard::to_stdvec(&v0).unwrap();
        assert!(postcard::from_bytes::<UserRecord>(&bytes).is_err());
        assert!(postcard::from_bytes::<UserRecordV1>(&bytes).is_err());
        let u: UserRecord = postcard::from_bytes::<UserRecordV0>(&bytes).unwrap().into();
        assert_eq!((u.name.as_str(), u.admin), ("ann", true));
        assert!(u.privileges.is_empty());
        let v1 = UserRecordV1 {
            id: UserId(4),
            name: "bo".into(),
            full_name: None,
            emails: vec![],
            password_hash: Some("h".into()),
            admin: false,
            created_at: Timestamp(6),
            privileges: vec!["login".into()],
        };
        let bytes = postcard::to_stdvec(&v1).unwrap();
        assert!(postcard::from_bytes::<UserRecord>(&bytes).is_err());
        let u: UserRecord = postcard::from_bytes::<UserRecordV1>(&bytes).unwrap().into();
        assert_eq!(u.privileges.names(), ["login"]);
        assert_eq!(u.authentication, Authentication::Integrated);
    }
}
