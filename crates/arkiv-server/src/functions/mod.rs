//! The Administration API's functions (manual §7.2), one module per domain: [`users`],
//! [`folders`] (and their messages), [`stores`], [`indexes`], [`jobs`], [`profiles`]
//! (archiving from mail servers), [`maintenance`], [`service`], [`compliance`]. Names, argument names and values are exactly the manual's.
//!
//! Each module holds a table of [`Function`]s; together they are the one table that
//! `get-metadata` and the OpenAPI description ([`describe`]) print and that [`Args::new`]
//! checks calls against. A function receives the authenticated [`Caller`] in its [`Args`]
//! and answers a JSON value or a transport-free [`FnError`]; the access rules are the
//! archive's (`arkiv_archive::access`), asked through its typed API.

pub mod compliance;
pub mod describe;
pub mod folders;
pub mod indexes;
pub mod jobs;
pub mod maintenance;
pub mod profiles;
pub mod service;
pub mod stores;
pub mod users;

use std::collections::HashMap;
use std::sync::Arc;

use arkiv_archive::access::Caller;
use serde_json::Value;

use crate::AppState;
pub use crate::error::FnError;
use crate::tasks::Task;

pub type Quick = fn(&Arc<AppState>, &Args) -> Result<Value, FnError>;
pub type Long = fn(&Arc<AppState>, &Args, &Task) -> Result<Value, FnError>;

#[derive(Clone, Copy)]
pub enum Run {
    Quick(Quick),
    /// Returns a token at once; `get-status` follows it.
    Long(Long),
}

#[derive(Clone, Copy)]
pub enum Type {
    String,
    Number,
    Bool,
}

impl Type {
    pub fn name(self) -> &'static str {
        match self {
            Type::String => "string",
            Type::Number => "number",
            Type::Bool => "bool",
        }
    }
}

pub struct Arg {
    pub name: &'static str,
    pub ty: Type,
    pub optional: bool,
}

pub struct Function {
    pub name: &'static str,
    pub description: &'static str,
    pub args: &'static [Arg],
    pub run: Run,
}

pub(crate) const fn req(name: &'static str, ty: Type) -> Arg {
    Arg {
        name,
        ty,
        optional: false,
    }
}

pub(crate) const fn opt(name: &'static str, ty: Type) -> Arg {
    Arg {
        name,
        ty,
        optional: true,
    }
}

/// Every function, domain by domain.
pub fn all() -> impl Iterator<Item = &'static Function> {
    [
        service::FUNCTIONS,
        compliance::FUNCTIONS,
        users::FUNCTIONS,
        folders::FUNCTIONS,
        stores::FUNCTIONS,
        indexes::FUNCTIONS,
        jobs::FUNCTIONS,
        profiles::FUNCTIONS,
        maintenance::FUNCTIONS,
    ]
    .into_iter()
    .flatten()
}

pub fn find(name: &str) -> Option<&'static Function> {
    all().find(|f| f.name == name)
}

/// A call's arguments, checked against the function's table: unknown names, missing required
/// ones and values of the wrong type are refused before the function runs.
pub struct Args {
    values: HashMap<String, String>,
    /// Who calls (a job's owner when a job runs).
    pub caller: Caller,
}

impl Args {
    pub fn new(f: &Function, form: Vec<(String, String)>, caller: Caller) -> Result<Args, FnError> {
        // The Administration API is for administrators (a job runs as its owner, who must
        // still be one): the access rules say so once, here, for every function.
        caller.require_admin()?;
        let mut values = HashMap::new();
        for (k, v) in form {
            let Some(arg) = f.args.iter().find(|a| a.name == k) else {
                let known: Vec<&str> = f.args.iter().map(|a| a.name).collect();
                return Err(FnError::bad_argument(if known.is_empty() {
                    format!("{} takes no arguments (got '{k}')", f.name)
                } else {
                    format!(
                        "{} has no argument '{k}'; its arguments: {}",
                        f.name,
                        known.join(", ")
                    )
                }));
            };
            let ok = match arg.ty {
                Type::String => true,
                Type::Number => v.trim().parse::<i64>().is_ok(),
                Type::Bool => matches!(v.trim().to_ascii_lowercase().as_str(), "true" | "false"),
            };
            if !ok {
                return Err(FnError::bad_argument(format!(
                    "argument '{k}' must be a {} (got '{v}')",
                    arg.ty.name()
                )));
            }
            if values.insert(k.clone(), v).is_some() {
                return Err(FnError::bad_argument(format!("argument '{k}' given twice")));
            }
        }
        for a in f.args.iter().filter(|a| !a.optional) {
            if !values.contains_key(a.name) {
                return Err(FnError::bad_argument(format!(
                    "{} needs the argument '{}' ({})",
                    f.name,
                    a.name,
                    a.ty.name()
                )));
            }
        }
        Ok(Args { values, caller })
    }

