//! Archiving profiles against a real Dovecot: the Administration API functions of manual
//! §7.2, a user running their own profile from the JSON API, automatic execution, and the
//! many-mailbox kinds (master password, CSV) on the command line.

use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::mailclient::dovecot;
use crate::server::{Server, web_json};
use crate::support::Env;

/// Percent-encodes a form value.
fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fn props(
    d: &arkiv_corpus::dovecot::Dovecot,
    name: &str,
    login: &str,
    pw: &str,
    target: &str,
) -> Value {
    json!({
        "name": name,
        "type": "imap",
        "host": "127.0.0.1",
        "port": d.imaps_port,
        "fingerprint": d.fingerprint,
        "timeoutSeconds": 20,
        "userName": login,
        "password": pw,
        "targetUser": target,
    })
}

#[test]
fn profiles_through_the_administration_api() {
    let env = Env::new();
    let d = dovecot(&[("alice", "alice-pw")], None);
    for i in 0..7 {
        d.add_message(
            "alice",
            &[],
            format!("Subject: p{i}\r\n\r\nx\r\n").as_bytes(),
            "S",
        );
    }
    let srv = Server::start(&env);
    let p = props(&d, "Alice's mailbox", "alice", "alice-pw", "alice");

    // Unknown settings, id/version and a missing password are refused clearly.
    let (code, v) = srv.admin(
        "/api/invoke/CreateProfile",
        Some(&format!(
            "properties={}&raw=true",
            enc(r#"{"name":"x","targetUsr":"alice"}"#)
        )),
    );
    assert_eq!(code, 400, "{v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("targetUsr"),
        "{v}"
    );
    let mut no_pw = p.clone();
    no_pw["password"] = json!("");
    let (_, v) = srv.admin(
        "/api/invoke/CreateProfile",
        Some(&format!("properties={}", enc(&no_pw.to_string()))),
    );
    assert_eq!(v["statusCode"], "failed", "{v}");

    let created = srv.ok(
        "/api/invoke/CreateProfile",
        &format!("properties={}&raw=true", enc(&p.to_string())),
    );
    let id = created["id"].as_u64().unwrap();
    assert_eq!(created["passwordSet"], true);
    assert!(created.get("password").is_none(), "{created}");

    let list = srv.ok("/api/invoke/GetProfiles", "raw=true");
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert!(
        !list.to_string().contains("alice-pw"),
        "no password: {list}"
    );
    assert_eq!(list[0]["host"], "127.0.0.1");

    let (v, log) = srv.follow("/api/invoke/RunProfile", &format!("id={id}"));
    assert_eq!(v["statusCode"], "succeeded", "{v} {log}");
    assert_eq!(v["result"]["archived"], 7, "{v}");
    assert!(log.contains("INBOX"), "the debug log: {log}");
    // Again: nothing new.
    let (v, _) = srv.follow("/api/invoke/RunProfile", &format!("id={id}"));
    assert_eq!(v["result"]["archived"], 0, "{v}");

    // A temporary profile runs without being stored.
    let mut tmp = p.clone();
    tmp["targetFolder"] = json!("Temporary");
    let (v, _) = srv.follow(
        "/api/invoke/RunTemporaryProfile",
        &format!("properties={}&raw=true", enc(&tmp.to_string())),
    );
    assert_eq!(v["statusCode"], "succeeded", "{v}");
    assert_eq!(
        v["result"]["archived"], 7,
        "another folder, another source: {v}"
    );
    assert_eq!(
        srv.ok("/api/invoke/GetProfiles", "raw=true")
            .as_array()
            .unwrap()
            .len(),
        1
    );

    // A wrong password: the run fails with the server's reason, and the history says so.
    let mut bad = p.clone();
    bad["password"] = json!("wrong");
    bad["name"] = json!("wrong password");
    let bad_id = srv.ok(
        "/api/invoke/CreateProfile",
        &format!("properties={}", enc(&bad.to_string())),
    )["id"]
        .as_u64()
        .unwrap();
    let (v, _) = srv.follow("/api/invoke/RunProfile", &format!("id={bad_id}"));
    assert_eq!(v["statusCode"], "failed", "{v}");
    assert!(
        v["error"]["message"].as_str().unwrap().contains("logon"),
        "{v}"
    );

    let results = srv.ok(
        "/api/invoke/GetWorkerResults",
        "fromIncluding=2000-01-01T00:00:00&toExcluding=2100-01-01T00:00:00&timeZoneID=%24Local",
    );
    let results = results.as_array().unwrap();
    assert_eq!(results.len(), 4, "{results:?}");
    let mine = srv.ok(
        "/api/invoke/GetWorkerResults",
        &format!("fromIncluding=2000-01-01T00:00:00&toExcluding=2100-01-01T00:00:00&timeZoneID=UTC&profileID={id}"),
    );
    assert_eq!(mine.as_array().unwrap().len(), 2);
    assert!(
        mine[0]["startTime"].as_str().unwrap().ends_with("+00:00"),
        "{mine}"
    );
    let failed: Vec<&Value> = results.iter().filter(|r| r["result"] == "failed").collect();
    assert_eq!(failed.len(), 1);
    assert!(
        failed[0]["error"].as_str().unwrap().contains("logon"),
        "{failed:?}"
    );

    // A job runs the profile (as its owner), like any other API command: the new message
    // is archived and the run is in the profile's history.
    d.add_message("alice", &[], b"Subject: p7\r\n\r\nfrom a job\r\n", "");
    let job = srv.ok(
        "/api/invoke/CreateJob",
        &format!("name=Pull&timeZoneId=UTC&action=RunProfile%20--id%3D{id}"),
    );
    srv.ok("/api/invoke/RunJobAsync", &format!("id={}", job["id"]));
    let window = format!(
        "fromIncluding=2000-01-01T00%3A00%3A00&toExcluding=2100-01-01T00%3A00%3A00&timeZoneId=UTC&jobId={}",
        job["id"]
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    let job_results = loop {
        let r = srv.ok("/api/invoke/GetJobResults", &window);
        if !r.as_array().unwrap().is_empty() {
            break r;
        }
        assert!(Instant::now() < deadline, "the job did not run");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(job_results[0]["result"], "succeeded", "{job_results}");
    let mine = srv.ok(
        "/api/invoke/GetWorkerResults",
        &format!("fromIncluding=2000-01-01T00:00:00&toExcluding=2100-01-01T00:00:00&timeZoneID=UTC&profileID={id}"),
    );
    assert_eq!(mine.as_array().unwrap().len(), 3, "{mine}");
    assert!(
        mine.as_array().unwrap().iter().any(|r| r["archived"] == 1),
        "the job's run archived the new message: {mine}"
    );

    srv.ok("/api/invoke/DeleteProfile", &format!("id={id}"));
    assert_eq!(
        srv.ok("/api/invoke/GetProfiles", "raw=true")
            .as_array()
            .unwrap()
            .len(),
        1
    );
    // The API metadata and OpenAPI describe the properties.
    let (_, meta) = web_json(srv.https, "GET", "/api/openapi.json", &[], None);
    assert!(
        meta["components"]["schemas"]["ProfileProperties"]["properties"]["deletion"].is_object()
    );
    srv.stop();
    // Everything archived is in alice's archive, once per target folder.
    let n = env.json(&["search", "--json", "--user", "alice", "subject:p*"])["total"].clone();
    assert_eq!(n, 15);
}

fn web_logon(srv: &Server, user: &str, pw: &str) -> String {
    let (code, v) = web_json(
        srv.https,
        "POST",
        "/api/v1/session",
        &[],
        Some(json!({"userName": user, "password": pw})),
    );
    assert_eq!(code, 200, "{v}");
    format!("Authorization: Bearer {}", v["token"].as_str().unwrap())
}

#[test]
fn a_user_runs_their_own_profile_and_only_that() {
    let env = Env::new();
    let d = dovecot(&[("bob", "bob-pw")], None);
    d.add_message("bob", &[], b"Subject: for bob\r\n\r\nx\r\n", "S");
    env.ok(&[
        "user",
        "add",
        "bob",
        "--email",
        "bob@example.com",
        "--password",
        "Harbor-Lights-2026",
    ]);
    let srv = Server::start(&env);
    srv.ok(
        "/api/invoke/SetUserPrivileges",
        "userName=bob&privileges=login,archive",
    );
    let mut own = props(&d, "bob's", "bob", "bob-pw", "bob");
    own["owner"] = json!("bob");
    let own_id = srv.ok(
        "/api/invoke/CreateProfile",
        &format!("properties={}", enc(&own.to_string())),
    )["id"]
        .as_u64()
        .unwrap();
    let mut other = props(&d, "into alice", "bob", "bob-pw", "alice");
    other["owner"] = json!("bob");
    let other_id = srv.ok(
        "/api/invoke/CreateProfile",
        &format!("properties={}", enc(&other.to_string())),
    )["id"]
        .as_u64()
        .unwrap();
    let admins = srv.ok(
        "/api/invoke/CreateProfile",
        &format!(
            "properties={}",
            enc(&props(&d, "admin's", "bob", "bob-pw", "admin").to_string())
        ),
    )["id"]
        .as_u64()
        .unwrap();

    let bearer = web_logon(&srv, "bob", "Harbor-Lights-2026");
    let (code, list) = web_json(srv.https, "GET", "/api/v1/profiles", &[&bearer], None);
    assert_eq!(code, 200, "{list}");
    let ids: Vec<u64> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_u64().unwrap())
        .collect();
    assert_eq!(ids, [own_id, other_id], "not the administrator's");
    assert!(!list.to_string().contains("bob-pw"));

    // Into someone else's archive: refused (an administrator made it, bob may not run it).
    let (code, v) = web_json(
        srv.https,
        "POST",
        &format!("/api/v1/profiles/{other_id}/run"),
        &[&bearer],
        None,
    );
    assert_eq!(code, 403, "{v}");
    let (code, _) = web_json(
        srv.https,
        "POST",
        &format!("/api/v1/profiles/{admins}/run"),
        &[&bearer],
        None,
    );
    assert_eq!(code, 404, "another user's profile does not exist for bob");
    // His own: started, and its result appears.
    let (code, v) = web_json(
        srv.https,
        "POST",
        &format!("/api/v1/profiles/{own_id}/run"),
        &[&bearer],
        None,
    );
    assert_eq!(code, 202, "{v}");
    let deadline = Instant::now() + Duration::from_secs(30);
    let result = loop {
        let (_, r) = web_json(
            srv.https,
            "GET",
            &format!("/api/v1/profiles/{own_id}/results"),
            &[&bearer],
            None,
        );
        if let Some(first) = r.as_array().and_then(|a| a.first()) {
            break first.clone();
        }
        assert!(Instant::now() < deadline, "no result");
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(result["result"], "succeeded", "{result}");
    assert_eq!(result["archived"], 1);
    assert_eq!(result["userName"], "bob");

    // Without `archive`, not even his own.
    srv.ok(
        "/api/invoke/SetUserPrivileges",
        "userName=bob&privileges=login",
    );
    let (code, v) = web_json(
        srv.https,
        "POST",
        &format!("/api/v1/profiles/{own_id}/run"),
        &[&bearer],
        None,
    );
    assert_eq!(code, 403, "{v}");
    srv.stop();
    let audit = std::fs::read_to_string(env.data().join("audit.log")).unwrap();
    assert!(
        audit
            .lines()
            .filter(|l| l.contains("\"RunProfile\""))
            .count()
            >= 3,
        "runs and refusals are audited"
    );
}

#[test]
fn automatic_execution_runs_again_after_the_wait() {
    let env = Env::new();
    let d = dovecot(&[("alice", "alice-pw")], None);
    d.add_message("alice", &[], b"Subject: auto one\r\n\r\nx\r\n", "S");
    let mut p = props(&d, "automatic", "alice", "alice-pw", "alice");
    p["automatic"] = json!({"waitSeconds": 10});
    let srv = Server::start(&env);
    let id = srv.ok(
        "/api/invoke/CreateProfile",
        &format!("properties={}", enc(&p.to_string())),
    )["id"]
        .as_u64()
        .unwrap();
    let results = || {
        srv.ok(
            "/api/invoke/GetWorkerResults",
            &format!("fromIncluding=2000-01-01T00:00:00&toExcluding=2100-01-01T00:00:00&timeZoneID=UTC&profileID={id}"),
        )
        .as_array()
        .unwrap()
        .clone()
    };
    let wait_for = |n: usize| {
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            let r = results();
            if r.len() >= n {
                return r;
            }
            assert!(Instant::now() < deadline, "only {} runs: {r:?}", r.len());
            std::thread::sleep(Duration::from_millis(500));
        }
    };
    let first = wait_for(1);
    assert_eq!(first[0]["archived"], 1, "{first:?}");
    d.add_message("alice", &[], b"Subject: auto two\r\n\r\nx\r\n", "S");
    let later = wait_for(2);
    let archived: u64 = later.iter().map(|r| r["archived"].as_u64().unwrap()).sum();
    assert_eq!(archived, 2, "{later:?}");
    let gap = later[1]["startTime"].as_str().unwrap() > later[0]["startTime"].as_str().unwrap();
    assert!(gap);
    srv.stop();
}

#[test]
fn many_mailboxes_with_a_master_password_or_a_csv_file() {
    let env = Env::new();
    env.ok(&["user", "add", "bob", "--email", "bob@example.com"]);
    env.ok(&["user", "add", "carol", "--email", "carol@example.com"]);
    let d = dovecot(
        &[
            ("alice@example.com", "a-pw"),
            ("bob@example.com", "b-pw"),
            ("carol@example.com", "c-pw"),
            ("dave", "d-pw;with,separators"),
        ],
        Some(("archiver", "master-pw")),
    );
    for (u, n) in [
        ("alice@example.com", 2),
        ("bob@example.com", 3),
        ("carol@example.com", 4),
        ("dave", 5),
    ] {
        for i in 0..n {
            d.add_message(
                u,
                &[],
                format!("Subject: {u} {i}\r\n\r\nx\r\n").as_bytes(),
                "S",
            );
        }
    }
    let port = d.imaps_port.to_string();
    let run = |extra: &[&str], pw: &str| {
        let out = Command::new(env!("CARGO_BIN_EXE_arkiv"))
            .arg("--data")
            .arg(env.data())
            .args([
                "import",
                "imap",
                "--host",
                "127.0.0.1",
                "--port",
                &port,
                "--fingerprint",
                &d.fingerprint,
                "--json",
            ])
            .args(extra)
            .env("ARKIV_SOURCE_PASSWORD", pw)
            .output()
            .unwrap();
        let v: Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|_| panic!("{}", String::from_utf8_lossy(&out.stderr)));
        (out.status.code(), v)
    };
    let count = |u: &str| {
        env.json(&["search", "--json", "--user", u, "subject:example.com"])["total"].clone()
    };

    // A3: every user with an address except carol, two at a time.
    let (code, r) = run(
        &[
            "--master-user",
            "archiver",
            "--except",
            "carol",
            "--concurrency",
            "2",
        ],
        "master-pw",
    );
    assert_eq!(code, Some(0), "{r}");
    assert_eq!(
        r["mailboxes"].as_array().unwrap().len(),
        2,
        "alice and bob: {r}"
    );
    assert_eq!(
        (count("alice"), count("bob"), count("carol")),
        (json!(2), json!(3), json!(0))
    );
    let (_, r) = run(
        &["--master-user", "archiver", "--only", "carol"],
        "master-pw",
    );
    assert_eq!(r["archived"], 4, "{r}");

    // A4: the manual's CSV rules; the archive user is created when missing.
    let csv = env.path("mailboxes.csv");
    std::fs::write(
        &csv,
        "IMAP user name|IMAP password|E-mail (optional)|Archive user (optional)\n\
         dave|\"d-pw;with,separators\"|dave@example.org|dave\n\
         bob@example.com|'b-pw'||bob\n",
    )
    .unwrap();
    let (code, r) = run(&["--csv", csv.to_str().unwrap()], "");
    assert_eq!(code, Some(0), "{r}");
    assert_eq!(
        r["archived"], 5,
        "dave's 5 (the master-password run archived bob's mailbox already): {r}"
    );
    assert_eq!(
        r["alreadyArchived"], 0,
        "nothing of bob's was read again: {r}"
    );
    let users = env.json(&["user", "list", "--json"]);
    assert!(users.to_string().contains("\"dave\""), "{users}");
    // A wrong row fails alone.
    std::fs::write(&csv, "u;p\ndave;wrong\ncarol@example.com;c-pw\n").unwrap();
    let (code, r) = run(&["--csv", csv.to_str().unwrap()], "");
    assert_eq!(code, Some(2), "{r}");
    assert_eq!(r["result"], "completedWithErrors");
    assert!(
        r["mailboxes"][0]["error"]
            .as_str()
            .unwrap()
            .contains("logon"),
        "{r}"
    );
}
