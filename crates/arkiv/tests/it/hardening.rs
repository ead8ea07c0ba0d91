//! Regression tests for what an outside review of the running server broke (issue 9), each
//! named after what broke, each against the real `arkiv serve` on 127.0.0.1.

use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::server::{Server, curl_at, some_mail, wait_log, web_json};
use crate::support::{ADMIN_PW, Env};

/// Runs a Python script (the test's own client) with arguments; returns its stdout as JSON.
fn python(script: &str, args: &[&str]) -> Value {
    let out = Command::new("python3")
        .arg("-c")
        .arg(script)
        .args(args)
        .output()
        .expect("python3 is needed: apt-get install -y python3");
    assert!(
        out.status.success(),
        "python: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "python printed no JSON ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

/// `curl` as admin from a given local source address (127.0.0.0/8 is all this machine's).
fn curl_from(source: &str, port: u16, user: &str, pw: &str, path: &str) -> u16 {
    let out = Command::new("curl")
        .args(["-sk", "-X", "POST", "-o", "/dev/null", "-w", "%{http_code}"])
        .args(["--interface", source, "-u"])
        .arg(format!("{user}:{pw}"))
        .arg(format!("https://127.0.0.1:{port}{path}"))
        .output()
        .expect("curl is needed: apt-get install -y curl");
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .unwrap_or(0)
}

/// 150 wrong logons at once for one account: before, all got 401 (the lockout was checked
/// before any failure was counted) and each cost an Argon2 check. Now the lock is decided
/// before the hash and counted atomically, and it holds for that account from that address
/// only: nobody locks `admin` out of the server from afar.
#[test]
fn lockout_150_concurrent_wrong_logons_are_locked_not_hashed_and_only_from_their_address() {
    let env = Env::new();
    let srv = Server::start(&env);
    let burst = r#"
import sys, json, ssl, base64, urllib.request, urllib.error, concurrent.futures, time
port = sys.argv[1]
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
def one(_):
    req = urllib.request.Request("https://127.0.0.1:%s/api/invoke/GetServerInfo" % port, data=b"", method="POST")
    req.add_header("Authorization", "Basic " + base64.b64encode(b"admin:Wrong-Pass-2026x").decode())
    try:
        return urllib.request.urlopen(req, context=ctx, timeout=60).status
    except urllib.error.HTTPError as e:
        return e.code
t = time.time()
with concurrent.futures.ThreadPoolExecutor(150) as ex:
    codes = list(ex.map(one, range(150)))
print(json.dumps({"codes": codes, "seconds": time.time() - t}))
"#;
    let v = python(burst, &[&srv.api.to_string()]);
    let codes: Vec<u64> = v["codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_u64().unwrap())
        .collect();
    let locked = codes.iter().filter(|c| **c == 429).count();
    let wrong = codes.iter().filter(|c| **c == 401).count();
    assert_eq!(locked + wrong, 150, "{codes:?}");
    assert!(
        wrong <= 5,
        "at most the five admitted attempts were checked: {codes:?}"
    );
    assert!(locked >= 145, "{codes:?}");
    // The right password from the same address waits out the lock ...
    assert_eq!(
        curl_from(
            "127.0.0.1",
            srv.api,
            "admin",
            ADMIN_PW,
            "/api/invoke/GetServerInfo"
        ),
        429
    );
    // ... but from another address it logs on: no remote lockout of the account.
    assert_eq!(
        curl_from(
            "127.0.0.2",
            srv.api,
            "admin",
            ADMIN_PW,
            "/api/invoke/GetServerInfo"
        ),
        200
    );
    // Every refusal is audited.
    srv.stop();
    let audit = std::fs::read_to_string(env.data().join("audit.log")).unwrap();
    assert!(
        audit
            .lines()
            .filter(|l| l.contains("refused logon"))
            .count()
            >= 150,
        "refused logons are audited"
    );
}

/// Password spraying: one address trying many accounts is locked for all of them; a success of
/// one account does not reset the address's failures for the others.
#[test]
fn lockout_an_address_trying_many_accounts_is_locked_for_all_of_them() {
    let env = Env::new();
    let srv = Server::start(&env);
    for i in 0..30 {
        let code = curl_from(
            "127.0.0.3",
            srv.api,
            &format!("user{i}"),
            "Wrong-Pass-2026x",
            "/api/invoke/GetServerInfo",
        );
        assert_eq!(code, 401, "attempt {i}");
    }
    assert_eq!(
        curl_from(
            "127.0.0.3",
            srv.api,
            "admin",
            ADMIN_PW,
            "/api/invoke/GetServerInfo"
        ),
        429,
        "the spraying address is locked for every account"
    );
    assert_eq!(
        curl_from(
            "127.0.0.4",
            srv.api,
            "admin",
            ADMIN_PW,
            "/api/invoke/GetServerInfo"
        ),
        200,
        "other addresses are not"
    );
}

/// 250 connections that finished TLS and then sent nothing stayed open indefinitely. Now
/// connections from one address are capped, idle ones are closed, and the server goes on
/// answering others meanwhile.
#[test]
fn idle_connection_storm_is_bounded_in_count_and_time() {
    let env = Env::new();
    env.set_config("idle_timeout_seconds = 60", "idle_timeout_seconds = 3");
    env.set_config(
        "max_connections_per_address = 64",
        "max_connections_per_address = 20",
    );
    let srv = Server::start(&env);
    let storm = r#"
import sys, json, socket, ssl, time
port, n = int(sys.argv[1]), int(sys.argv[2])
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
socks, refused = [], 0
for i in range(n):
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    try:
        socks.append(ctx.wrap_socket(s))
    except (ssl.SSLError, OSError):
        refused += 1
t = time.time()
def closed(s):
    s.settimeout(0.2)
    try:
        return s.recv(1) == b""
    except socket.timeout:
        return False
    except (ssl.SSLError, OSError):
        return True
open_after = None
while time.time() - t < 15:
    still = [s for s in socks if not closed(s)]
    if not still:
        open_after = time.time() - t
        break
    time.sleep(0.5)
print(json.dumps({"held": len(socks), "refused": refused, "closed_after": open_after}))
"#;
    // Meanwhile, another client (another address) is served.
    let port = srv.api;
    let other = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(500));
        curl_from(
            "127.0.0.5",
            port,
            "admin",
            ADMIN_PW,
            "/api/invoke/GetServerInfo",
        )
    });
    let v = python(storm, &[&srv.api.to_string(), "60"]);
    assert_eq!(
        other.join().unwrap(),
        200,
        "the server answered others meanwhile"
    );
    assert!(
        v["held"].as_u64().unwrap() <= 20,
        "at most 20 connections from one address: {v}"
    );
    assert!(v["refused"].as_u64().unwrap() >= 40, "{v}");
    let closed = v["closed_after"]
        .as_f64()
        .unwrap_or_else(|| panic!("idle connections were never closed: {v}"));
    assert!(closed < 8.0, "closed after {closed} s: {v}");
}

