//! Web Access (D1) in a real browser: headless Chromium driven over WebDriver against a
//! real `arkiv serve`, with CPython's test messages and hostile mail written for the test.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::server::Server;
use crate::support::{Env, cpython_email_data};
use crate::webdriver::Browser;

const ALICE_PW: &str = "Bright-Harbor-2026x";
const BOB_PW: &str = "Quiet-Meadow-2026x";

/// alice with CPython's messages in `Inbox` (login, export, changePassword); bob (login).
fn setup(env: &Env) -> Server {
    env.import(&[
        "eml",
        cpython_email_data().to_str().unwrap(),
        "--user",
        "alice",
        "--extensions",
        "txt",
        "--folder",
        "Inbox",
    ]);
    let srv = Server::start(env);
    srv.ok(
        "/api/invoke/SetUserPassword",
        &format!("userName=alice&password={ALICE_PW}"),
    );
    srv.ok(
        "/api/invoke/SetUserPrivileges",
        "userName=alice&privileges=login,export,changePassword",
    );
    srv.ok(
        "/api/invoke/CreateUser",
        &format!("userName=bob&privileges=login&password={BOB_PW}"),
    );
    srv
}

fn base(srv: &Server) -> String {
    format!("https://127.0.0.1:{}", srv.https)
}

/// Signs in by keyboard alone: the user name field has the focus, Tab, Enter.
fn sign_in(b: &Browser, srv: &Server, user: &str, pw: &str) {
    b.goto(&format!("{}/web/login", base(srv)));
    b.wait_for("the sign-in page", |b| b.count("#userName") == 1);
    // Typed into the field itself: keys sent to the autofocused field could lose their
    // first character while the page was still taking the focus (seen under load). The Tab
    // to the password still checks the form's order.
    b.type_into("#userName", user);
    b.keys(&format!("\u{E004}{pw}\u{E007}"));
}

fn sign_out(b: &Browser) {
    b.click("nav.user button");
    b.wait_for("the signed-out page", |b| b.url().contains("signedOut"));
}

#[test]
fn a_user_signs_in_searches_reads_downloads_and_changes_password() {
    let env = Env::new();
    let srv = setup(&env);
    let b = Browser::start("web_user_journey");

    // The root leads to the sign-in page; a wrong password is told as such.
    b.goto(&format!("{}/", base(&srv)));
    b.wait_for("the sign-in page", |b| b.url().ends_with("/web/login"));
    sign_in(&b, &srv, "alice", "not-her-Password-1");
    b.wait_for("the refusal", |b| {
        b.source().contains("Wrong user name or password")
    });
    sign_in(&b, &srv, "alice", ALICE_PW);
    b.wait_for("the archive", |b| b.url().contains("/web/search"));
    assert!(b.source().contains("Newest messages"));
    assert!(b.count("nav.folders a") >= 2, "the folder tree");

    // Quick search with the manual's syntax, hits highlighted.
    b.type_into("#q", "subject:imap\u{E007}");
    b.wait_for("the results", |b| b.source().contains("file test"));
    assert!(b.count("td.subject mark") >= 1, "{}", b.source());
    assert_eq!(b.count("td.subject a"), 1);

    // The message, its attachment listed, and its download byte for byte.
    b.click("td.subject a");
    b.wait_for("the message", |b| b.title().starts_with("IMAP file test"));
    let page = b.source();
    assert!(page.contains("Father Time"), "{page}");
    assert!(page.contains("clock.bmp"), "the attachment is listed");
    b.click("nav.actions a[href$='/eml']");
    let original = std::fs::read(cpython_email_data().join("msg_26.txt")).unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let downloaded = loop {
        let done: Vec<_> = std::fs::read_dir(&b.downloads)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "eml"))
            .collect();
        if let Some(p) = done.first() {
            break std::fs::read(p).unwrap();
        }
        assert!(Instant::now() < deadline, "the download did not arrive");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(
        downloaded == original,
        "the .eml is the original, byte for byte"
    );
    let message_url = b.url();

    // The source view.
    b.click("nav.actions a[href$='/source']");
    b.wait_for("the source", |b| b.source().contains("Content-Type"));

    // bob never sees alice's message, by any URL.
    sign_out(&b);
    sign_in(&b, &srv, "bob", BOB_PW);
    b.wait_for("bob's archive", |b| b.url().contains("/web/search"));
    assert!(!b.source().contains("Father Time"));
    b.goto(&format!("{}/web/search?q=subject%3Aimap", base(&srv)));
    b.wait_for("bob's search", |b| b.source().contains("No messages"));
    assert!(!b.source().contains("Father Time"));
    for suffix in ["", "/body", "/source", "/attachments/0"] {
        b.goto(&format!("{message_url}{suffix}"));
        let s = b.source();
        assert!(
            !s.contains("Father Time") && !s.contains("clock"),
            "{suffix}: {s}"
        );
    }
    b.goto(&format!("{message_url}/eml"));
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(
        std::fs::read_dir(&b.downloads)
            .unwrap()
            .filter(|e| e
                .as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|x| x == "eml"))
            .count(),
        1,
        "no second download"
    );
    sign_out(&b);

    // alice changes her password; the old one no longer works, the new one does.
    sign_in(&b, &srv, "alice", ALICE_PW);
    b.wait_for("the archive", |b| b.url().contains("/web/search"));
    b.goto(&format!("{}/web/password", base(&srv)));
    let new_pw = "Silver-Lantern-2027y";
    b.type_into("#old", ALICE_PW);
    b.type_into("#new", &format!("{new_pw}\u{E007}"));
    b.wait_for("the confirmation", |b| {
        b.source().contains("Your password was changed")
    });
    sign_out(&b);
    sign_in(&b, &srv, "alice", ALICE_PW);
    b.wait_for("the refusal", |b| {
        b.source().contains("Wrong user name or password")
    });
    sign_in(&b, &srv, "alice", new_pw);
    b.wait_for("the archive", |b| b.url().contains("/web/search"));
    drop(b);
    let (_, log) = srv.stop();
    let audit = std::fs::read_to_string(env.data().join("audit.log")).unwrap();
    for what in [
        "web logon",
        "export message",
        "change password",
        "web logoff",
    ] {
        assert!(audit.contains(what), "{what} audited: {log:?}");
    }
}

/// A local web server that counts every request (path by path).
fn tripwire() -> (u16, Arc<Mutex<Vec<String>>>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let hits = Arc::new(Mutex::new(Vec::new()));
    let h = hits.clone();
    std::thread::spawn(move || {
        for s in l.incoming() {
            let Ok(mut s) = s else { continue };
            let mut buf = [0u8; 4096];
            let n = s.read(&mut buf).unwrap_or(0);
            let req = String::from_utf8_lossy(&buf[..n]).to_string();
            let path = req.split_whitespace().nth(1).unwrap_or("?").to_string();
            h.lock().unwrap().push(path);
            // A 1x1 GIF for whatever asked.
            let gif = b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;";
            let _ = s.write_all(
                format!(
                    "HTTP/1.0 200 OK\r\nContent-Type: image/gif\r\nContent-Length: {}\r\n\r\n",
                    gif.len()
                )
                .as_bytes(),
            );
            let _ = s.write_all(gif);
        }
    });
    (port, hits)
}

