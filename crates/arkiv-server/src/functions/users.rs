//! Users and their privileges (manual §5.1, §7.2).

use std::sync::Arc;

use arkiv_archive::access::{FolderRights, Privileges};
use arkiv_archive::users::{Authentication, UserRecord};
use serde_json::{Value, json};

use super::{Args, FnError, Function, Run, Type, opt, req};
use crate::AppState;

pub static FUNCTIONS: &[Function] = &[
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
        description: "Rename a user (and their archive).",
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
        description: "Set email addresses of user.",
        args: &[
            req("userName", Type::String),
            opt("emailAddresses", Type::String),
        ],
        run: Run::Quick(set_user_email_addresses),
    },
    Function {
        name: "SetUserAuthentication",
        description: "Set authentication method of user (integrated or directoryServices).",
        args: &[
            req("userName", Type::String),
            req("authentication", Type::String),
        ],
        run: Run::Quick(set_user_authentication),
    },
    Function {
        name: "SetUserDistinguishedName",
        description: "Set LDAP distinguished name of user.",
        args: &[
            req("userName", Type::String),
            opt("distinguishedName", Type::String),
        ],
        run: Run::Quick(set_user_distinguished_name),
    },
    Function {
        name: "SetUserPop3UserNames",
        description: "Set POP3 user names of user.",
        args: &[
            req("userName", Type::String),
            opt("pop3UserNames", Type::String),
        ],
        run: Run::Quick(set_user_pop3_user_names),
    },
];

fn privileges_text(u: &UserRecord) -> String {
    if u.admin {
        "admin".into()
    } else if u.privileges.is_empty() {
        "none".into()
    } else {
        u.privileges.names().join(", ")
    }
}

fn get_users(st: &Arc<AppState>, _: &Args) -> Result<Value, FnError> {
    let users = st.archive.users()?;
    Ok(Value::Array(
        users
            .iter()
            .map(|u| {
                json!({
                    "userName": u.name,
                    "fullName": u.full_name,
                    "distinguishedName": u.distinguished_name,
                    "authentication": u.authentication.as_str(),
                })
            })
            .collect(),
    ))
}

fn get_user_info(st: &Arc<AppState>, a: &Args) -> Result<Value, FnError> {
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
            .map(|(folder, rights)| json!({
                "folder": folder,
                "privileges": rights.to_string(),
            }))
            .collect::<Vec<_>>(),
    }))
}

fn create_user(st: &Arc<AppState>, a: &Args) -> Result<Value, FnError> {
    let authentication = match a.opt("authentication") {
        None => Authentication::Integrated,
        Some(s) => Authentication::parse(s)?,
    };
    let (admin, privileges) = Privileges::parse_list(a.str("privileges"))?;
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

fn set_user_authentication(st: &Arc<AppState>, a: &Args) -> Result<Value, FnError> {
    let auth = Authentication::parse(a.str("authentication"))?;
    st.archive
        .set_user_authentication(a.str("userName"), auth)?;
    st.sessions.close_user(a.str("userName"));
    Ok(Value::Null)
}

fn set_user_distinguished_name(st: &Arc<AppState>, a: &Args) -> Result<Value, FnError> {
    st.archive.set_user_distinguished_name(
        a.str("userName"),
        a.opt("distinguishedName").map(str::to_string),
    )?;
    Ok(Value::Null)
}

fn set_user_pop3_user_names(st: &Arc<AppState>, a: &Args) -> Result<Value, FnError> {
    let names: Vec<String> = arkiv_archive::users::list_items(a.opt("pop3UserNames").unwrap_or(""))
        .into_iter()
        .map(str::to_string)
        .collect();
    st.archive
        .set_user_pop3_user_names(a.str("userName"), &names)?;
    Ok(Value::Null)
}

fn delete_user(st: &Arc<AppState>, a: &Args) -> Result<Value, FnError> {
    st.archive.delete_user(a.str("userName"))?;
    st.sessions.close_user(a.str("userName"));
    Ok(Value::Null)
}

fn set_user_password(st: &Arc<AppState>, a: &Args) -> Result<Value, FnError> {
    st.archive
        .set_user_password(a.str("userName"), a.str("password"))?;
    // A password set by an administrator (a compromised account, say) ends the web sessions.
    st.sessions.close_user(a.str("userName"));
    Ok(Value::Null)
}

fn set_user_privileges(st: &Arc<AppState>, a: &Args) -> Result<Value, FnError> {
    let (admin, privileges) = Privileges::parse_list(a.str("privileges"))?;
    st.archive
        .set_user_privileges(a.str("userName"), admin, privileges)?;
    Ok(Value::Null)
}

fn set_user_privileges_on_folder(st: &Arc<AppState>, a: &Args) -> Result<Value, FnError> {
    let rights = FolderRights::parse(a.str("privileges"))?;
    st.archive
        .set_folder_privileges(&a.caller, a.str("userName"), a.str("folder"), rights)?;
    Ok(Value::Null)
}

fn clear_user_privileges_on_folders(st: &Arc<AppState>, a: &Args) -> Result<Value, FnError> {
    st.archive.clear_folder_privileges(a.str("userName"))?;
    Ok(Value::Null)
}

fn set_user_full_name(st: &Arc<AppState>, a: &Args) -> Result<Value, FnError> {
    st.archive
        .set_user_full_name(a.str("userName"), a.opt("fullName").map(str::to_string))?;
    Ok(Value::Null)
}

fn set_user_email_addresses(st: &Arc<AppState>, a: &Args) -> Result<Value, FnError> {
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

fn rename_user(st: &Arc<AppState>, a: &Args) -> Result<Value, FnError> {
    st.archive
        .rename_user(a.str("oldUserName"), a.str("newUserName"))?;
    st.sessions.close_user(a.str("oldUserName"));
    Ok(Value::Null)
}