/// A user's query of 48 `*a*b*...` words took 78 s and 1.1 GB. Now the cost is bounded and the
/// answer is a clear 400 at once; malformed queries are 400, never 500, and no answer shows a
/// server path.
#[test]
fn wildcard_storm_query_is_refused_quickly_with_400() {
    let env = Env::new();
    some_mail(&env);
    let srv = Server::start(&env);
    let pw = "Blue-Harbor-2026x";
    srv.ok(
        "/api/invoke/SetUserPassword",
        &format!("userName=alice&password={pw}"),
    );
    let (code, v) = web_json(
        srv.https,
        "POST",
        "/api/v1/session",
        &[],
        Some(serde_json::json!({"userName": "alice", "password": pw})),
    );
    assert_eq!(code, 200, "{v}");
    let bearer = format!("Authorization: Bearer {}", v["token"].as_str().unwrap());
    let storm: String = (0..48)
        .map(|i| format!("*{}*a*b*c*d*e*f*g*h*i*j*k*l*m*n*o*p*q*r*s*t*u*v*w*", i % 10))
        .collect::<Vec<_>>()
        .join(" ");
    assert!(storm.len() > 1000);
    let q = storm.replace('*', "%2A").replace(' ', "%20");
    let t = Instant::now();
    let (code, v) = web_json(
        srv.https,
        "GET",
        &format!("/api/v1/search?q={q}"),
        &[&bearer],
        None,
    );
    assert_eq!(code, 400, "{v}");
    assert!(t.elapsed() < Duration::from_secs(3), "{:?}", t.elapsed());
    let msg = v["error"]["message"].as_str().unwrap();
    assert!(msg.contains("wildcards"), "{msg}");
    // Sixteen leading wildcards are allowed, and cheap on this archive.
    let sixteen: String = (0..16)
        .map(|i| format!("*ess{}*", i % 3))
        .collect::<Vec<_>>()
        .join(" OR ");
    let q = sixteen.replace('*', "%2A").replace(' ', "%20");
    let (code, v) = web_json(
        srv.https,
        "GET",
        &format!("/api/v1/search?q={q}"),
        &[&bearer],
        None,
    );
    assert_eq!(code, 200, "{v}");
    // Malformed: 400 with the position, not 500.
    let (code, v) = web_json(
        srv.https,
        "GET",
        "/api/v1/search?q=%22unbalanced",
        &[&bearer],
        None,
    );
    assert_eq!(code, 400, "{v}");
    let text = v.to_string();
    assert!(
        !text.contains(&env.data().display().to_string()) && !text.contains("/tmp"),
        "no server path in {text}"
    );
}