fn hostile_message(port: u16) -> String {
    let u = format!("http://127.0.0.1:{port}");
    let png = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==";
    format!(
        "From: Mallory <mallory@example.net>\r\nTo: alice@example.com\r\nSubject: Hostile newsletter\r\n\
Date: Tue, 01 Dec 2026 10:00:00 +0000\r\nMIME-Version: 1.0\r\n\
Content-Type: multipart/related; boundary=REL\r\n\r\n--REL\r\nContent-Type: text/html; charset=utf-8\r\n\r\n\
<html><head><meta http-equiv=\"refresh\" content=\"0;url={u}/refresh\"><base href=\"{u}/base/\">\
<link rel=\"stylesheet\" href=\"{u}/link.css\"><link rel=\"prefetch\" href=\"{u}/prefetch\">\
<style>@import url({u}/import.css); body {{ background: url({u}/style-bg) }}</style>\
<script src=\"{u}/script.js\"></script><script>new Image().src='{u}/inline-script'; alert('script ran'); parent.document.title='pwned';</script></head>\
<body onload=\"fetch('{u}/onload')\"><h1 id=\"headline\">Big news</h1>\
<img src=\"{u}/remote.gif\" alt=\"remote\"><img src=\"x\" onerror=\"fetch('{u}/onerror')\">\
<img src=\"cid:logo@example.net\" alt=\"logo\">\
<a href=\"javascript:fetch('{u}/js-link')\">click</a>\
<form action=\"{u}/form\" method=\"post\"><input name=\"a\" value=\"b\"><button>go</button></form>\
<svg xmlns=\"http://www.w3.org/2000/svg\"><script>fetch('{u}/svg-script')</script><image href=\"{u}/svg-image\"/></svg>\
<iframe src=\"{u}/iframe\"></iframe><object data=\"{u}/object\"></object><embed src=\"{u}/embed\">\
<video poster=\"{u}/poster\"></video><table background=\"{u}/table-bg\"><tr><td>t</td></tr></table>\
<div style=\"background-image: url('{u}/inline-style')\">styled</div>\
<picture><source srcset=\"{u}/srcset\"><img src=\"{u}/picture.gif\"></picture>\
</body></html>\r\n--REL\r\nContent-Type: image/png\r\nContent-ID: <logo@example.net>\r\n\
Content-Transfer-Encoding: base64\r\n\r\n{png}\r\n--REL--\r\n"
    )
}

#[test]
fn hostile_mail_runs_nothing_and_fetches_nothing_until_images_are_allowed() {
    let env = Env::new();
    let (port, hits) = tripwire();
    let dir = env.path("hostile");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("evil.eml"), hostile_message(port)).unwrap();
    env.import(&["eml", dir.to_str().unwrap(), "--user", "alice"]);
    let srv = setup(&env);
    let b = Browser::start("web_hostile_mail");
    sign_in(&b, &srv, "alice", ALICE_PW);
    b.wait_for("the archive", |b| b.url().contains("/web/search"));
    b.goto(&format!("{}/web/search?q=hostile", base(&srv)));
    b.click("td.subject a");
    b.wait_for("the message", |b| {
        b.title().starts_with("Hostile newsletter")
    });
    b.wait_for("the message body frame", |b| {
        b.script(
            "const f = document.querySelector('iframe.body'); \
             return !!(f && f.contentDocument === null || f && f.contentDocument && f.contentDocument.readyState === 'complete');",
        )
        .as_bool()
        .unwrap_or(false)
    });
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(b.alert(), None, "no script ran");
    assert!(b.title().starts_with("Hostile newsletter"), "{}", b.title());
    assert!(
        hits.lock().unwrap().is_empty(),
        "requests left for remote resources: {:?}",
        hits.lock().unwrap()
    );
    let page = b.source();
    assert!(page.contains("Remote images blocked"), "{page}");
    assert!(
        b.url().contains("/web/messages/"),
        "no redirect: {}",
        b.url()
    );

    // The body document itself: sanitized, the inline image from the message.
    let id = b.url().rsplit('/').next().unwrap().to_string();
    b.goto(&format!("{}/web/messages/{id}/body", base(&srv)));
    let body = b.source().to_ascii_lowercase();
    assert!(body.contains("big news"));
    for bad in [
        "<script",
        "onload=",
        "onerror=",
        "javascript:",
        "<form",
        "<svg",
        "<iframe",
        "<object",
        "<embed",
        "url(",
    ] {
        assert!(!body.contains(bad), "{bad} in the body: {body}");
    }
    assert!(
        body.contains("data:image/png;base64"),
        "the cid: image inline"
    );
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        hits.lock().unwrap().is_empty(),
        "{:?}",
        hits.lock().unwrap()
    );

    // Allowed for this message: the remote images come, nothing else does.
    b.goto(&format!("{}/web/messages/{id}", base(&srv)));
    b.click("p.notice a");
    let deadline = Instant::now() + Duration::from_secs(20);
    while hits.lock().unwrap().is_empty() {
        assert!(
            Instant::now() < deadline,
            "the allowed images were not loaded"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_secs(1));
    let got = hits.lock().unwrap().clone();
    for path in &got {
        assert!(
            path == "/remote.gif" || path == "/picture.gif",
            "only images were fetched: {got:?}"
        );
    }
    assert_eq!(b.alert(), None);
}

#[test]
fn phone_width_and_keyboard_only() {
    let env = Env::new();
    let srv = setup(&env);
    let b = Browser::start("web_phone_keyboard");
    b.window(360, 740);
    let fits = |b: &Browser| {
        b.script("return document.documentElement.scrollWidth <= window.innerWidth + 1;")
            .as_bool()
            .unwrap()
    };
    b.goto(&format!("{}/web/login", base(&srv)));
    assert!(fits(&b), "sign-in fits 360 px");
    sign_in(&b, &srv, "alice", ALICE_PW);
    b.wait_for("the archive", |b| b.url().contains("/web/search"));
    assert!(fits(&b), "the archive fits 360 px");

    // Keyboard only: Tab to the search box, type, Enter; Tab to the first hit, Enter.
    let active = |b: &Browser, js: &str| {
        b.script(&format!("const a = document.activeElement; return {js};"))
    };
    let mut n = 0;
    while active(&b, "a.id").as_str() != Some("q") {
        b.keys("\u{E004}");
        n += 1;
        assert!(n < 10, "the search box is reachable by Tab");
    }
    b.keys("subject:imap\u{E007}");
    b.wait_for("the results", |b| b.source().contains("file test"));
    assert!(fits(&b), "results fit 360 px");
    let mut n = 0;
    while !active(&b, "a.href || ''")
        .as_str()
        .unwrap()
        .contains("/web/messages/")
    {
        b.keys("\u{E004}");
        n += 1;
        assert!(n < 60, "a hit is reachable by Tab");
    }
    b.keys("\u{E007}");
    b.wait_for("the message", |b| b.title().starts_with("IMAP file test"));
    assert!(fits(&b), "the message fits 360 px");
    // Focus is visible: the stylesheet gives focused controls an outline.
    let outline = b.script(
        "document.querySelector('nav.actions a').focus(); \
         return getComputedStyle(document.activeElement).outlineStyle;",
    );
    assert_eq!(outline.as_str(), Some("solid"));
}

