//! Users: the owners of user archives (manual §5.1).

use arkiv_types::{FolderPath, Timestamp, UserId};
use redb::ReadableTable;
use serde::{Deserialize, Serialize};

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
    /// Global privileges besides `admin` (manual §5.1): `login`, `changePassword`, `archive`,
    /// `modifyArchiveProfiles`, `export`, `modifyExportProfiles`, `delete`.
    pub privileges: Vec<String>,
}

/// The global privileges of the manual (§5.1, API `CreateUser`), besides `admin` and `none`.
pub const PRIVILEGES: &[&str] = &[
    "login",
    "changePassword",
    "archive",
    "modifyArchiveProfiles",
    "export",
    "modifyExportProfiles",
    "delete",
];

/// Parses the API's comma-separated privilege list: `none`, `admin` (each alone), or any of
/// [`PRIVILEGES`]. Returns (admin, other privileges).
pub fn parse_privileges(list: &str) -> Result<(bool, Vec<String>)> {
    let items: Vec<&str> = list
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    if items.is_empty() {
        return Err(invalid(
            "privileges",
            "empty: give none, admin, or a list such as login,export",
        ));
    }
    let mut out = Vec::new();
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
            p => match PRIVILEGES.iter().find(|k| k.eq_ignore_ascii_case(p)) {
                Some(k) if !out.iter().any(|o: &String| o == k) => out.push(k.to_string()),
                Some(_) => {}
                None => {
                    return Err(invalid(
                        "privileges",
                        format!(
                            "unknown privilege '{p}'; known: none, admin, {}",
                            PRIVILEGES.join(", ")
                        ),
                    ));
                }
            },
        }
    }
    Ok((admin, out))
}

/// What `add_user` takes.
#[derive(Clone, Debug, Default)]
pub struct NewUser {
    pub name: String,
    pub full_name: Option<String>,
    pub emails: Vec<String>,
    pub password: Option<String>,
    pub admin: bool,
    pub privileges: Vec<String>,
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

impl Archive {
    fn name_key(&self, name: &str) -> [u8; 32] {
        self.names
            .hash_parts(&[b"user", name.to_lowercase().as_bytes()])
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
            if u.name.eq_ignore_ascii_case(&new.name) {
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
            out.push(self.open_sealed::<UserRecord>("users", k.value(), v.value())?);
        }
        out.sort_by_key(|u| u.name.to_lowercase());
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
        self.open_sealed("users", id, v.value())
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
        txn.commit().map_err(|e| self.dberr(e))
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
        if !u.name.eq_ignore_ascii_case(new) {
            if self.user(new).is_ok() {
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
        let is_old = |n: &str| n.eq_ignore_ascii_case(&old_name);
        self.rename_in(
            &txn,
            crate::saved::SAVED,
            "saved_searches",
            |s: &mut crate::saved::SavedSearch| {
                let mut changed = false;
                if is_old(&s.owner) {
                    s.owner = new.to_string();
                    changed = true;
                }
                // A search saved "as alice" searches as whoever alice is now.
                if s.criteria.user.as_deref().is_some_and(is_old) {
                    s.criteria.user = Some(new.to_string());
                    changed = true;
                }
                changed
            },
        )?;
        self.rename_in(
            &txn,
            crate::jobs::JOBS,
            "jobs",
            |j: &mut crate::jobs::Job| {
                let hit = is_old(&j.owner);
                if hit {
                    j.owner = new.to_string();
                }
                hit
            },
        )?;
        txn.commit().map_err(|e| self.dberr(e))
    }

    /// Re-seals every record of `table` that `change` changed (it returns true for those).
    fn rename_in<T: Serialize + serde::de::DeserializeOwned>(
        &self,
        txn: &redb::WriteTransaction,
        table: redb::TableDefinition<u64, &[u8]>,
        name: &str,
        change: impl Fn(&mut T) -> bool,
    ) -> Result<()> {
        let mut t = txn.open_table(table).map_err(|e| self.dberr(e))?;
        let mut changed = Vec::new();
        for r in t.iter().map_err(|e| self.dberr(e))? {
            let (k, v) = r.map_err(|e| self.dberr(e))?;
            let mut rec: T = self.open_sealed(name, k.value(), v.value())?;
            if change(&mut rec) {
                changed.push((k.value(), self.seal(name, k.value(), &rec)?));
            }
        }
        for (k, v) in changed {
            t.insert(k, v.as_slice()).map_err(|e| self.dberr(e))?;
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

    /// Sets a user's global privileges (see [`parse_privileges`]).
    pub fn set_user_privileges(
        &self,
        name: &str,
        admin: bool,
        privileges: Vec<String>,
    ) -> Result<()> {
        self.update_user(name, |u| {
            u.admin = admin;
            u.privileges = privileges;
        })?;
        Ok(())
    }

    /// Checks a user's password (constant work whether or not the user exists).
    pub fn check_password(&self, name: &str, password: &str) -> Result<bool> {
        match self.user(name) {
            Ok(u) => Ok(u
                .password_hash
                .as_deref()
                .is_some_and(|h| arkiv_crypto::password::verify(password, h))),
            Err(ArchiveError::NoSuchUser(_)) => {
                let _ = arkiv_crypto::password::verify(
                    password,
                    "$argon2id$v=19$m=19456,t=2,p=1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
                );
                Ok(false)
            }
            Err(e) => Err(e),
        }
    }
}