/// The data directory was 0755 and `audit.log`, `master.redb` 0644: the index holds subjects
/// and addresses in clear. Now everything is the owner's alone, and an older data directory
/// is tightened at start, with a log line.
#[test]
fn file_modes_of_the_data_directory_are_private() {
    let env = Env::new();
    some_mail(&env);
    // As an older version left them.
    for p in ["", "master.redb", "arkiv.toml"] {
        Command::new("chmod")
            .arg(if p.is_empty() { "755" } else { "644" })
            .arg(env.data().join(p))
            .status()
            .unwrap();
    }
    let srv = Server::start(&env);
    assert!(
        srv.startup.iter().any(|l| l.contains("made private")),
        "{:?}",
        srv.startup
    );
    srv.ok("/api/invoke/GetServerInfo", "");
    srv.stop();
    let out = Command::new("find")
        .arg(env.data())
        .args(["-exec", "stat", "-c", "%a %F %n", "{}", "+"])
        .output()
        .expect("find and stat (coreutils)");
    let listing = String::from_utf8_lossy(&out.stdout);
    let mut seen = 0;
    for line in listing.lines() {
        let (mode, rest) = line.split_once(' ').unwrap();
        let dir = rest.starts_with("directory");
        assert_eq!(mode, if dir { "700" } else { "600" }, "{line}");
        seen += 1;
    }
    assert!(seen > 10, "{listing}");
    assert!(listing.contains("audit.log") && listing.contains("master.redb"));
}

/// An administrator blocked from other archives moved `bob/Inbox` into `admin/stolen` and
/// read it. A move across archives now needs archive access to both; renames and moves inside
/// one archive stay allowed.
#[test]
fn move_folder_across_archives_needs_archive_access() {
    let env = Env::new();
    env.ok(&["user", "add", "bob", "--email", "bob@example.com"]);
    let dir = env.path("bob-mail");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("1.eml"), "Subject: bob's secret plan\n\nx\n").unwrap();
    env.import(&[
        "eml",
        dir.to_str().unwrap(),
        "--user",
        "bob",
        "--folder",
        "Inbox",
    ]);
    {
        let srv = Server::start(&env);
        let (_, v) = srv.admin(
            "/api/invoke/MoveFolder",
            Some("fromFolder=bob%2FInbox&toFolder=admin%2Fstolen"),
        );
        assert_eq!(v["statusCode"], "failed", "{v}");
        assert_eq!(v["error"]["details"], "denied", "{v}");
        // Inside bob's archive: a rename is fine.
        srv.ok(
            "/api/invoke/MoveFolder",
            "fromFolder=bob%2FInbox&toFolder=bob%2FOld%20Inbox",
        );
        let (_, v) = srv.admin("/api/invoke/GetMessages", Some("folder=admin"));
        assert_eq!(v["result"], serde_json::json!([]), "{v}");
        srv.stop();
    }
    assert_eq!(
        env.json(&["search", "--json", "secret", "--user", "admin"])["total"],
        0
    );
    assert_eq!(
        env.json(&["search", "--json", "secret", "--user", "bob"])["total"],
        1
    );
    // With archive access unblocked, the move is the administrator's to make.
    env.set_config(
        "admin_archive_access = false",
        "admin_archive_access = true",
    );
    let srv = Server::start(&env);
    srv.ok(
        "/api/invoke/MoveFolder",
        "fromFolder=bob%2FOld%20Inbox&toFolder=admin%2Fkept",
    );
    srv.stop();
}