#[test]
fn the_main_pages_pass_an_accessibility_check() {
    let env = Env::new();
    let srv = setup(&env);
    let b = Browser::start("web_accessibility");
    let mut found = Vec::new();
    // Inline styles would be refused by the pages' policy (style-src 'self').
    let check = |b: &Browser, page: &str, found: &mut Vec<String>| {
        found.extend(
            b.accessibility_violations()
                .into_iter()
                .map(|v| format!("{page}: {v}")),
        );
        if b.source().contains(" style=\"") {
            found.push(format!("{page}: an inline style attribute"));
        }
    };
    b.goto(&format!("{}/web/login", base(&srv)));
    check(&b, "sign-in", &mut found);
    sign_in(&b, &srv, "alice", ALICE_PW);
    b.wait_for("the archive", |b| b.url().contains("/web/search"));
    check(&b, "archive", &mut found);
    b.goto(&format!("{}/web/search?q=subject%3Aimap", base(&srv)));
    check(&b, "results", &mut found);
    b.click("td.subject a");
    b.wait_for("the message", |b| b.title().starts_with("IMAP file test"));
    check(&b, "message", &mut found);
    b.goto(&format!("{}/web/password", base(&srv)));
    check(&b, "password", &mut found);
    b.goto(&format!("{}/web/messages/9:999", base(&srv)));
    check(&b, "not found", &mut found);
    assert!(
        found.is_empty(),
        "serious or critical violations:\n{}",
        found.join("\n")
    );
}

#[test]
fn pages_are_compressed_cacheable_and_under_a_strict_policy() {
    use crate::server::web_call;
    let env = Env::new();
    let srv = Server::start(&env);
    let (code, head, body) = web_call(
        srv.https,
        "GET",
        "/web/login",
        &["Accept-Encoding: gzip"],
        None,
    );
    assert_eq!(code, 200);
    let head = head.to_ascii_lowercase();
    assert!(head.contains("content-encoding: gzip"), "{head}");
    assert!(body.starts_with(&[0x1f, 0x8b]), "gzip bytes");
    assert!(
        head.contains("content-security-policy: default-src 'none'"),
        "{head}"
    );
    assert!(head.contains("x-frame-options: deny"), "{head}");
    assert!(
        !head.contains("script-src"),
        "no script is allowed on pages: {head}"
    );
    let (code, head, _) = web_call(srv.https, "GET", "/web/static/app.css", &[], None);
    assert_eq!(code, 200);
    assert!(
        head.to_ascii_lowercase()
            .contains("max-age=31536000, immutable"),
        "{head}"
    );
    // Signed out, every page leads to the sign-in page.
    for p in [
        "/web/search",
        "/web/messages/1:1",
        "/web/messages/1:1/body",
        "/web/password",
    ] {
        let (code, head, _) = web_call(srv.https, "GET", p, &[], None);
        assert_eq!(code, 303, "{p}");
        assert!(
            head.to_ascii_lowercase().contains("location: /web/login"),
            "{p}: {head}"
        );
    }
    let (code, _, _) = web_call(srv.https, "POST", "/web/logout", &[], None);
    assert_eq!(code, 303, "no session: to the sign-in page");
    // With a session, a form without its CSRF token is refused (another site's page could
    // post it; it cannot read the token).
    srv.ok(
        "/api/invoke/SetUserPassword",
        &format!("userName=alice&password={ALICE_PW}"),
    );
    srv.ok(
        "/api/invoke/SetUserPrivileges",
        "userName=alice&privileges=login",
    );
    let jar = env.path("cookies");
    let curl = |args: &[&str]| {
        let out = std::process::Command::new("curl")
            .args(["-sk", "-o", "/dev/null", "-w", "%{http_code}", "-b"])
            .arg(&jar)
            .arg("-c")
            .arg(&jar)
            .args(args)
            .output()
            .unwrap();
        String::from_utf8(out.stdout).unwrap()
    };
    let url = |p: &str| format!("https://127.0.0.1:{}{p}", srv.https);
    // The sign-in form has its own token (login CSRF): a form posted from elsewhere, without
    // the token its page set in a cookie, signs no one in.
    let logon = format!("userName=alice&password={ALICE_PW}");
    assert_eq!(curl(&["-d", &logon, &url("/web/login")]), "403");
    assert_eq!(curl(&[&url("/web/search")]), "303", "not signed in");
    // Each sign-in page sets a fresh token.
    let token = || {
        let page = std::process::Command::new("curl")
            .args(["-sk", "-b"])
            .arg(&jar)
            .arg("-c")
            .arg(&jar)
            .arg(url("/web/login"))
            .output()
            .unwrap();
        let page = String::from_utf8(page.stdout).unwrap();
        page.split("name=\"csrf\" value=\"")
            .nth(1)
            .and_then(|r| r.split('"').next())
            .expect("the form's token")
            .to_string()
    };
    let t = token();
    assert_eq!(
        curl(&["-d", &format!("{logon}&csrf=forged{t}"), &url("/web/login")]),
        "403"
    );
    let t = token();
    assert_eq!(
        curl(&["-d", &format!("{logon}&csrf={t}"), &url("/web/login")]),
        "303"
    );
    assert_eq!(curl(&[&url("/web/search")]), "200");
    assert_eq!(curl(&["-d", "csrf=forged", &url("/web/logout")]), "403");
    assert_eq!(curl(&["-d", "", &url("/web/messages/1:1/delete")]), "403");
    assert_eq!(curl(&[&url("/web/search")]), "200", "still signed in");
    // A user who is not an administrator cannot act through an admin form, even with a
    // valid token of their own session.
    let search = std::process::Command::new("curl")
        .args(["-sk", "-b"])
        .arg(&jar)
        .arg(url("/web/search"))
        .output()
        .unwrap();
    let search = String::from_utf8(search.stdout).unwrap();
    let csrf = search
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .expect("the session's token");
    for (path, form) in [
        (
            "/web/admin/compliance",
            format!("csrf={csrf}&adminArchiveAccess=unblocked&password={ALICE_PW}"),
        ),
        ("/web/admin/stores", format!("csrf={csrf}&action=verifyAll")),
        (
            "/web/admin/users",
            format!("csrf={csrf}&userName=mallory&privilege=login"),
        ),
    ] {
        assert_eq!(curl(&["-d", &form, &url(path)]), "403", "{path}");
    }
    let compliance = srv.ok("/api/invoke/GetComplianceConfiguration", "");
    assert_eq!(compliance["adminArchiveAccess"], false);
    srv.stop();
}