    pub fn str(&self, name: &str) -> &str {
        self.values
            .get(name)
            .map(String::as_str)
            .unwrap_or_default()
    }

    pub fn opt(&self, name: &str) -> Option<&str> {
        self.values
            .get(name)
            .map(String::as_str)
            .filter(|s| !s.is_empty())
    }

    pub fn number(&self, name: &str) -> i64 {
        self.values
            .get(name)
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or_default()
    }

    pub fn bool_or(&self, name: &str, default: bool) -> bool {
        self.values
            .get(name)
            .map(|v| v.trim().eq_ignore_ascii_case("true"))
            .unwrap_or(default)
    }
}

/// A store id argument (`id` by default).
pub(crate) fn store_arg(a: &Args, name: &str) -> Result<arkiv_types::StoreId, FnError> {
    u32::try_from(a.number(name))
        .map(arkiv_types::StoreId)
        .map_err(|_| FnError::not_found(format!("no archive store #{}", a.number(name))))
}

/// Progress of a (done, total) count as a task percentage.
pub(crate) fn percent(task: &Task, done: u64, total: u64) {
    if let Some(p) = (done * 100).checked_div(total) {
        task.progress(p.min(100) as u8);
    }
}

/// Arguments the manual documents for database-server archive stores (SQL Server,
/// PostgreSQL): accepted, and refused with a clear message while Arkiv keeps stores in the
/// file system only.
pub(crate) const SERVER_STORE_ARGS: [&str; 4] =
    ["serverName", "userName", "password", "databaseName"];

pub(crate) fn refuse_server_store_args(a: &Args) -> Result<(), FnError> {
    for name in SERVER_STORE_ARGS {
        if a.opt(name).is_some() {
            return Err(FnError::failed(format!(
                "{name} applies to archive stores on a database server (SQL Server, PostgreSQL), \
                 which this version does not offer yet: use FileSystemInternal"
            )));
        }
    }
    Ok(())
}

/// The archive store type argument: FileSystemInternal only, for now.
pub(crate) fn store_type(a: &Args) -> Result<(), FnError> {
    match a.opt("type") {
        None | Some("FileSystemInternal") => Ok(()),
        Some(t @ ("SQLServer" | "PostgreSQL")) => Err(FnError::failed(format!(
            "archive store type '{t}' is not available in this version; use FileSystemInternal"
        ))),
        Some(t) => Err(FnError::bad_argument(format!(
            "type must be FileSystemInternal, SQLServer or PostgreSQL (got '{t}')"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every argument the manual (§7.2) documents for a function Arkiv offers is accepted, with
    /// the manual's type, and none that the manual calls optional is required here.
    #[test]
    fn every_argument_of_the_manual_is_accepted() {
        let manual = include_str!("../../tests/fixtures/manual-7.2-arguments.tsv");
        let mut checked = 0;
        for line in manual.lines().filter(|l| !l.starts_with('#')) {
            let cols: Vec<&str> = line.split('\t').collect();
            let [function, arg, ty, need] = cols[..] else {
                panic!("bad fixture line {line:?}");
            };
            let Some(f) = find(function) else { continue };
            if arg == "-" {
                continue;
            }
            let ours = f
                .args
                .iter()
                .find(|a| a.name == arg)
                .unwrap_or_else(|| panic!("{function} does not accept the manual's '{arg}'"));
            let ty_ok = matches!(
                (ty, ours.ty),
                ("string" | "json", Type::String)
                    | ("number", Type::Number)
                    | ("bool" | "boolean", Type::Bool)
            );
            assert!(ty_ok, "{function}.{arg}: manual says {ty}");
            assert!(
                need == "required" || ours.optional,
                "{function}.{arg} is optional in the manual but required here"
            );
            checked += 1;
        }
        assert!(checked > 100, "only {checked} arguments checked");
    }
}