/// `kim` and `Kim` with the KELVIN SIGN (U+212A) both existed and logged on as each other. User
/// names now compare by one Unicode rule (NFKC, then lower case) everywhere.
#[test]
fn unicode_user_names_that_look_alike_are_one_name() {
    let env = Env::new();
    let srv = Server::start(&env);
    srv.ok(
        "/api/invoke/CreateUser",
        "userName=kim&privileges=login&password=Blue-Harbor-2026x",
    );
    let (_, v) = srv.admin(
        "/api/invoke/CreateUser",
        Some("userName=%E2%84%AAim&privileges=login&password=Red-Harbor-2026x"),
    );
    assert_eq!(v["statusCode"], "failed", "{v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("already exists"),
        "{v}"
    );
    // Full-width letters too.
    let (_, v) = srv.admin(
        "/api/invoke/CreateUser",
        Some("userName=%EF%BD%8B%EF%BD%89%EF%BD%8D&privileges=login&password=Red-Harbor-2026x"),
    );
    assert_eq!(v["statusCode"], "failed", "{v}");
    // The look-alike spelling logs on as the one user there is.
    let (code, v) = web_json(
        srv.https,
        "POST",
        "/api/v1/session",
        &[],
        Some(serde_json::json!({"userName": "\u{212A}IM", "password": "Blue-Harbor-2026x"})),
    );
    assert_eq!(code, 200, "{v}");
    assert_eq!(v["userName"], "kim");
    let users = srv.ok("/api/invoke/GetUsers", "");
    assert_eq!(
        users.as_array().unwrap().len(),
        3,
        "admin, alice and one kim: {users}"
    );
}