#[test]
fn advanced_search_and_saved_searches() {
    let env = Env::new();
    let srv = setup(&env);
    let b = Browser::start("web_advanced_search");
    sign_in(&b, &srv, "alice", ALICE_PW);
    b.wait_for("the archive", |b| b.url().contains("/web/search"));

    // The form of manual §3.2: From, with attachments.
    b.click(".results-head a");
    b.wait_for("the advanced search form", |b| {
        b.count("form.advanced") == 1
    });
    assert!(
        b.accessibility_violations().is_empty(),
        "{:?}",
        b.accessibility_violations()
    );
    b.type_into("#adv-from", "father");
    b.click("input[name=attachments][value=with]");
    b.click("form.advanced button[type=submit]");
    b.wait_for("the results", |b| b.source().contains("Search results"));
    let s = b.source();
    assert!(s.contains("file test"), "{s}");
    assert_eq!(
        b.count("td.subject a"),
        1,
        "only Father Time's message with attachments"
    );

    // Without attachments, the same sender has none.
    b.click(".results-head a");
    b.wait_for("the form, filled in", |b| b.count("form.advanced") == 1);
    let from = b.script("return document.querySelector('#adv-from').value;");
    assert_eq!(
        from.as_str(),
        Some("father"),
        "the form refines the search it came from"
    );
    b.click("input[name=attachments][value=without]");
    b.click("form.advanced button[type=submit]");
    b.wait_for("the results", |b| b.source().contains("Search results"));
    assert_eq!(b.count("td.subject a"), 0);
    b.wait_for("no results", |b| b.source().contains("No messages match"));

    // A bad criterion is told, not a crash.
    b.goto(&format!("{}/web/search?q=&minSize=lots", base(&srv)));
    assert!(b.source().contains("role=\"alert\""), "{}", b.source());

    // Save a search, run it from the sidebar, delete it.
    b.goto(&format!(
        "{}/web/search?q=&from=father&attachments=with",
        base(&srv)
    ));
    b.type_into("#saveName", "Clocks\u{E007}");
    // The page before the submit already shows the results: wait for the
    // page after it, which lists the saved search in the sidebar.
    b.wait_for("the saved search in the sidebar", |b| {
        b.source().contains(">Clocks</a>")
    });
    assert!(b.url().contains("/web/search"), "{}", b.url());
    assert!(b.source().contains("file test"), "{}", b.source());
    b.goto(&format!("{}/web/search", base(&srv)));
    b.click("li.saved a");
    b.wait_for("the saved search's results", |b| {
        b.count("td.subject a") == 1
    });
    b.click("li.saved button");
    b.wait_for("the sidebar without it", |b| {
        !b.source().contains(">Clocks</a>")
    });
    drop(b);
    srv.stop();
    // The same saved search store as the CLI.
    let out = String::from_utf8(env.ok(&["saved", "list", "--user", "alice"])).unwrap();
    assert!(!out.contains("Clocks"), "{out}");
}

