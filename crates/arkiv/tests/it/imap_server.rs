//! The read-only IMAP service (D3) with a real client: Python's imaplib over STARTTLS and
//! implicit TLS, plus raw TLS sockets for hostile input (`imap_server.py`).

use std::process::Command;

use crate::server::Server;
use crate::support::Env;

const PW: &str = "Silver-Lantern-2026q";

#[test]
fn imaplib_signs_in_only_over_tls_and_hostile_input_is_refused() {
    let env = Env::new();
    let srv = Server::start(&env);
    srv.ok(
        "/api/invoke/CreateUser",
        &format!("userName=carol&privileges=login&password={PW}"),
    );
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/it/imap_server.py");
    let out = Command::new("python3")
        .arg(script)
        .arg(srv.imap.to_string())
        .arg(srv.imaps.to_string())
        .arg("carol")
        .arg(PW)
        .output()
        .expect("python3 is needed: apt-get install -y python3");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for check in [
        "LOGIN before TLS is refused",
        "a wrong password is refused",
        "LOGIN after STARTTLS",
        "CREATE is refused: the archive is read-only",
        "AUTHENTICATE PLAIN",
        "huge literal refused at its announcement",
        "the connection goes on",
        "deep nesting refused",
    ] {
        assert!(stdout.contains(&format!("ok {check}")), "{check}: {stdout}");
    }
    // The listeners are in the service configuration; logons are audited with their door.
    let conf = srv.ok("/api/invoke/GetServiceConfiguration", "");
    let names: Vec<&str> = conf["services"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["name"].as_str())
        .collect();
    assert!(names.contains(&"IMAP Server (STARTTLS)") && names.contains(&"IMAP Server (SSL)"));
    srv.stop();
    let audit = std::fs::read_to_string(env.data().join("audit.log")).unwrap();
    let logons: Vec<&str> = audit
        .lines()
        .filter(|l| l.contains("imap logon") && l.contains("\"via\":\"IMAP\""))
        .collect();
    assert!(
        logons.iter().filter(|l| l.contains("succeeded")).count() >= 2,
        "{logons:?}"
    );
    assert!(
        logons.iter().any(|l| l.contains("refused")),
        "the wrong password is audited: {logons:?}"
    );
}