/// `CreateJob action="SetUserPassword ... --password=..."` put the password in clear into the
/// audit log (twice) and into `GetJobs`. Secrets are masked by meaning, inside actions too.
#[test]
fn a_password_in_a_job_action_never_reaches_the_audit_log_or_get_jobs() {
    let env = Env::new();
    env.ok(&["user", "add", "bob"]);
    let srv = Server::start(&env);
    let secret = "Secret-Harbor-2026x";
    let job = srv.ok(
        "/api/invoke/CreateJob",
        &format!(
            "name=Reset&timeZoneId=UTC&action=SetUserPassword%20--userName%3Dbob%20--password%3D{secret}"
        ),
    );
    assert!(
        job["action"].as_str().unwrap().contains("--password=***"),
        "{job}"
    );
    let jobs = srv.ok("/api/invoke/GetJobs", "");
    assert!(!jobs.to_string().contains(secret), "{jobs}");
    srv.ok("/api/invoke/RunJobAsync", &format!("id={}", job["id"]));
    let window = format!(
        "fromIncluding=2000-01-01T00%3A00%3A00&toExcluding=2100-01-01T00%3A00%3A00&timeZoneId=UTC&jobId={}",
        job["id"]
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    let results = loop {
        let r = srv.ok("/api/invoke/GetJobResults", &window);
        if !r.as_array().unwrap().is_empty() {
            break r;
        }
        assert!(Instant::now() < deadline, "the job did not run");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(results[0]["result"], "succeeded", "{results}");
    // bob's password is the one the job set.
    let (code, v) = web_json(
        srv.https,
        "POST",
        "/api/v1/session",
        &[],
        Some(serde_json::json!({"userName": "bob", "password": secret})),
    );
    assert_eq!(code, 200, "{v}");
    let (_, log) = srv.stop();
    let audit = std::fs::read_to_string(env.data().join("audit.log")).unwrap();
    assert!(!audit.contains(secret), "the secret is in the audit log");
    assert!(audit.contains("--password=***"), "the masked action is");
    assert!(
        !log.join("\n").contains(secret),
        "the secret is in the server log"
    );
}

/// A user name with CR LF forged lines in the server log. User-supplied strings are escaped
/// and capped.
#[test]
fn a_user_name_with_line_breaks_cannot_forge_server_log_lines() {
    let env = Env::new();
    let srv = Server::start(&env);
    let forged = "x\r\n2026-01-01T00:00:00Z INFO  admin granted everything";
    let (code, _) = curl_at(srv.api, forged, "nope", "/api/invoke/GetServerInfo", None);
    assert_eq!(code, 401);
    let line = wait_log(&srv, "refused");
    assert!(line.contains("\\r\\n"), "escaped: {line}");
    let (_, rest) = srv.stop();
    assert!(
        rest.iter()
            .chain(std::iter::once(&line))
            .all(|l| !l.starts_with("2026-01-01T00:00:00Z")),
        "a forged line: {rest:?}"
    );
}

/// A `CompactMasterDatabase` running must not stall other requests: master-database work,
/// audit writes and Argon2 run off the runtime's worker threads.
#[test]
fn compact_master_database_does_not_stall_web_requests() {
    let env = Env::new();
    some_mail(&env);
    let srv = Server::start(&env);
    let api = srv.api;
    let web = srv.https;
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let s2 = stop.clone();
    let compactions = std::thread::spawn(move || {
        let mut n = 0;
        while !s2.load(std::sync::atomic::Ordering::Relaxed) {
            let (code, v) = curl_at(
                api,
                "admin",
                ADMIN_PW,
                "/api/invoke/CompactMasterDatabase",
                None,
            );
            assert_eq!(code, 200, "{v}");
            n += 1;
        }
        n
    });
    let mut worst = Duration::ZERO;
    for _ in 0..40 {
        let t = Instant::now();
        let (code, _) = web_json(web, "GET", "/api/v1/session", &[], None);
        assert_eq!(code, 401);
        worst = worst.max(t.elapsed());
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let n = compactions.join().unwrap();
    assert!(n >= 2, "compactions ran meanwhile: {n}");
    assert!(
        worst < Duration::from_secs(2),
        "a web request waited {worst:?}"
    );
    srv.stop();
}

/// MailStore's own API clients: its Python wrapper calls `get-metadata` without `invoke`, and
/// extends its list of methods with the answer (a bare JSON array), follows long-running
/// functions with `get-status`, cancels them with `cancel-async`, and reads errors from the
/// envelope's `error` object. This client talks to the server the way that wrapper does.
#[test]
fn mailstore_python_wrapper_calls_work() {
    let env = Env::new();
    some_mail(&env);
    let srv = Server::start(&env);
    let client = r#"
import sys, json, ssl, urllib.request, urllib.parse, urllib.error
port, user, pw = sys.argv[1], sys.argv[2], sys.argv[3]
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
mgr = urllib.request.HTTPPasswordMgrWithDefaultRealm()
mgr.add_password(None, "https://127.0.0.1:%s" % port, user, pw)
opener = urllib.request.build_opener(urllib.request.HTTPSHandler(context=ctx), urllib.request.HTTPBasicAuthHandler(mgr))
def call(method, args=None, invoke=True):
    url = "https://127.0.0.1:%s/api%s/%s" % (port, "/invoke" if invoke else "", method)
    data = urllib.parse.urlencode([(k, v) for k, v in (args or {}).items() if v])
    r = opener.open(url, data=data.encode())
    return json.loads(r.read().decode("utf-8-sig"))
metadata = [{"name": "get-status", "args": []}, {"name": "cancel-async", "args": []}, {"name": "get-metadata", "args": []}]
metadata.extend(call("get-metadata", invoke=False))
names = [m["name"] for m in metadata]
out = {"hasVerify": "VerifyStore" in names, "argsOk": all("name" in a for m in metadata for a in m["args"])}
out["info"] = call("GetServerInfo")["result"]
v = call("VerifyStore", {"id": 1})
while v["statusCode"] == "running":
    v = call("get-status", {"token": v["token"], "millisecondsTimeout": 5000, "lastKnownStatusVersion": str(v["statusVersion"])}, False)
out["verify"] = v["statusCode"]
v = call("RebuildSelectedStoreIndexes")
call("SelectAllStoreIndexesForRebuild")
v = call("RebuildSelectedStoreIndexes")
if v["statusCode"] == "running":
    c = call("cancel-async", {"token": v["token"]}, False)
    out["cancelAnswer"] = c["statusCode"]
    while v["statusCode"] == "running":
        v = call("get-status", {"token": v["token"], "millisecondsTimeout": 5000, "lastKnownStatusVersion": str(v["statusVersion"])}, False)
out["afterCancel"] = v["statusCode"]
try:
    call("GetUserInfo", {"userName": "alice", "bogus": "1"})
    out["badArgument"] = None
except urllib.error.HTTPError as e:
    body = json.loads(e.read().decode("utf-8-sig"))
    out["badArgument"] = [e.code, body["error"]["message"], body["error"]["details"]]
v = call("GetUserInfo", {"userName": "nobody"})
out["failed"] = [v["statusCode"], v["error"]["message"]]
print(json.dumps(out))
"#;
    let v = python(client, &[&srv.api.to_string(), "admin", ADMIN_PW]);
    assert_eq!(v["hasVerify"], true, "{v}");
    assert_eq!(v["argsOk"], true, "{v}");
    assert_eq!(v["info"]["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(v["verify"], "succeeded", "{v}");
    assert!(
        v["afterCancel"] == "failed" || v["afterCancel"] == "succeeded",
        "a cancelled task ends: {v}"
    );
    assert_eq!(v["badArgument"][0], 400, "{v}");
    assert_eq!(v["badArgument"][2], "badArgument", "{v}");
    assert_eq!(v["failed"][0], "failed", "{v}");
    assert!(v["failed"][1].as_str().unwrap().contains("nobody"), "{v}");
    srv.stop();
    let audit = std::fs::read_to_string(env.data().join("audit.log")).unwrap();
    for f in ["get-metadata", "get-status"] {
        assert!(
            audit.contains(&format!("\"function\":\"{f}\"")),
            "{f} is audited"
        );
    }
}