#[test]
fn an_administrator_manages_users_in_the_browser_and_others_cannot() {
    let env = Env::new();
    let srv = setup(&env);
    let b = Browser::start("web_admin_users");
    sign_in(&b, &srv, "admin", crate::support::ADMIN_PW);
    b.wait_for("the archive", |b| b.url().contains("/web/search"));
    b.click("nav.user a[href='/web/admin']");
    b.wait_for("the dashboard", |b| b.source().contains("Archive stores"));
    assert!(b.source().contains("No warnings"), "{}", b.source());
    assert!(
        b.accessibility_violations().is_empty(),
        "{:?}",
        b.accessibility_violations()
    );

    // Create carol with login and export.
    b.click("nav.adminnav a[href='/web/admin/users']");
    b.wait_for("the users", |b| b.count("#nu-name") == 1);
    assert!(
        b.accessibility_violations().is_empty(),
        "{:?}",
        b.accessibility_violations()
    );
    b.type_into("#nu-name", "carol");
    b.type_into("#nu-full", "Carol Example");
    b.type_into("#nu-pw", "Amber-Falcon-2026z");
    b.click("input[name=privilege][value=changePassword]");
    b.click("input[name=privilege][value=export]");
    b.click("form.stack button[type=submit]");
    b.wait_for("carol's page", |b| b.title().starts_with("User carol"));
    assert!(
        b.accessibility_violations().is_empty(),
        "{:?}",
        b.accessibility_violations()
    );
    let checked = b.script(
        "return [...document.querySelectorAll('input[name=privilege]:checked')].map(e => e.value).join(',');",
    );
    assert_eq!(checked.as_str(), Some("login,export"));
    b.type_into("#u-emails", "carol@example.com");
    b.click("form.stack:nth-of-type(2) button");
    b.wait_for("saved", |b| b.source().contains("E-mail addresses saved"));
    // A weak password is refused with the policy's reason.
    b.type_into("#u-pw", "short");
    b.click("form.stack:nth-of-type(3) button");
    b.wait_for("the refusal", |b| b.source().contains("role=\"alert\""));
    // Folder access to alice's Inbox: refused while compliance blocks administrators'
    // access to other archives (the same rule as the API's), allowed once it is unblocked.
    b.type_into("#g-folder", "alice/Inbox");
    b.click("form.grant button");
    b.wait_for("the refusal", |b| b.source().contains("compliance blocks"));
    // Unblocking archive access asks for the password again: a wrong one changes nothing.
    b.click("nav.adminnav a[href='/web/admin/compliance']");
    b.wait_for("the compliance page", |b| b.count("#c-pw") == 1);
    assert!(b.text("#access-state").contains("blocked"));
    assert!(
        b.accessibility_violations().is_empty(),
        "{:?}",
        b.accessibility_violations()
    );
    b.click("input[name=adminArchiveAccess][value=unblocked]");
    b.type_into("#c-reason", "case 4711 review");
    b.type_into("#c-pw", "not-my-password\u{E007}");
    b.wait_for("the refusal", |b| b.source().contains("password is wrong"));
    assert!(b.text("#access-state").contains("blocked"));
    assert!(!b.text("#access-state").contains("unblocked"));
    b.click("input[name=adminArchiveAccess][value=unblocked]");
    b.type_into("#c-reason", "case 4711 review");
    b.type_into("#c-pw", &format!("{}\u{E007}", crate::support::ADMIN_PW));
    b.wait_for("the change", |b| {
        b.try_text("#access-state")
            .is_some_and(|t| t.contains("unblocked"))
    });
    // In force at once, and kept in arkiv.toml for the next start.
    let toml = std::fs::read_to_string(env.data().join("arkiv.toml")).unwrap();
    assert!(toml.contains("admin_archive_access = true"), "{toml}");
    b.goto(&format!("{}/web/admin/users/carol", base(&srv)));
    b.type_into("#g-folder", "alice/Inbox");
    b.click("form.grant button");
    b.wait_for("the grant", |b| b.source().contains("Folder access saved"));
    assert!(
        b.source().contains("<td>alice/Inbox</td>"),
        "{}",
        b.source()
    );
    sign_out(&b);

    // carol reads the granted folder in Web Access, nothing of bob's.
    sign_in(&b, &srv, "carol", "Amber-Falcon-2026z");
    b.wait_for("carol's archive", |b| b.url().contains("/web/search"));
    b.goto(&format!("{}/web/search?q=subject%3Aimap", base(&srv)));
    b.wait_for("the granted message", |b| {
        b.source().contains("Father Time")
    });
    sign_out(&b);

    // The administrator takes the access back.
    sign_in(&b, &srv, "admin", crate::support::ADMIN_PW);
    b.wait_for("the archive", |b| b.url().contains("/web/search"));
    b.goto(&format!("{}/web/admin/users/carol", base(&srv)));
    b.click("table.grid form button");
    b.wait_for("the grant removed", |b| {
        b.source().contains("No folder of another archive")
    });
    sign_out(&b);

    // carol signs in to Web Access; the granted folder is gone and the administration pages
    // are not hers.
    sign_in(&b, &srv, "carol", "Amber-Falcon-2026z");
    b.wait_for("carol's archive", |b| b.url().contains("/web/search"));
    assert!(
        !b.source().contains("Father Time"),
        "the grant was taken back"
    );
    assert_eq!(b.count("nav.user a[href='/web/admin']"), 0);
    for p in [
        "/web/admin",
        "/web/admin/users",
        "/web/admin/users/alice",
        "/web/admin/stores",
        "/web/admin/tasks/0123abcd",
        "/web/admin/jobs",
        "/web/admin/archives",
        "/web/admin/profiles",
        "/web/admin/compliance",
        "/web/admin/service",
        "/web/admin/audit",
    ] {
        b.goto(&format!("{}{p}", base(&srv)));
        assert!(b.source().contains("Not allowed"), "{p}");
        assert!(
            !b.source().contains("Archive stores") && !b.source().contains("bob"),
            "{p}"
        );
    }
    sign_out(&b);

    // The administrator deletes carol, confirming by name.
    sign_in(&b, &srv, "admin", crate::support::ADMIN_PW);
    b.wait_for("the archive", |b| b.url().contains("/web/search"));
    b.goto(&format!("{}/web/admin/users/carol", base(&srv)));
    b.click(".danger-zone button");
    b.wait_for("the confirmation asked", |b| {
        b.source().contains("to confirm the deletion")
    });
    b.type_into("#u-confirm", "carol");
    b.click(".danger-zone button");
    b.wait_for("the deletion", |b| b.source().contains("was deleted"));
    assert!(!b.source().contains(">carol</a>"));

    // The audit log in the browser: filtered, newest first, its chain checked.
    b.click("nav.adminnav a[href='/web/admin/audit']");
    b.wait_for("the audit log", |b| b.source().contains("hash chain"));
    assert!(b.source().contains("is intact"), "{}", b.source());
    assert!(
        b.accessibility_violations().is_empty(),
        "{:?}",
        b.accessibility_violations()
    );
    b.type_into("#a-user", "admin");
    b.type_into("#a-text", "DeleteUser\u{E007}");
    b.wait_for("the filtered log", |b| b.url().contains("text=DeleteUser"));
    let rows = b.script(
        "return [...document.querySelectorAll('table.grid tbody tr')].map(r => r.innerText);",
    );
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert!(
        rows[0].as_str().unwrap().contains("userName=carol"),
        "{rows:?}"
    );
    drop(b);
    srv.stop();
    let audit = std::fs::read_to_string(env.data().join("audit.log")).unwrap();
    assert!(
        audit.contains("view audit log"),
        "reading the audit log is recorded"
    );
    let set = audit
        .lines()
        .find(|l| l.contains("SetComplianceConfiguration"))
        .expect("the compliance change is audited");
    assert!(
        set.contains("case 4711 review") && set.contains("\"via\":\"Web"),
        "{set}"
    );
    assert!(
        audit
            .lines()
            .any(|l| l.contains("confirm password") && l.contains("refused")),
        "the wrong password is recorded"
    );
    for f in ["CreateUser", "SetUserEmailAddresses", "DeleteUser"] {
        let line = audit
            .lines()
            .find(|l| l.contains(f) && l.contains("carol"))
            .unwrap_or_else(|| panic!("{f} not audited"));
        assert!(
            line.contains("\"via\":\"Web"),
            "the door is recorded: {line}"
        );
    }
}

