//! The Administration API functions (manual §7.2) that exist so far: names, argument names
//! and values exactly as the manual has them. `get-metadata` lists exactly this table.

use std::collections::HashMap;
use std::sync::Arc;

use arkiv_archive::users::Authentication;
use arkiv_types::StoreId;
use serde_json::{Value, json};

use crate::AppState;
use crate::api::ApiError;
use crate::tasks::Task;

pub type Quick = fn(&Arc<AppState>, &Args) -> Result<Value, ApiError>;
pub type Long = fn(&Arc<AppState>, &Args, &Task) -> Result<Value, ApiError>;

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
    fn name(self) -> &'static str {
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

const fn req(name: &'static str, ty: Type) -> Arg {
    Arg {
        name,
        ty,
        optional: false,
    }
}

const fn opt(name: &'static str, ty: Type) -> Arg {
    Arg {
        name,
        ty,
        optional: true,
    }
}

pub static FUNCTIONS: &[Function] = &[
    Function {
        name: "GetServerInfo",
        description: "Get the server's version and machine name.",
        args: &[],
        run: Run::Quick(get_server_info),
    },
    Function {
        name: "GetServiceConfiguration",
        description: "Get the service configuration: data directory, master database, audit log, endpoints.",
        args: &[],
        run: Run::Quick(get_service_configuration),
    },
    Function {
        name: "GetActiveSessions",
        description: "Get list of current user sessions.",
        args: &[],
        run: Run::Quick(get_active_sessions),
    },
    Function {
        name: "GetTimeZones",
        description: "Get a list of available time zones (IANA ids, and $Local for the system's).",
        args: &[],
        run: Run::Quick(get_time_zones),
    },
    Function {
        name: "GetUsers",
        description: "Get list of users.",
        args: &[],
        run: Run::Quick(get_users),
    },
    Function {
        name: "GetUserInfo",
        description: "Get detailed information about user.",
        args: &[req("userName", Type::String)],
        run: Run::Quick(get_user_info),
    },
    Function {
        name: "CreateUser",
        description: "Create new user.",
        args: &[
            req("userName", Type::String),
            req("privileges", Type::String),
            opt("fullName", Type::String),
            opt("distinguishedName", Type::String),
            opt("authentication", Type::String),
            opt("password", Type::String),
        ],
        run: Run::Quick(create_user),
    },
    Function {
        name: "DeleteUser",
        description: "Delete a user. Neither the user's archive nor its emails are deleted.",
        args: &[req("userName", Type::String)],
        run: Run::Quick(delete_user),
    },
    Function {
        name: "RenameUser",
        description: "Rename a user (and their archive, saved searches and jobs).",
        args: &[
            req("oldUserName", Type::String),
            req("newUserName", Type::String),
        ],
        run: Run::Quick(rename_user),
    },
    Function {
        name: "SetUserPassword",
        description: "Set password of user.",
        args: &[req("userName", Type::String), req("password", Type::String)],
        run: Run::Quick(set_user_password),
    },
    Function {
        name: "SetUserPrivileges",
        description: "Set privileges of user.",
        args: &[
            req("userName", Type::String),
            req("privileges", Type::String),
        ],
        run: Run::Quick(set_user_privileges),
    },
    Function {
        name: "SetUserPrivilegesOnFolder",
        description: "Set privileges on folder for user.",
        args: &[
            req("userName", Type::String),
            req("folder", Type::String),
            req("privileges", Type::String),
        ],
        run: Run::Quick(set_user_privileges_on_folder),
    },
    Function {
        name: "ClearUserPrivilegesOnFolders",
        description: "Removes all privileges of a user on all archive folders.",
        args: &[req("userName", Type::String)],
        run: Run::Quick(clear_user_privileges_on_folders),
    },
    Function {
        name: "SetUserFullName",
        description: "Set full name of user.",
        args: &[req("userName", Type::String), opt("fullName", Type::String)],
        run: Run::Quick(set_user_full_name),
    },
    Function {
        name: "SetUserEmailAddresses",
        description: "Set email addresses of user (comma-separated).",
        args: &[
            req("userName", Type::String),
            opt("emailAddresses", Type::String),
        ],
        run: Run::Quick(set_user_email_addresses),
    },
    Function {
        name: "GetChildFolders",
        description: "Get child folders; without a folder, all archives and the folders the caller may read (other archives show their names only, as compliance asks).",
        args: &[opt("folder", Type::String), opt("maxLevels", Type::Number)],
        run: Run::Quick(get_child_folders),
    },
    Function {
        name: "CreateStore",
        description: "Create and attach a new archive store.",
        args: &[
            req("name", Type::String),
            opt("type", Type::String),
            opt("databasePath", Type::String),
            opt("contentPath", Type::String),
            opt("indexPath", Type::String),
            opt("requestedState", Type::String),
        ],
        run: Run::Quick(create_store),
    },
    Function {
        name: "SetStoreRequestedState",
        description: "Set state of archive store.",
        args: &[req("id", Type::Number), opt("requestedState", Type::String)],
        run: Run::Quick(set_store_requested_state),
    },
    Function {
        name: "GetStoreIndexes",
        description: "Get list of full text indexes.",
        args: &[opt("id", Type::Number)],
        run: Run::Quick(get_store_indexes),
    },
    Function {
        name: "DetachStore",
        description: "Detach an archive store (its files stay; AttachStore brings it back).",
        args: &[req("id", Type::Number)],
        run: Run::Quick(detach_store),
    },
    Function {
        name: "AttachStore",
        description: "Attach an existing archive store of this archive.",
        args: &[
            req("name", Type::String),
            opt("type", Type::String),
            opt("databasePath", Type::String),
            opt("contentPath", Type::String),
            opt("indexPath", Type::String),
            opt("requestedState", Type::String),
        ],
        run: Run::Quick(attach_store),
    },
    Function {
        name: "RenameStore",
        description: "Rename archive store.",
        args: &[req("id", Type::Number), req("name", Type::String)],
        run: Run::Quick(rename_store),
    },
    Function {
        name: "GetFolderStatistics",
        description: "Get folder statistics: messages and size of each archive.",
        args: &[],
        run: Run::Quick(get_folder_statistics),
    },
    Function {
        name: "RebuildStoreIndex",
        description: "Rebuild the search index of the archive store holding the given folder (one index per store).",
        args: &[req("id", Type::Number), req("folder", Type::String)],
        run: Run::Long(rebuild_store_index),
    },
    Function {
        name: "SelectAllStoreIndexesForRebuild",
        description: "Select all search indexes for rebuilding.",
        args: &[],
        run: Run::Quick(select_all_store_indexes_for_rebuild),
    },
    Function {
        name: "RebuildSelectedStoreIndexes",
        description: "Rebuild the selected search indexes and those whose status is 'please rebuild'.",
        args: &[],
        run: Run::Long(rebuild_selected_store_indexes),
    },
    Function {
        name: "CreateJob",
        description: "Create a new job to execute Management API commands.",
        args: &[
            opt("name", Type::String),
            opt("action", Type::String),
            opt("owner", Type::String),
            opt("timeZoneId", Type::String),
            opt("date", Type::String),
            opt("interval", Type::Number),
            opt("time", Type::String),
            opt("dayOfWeek", Type::String),
            opt("dayOfMonth", Type::String),
        ],
        run: Run::Quick(create_job),
    },
    Function {
        name: "GetJobs",
        description: "Retrieve list of jobs.",
        args: &[],
        run: Run::Quick(get_jobs),
    },
    Function {
        name: "GetJobResults",
        description: "Retrieves list of finished job executions.",
        args: &[
            req("fromIncluding", Type::String),
            req("toExcluding", Type::String),
            req("timeZoneId", Type::String),
            opt("jobId", Type::Number),
        ],
        run: Run::Quick(get_job_results),
    },
    Function {
        name: "RunJobAsync",
        description: "Run an existing job now (in the background).",
        args: &[req("id", Type::Number)],
        run: Run::Quick(run_job_async),
    },
    Function {
        name: "SetJobEnabled",
        description: "Set enabled status of a job.",
        args: &[req("id", Type::Number), req("enabled", Type::Bool)],
        run: Run::Quick(set_job_enabled),
    },
    Function {
        name: "SetJobSchedule",
        description: "Modify the schedule of a job.",
        args: &[
            req("id", Type::Number),
            req("timeZoneId", Type::String),
            opt("date", Type::String),
            opt("interval", Type::Number),
            opt("time", Type::String),
            opt("dayOfWeek", Type::String),
            opt("dayOfMonth", Type::String),
        ],
        run: Run::Quick(set_job_schedule),
    },
    Function {
        name: "RenameJob",
        description: "Rename job.",
        args: &[req("id", Type::Number), req("name", Type::String)],
        run: Run::Quick(rename_job),
    },
    Function {
        name: "DeleteJob",
        description: "Deletes a job.",
        args: &[req("id", Type::Number)],
        run: Run::Quick(delete_job),
    },
    Function {
        name: "MoveFolder",
        description: "Move (or rename) a folder: archive/path to archive/path.",
        args: &[
            req("fromFolder", Type::String),
            req("toFolder", Type::String),
        ],
        run: Run::Quick(move_folder),
    },
    Function {
        name: "DeleteEmptyFolders",
        description: "Remove folders that contain no emails (below folder, or everywhere).",
        args: &[opt("folder", Type::String)],
        run: Run::Quick(delete_empty_folders),
    },
    Function {
        name: "DeleteMessage",
        description: "Delete a single message; the reason is written to the audit log.",
        args: &[req("id", Type::String), req("reason", Type::String)],
        run: Run::Quick(delete_message),
    },
    Function {
        name: "GetMessages",
        description: "Get list of messages from a folder (only folders the caller may read: compliance applies to administrators too).",
        args: &[opt("folder", Type::String)],
        run: Run::Quick(get_messages),
    },
    Function {
        name: "RetryOpenStores",
        description: "Try again to open archive stores that could not be opened.",
        args: &[],
        run: Run::Quick(retry_open_stores),
    },
    Function {
        name: "GetStores",
        description: "Get list of archive stores.",
        args: &[opt("includeSize", Type::Bool)],
        run: Run::Quick(get_stores),
    },
    Function {
        name: "VerifyStore",
        description: "Verify archive store's consistency.",
        args: &[req("id", Type::Number), opt("includeIndexes", Type::Bool)],
        run: Run::Long(verify_store),
    },
    Function {
        name: "VerifyStores",
        description: "Verify consistency of all archive stores.",
        args: &[opt("includeIndexes", Type::Bool)],
        run: Run::Long(verify_stores),
    },
    Function {
        name: "SetUserAuthentication",
        description: "Set authentication settings of a user: 'integrated' (password kept by Arkiv) or 'directoryServices'.",
        args: &[
            req("userName", Type::String),
            req("authentication", Type::String),
        ],
        run: Run::Quick(set_user_authentication),
    },
    Function {
        name: "SetUserDistinguishedName",
        description: "Set (or, without distinguishedName, clear) the LDAP distinguished name of a user.",
        args: &[
            req("userName", Type::String),
            opt("distinguishedName", Type::String),
        ],
        run: Run::Quick(set_user_distinguished_name),
    },
    Function {
        name: "SetUserPop3UserNames",
        description: "Set POP3 user names of a user (comma separated; each belongs to one user).",
        args: &[
            req("userName", Type::String),
            opt("pop3UserNames", Type::String),
        ],
        run: Run::Quick(set_user_pop3_user_names),
    },
    Function {
        name: "SetStoreProperties",
        description: "Set properties of an archive store: the directories of a disabled FileSystemInternal store (after its files were moved).",
        args: &[
            req("id", Type::Number),
            opt("type", Type::String),
            opt("databaseName", Type::String),
            opt("databasePath", Type::String),
            opt("contentPath", Type::String),
            opt("indexPath", Type::String),
            opt("serverName", Type::String),
            opt("userName", Type::String),
            opt("password", Type::String),
        ],
        run: Run::Quick(set_store_properties),
    },
    Function {
        name: "MergeStore",
        description: "Merge two archive stores: move every message of sourceId into id, then remove the emptied source store.",
        args: &[req("id", Type::Number), req("sourceId", Type::Number)],
        run: Run::Long(merge_store),
    },
    Function {
        name: "CompactStore",
        description: "Compact archive store: free the space of deleted messages and compact its database.",
        args: &[req("id", Type::Number)],
        run: Run::Long(compact_store),
    },
    Function {
        name: "CompactMasterDatabase",
        description: "Compact master database.",
        args: &[],
        run: Run::Long(compact_master_database),
    },
    Function {
        name: "MaintainFileSystemDatabases",
        description: "Run database maintenance (integrity check, compaction) on the master database and all archive store databases.",
        args: &[],
        run: Run::Long(maintain_file_system_databases),
    },
    Function {
        name: "RefreshAllStoreStatistics",
        description: "Refresh statistics of all archive stores (recounted from the stored records).",
        args: &[],
        run: Run::Long(refresh_all_store_statistics),
    },
    Function {
        name: "RepairStoreDatabase",
        description: "Try to resolve issues with an archive store's database: integrity check, then its derived tables (placements, folder lists, counts) rebuilt from the message records.",
        args: &[req("id", Type::Number)],
        run: Run::Long(repair_store_database),
    },
    Function {
        name: "UnlockStore",
        description: "Unlock an archive store attached from another Arkiv installation, with that installation's recovery key; its messages go to the folders (by name) they had there.",
        args: &[req("id", Type::Number), req("passphrase", Type::String)],
        run: Run::Long(unlock_store),
    },
    Function {
        name: "CancelJobAsync",
        description: "Cancel a running job asynchronously (it stops at its next safe point).",
        args: &[req("id", Type::Number)],
        run: Run::Quick(cancel_job_async),
    },
];

