//! Compliance settings (manual §5.11, §7.2 `GetComplianceConfiguration`,
//! `SetComplianceConfiguration`).
//!
//! The settings object has the setting Arkiv has: `adminArchiveAccess` (the manual's "Archive
//! Access": administrators reading other users' archives, blocked by default). A key Arkiv
//! does not have is refused, not ignored, so a script never believes it changed something.
//! A `SetComplianceConfiguration` call is audited like every call, with its `reason`
//! (Arkiv's optional argument: the manual's client asks for one); the web page asks for the
//! administrator's password again before it calls (the API's caller gave it with the call).

use std::sync::Arc;

use serde_json::{Value, json};

use super::{Args, FnError, Function, Run, Type, opt, req};
use crate::AppState;

pub static FUNCTIONS: &[Function] = &[
    Function {
        name: "GetComplianceConfiguration",
        description: "Get current compliance configuration settings (adminArchiveAccess: administrators may read other users' archives).",
        args: &[],
        run: Run::Quick(get_compliance_configuration),
    },
    Function {
        name: "SetComplianceConfiguration",
        description: "Set compliance configuration settings: config is a JSON object with the keys GetComplianceConfiguration answers (missing keys keep their value); reason is written to the audit log.",
        args: &[req("config", Type::String), opt("reason", Type::String)],
        run: Run::Quick(set_compliance_configuration),
    },
];

fn get_compliance_configuration(st: &Arc<AppState>, _: &Args) -> Result<Value, FnError> {
    let c = st.archive.compliance();
    Ok(json!({ "adminArchiveAccess": c.admin_archive_access }))
}

/// The settings a `config` object asks for, starting from the ones in force.
pub fn parse(
    text: &str,
    current: arkiv_archive::ComplianceConfig,
) -> Result<arkiv_archive::ComplianceConfig, FnError> {
    let v: Value = serde_json::from_str(text)
        .map_err(|e| FnError::bad_argument(format!("config is not JSON: {e}")))?;
    let Value::Object(map) = v else {
        return Err(FnError::bad_argument(
            "config must be a JSON object such as {\"adminArchiveAccess\": false}",
        ));
    };
    let mut out = current;
    for (k, v) in map {
        match (k.as_str(), v) {
            ("adminArchiveAccess", Value::Bool(b)) => out.admin_archive_access = b,
            ("adminArchiveAccess", other) => {
                return Err(FnError::bad_argument(format!(
                    "adminArchiveAccess must be true or false (got {other})"
                )));
            }
            (other, _) => {
                return Err(FnError::bad_argument(format!(
                    "this server has no compliance setting '{other}'; its settings: adminArchiveAccess"
                )));
            }
        }
    }
    Ok(out)
}

fn set_compliance_configuration(st: &Arc<AppState>, a: &Args) -> Result<Value, FnError> {
    let new = parse(a.str("config"), st.archive.compliance())?;
    st.archive.set_compliance(&a.caller, new)?;
    get_compliance_configuration(st, a)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_objects_are_read_strictly() {
        let cur = arkiv_archive::ComplianceConfig::default();
        assert!(
            parse(r#"{"adminArchiveAccess": true}"#, cur.clone())
                .unwrap()
                .admin_archive_access
        );
        assert!(!parse("{}", cur.clone()).unwrap().admin_archive_access);
        for bad in [
            "[]",
            "nope",
            r#"{"adminArchiveAccess": "yes"}"#,
            r#"{"legalHoldEnabled": true}"#,
        ] {
            assert!(parse(bad, cur.clone()).is_err(), "{bad}");
        }
    }
}