/// The administrator's other pages: a store verified with its progress and log on the task
/// page, a job created and its schedule edited in a time zone, archives and folders (a folder
/// renamed), an archiving profile created and run (its failure told, its run listed), and the
/// service with the certificate's fingerprint and expiry — each page checked with axe.
#[test]
fn an_administrator_verifies_a_store_edits_a_job_and_reads_the_service() {
    let env = Env::new();
    let srv = setup(&env);
    let b = Browser::start("web_admin_maintenance");
    let axe = |b: &Browser| {
        let v = b.accessibility_violations();
        assert!(v.is_empty(), "{}: {v:?}", b.url());
    };
    sign_in(&b, &srv, "admin", crate::support::ADMIN_PW);
    b.wait_for("the archive", |b| b.url().contains("/web/search"));

    // Stores: verify store 1 and follow it on its task page until it ends.
    b.goto(&format!("{}/web/admin/stores", base(&srv)));
    b.wait_for("the stores", |b| b.title().starts_with("Archive stores"));
    axe(&b);
    b.click("details.manage summary");
    b.click("details.manage form input[name=includeIndexes]");
    b.click("details.manage form:nth-of-type(3) button");
    b.wait_for("the task page", |b| b.url().contains("/web/admin/tasks/"));
    b.wait_for("the verification to end", |b| {
        b.try_text("#outcome")
            .is_some_and(|t| !t.contains("Running"))
    });
    assert_eq!(b.text("#outcome"), "Succeeded.");
    let log = b.text("#log");
    assert!(log.contains("messages verified"), "{log}");
    assert!(log.contains("no problems found"), "{log}");
    assert_eq!(
        b.script("return document.querySelector('#progress').value;")
            .as_f64(),
        Some(100.0)
    );
    assert_eq!(b.count("form button.danger"), 0, "nothing left to cancel");
    axe(&b);
    // A task of a token that does not exist is a clear 404 page.
    b.goto(&format!("{}/web/admin/tasks/0123abcd", base(&srv)));
    assert!(b.source().contains("No such task"));

    // Rename the store; an unknown state is refused by the API's own check.
    b.goto(&format!("{}/web/admin/stores", base(&srv)));
    b.click("details.manage summary");
    b.script("document.querySelector('#name-1').value = '';");
    b.type_into("#name-1", "Main store\u{E007}");
    b.wait_for("the rename", |b| b.source().contains("was renamed"));
    assert!(b.source().contains("<td>Main store</td>"), "{}", b.source());

    // Jobs: create a weekly verification in Berlin time, then move it to monthly in Tokyo.
    b.click("nav.adminnav a[href='/web/admin/jobs']");
    b.wait_for("the jobs", |b| b.count("#nj-action") == 1);
    axe(&b);
    b.type_into("#nj-name", "Weekly check");
    b.type_into("#nj-action", "VerifyStores");
    b.script(
        "document.querySelector('#new-tz').value = 'Europe/Berlin';\
         document.querySelector('#new-kind').value = 'weekly';\
         document.querySelector('#new-dow').value = 'Sunday';\
         document.querySelector('#new-time').value = '03:30';",
    );
    b.click("form.stack:last-of-type button[type=submit]");
    b.wait_for("the job", |b| b.source().contains("was created"));
    let row = b.text("table.grid tbody tr");
    assert!(row.contains("Weekly check"), "{row}");
    assert!(row.contains("every Sunday at 03:30"), "{row}");
    assert!(row.contains("Europe/Berlin"), "{row}");
    assert!(
        row.contains("+01:00") || row.contains("+02:00"),
        "next run in Berlin time: {row}"
    );
    b.click("details.manage summary");
    b.script(
        "const f = document.querySelector('details.manage form');\
         f.querySelector('select[name=timeZoneId]').value = 'Asia/Tokyo';\
         f.querySelector('select[name=kind]').value = 'monthly';\
         f.querySelector('input[name=dayOfMonth]').value = 'Last';\
         f.querySelector('select[name=dayOfWeek]').value = 'Friday';\
         f.querySelector('input[name=time]').value = '22:15';",
    );
    b.click("details.manage form button[type=submit]");
    b.wait_for("the schedule saved", |b| {
        b.source().contains("schedule of job #1 was saved")
    });
    let row = b.text("table.grid tbody tr");
    assert!(row.contains("monthly on Last Friday at 22:15"), "{row}");
    assert!(
        row.contains("Asia/Tokyo") && row.contains("+09:00"),
        "{row}"
    );
    // A schedule that is not one is refused with the API's reason.
    b.click("details.manage summary");
    b.script(
        "const f = document.querySelector('details.manage form');\
         f.querySelector('select[name=kind]').value = 'monthly';\
         f.querySelector('input[name=dayOfMonth]').value = '40';",
    );
    b.click("details.manage form button[type=submit]");
    b.wait_for("the refusal", |b| b.source().contains("role=\"alert\""));
    assert!(b.source().contains("dayOfMonth"), "{}", b.source());
    // Run it now: its result is listed.
    b.click("details.manage summary");
    b.click("details.manage .row form:nth-of-type(2) button");
    b.wait_for("started", |b| b.source().contains("was started"));
    b.wait_for("its result", |b| {
        b.goto(&format!("{}/web/admin/jobs", base(&srv)));
        b.source().contains("succeeded")
    });

    // Archives: statistics, and a folder renamed.
    b.click("nav.adminnav a[href='/web/admin/archives']");
    b.wait_for("the archives", |b| b.title().starts_with("Archives"));
    axe(&b);
    assert!(b.source().contains("<td>alice</td>"), "{}", b.source());
    // alice's folders show by name only while compliance blocks archive access.
    assert!(
        !b.text("ul.folders").contains("alice/Inbox"),
        "{}",
        b.source()
    );
    // Renaming a folder inside an archive is administration, allowed while archive access is
    // blocked (manual §5.11: "renaming folders can only be performed through ... Archives");
    // moving it into another archive is reading it, and refused.
    b.type_into("#m-from", "alice/Inbox");
    b.type_into("#m-to", "alice/Mail\u{E007}");
    b.wait_for("the rename", |b| {
        b.source().contains("'alice/Inbox' is now 'alice/Mail'")
    });
    b.type_into("#m-from", "alice/Mail");
    b.type_into("#m-to", "bob/Mail\u{E007}");
    b.wait_for("the refusal", |b| b.source().contains("role=\"alert\""));
    assert!(
        b.text("p.error").contains("compliance"),
        "{}",
        b.text("p.error")
    );

    // Profiles: one for a server that is not there; running it fails clearly and is listed.
    b.click("nav.adminnav a[href='/web/admin/profiles']");
    b.wait_for("the profiles", |b| b.count("#p-props") == 1);
    axe(&b);
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = dead.local_addr().unwrap().port();
    drop(dead);
    b.script(&format!(
        "document.querySelector('#p-props').value = JSON.stringify({{name: 'Gone server', type: 'imap', host: '127.0.0.1', port: {port}, security: 'tls', userName: 'x', password: 'y', targetUser: 'alice'}});"
    ));
    b.click("form.stack button[type=submit]");
    b.wait_for("the profile", |b| b.source().contains("was created"));
    assert!(
        b.source().contains("<td>Gone server</td>"),
        "{}",
        b.source()
    );
    b.click("button[aria-label='Run profile Gone server now']");
    b.wait_for("the task page", |b| b.url().contains("/web/admin/tasks/"));
    b.wait_for("the run to end", |b| {
        b.try_text("#outcome")
            .is_some_and(|t| !t.contains("Running"))
    });
    assert!(
        b.text("#outcome").starts_with("Failed"),
        "{}",
        b.text("#outcome")
    );
    b.goto(&format!("{}/web/admin/profiles", base(&srv)));
    assert!(b.source().contains("Runs of the last 30 days"));
    assert!(
        b.text("table.grid:last-of-type tbody")
            .contains("Gone server")
    );

    // The service: listeners and the certificate with its fingerprint and expiry.
    b.click("nav.adminnav a[href='/web/admin/service']");
    b.wait_for("the service page", |b| b.count("#certificate") == 1);
    axe(&b);
    let cert = b.text("#certificate");
    assert!(cert.contains("SHA-256 fingerprint"), "{cert}");
    let fp = srv.ok("/api/invoke/GetServiceConfiguration", "")["certificateFingerprint"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(cert.contains(&fp), "{cert} / {fp}");
    assert!(cert.contains("Valid until"), "{cert}");
    assert!(b.source().contains("Web Access"), "{}", b.source());
    drop(b);
    srv.stop();
    let audit = std::fs::read_to_string(env.data().join("audit.log")).unwrap();
    for f in [
        "VerifyStore",
        "RenameStore",
        "CreateJob",
        "SetJobSchedule",
        "RunProfile",
    ] {
        assert!(
            audit
                .lines()
                .any(|l| l.contains(f) && l.contains("\"via\":\"WebAccess\"")),
            "{f} audited as WebAccess"
        );
    }
}

/// The words of a text: runs of letters, lowercased, of four letters or more (shorter ones —
/// "to", "of", "Cc" — say too little to tell text from data).
fn words(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(|c: char| !c.is_alphabetic())
        .filter(|w| w.chars().count() >= 4)
        .map(str::to_lowercase)
}

/// What a reader meets on a page: the text of its elements (the `<title>` too), and its
/// `aria-label`, `placeholder`, `title` and `alt` attributes; a `<textarea>`'s contents are a
/// form value, not text of the page, and are left out (as are other fields' values).
fn visible_text(html: &str) -> String {
    let mut out = String::new();
    let mut rest = html;
    while let Some(open) = rest.find('<') {
        out.push_str(&rest[..open]);
        out.push(' ');
        let Some(close) = rest[open..].find('>') else {
            break;
        };
        let tag = &rest[open..open + close + 1];
        for attr in ["aria-label", "placeholder", "title", "alt"] {
            if let Some(v) = tag.split(&format!(" {attr}=\"")).nth(1) {
                out.push_str(v.split('"').next().unwrap_or(""));
                out.push(' ');
            }
        }
        rest = &rest[open + close + 1..];
        if tag.starts_with("<textarea") {
            rest = rest.split_once("</textarea>").map_or("", |(_, r)| r);
        }
    }
    out.push_str(rest);
    out.replace("&#60;", "<")
        .replace("&#62;", ">")
        .replace("&#34;", "\"")
        .replace("&#39;", "'")
        .replace("&#38;", "&")
}

/// A text with everything inside `⟦…⟧` (nested too) taken out.
fn outside_brackets(text: &str) -> String {
    let mut depth = 0usize;
    let mut out = String::new();
    for c in text.chars() {
        match c {
            '⟦' => {
                depth += 1;
                out.push(' ');
            }
            '⟧' => {
                depth = depth.saturating_sub(1);
                out.push(' ');
            }
            c if depth == 0 => out.push(c),
            _ => {}
        }
    }
    out
}

/// Every string and number in a JSON value (not its keys).
fn leaves(v: &serde_json::Value, out: &mut String) {
    match v {
        serde_json::Value::Array(a) => a.iter().for_each(|x| leaves(x, out)),
        serde_json::Value::Object(o) => o.values().for_each(|x| leaves(x, out)),
        serde_json::Value::String(s) => {
            out.push_str(s);
            out.push('\n');
        }
        other => {
            out.push_str(&other.to_string());
            out.push('\n');
        }
    }
}

/// Every visible text of the pages comes from the message catalogue (`webui::i18n`).
///
/// As an administrator (who may read alice's archive here), with a message, a saved search,
/// a job, an archiving profile and a finished task to show, each main page is fetched with
/// `Accept-Language: en-XA`, the pseudo-locale that puts every catalogue text in `⟦…⟧`.
/// What is left of the page's visible text outside the brackets must be data. Data and text
/// cannot be told apart by looking at the page (both are plain words), so the test learns the
/// page's data elsewhere: from the Administration API answers the page is made of (the same
/// functions, called by the test), the message as written, the audit log file, the task's
/// log, and the names the test chose. A word of the English catalogue (four letters or more)
/// that is not also a word of that data must not appear outside the brackets: if it does, a
/// text bypassed the catalogue. A catalogue word that the data happens to contain cannot be
/// checked on that page; the other pages check it.
///
/// The page carries `<html lang="en-XA">`; without the header it is plain English
/// (`lang="en"`, no bracket), and — for the pages whose data does not change from one request
/// to the next — exactly the pseudo-localized page with its brackets removed.
#[test]
fn every_visible_text_comes_from_the_catalogue() {
    use arkiv_server::webui::i18n::EN;
    use std::collections::BTreeSet;

    let env = Env::new();
    let dir = env.path("l10n");
    std::fs::create_dir_all(&dir).unwrap();
    // A message with an HTML body (a remote image to block) and an attachment.
    let (from, to, subject, text, file) = (
        "Zed Quokka <zed@quokka.example>",
        "alice@example.com",
        "Quokka zephyr rendezvous",
        "Xylophone quokka.",
        "zephyr.txt",
    );
    let message = format!(
        "From: {from}\r\nTo: {to}\r\nSubject: {subject}\r\nDate: Tue, 01 Dec 2026 10:00:00 +0000\r\n\
MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=MIX\r\n\r\n--MIX\r\n\
Content-Type: multipart/alternative; boundary=ALT\r\n\r\n--ALT\r\n\
Content-Type: text/plain; charset=utf-8\r\n\r\n{text}\r\n--ALT\r\n\
Content-Type: text/html; charset=utf-8\r\n\r\n\
<p>{text}</p><img src=\"http://127.0.0.1:9/zephyr.gif\">\r\n--ALT--\r\n--MIX\r\n\
Content-Type: text/plain; name=\"{file}\"\r\nContent-Disposition: attachment; filename=\"{file}\"\r\n\r\n\
Zephyr.\r\n--MIX--\r\n"
    );
    std::fs::write(dir.join("quokka.eml"), &message).unwrap();
    env.import(&[
        "eml",
        dir.to_str().unwrap(),
        "--user",
        "alice",
        "--folder",
        "Inbox",
    ]);
    env.set_config(
        "admin_archive_access = false",
        "admin_archive_access = true",
    );
    let srv = Server::start(&env);
    srv.ok(
        "/api/invoke/CreateJob",
        "name=Nightly%20quokka&action=VerifyStores&timeZoneId=UTC&time=02%3A00&dayOfWeek=Sunday",
    );
    let profile = serde_json::json!({
        "name": "Zephyr pull", "type": "imap", "host": "127.0.0.1", "port": 9,
        "security": "tls", "userName": "zed", "password": "Quokka-2026x", "targetUser": "alice",
    });
    srv.ok(
        "/api/invoke/CreateProfile",
        &serde_urlencoded::to_string([("properties", profile.to_string())]).unwrap(),
    );
    // A finished task: VerifyStore, followed to its end.
    let (_, mut v) = srv.admin("/api/invoke/VerifyStore", Some("id=1"));
    let task = v["token"].as_str().expect("a task").to_string();
    let mut task_log = v["logOutput"].as_str().unwrap_or("").to_string();
    while v["statusCode"] == "running" {
        let b = format!(
            "token={task}&lastKnownStatusVersion={}&millisecondsTimeout=5000",
            v["statusVersion"]
        );
        v = srv.admin("/api/get-status", Some(&b)).1;
        task_log.push_str(v["logOutput"].as_str().unwrap_or(""));
    }

    let jar = env.path("cookies");
    let url = |p: &str| format!("https://127.0.0.1:{}{p}", srv.https);
    let get = |path: &str, lang: Option<&str>| -> (u16, String) {
        let mut c = std::process::Command::new("curl");
        c.args(["-sk", "-w", "\n%{http_code}", "-b"])
            .arg(&jar)
            .arg("-c")
            .arg(&jar);
        if let Some(l) = lang {
            c.args(["-H", &format!("Accept-Language: {l}")]);
        }
        let out = c.arg(url(path)).output().unwrap();
        let s = String::from_utf8(out.stdout).unwrap();
        let (body, code) = s.rsplit_once('\n').unwrap();
        (code.parse().unwrap(), body.to_string())
    };
    let post = |path: &str, form: &str| -> u16 {
        let out = std::process::Command::new("curl")
            .args(["-sk", "-o", "/dev/null", "-w", "%{http_code}", "-b"])
            .arg(&jar)
            .arg("-c")
            .arg(&jar)
            .args(["-d", form])
            .arg(url(path))
            .output()
            .unwrap();
        String::from_utf8(out.stdout).unwrap().parse().unwrap()
    };
    let csrf = |page: &str| {
        page.split("name=\"csrf\" value=\"")
            .nth(1)
            .and_then(|r| r.split('"').next())
            .expect("a form token")
            .to_string()
    };

    let catalogue: BTreeSet<String> = EN
        .entries()
        .into_iter()
        .flat_map(|(key, text)| {
            // Placeholders and (in `_html` texts) tags are not words of the text.
            let mut plain = String::new();
            let mut skip = None;
            for c in text.chars() {
                match (skip, c) {
                    (None, '{') => skip = Some('}'),
                    (None, '<') if key.ends_with("_html") => skip = Some('>'),
                    (Some(end), c) if c == end => skip = None,
                    (None, c) => plain.push(c),
                    _ => {}
                }
            }
            words(&plain).collect::<Vec<_>>()
        })
        .collect();
    assert!(catalogue.len() > 300, "{}", catalogue.len());

    // Checks one page in the pseudo-locale and in English; `data` is what it shows as data.
    let checked = std::cell::Cell::new(0);
    let check = |path: &str, data: &str, stable: bool| {
        let (code, xa) = get(path, Some("en-XA"));
        let (_, en) = get(path, None);
        assert!(
            xa.contains("<html lang=\"en-XA\">"),
            "{path} ({code}): {xa}"
        );
        assert!(xa.contains('⟦'), "{path}");
        assert!(en.contains("<html lang=\"en\">"), "{path}: {en}");
        assert!(!en.contains('⟦') && !en.contains('⟧'), "{path}: {en}");
        let known: BTreeSet<String> = words(data).collect();
        let outside = outside_brackets(&visible_text(&xa));
        let stray: BTreeSet<String> = words(&outside)
            .filter(|w| catalogue.contains(w) && !known.contains(w))
            .collect();
        assert!(
            stray.is_empty(),
            "{path}: text outside the catalogue: {stray:?}\n{outside}"
        );
        if stable {
            let token = |s: &str| s.replace(&csrf(s), "TOKEN");
            let plain = xa
                .replace(['⟦', '⟧'], "")
                .replace("<html lang=\"en-XA\">", "<html lang=\"en\">");
            let (plain, en) = if plain.contains("name=\"csrf\"") {
                (token(&plain), token(&en))
            } else {
                (plain, en)
            };
            assert_eq!(
                plain, en,
                "{path}: English is the pseudo-locale unbracketed"
            );
        }
        checked.set(checked.get() + 1);
        xa
    };

    // Signed out: the sign-in page; then sign in with the form token of a fresh one.
    check("/web/login", "", true);
    let (_, login) = get("/web/login", None);
    assert_eq!(
        post(
            "/web/login",
            &format!(
                "userName=admin&password={}&csrf={}",
                crate::support::ADMIN_PW,
                csrf(&login)
            )
        ),
        303
    );
    let (_, search) = get("/web/search", None);
    assert_eq!(
        post(
            "/web/saved",
            &format!("csrf={}&name=Quokkas&search=q%3Dquokka", csrf(&search))
        ),
        303
    );

    // The data of the pages, as the API, the archive and the test know it.
    let api = |f: &str, args: &str| {
        let mut s = String::new();
        leaves(&srv.ok(&format!("/api/invoke/{f}"), args), &mut s);
        s
    };
    let window = "fromIncluding=2000-01-01T00%3A00%3A00&toExcluding=2100-01-01T00%3A00%3A00";
    let common = "admin Quokkas quokka";
    let folders = format!("{common} {}", api("GetChildFolders", ""));
    // What the results and the message page show of it; its source shows all of it.
    let with_message = format!("{folders} {from} {to} {subject} {text} {file} text/plain");
    let stores = format!(
        "{} {}",
        api("GetStores", "includeSize=true"),
        api("GetStoreIndexes", "")
    );
    let server_info = api("GetServerInfo", "");

    let results = check("/web/search?q=quokka", &with_message, true);
    let id = results
        .split("href=\"/web/messages/")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .expect("the message found")
        .to_string();
    check("/web/search", &with_message, true);
    check(&format!("/web/messages/{id}"), &with_message, true);
    check(
        &format!("/web/messages/{id}/source"),
        &format!("{common} {message}"),
        true,
    );
    check("/web/password", common, true);
    check("/web/advanced?q=quokka", &folders, true);
    check(
        "/web/admin",
        &format!(
            "{common} {server_info} {stores} {} {}",
            api("GetJobResults", &format!("{window}&timeZoneId=UTC")),
            api("GetWorkerResults", &format!("{window}&timeZoneID=UTC"))
        ),
        true,
    );
    check(
        "/web/admin/users",
        &format!("{common} {}", api("GetUsers", "")),
        true,
    );
    check(
        "/web/admin/users/alice",
        &format!("{common} {}", api("GetUserInfo", "userName=alice")),
        true,
    );
    check("/web/admin/stores", &format!("{common} {stores}"), true);
    check(
        &format!("/web/admin/tasks/{task}"),
        &format!("{common} {task} {task_log}"),
        true,
    );
    check(
        "/web/admin/jobs",
        &format!(
            "{common} {} {}",
            api("GetJobs", ""),
            api("GetTimeZones", "")
        ),
        true,
    );
    check(
        "/web/admin/archives",
        &format!("{folders} {}", api("GetFolderStatistics", "")),
        true,
    );
    check(
        "/web/admin/profiles",
        &format!(
            "{common} {} {}",
            api("GetProfiles", ""),
            api("GetWorkerResults", &format!("{window}&timeZoneID=UTC"))
        ),
        true,
    );
    check("/web/admin/compliance", common, true);
    // Sessions (their last request) and the audit log change with every request.
    check(
        "/web/admin/service",
        &format!(
            "{common} {server_info} {} {}",
            api("GetServiceConfiguration", ""),
            api("GetActiveSessions", "")
        ),
        false,
    );
    // The audit log shows the records written before the page.
    let mut audit = format!("{common}\n");
    for line in std::fs::read_to_string(env.data().join("audit.log"))
        .unwrap()
        .lines()
    {
        let record: serde_json::Value = serde_json::from_str(line).unwrap();
        leaves(&record, &mut audit);
        // The arguments show as name=value.
        if let Some(args) = record["args"].as_object() {
            audit.extend(args.keys().map(|k| format!("{k}\n")));
        }
    }
    check("/web/admin/audit", &audit, false);
    // An error page: a task that does not exist.
    check("/web/admin/tasks/0123abcd", common, true);
    assert_eq!(checked.get(), 19);
    srv.stop();
}