pub fn find(name: &str) -> Option<&'static Function> {
    FUNCTIONS.iter().find(|f| f.name == name)
}

/// What `get-metadata` answers: every function with its arguments.
pub fn metadata() -> Value {
    Value::Array(
        FUNCTIONS
            .iter()
            .map(|f| {
                json!({
                    "name": f.name,
                    "description": f.description,
                    "args": f.args.iter().map(|a| json!({
                        "name": a.name,
                        "type": a.ty.name(),
                        "nullable": a.optional,
                    })).collect::<Vec<_>>(),
                    "longRunning": matches!(f.run, Run::Long(_)),
                })
            })
            .collect(),
    )
}

/// An OpenAPI 3.1 description of the Administration API, generated from the same table
/// (served at `GET /api/openapi.json`).
pub fn openapi() -> Value {
    let envelope = json!({
        "type": "object",
        "required": ["error", "token", "statusVersion", "statusCode", "percentProgress", "statusText", "result", "logOutput"],
        "properties": {
            "error": {"oneOf": [{"type": "null"}, {"type": "object", "properties": {
                "message": {"type": "string"}, "details": {"type": ["string", "null"]}}}]},
            "token": {"type": ["string", "null"]},
            "statusVersion": {"type": "integer"},
            "statusCode": {"type": "string", "enum": ["running", "succeeded", "failed"]},
            "percentProgress": {"type": ["integer", "null"]},
            "statusText": {"type": ["string", "null"]},
            "result": {},
            "logOutput": {"type": ["string", "null"]},
        }
    });
    let answer = json!({
        "description": "The envelope (HTTP 200 also when the function ran and failed: statusCode 'failed').",
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Envelope"}}}
    });
    let errors = json!({
        "400": {"description": "unknown, missing or mistyped argument", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Envelope"}}}},
        "401": {"description": "no or wrong credentials"},
        "403": {"description": "not an administrator"},
        "404": {"description": "unknown function or token"},
        "413": {"description": "request body over 1 MiB"},
        "429": {"description": "too many failed logons: locked for a while"},
    });
    let mut paths = serde_json::Map::new();
    for f in FUNCTIONS {
        let props: serde_json::Map<String, Value> = f
            .args
            .iter()
            .map(|a| {
                let ty = match a.ty {
                    Type::String => "string",
                    Type::Number => "integer",
                    Type::Bool => "boolean",
                };
                (a.name.to_string(), json!({"type": ty}))
            })
            .collect();
        let required: Vec<&str> = f
            .args
            .iter()
            .filter(|a| !a.optional)
            .map(|a| a.name)
            .collect();
        let mut responses = errors.clone();
        responses["200"] = answer.clone();
        paths.insert(
            format!("/api/invoke/{}", f.name),
            json!({"post": {
                "operationId": f.name,
                "summary": f.description,
                "x-long-running": matches!(f.run, Run::Long(_)),
                "requestBody": {"required": false, "content": {"application/x-www-form-urlencoded": {
                    "schema": {"type": "object", "properties": props, "required": required}}}},
                "responses": responses,
            }}),
        );
    }
    paths.insert(
        "/api/get-status".into(),
        json!({"post": {
            "operationId": "get-status",
            "summary": "Status of a long-running function; waits up to millisecondsTimeout for a newer statusVersion.",
            "requestBody": {"required": true, "content": {"application/x-www-form-urlencoded": {"schema": {
                "type": "object", "required": ["token"], "properties": {
                    "token": {"type": "string"},
                    "lastKnownStatusVersion": {"type": "integer"},
                    "millisecondsTimeout": {"type": "integer", "maximum": 60000}}}}}},
            "responses": {"200": answer.clone(), "404": {"description": "no such token"}},
        }}),
    );
    paths.insert(
        "/api/get-metadata".into(),
        json!({"post": {"operationId": "get-metadata", "summary": "Every function with its arguments.",
            "responses": {"200": answer}}}),
    );
    crate::web::openapi_paths(&mut paths);
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Arkiv Administration API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "MailStore Server's Administration API (manual §7.1): POST form-urlencoded arguments, HTTP Basic authentication of an administrator, a JSON envelope."
        },
        "security": [{"basic": []}],
        "components": {
            "securitySchemes": {
                "basic": {"type": "http", "scheme": "basic"},
                "session": {"type": "http", "scheme": "bearer", "description": "The token of POST /api/v1/session (or its cookie arkiv_session with the X-Arkiv-CSRF header on POST and DELETE)."}
            },
            "schemas": {"Envelope": envelope}
        },
        "paths": paths,
    })
}

/// A call's arguments, checked against the function's table: unknown names, missing required
/// ones and values of the wrong type are refused before the function runs.
pub struct Args {
    values: HashMap<String, String>,
    /// The administrator calling (a job's owner when a job runs).
    pub caller: String,
}

impl Args {
    pub fn new(f: &Function, form: Vec<(String, String)>, caller: &str) -> Result<Args, ApiError> {
        let mut values = HashMap::new();
        for (k, v) in form {
            let Some(arg) = f.args.iter().find(|a| a.name == k) else {
                let known: Vec<&str> = f.args.iter().map(|a| a.name).collect();
                return Err(ApiError::bad_request(if known.is_empty() {
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
                return Err(ApiError::bad_request(format!(
                    "argument '{k}' must be a {} (got '{v}')",
                    arg.ty.name()
                )));
            }
            if values.insert(k.clone(), v).is_some() {
                return Err(ApiError::bad_request(format!("argument '{k}' given twice")));
            }
        }
        for a in f.args.iter().filter(|a| !a.optional) {
            if !values.contains_key(a.name) {
                return Err(ApiError::bad_request(format!(
                    "{} needs the argument '{}' ({})",
                    f.name,
                    a.name,
                    a.ty.name()
                )));
            }
        }
        Ok(Args {
            values,
            caller: caller.to_string(),
        })
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

fn get_server_info(_: &Arc<AppState>, _: &Args) -> Result<Value, ApiError> {
    let machine = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .unwrap_or_default();
    Ok(json!({
        "version": env!("CARGO_PKG_VERSION"),
        "machineName": machine,
    }))
}

fn privileges_text(u: &arkiv_archive::users::UserRecord) -> String {
    if u.admin {
        "admin".into()
    } else if u.privileges.is_empty() {
        "none".into()
    } else {
        u.privileges.join(", ")
    }
}

fn get_users(st: &Arc<AppState>, _: &Args) -> Result<Value, ApiError> {
    let users = st.archive.users()?;
    Ok(Value::Array(
        users
            .iter()
            .map(|u| {
                json!({
                    "userName": u.name,
                    "fullName": u.full_name,
                    "distinguishedName": null,
                    "authentication": "integrated",
                })
            })
            .collect(),
    ))
}

fn get_user_info(st: &Arc<AppState>, a: &Args) -> Result<Value, ApiError> {
    let u = st.archive.user(a.str("userName"))?;
    Ok(json!({
        "userName": u.name,
        "fullName": u.full_name,
        "distinguishedName": u.distinguished_name,
        "authentication": u.authentication.as_str(),
        "emailAddresses": u.emails,
        "pop3UserNames": u.pop3_user_names,
        "privileges": privileges_text(&u),
        "privilegesOnFolders": st
            .archive
            .folder_grants(&u.name)?
            .into_iter()
            .map(|(folder, bits)| json!({
                "folder": folder,
                "privileges": arkiv_archive::grants::folder_privileges_text(bits),
            }))
            .collect::<Vec<_>>(),
    }))
}

fn create_user(st: &Arc<AppState>, a: &Args) -> Result<Value, ApiError> {
    let authentication = match a.opt("authentication") {
        None => Authentication::Integrated,
        Some(s) => Authentication::parse(s)?,
    };
    let (admin, privileges) = arkiv_archive::users::parse_privileges(a.str("privileges"))?;
    st.archive.add_user(arkiv_archive::users::NewUser {
        name: a.str("userName").to_string(),
        full_name: a.opt("fullName").map(str::to_string),
        emails: Vec::new(),
        password: a.opt("password").map(str::to_string),
        admin,
        privileges,
        authentication,
        distinguished_name: a.opt("distinguishedName").map(str::to_string),
    })?;
    Ok(Value::Null)
}

fn set_user_authentication(st: &Arc<AppState>, a: &Args) -> Result<Value, ApiError> {
    let auth = Authentication::parse(a.str("authentication"))?;
    st.archive
        .set_user_authentication(a.str("userName"), auth)?;
    st.sessions.close_user(a.str("userName"));
    Ok(Value::Null)
}

fn set_user_distinguished_name(st: &Arc<AppState>, a: &Args) -> Result<Value, ApiError> {
    st.archive.set_user_distinguished_name(
        a.str("userName"),
        a.opt("distinguishedName").map(str::to_string),
    )?;
    Ok(Value::Null)
}

fn set_user_pop3_user_names(st: &Arc<AppState>, a: &Args) -> Result<Value, ApiError> {
    let names: Vec<String> = arkiv_archive::users::list_items(a.opt("pop3UserNames").unwrap_or(""))
        .into_iter()
        .map(str::to_string)
        .collect();
    st.archive
        .set_user_pop3_user_names(a.str("userName"), &names)?;
    Ok(Value::Null)
}

fn delete_user(st: &Arc<AppState>, a: &Args) -> Result<Value, ApiError> {
    st.archive.delete_user(a.str("userName"))?;
    st.sessions.close_user(a.str("userName"));
    Ok(Value::Null)
}

fn set_user_password(st: &Arc<AppState>, a: &Args) -> Result<Value, ApiError> {
    st.archive
        .set_user_password(a.str("userName"), a.str("password"))?;
    // A password set by an administrator (a compromised account, say) ends the web sessions.
    st.sessions.close_user(a.str("userName"));
    Ok(Value::Null)
}

fn set_user_privileges(st: &Arc<AppState>, a: &Args) -> Result<Value, ApiError> {
    let (admin, privileges) = arkiv_archive::users::parse_privileges(a.str("privileges"))?;
    st.archive
        .set_user_privileges(a.str("userName"), admin, privileges)?;
    Ok(Value::Null)
}

fn dir_size(p: &std::path::Path) -> u64 {
    let Ok(rd) = std::fs::read_dir(p) else {
        return 0;
    };
    rd.filter_map(|e| e.ok())
        .map(|e| match e.file_type() {
            Ok(t) if t.is_dir() => dir_size(&e.path()),
            _ => e.metadata().map(|m| m.len()).unwrap_or(0),
        })
        .sum()
}

fn get_stores(st: &Arc<AppState>, a: &Args) -> Result<Value, ApiError> {
    let include_size = a.bool_or("includeSize", true);
    let mut out = Vec::new();
    for info in st.archive.stores() {
        let e = &info.entry;
        let mut v = json!({
            "id": e.id.0,
            "name": e.name,
            "type": "FileSystemInternal",
            "requestedState": e.status,
            "databasePath": e.meta_dir,
            "contentPath": e.content_dir,
            "indexPath": format!("{}/index", e.meta_dir),
            "error": info.error,
        });
        if include_size
            && info.error.is_none()
            && let Ok(store) = st.archive.store(e.id)
        {
            let dirs = store.dirs();
            let size = if dirs.meta == dirs.content {
                dir_size(&dirs.meta)
            } else {
                dir_size(&dirs.meta) + dir_size(&dirs.content)
            };
            v["size"] = json!(size);
        }
        out.push(v);
    }
    Ok(Value::Array(out))
}

fn verify_one(st: &Arc<AppState>, id: u32, task: &Task) -> Result<bool, ApiError> {
    let store = st.archive.store(StoreId(id))?;
    task.log(format!("Verifying archive store #{id}..."));
    let mut last = 0;
    let r = st
        .archive
        .verify_store(
            &store,
            &mut |done, total| {
                if let Some(pct) = (done * 100).checked_div(total) {
                    task.progress(pct.min(100) as u8);
                }
                if done >= last + 1000 || done == total {
                    last = done;
                    task.log(format!("{done} messages verified..."));
                }
            },
            &|| task.is_cancelled(),
        )
        .map_err(|e| ApiError::failed(e.to_string()))?;
    let broken = r.problems.len();
    if broken == 0 {
        task.log(format!("Archive store #{id}: no problems found."));
    } else {
        for p in r.problems.iter().take(100) {
            match &p.message {
                Some(m) => task.log(format!("PROBLEM: message {m}: {}", p.detail)),
                None => task.log(format!("PROBLEM: {}", p.detail)),
            }
        }
        task.log(format!("Archive store #{id}: {broken} problems found."));
    }
    Ok(broken == 0)
}

fn verify_store(st: &Arc<AppState>, a: &Args, task: &Task) -> Result<Value, ApiError> {
    let id = u32::try_from(a.number("id"))
        .map_err(|_| ApiError::failed(format!("no archive store #{}", a.number("id"))))?;
    if verify_one(st, id, task)? {
        Ok(Value::Null)
    } else {
        Err(ApiError::failed(format!(
            "archive store #{id} has problems; see the log output"
        )))
    }
}

fn verify_stores(st: &Arc<AppState>, _: &Args, task: &Task) -> Result<Value, ApiError> {
    let mut bad = Vec::new();
    for info in st.archive.stores() {
        if task.is_cancelled() {
            return Err(ApiError::failed("cancelled"));
        }
        if let Some(why) = &info.error {
            task.log(format!(
                "Archive store #{} is not available: {why}",
                info.entry.id.0
            ));
            continue;
        }
        if !verify_one(st, info.entry.id.0, task)? {
            bad.push(info.entry.id.0);
        }
    }
    if bad.is_empty() {
        Ok(Value::Null)
    } else {
        Err(ApiError::failed(format!(
            "archive stores with problems: {bad:?}; see the log output"
        )))
    }
}

fn set_user_full_name(st: &Arc<AppState>, a: &Args) -> Result<Value, ApiError> {
    st.archive
        .set_user_full_name(a.str("userName"), a.opt("fullName").map(str::to_string))?;
    Ok(Value::Null)
}

fn set_user_email_addresses(st: &Arc<AppState>, a: &Args) -> Result<Value, ApiError> {
    let list: Vec<String> = a
        .opt("emailAddresses")
        .unwrap_or("")
        .split([',', ';', ' '])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect();
    st.archive.set_user_emails(a.str("userName"), &list)?;
    Ok(Value::Null)
}

fn get_child_folders(st: &Arc<AppState>, a: &Args) -> Result<Value, ApiError> {
    let max = match a.opt("maxLevels") {
        Some(_) if a.number("maxLevels") < 1 => {
            return Err(ApiError::bad_request("maxLevels must be at least 1"));
        }
        Some(_) => a.number("maxLevels") as usize,
        None => usize::MAX,
    };
    let archive = &st.archive;
    // Compliance (§5.11): other archives show their first level only (their names), unless
    // the caller may read them.
    let readable: std::collections::HashSet<arkiv_types::FolderId> =
        archive.readable_folders(&a.caller)?.into_iter().collect();
    // (folder id or None for the root of all archives, its path, its level)
    let mut start: Vec<(Option<arkiv_types::FolderId>, String, usize)> = Vec::new();
    match a.opt("folder") {
        None => start.push((None, String::new(), 0)),
        Some(spec) => {
            let path = arkiv_types::FolderPath::parse(spec);
            let (name, rest) = path
                .names()
                .split_first()
                .ok_or_else(|| ApiError::failed("folder: an empty folder name"))?;
            let id = archive
                .find_folder(name, &arkiv_types::FolderPath::from_names(rest))?
                .ok_or_else(|| ApiError::failed(format!("no folder '{spec}'")))?;
            if !readable.contains(&id) {
                return Err(ApiError::failed(format!(
                    "'{}' may not see inside '{spec}' (compliance: archive access is blocked)",
                    a.caller
                )));
            }
            start.push((Some(id), spec.trim_end_matches('/').to_string(), 0));
        }
    }
    let mut out = Vec::new();
    while let Some((id, path, level)) = start.pop() {
        if level >= max {
            continue;
        }
        for (child, name) in archive.child_folders(id)? {
            let p = if path.is_empty() {
                name
            } else {
                format!("{path}/{name}")
            };
            out.push(json!({ "folder": p }));
            if readable.contains(&child) {
                start.push((Some(child), p, level + 1));
            }
        }
    }
    out.sort_by(|x, y| x["folder"].as_str().cmp(&y["folder"].as_str()));
    Ok(Value::Array(out))
}

fn requested_state(v: Option<&str>) -> Result<Option<arkiv_types::StoreStatus>, ApiError> {
    use arkiv_types::StoreStatus;
    Ok(match v {
        None => None,
        Some("current") => Some(StoreStatus::Current),
        Some("normal") => Some(StoreStatus::Normal),
        Some("writeProtected") => Some(StoreStatus::WriteProtected),
        Some("disabled") => Some(StoreStatus::Disabled),
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "requestedState must be current, normal, writeProtected or disabled (got '{other}')"
            )));
        }
    })
}

fn create_store(st: &Arc<AppState>, a: &Args) -> Result<Value, ApiError> {
    match a.opt("type") {
        None | Some("FileSystemInternal") => {}
        Some(t) => {
            return Err(ApiError::failed(format!(
                "archive store type '{t}' is not available here; use FileSystemInternal"
            )));
        }
    }
    let status =
        requested_state(a.opt("requestedState"))?.unwrap_or(arkiv_types::StoreStatus::Normal);
    let dirs = match (a.opt("databasePath"), a.opt("contentPath")) {
        (None, None) => None,
        (Some(d), c) => Some(arkiv_archive::stores::StoreDirs {
            meta: d.into(),
            content: c.unwrap_or(d).into(),
        }),
        (None, Some(_)) => return Err(ApiError::bad_request("contentPath needs databasePath")),
    };
    if let Some(ix) = a.opt("indexPath") {
        let want = dirs
            .as_ref()
            .map(|d| d.meta.join("index"))
            .ok_or_else(|| ApiError::bad_request("indexPath needs databasePath"))?;
        if std::path::Path::new(ix) != want {
            return Err(ApiError::failed(format!(
                "the search index lives beside the metadata: indexPath must be {}",
                want.display()
            )));
        }
    }
    let e = st
        .archive
        .create_store(Some(a.str("name").to_string()), dirs, status)?;
    Ok(json!({ "id": e.id.0 }))
}

fn set_store_requested_state(st: &Arc<AppState>, a: &Args) -> Result<Value, ApiError> {
    let id =
        u32::try_from(a.number("id")).map_err(|_| ApiError::failed("no such archive store"))?;
    let status = requested_state(a.opt("requestedState"))?
        .ok_or_else(|| ApiError::bad_request("SetStoreRequestedState needs requestedState"))?;
    st.archive.set_store_status(StoreId(id), status)?;
    Ok(Value::Null)
}

fn get_store_indexes(st: &Arc<AppState>, a: &Args) -> Result<Value, ApiError> {
    let only = a.opt("id").map(|_| a.number("id"));
    let list = st.archive.indexes()?;
    Ok(Value::Array(
        list.into_iter()
            .filter(|i| only.is_none_or(|id| i64::from(i.store_id.0) == id))
            .map(|i| {
                json!({
                    "storeId": i.store_id.0,
                    "storeName": i.store_name,
                    "size": i.size_bytes,
                    "status": if i.status == "ok" { "ok" } else { "rebuildRequired" },
                    "builtWith": i.built_with,
                    "rebuildReason": i.rebuild_reason,
                })
            })
            .collect(),
    ))
}

fn get_service_configuration(st: &Arc<AppState>, _: &Args) -> Result<Value, ApiError> {
    let dir = st.archive.dir();
    Ok(json!({
        "dataDirectory": dir.display().to_string(),
        "masterDatabasePath": dir.join("master.redb").display().to_string(),
        "auditLogPath": st.audit.path().display().to_string(),
        "endpoints": *st.endpoints.lock().unwrap_or_else(|p| p.into_inner()),
        "certificateFingerprint": st.certificate.fingerprint(),
        "uptimeSeconds": st.started.elapsed().as_secs(),
    }))
}

fn get_active_sessions(st: &Arc<AppState>, _: &Args) -> Result<Value, ApiError> {
    Ok(Value::Array(st.sessions.list()))
}

fn offset_text(seconds: i32) -> String {
    let sign = if seconds < 0 { '-' } else { '+' };
    let s = seconds.unsigned_abs();
    format!("(UTC{sign}{:02}:{:02})", s / 3600, s % 3600 / 60)
}

fn get_time_zones(_: &Arc<AppState>, _: &Args) -> Result<Value, ApiError> {
    let now = jiff::Timestamp::now();
    let mut zones: Vec<(i32, String)> = jiff::tz::db()
        .available()
        .filter_map(|name| {
            let name = name.to_string();
            // Only the canonical Area/Location ids (no legacy aliases such as "EST5EDT").
            if !name.contains('/') || name.starts_with("Etc/") {
                return None;
            }
            let tz = jiff::tz::TimeZone::get(&name).ok()?;
            Some((tz.to_offset(now).seconds(), name))
        })
        .collect();
    zones.sort();
    let mut out = vec![{
        let local = jiff::tz::TimeZone::system();
        json!({
            "id": "$Local",
            "displayName": format!(
                "{} {} (the server's time zone)",
                offset_text(local.to_offset(now).seconds()),
                local.iana_name().unwrap_or("local")
            ),
        })
    }];
    out.push(json!({"id": "UTC", "displayName": "(UTC+00:00) Coordinated Universal Time"}));
    out.extend(zones.into_iter().map(|(off, id)| {
        json!({
            "id": id,
            "displayName": format!("{} {}", offset_text(off), id.replace('_', " ")),
        })
    }));
    Ok(Value::Array(out))
}

fn set_user_privileges_on_folder(st: &Arc<AppState>, a: &Args) -> Result<Value, ApiError> {
    let bits = arkiv_archive::grants::parse_folder_privileges(a.str("privileges"))?;
    st.archive
        .set_folder_privileges(a.str("userName"), a.str("folder"), bits)?;
    Ok(Value::Null)
}

fn clear_user_privileges_on_folders(st: &Arc<AppState>, a: &Args) -> Result<Value, ApiError> {
    st.archive.clear_folder_privileges(a.str("userName"))?;
    Ok(Value::Null)
}

fn store_id(a: &Args) -> Result<u32, ApiError> {
    u32::try_from(a.number("id"))
        .map_err(|_| ApiError::failed(format!("no archive store #{}", a.number("id"))))
}

fn rename_store(st: &Arc<AppState>, a: &Args) -> Result<Value, ApiError> {
    st.archive
        .rename_store(StoreId(store_id(a)?), a.str("name"))?;
    Ok(Value::Null)
}

fn get_folder_statistics(st: &Arc<AppState>, _: &Args) -> Result<Value, ApiError> {
    let stats = st.archive.stats()?;
    Ok(Value::Array(
        stats
            .archives
            .iter()
            .map(|a| json!({ "folder": a.archive, "count": a.messages, "size": a.bytes }))
            .collect(),
    ))
}

fn rebuild(st: &Arc<AppState>, ids: &[u32], task: &Task) -> Result<u64, ApiError> {
    let mut total = 0;
    for (i, id) in ids.iter().enumerate() {
        task.log(format!(
            "Rebuilding the search index of archive store #{id}..."
        ));
        let mut last = 0;
        let n = st
            .archive
            .reindex(Some(StoreId(*id)), &mut |done, all| {
                if let Some(p) = (done * 100).checked_div(all) {
                    let overall = (i as u64 * 100 + p) / ids.len() as u64;
                    task.progress(overall.min(100) as u8);
                }
                if done >= last + 10_000 {
                    last = done;
                    task.log(format!("{done} messages indexed..."));
                }
            })
            .map_err(|e| ApiError::failed(e.to_string()))?;
        task.log(format!("Archive store #{id}: {n} messages indexed."));
        total += n;
    }
    Ok(total)
}

fn rebuild_store_index(st: &Arc<AppState>, a: &Args, task: &Task) -> Result<Value, ApiError> {
    let id = store_id(a)?;
    st.archive.store(StoreId(id))?;
    // The manual rebuilds one folder's index; Arkiv has one index per store, so the folder
    // must exist and the store's whole index is rebuilt.
    st.archive.folder_by_spec(a.str("folder"))?;
    rebuild(st, &[id], task)?;
    Ok(Value::Null)
}

fn select_all_store_indexes_for_rebuild(st: &Arc<AppState>, _: &Args) -> Result<Value, ApiError> {
    let ids: Vec<u32> = st.archive.indexes()?.iter().map(|i| i.store_id.0).collect();
    st.selected_indexes
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .extend(ids);
    Ok(Value::Null)
}

fn rebuild_selected_store_indexes(
    st: &Arc<AppState>,
    _: &Args,
    task: &Task,
) -> Result<Value, ApiError> {
    let mut ids: std::collections::BTreeSet<u32> = std::mem::take(
        &mut *st
            .selected_indexes
            .lock()
            .unwrap_or_else(|p| p.into_inner()),
    );
    ids.extend(
        st.archive
            .indexes()?
            .iter()
            .filter(|i| i.status != "ok")
            .map(|i| i.store_id.0),
    );
    let ids: Vec<u32> = ids.into_iter().collect();
    if ids.is_empty() {
        task.log("No search index is selected or needs rebuilding.");
        return Ok(Value::Null);
    }
    rebuild(st, &ids, task)?;
    Ok(Value::Null)
}

fn schedule_of(a: &Args) -> Result<Option<arkiv_archive::jobs::Schedule>, ApiError> {
    let (d, i, t, w, m) = (
        a.opt("date"),
        a.opt("interval").map(|_| a.number("interval")),
        a.opt("time"),
        a.opt("dayOfWeek"),
        a.opt("dayOfMonth"),
    );
    if d.is_none() && i.is_none() && t.is_none() && w.is_none() && m.is_none() {
        return Ok(None);
    }
    Ok(Some(arkiv_archive::jobs::Schedule::from_args(
        d, i, t, w, m,
    )?))
}

fn job_id(a: &Args) -> u64 {
    u64::try_from(a.number("id")).unwrap_or(0)
}

fn create_job(st: &Arc<AppState>, a: &Args) -> Result<Value, ApiError> {
    let action = a.opt("action").ok_or_else(|| {
        ApiError::failed("a job needs an action: an API command such as VerifyStores")
    })?;
    crate::jobs::check_action(action).map_err(|e| ApiError::failed(format!("action: {e}")))?;
    let owner = a.opt("owner").unwrap_or(&a.caller).to_string();
    if !st.archive.user(&owner)?.admin {
        return Err(ApiError::failed(format!(
            "the owner '{owner}' must be an administrator"
        )));
    }
    let job = st.archive.create_job(arkiv_archive::jobs::Job {
        id: 0,
        name: a.opt("name").unwrap_or(action).to_string(),
        action: action.to_string(),
        owner,
        time_zone: a.opt("timeZoneId").unwrap_or("$Local").to_string(),
        schedule: schedule_of(a)?,
        enabled: true,
        created: 0,
        last_run: None,
        next_run: None,
    })?;
    Ok(crate::jobs::job_json(&job))
}

fn get_jobs(st: &Arc<AppState>, _: &Args) -> Result<Value, ApiError> {
    Ok(Value::Array(
        st.archive
            .jobs()?
            .iter()
            .map(crate::jobs::job_json)
            .collect(),
    ))
}

fn get_job_results(st: &Arc<AppState>, a: &Args) -> Result<Value, ApiError> {
    let tz = arkiv_archive::jobs::time_zone(a.str("timeZoneId"))?;
    let at = |name: &str| -> Result<i64, ApiError> {
        let v = a.str(name);
        let dt = v.parse::<jiff::civil::DateTime>().map_err(|_| {
            ApiError::bad_request(format!(
                "{name}: '{v}' is not a date and time such as 2026-12-01T00:00:00"
            ))
        })?;
        Ok(tz
            .to_ambiguous_zoned_datetime(dt)
            .compatible()
            .map_err(|e| ApiError::bad_request(e.to_string()))?
            .timestamp()
            .as_second())
    };
    let (from, to) = (at("fromIncluding")?, at("toExcluding")?);
    let job = a.opt("jobId").map(|_| a.number("jobId") as u64);
    let show = |s: i64| {
        jiff::Timestamp::from_second(s)
            .map(|t| {
                t.to_zoned_datetime(tz.clone())
                    .strftime("%Y-%m-%dT%H:%M:%S%:z")
                    .to_string()
            })
            .unwrap_or_default()
    };
    Ok(Value::Array(
        st.archive
            .job_results(from, to, job)?
            .into_iter()
            .map(|r| {
                json!({
                    "jobId": r.job_id,
                    "jobName": r.job_name,
                    "startTime": show(r.started),
                    "endTime": show(r.finished),
                    "result": r.status,
                    "logOutput": r.log,
                })
            })
            .collect(),
    ))
}

fn run_job_async(st: &Arc<AppState>, a: &Args) -> Result<Value, ApiError> {
    let job = st.archive.job(job_id(a))?;
    if st.jobs.is_running(job.id) {
        return Err(ApiError::failed(format!(
            "job #{} is running already",
            job.id
        )));
    }
    let s = st.clone();
    // The job's thread needs the runtime to start long-running functions as tasks.
    let runtime = tokio::runtime::Handle::current();
    std::thread::Builder::new()
        .name(format!("job-{}", job.id))
        .spawn(move || {
            let _rt = runtime.enter();
            let Some(r) = crate::jobs::run_job(&s, &job, None) else {
                return;
            };
            if let Err(e) = s.archive.record_job_run(&r) {
                crate::log!("ERROR", "job #{}: result not recorded: {e}", job.id);
            }
        })
        .map_err(|e| ApiError::internal(e.to_string()))?;
    Ok(Value::Null)
}

fn set_job_enabled(st: &Arc<AppState>, a: &Args) -> Result<Value, ApiError> {
    let enabled = a.bool_or("enabled", true);
    let job = st.archive.update_job(job_id(a), |j| {
        j.enabled = enabled;
        Ok(())
    })?;
    Ok(crate::jobs::job_json(&job))
}

fn set_job_schedule(st: &Arc<AppState>, a: &Args) -> Result<Value, ApiError> {
    let schedule = schedule_of(a)?;
    let tz = a.str("timeZoneId").to_string();
    let job = st.archive.update_job(job_id(a), |j| {
        j.schedule = schedule;
        j.time_zone = tz;
        Ok(())
    })?;
    Ok(crate::jobs::job_json(&job))
}

fn rename_job(st: &Arc<AppState>, a: &Args) -> Result<Value, ApiError> {
    let name = a.str("name").trim().to_string();
    if name.is_empty() {
        return Err(ApiError::bad_request("a job name cannot be empty"));
    }
    st.archive.update_job(job_id(a), |j| {
        j.name = name;
        Ok(())
    })?;
    Ok(Value::Null)
}

fn delete_job(st: &Arc<AppState>, a: &Args) -> Result<Value, ApiError> {
    st.archive.delete_job(job_id(a))?;
    Ok(Value::Null)
}

fn get_messages(st: &Arc<AppState>, a: &Args) -> Result<Value, ApiError> {
    let readable = st.archive.readable_folders(&a.caller)?;
    let folder = match a.opt("folder") {
        Some(spec) => st.archive.folder_by_spec(spec)?,
        None => st.archive.folder_by_spec(&a.caller)?,
    };
    if !readable.contains(&folder) {
        return Err(ApiError::failed(format!(
            "'{}' may not read this folder (other users' archives are closed to administrators unless compliance allows it)",
            a.caller
        )));
    }
    let list = st.archive.folder_messages(folder)?;
    Ok(serde_json::to_value(list).unwrap_or_default())
}

fn retry_open_stores(st: &Arc<AppState>, _: &Args) -> Result<Value, ApiError> {
    st.archive.retry_open_stores()?;
    let failing: Vec<Value> = st
        .archive
        .stores()
        .into_iter()
        .filter_map(|i| i.error.map(|e| json!({"id": i.entry.id.0, "error": e})))
        .collect();
    Ok(json!({ "stillFailing": failing }))
}

fn move_folder(st: &Arc<AppState>, a: &Args) -> Result<Value, ApiError> {
    st.archive
        .move_folder(a.str("fromFolder"), a.str("toFolder"))?;
    Ok(Value::Null)
}

fn delete_empty_folders(st: &Arc<AppState>, a: &Args) -> Result<Value, ApiError> {
    let gone = st.archive.delete_empty_folders(a.opt("folder"))?;
    Ok(json!({ "deletedFolders": gone }))
}

fn detach_store(st: &Arc<AppState>, a: &Args) -> Result<Value, ApiError> {
    let e = st.archive.detach_store(StoreId(store_id(a)?))?;
    Ok(json!({ "databasePath": e.meta_dir, "contentPath": e.content_dir }))
}

fn attach_store(st: &Arc<AppState>, a: &Args) -> Result<Value, ApiError> {
    match a.opt("type") {
        None | Some("FileSystemInternal") => {}
        Some(t) => {
            return Err(ApiError::failed(format!(
                "archive store type '{t}' is not available here; use FileSystemInternal"
            )));
        }
    }
    let meta = a
        .opt("databasePath")
        .ok_or_else(|| ApiError::bad_request("AttachStore needs databasePath"))?;
    let dirs = arkiv_archive::stores::StoreDirs {
        meta: st.archive.dir().join(meta),
        content: st.archive.dir().join(a.opt("contentPath").unwrap_or(meta)),
    };
    if let Some(ix) = a.opt("indexPath")
        && std::path::Path::new(ix) != dirs.meta.join("index")
        && st.archive.dir().join(ix) != dirs.meta.join("index")
    {
        return Err(ApiError::failed(
            "the search index lives beside the metadata: indexPath must be databasePath/index",
        ));
    }
    let status =
        requested_state(a.opt("requestedState"))?.unwrap_or(arkiv_types::StoreStatus::Normal);
    let e = st.archive.attach_store(a.str("name"), dirs, status)?;
    Ok(json!({ "id": e.id.0 }))
}

fn delete_message(st: &Arc<AppState>, a: &Args) -> Result<Value, ApiError> {
    let id: arkiv_types::MessageId = a.str("id").parse().map_err(|_| {
        ApiError::bad_request(format!(
            "id '{}' is not <store_id>:<message_num>",
            a.str("id")
        ))
    })?;
    if a.str("reason").trim().is_empty() {
        return Err(ApiError::bad_request(
            "DeleteMessage needs a reason (it goes to the audit log)",
        ));
    }
    st.archive.delete_message(id)?;
    Ok(Value::Null)
}

fn rename_user(st: &Arc<AppState>, a: &Args) -> Result<Value, ApiError> {
    st.archive
        .rename_user(a.str("oldUserName"), a.str("newUserName"))?;
    st.sessions.close_user(a.str("oldUserName"));
    Ok(Value::Null)
}

/// Progress of a (done, total) count as a task percentage.
fn percent(task: &Task, done: u64, total: u64) {
    if let Some(p) = (done * 100).checked_div(total) {
        task.progress(p.min(100) as u8);
    }
}

fn set_store_properties(st: &Arc<AppState>, a: &Args) -> Result<Value, ApiError> {
    let id = StoreId(store_id(a)?);
    match a.opt("type") {
        None | Some("FileSystemInternal") => {}
        Some(t @ ("SQLServer" | "PostgreSQL")) => {
            return Err(ApiError::failed(format!(
                "type '{t}': this server keeps archive stores in the file system only (FileSystemInternal)"
            )));
        }
        Some(t) => {
            return Err(ApiError::bad_request(format!(
                "type must be FileSystemInternal, SQLServer or PostgreSQL (got '{t}')"
            )));
        }
    }
    for server_arg in ["databaseName", "serverName", "userName", "password"] {
        if a.opt(server_arg).is_some() {
            return Err(ApiError::failed(format!(
                "{server_arg} applies to database-server stores; this store is FileSystemInternal"
            )));
        }
    }
    let meta = a.opt("databasePath").filter(|p| !p.is_empty());
    let content = a.opt("contentPath").filter(|p| !p.is_empty());
    if let Some(index) = a.opt("indexPath").filter(|p| !p.is_empty()) {
        // The search index lives with the metadata: it moves with databasePath.
        let base = meta.map(str::to_string).or_else(|| {
            st.archive
                .stores()
                .into_iter()
                .find(|s| s.entry.id == id)
                .map(|s| s.entry.meta_dir)
        });
        let expected = base.map(|b| format!("{}/index", b.trim_end_matches('/')));
        if expected.as_deref() != Some(index.trim_end_matches('/')) {
            return Err(ApiError::failed(format!(
                "indexPath is always databasePath/index ({}); move the database to move the index",
                expected.unwrap_or_default()
            )));
        }
    }
    if meta.is_none() && content.is_none() {
        return Ok(Value::Null);
    }
    st.archive.set_store_dirs(id, meta, content)?;
    Ok(Value::Null)
}

fn merge_store(st: &Arc<AppState>, a: &Args, task: &Task) -> Result<Value, ApiError> {
    let dest = StoreId(store_id(a)?);
    let source =
        StoreId(u32::try_from(a.number("sourceId")).map_err(|_| {
            ApiError::failed(format!("no archive store #{}", a.number("sourceId")))
        })?);
    task.log(format!(
        "Merging archive store #{} into #{}...",
        source.0, dest.0
    ));
    let r = st.archive.merge_store(
        dest,
        source,
        &mut |done, total| percent(task, done, total),
        &|| task.is_cancelled(),
    )?;
    task.log(format!(
        "{} messages moved, {} were in #{} already; source store {}.",
        r.moved,
        r.already_there,
        dest.0,
        if r.source_removed { "removed" } else { "kept" }
    ));
    Ok(serde_json::to_value(r).unwrap_or_default())
}

fn compact_store(st: &Arc<AppState>, a: &Args, task: &Task) -> Result<Value, ApiError> {
    let id = StoreId(store_id(a)?);
    task.log(format!("Compacting archive store #{}...", id.0));
    let r = st
        .archive
        .compact_store(id, &mut |done, total| percent(task, done, total))?;
    task.log(format!(
        "{} unused contents and {} unused blobs removed; packs {} -> {} bytes; database {} -> {} bytes.",
        r.packs.contents_removed,
        r.packs.blobs_removed,
        r.packs.pack_bytes_before,
        r.packs.pack_bytes_after,
        r.database.bytes_before,
        r.database.bytes_after
    ));
    Ok(serde_json::to_value(r).unwrap_or_default())
}

fn database_json(
    name: &str,
    m: &arkiv_archive::maintenance::DatabaseMaintenance,
    task: &Task,
) -> Value {
    task.log(format!(
        "{name}: {}{} -> {} bytes.",
        if m.repaired { "repaired, " } else { "" },
        m.bytes_before,
        m.bytes_after
    ));
    json!({"database": name, "repaired": m.repaired, "bytesBefore": m.bytes_before, "bytesAfter": m.bytes_after})
}

fn compact_master_database(st: &Arc<AppState>, _: &Args, task: &Task) -> Result<Value, ApiError> {
    let m = st.archive.compact_master()?;
    Ok(database_json("master", &m, task))
}

fn maintain_file_system_databases(
    st: &Arc<AppState>,
    _: &Args,
    task: &Task,
) -> Result<Value, ApiError> {
    let all = st
        .archive
        .maintain_databases(&mut |done, total| percent(task, done, total))?;
    Ok(Value::Array(
        all.iter()
            .map(|(name, m)| database_json(name, m, task))
            .collect(),
    ))
}

fn refresh_all_store_statistics(
    st: &Arc<AppState>,
    _: &Args,
    task: &Task,
) -> Result<Value, ApiError> {
    let fixed = st.archive.refresh_store_statistics()?;
    if fixed.is_empty() {
        task.log("Statistics of all archive stores were correct.");
    } else {
        task.log(format!(
            "Statistics corrected for archive stores {fixed:?}."
        ));
    }
    Ok(json!({ "corrected": fixed }))
}

fn repair_store_database(st: &Arc<AppState>, a: &Args, task: &Task) -> Result<Value, ApiError> {
    let id = StoreId(store_id(a)?);
    task.log(format!(
        "Repairing the database of archive store #{}...",
        id.0
    ));
    let (db, r) = st.archive.repair_store(id)?;
    database_json(&format!("store #{}", id.0), &db, task);
    task.log(format!(
        "{} messages; fixed: {} placements, {} folder entries, {} source entries, {} folder counts{}.",
        r.messages,
        r.placements_fixed,
        r.folder_entries_fixed,
        r.source_entries_fixed,
        r.folder_counts_fixed,
        if r.statistics_fixed { ", statistics" } else { "" }
    ));
    for m in &r.unreadable_messages {
        task.log(format!("PROBLEM: message {m}: its record cannot be opened"));
    }
    Ok(json!({ "database": db, "tables": r }))
}

fn cancel_job_async(st: &Arc<AppState>, a: &Args) -> Result<Value, ApiError> {
    let id = job_id(a);
    st.archive.job(id)?;
    if !st.jobs.cancel(id) {
        return Err(ApiError::failed(format!("job #{id} is not running")));
    }
    Ok(Value::Null)
}

fn unlock_store(st: &Arc<AppState>, a: &Args, task: &Task) -> Result<Value, ApiError> {
    let id = StoreId(store_id(a)?);
    task.log(format!("Unlocking archive store #{}...", id.0));
    let r = st.archive.unlock_store(id, a.str("passphrase"))?;
    task.log(format!(
        "Unlocked; {} messages placed in their folders, {} folders created{}.",
        r.moved,
        r.folders_created.len(),
        if r.duplicates_removed > 0 {
            format!(", {} duplicates removed", r.duplicates_removed)
        } else {
            String::new()
        }
    ));
    Ok(serde_json::to_value(r).unwrap_or_default())
}
