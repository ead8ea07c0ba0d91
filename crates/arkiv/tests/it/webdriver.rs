//! A small WebDriver client (W3C protocol over HTTP/1.0 to a local chromedriver) driving
//! Debian's headless Chromium. Hand-rolled on purpose: a dozen endpoints, blocking like the
//! rest of the tests, and no async runtime or new dependency in the test binary.
//!
//! A missing browser fails with its install command. When a test panics, the browser's
//! last page is saved as `target/web-screenshots/<name>.png` so a reader can see what broke.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::{Value, json};

pub const INSTALL: &str = "apt-get install -y chromium chromium-driver fonts-dejavu-core";

pub struct Browser {
    driver: Child,
    port: u16,
    session: String,
    name: String,
    _profile: tempfile::TempDir,
    pub downloads: PathBuf,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn http(port: u16, method: &str, path: &str, body: Option<&Value>) -> Result<Value, String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).map_err(|e| e.to_string())?;
    s.set_read_timeout(Some(Duration::from_secs(120))).ok();
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).map_err(|e| e.to_string())?;
    // Read the head, then exactly Content-Length bytes (the driver may keep the connection).
    let mut out = Vec::new();
    let mut buf = [0u8; 65536];
    let at = loop {
        if let Some(at) = out.windows(4).position(|w| w == b"\r\n\r\n") {
            break at;
        }
        let n = s.read(&mut buf).map_err(|e| e.to_string())?;
        if n == 0 {
            return Err("no HTTP answer".into());
        }
        out.extend_from_slice(&buf[..n]);
    };
    let head = String::from_utf8_lossy(&out[..at]).to_ascii_lowercase();
    let len = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse::<usize>().ok());
    while len.is_none_or(|l| out.len() < at + 4 + l) {
        let n = s.read(&mut buf).map_err(|e| e.to_string())?;
        if n == 0 {
            break;
        }
        out.extend_from_slice(&buf[..n]);
    }
    let v: Value = serde_json::from_slice(&out[at + 4..]).map_err(|e| e.to_string())?;
    if let Some(err) = v["value"]["error"].as_str() {
        return Err(format!(
            "{err}: {}",
            v["value"]["message"].as_str().unwrap_or("")
        ));
    }
    Ok(v["value"].clone())
}

impl Browser {
    /// Starts chromedriver and a headless Chromium that accepts Arkiv's self-signed
    /// certificate. `name` names the failure screenshot.
    pub fn start(name: &str) -> Browser {
        for exe in ["/usr/bin/chromium", "/usr/bin/chromedriver"] {
            assert!(
                Path::new(exe).exists(),
                "{exe} is missing: the browser tests need it ({INSTALL})"
            );
        }
        let port = free_port();
        let driver = Command::new("/usr/bin/chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("chromedriver: {e} ({INSTALL})"));
        let deadline = Instant::now() + Duration::from_secs(20);
        while http(port, "GET", "/status", None).is_err() {
            assert!(Instant::now() < deadline, "chromedriver did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
        let profile = tempfile::tempdir().unwrap();
        let downloads = profile.path().join("downloads");
        std::fs::create_dir_all(&downloads).unwrap();
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "acceptInsecureCerts": true,
            "goog:chromeOptions": {
                "binary": "/usr/bin/chromium",
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu",
                    "--disable-background-networking", "--disable-component-update",
                    "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
                    format!("--user-data-dir={}", profile.path().join("profile").display()),
                    "--window-size=1280,900",
                ],
                "prefs": {
                    "download.default_directory": downloads.to_str().unwrap(),
                    "download.prompt_for_download": false,
                },
            },
        }}});
        let v = http(port, "POST", "/session", Some(&caps))
            .unwrap_or_else(|e| panic!("a Chromium session: {e} ({INSTALL})"));
        let session = v["sessionId"].as_str().unwrap().to_string();
        let b = Browser {
            driver,
            port,
            session,
            name: name.to_string(),
            _profile: profile,
            downloads,
        };
        // Downloads without a prompt, into our directory (headless Chromium).
        let _ = b.cmd(
            "POST",
            "/goog/cdp/execute",
            json!({"cmd": "Browser.setDownloadBehavior", "params": {
                "behavior": "allow", "downloadPath": b.downloads.to_str().unwrap()}}),
        );
        b
    }

    fn cmd(&self, method: &str, path: &str, body: Value) -> Result<Value, String> {
        let p = format!("/session/{}{path}", self.session);
        let body = (method == "POST").then_some(&body);
        http(self.port, method, &p, body)
    }

    fn must(&self, method: &str, path: &str, body: Value) -> Value {
        self.cmd(method, path, body)
            .unwrap_or_else(|e| panic!("WebDriver {method} {path}: {e}"))
    }

    pub fn goto(&self, url: &str) {
        self.must("POST", "/url", json!({"url": url}));
    }

    pub fn url(&self) -> String {
        self.must("GET", "/url", json!({}))
            .as_str()
            .unwrap()
            .to_string()
    }

    pub fn title(&self) -> String {
        self.must("GET", "/title", json!({}))
            .as_str()
            .unwrap()
            .to_string()
    }

    pub fn source(&self) -> String {
        self.must("GET", "/source", json!({}))
            .as_str()
            .unwrap()
            .to_string()
    }

    /// The first element matching a CSS selector.
    pub fn find(&self, css: &str) -> String {
        let v = self.must(
            "POST",
            "/element",
            json!({"using": "css selector", "value": css}),
        );
        v.as_object()
            .and_then(|o| o.values().next())
            .and_then(Value::as_str)
            .unwrap()
            .to_string()
    }

    /// The rendered text of the first element matching a CSS selector.
    pub fn text(&self, css: &str) -> String {
        self.try_text(css)
            .unwrap_or_else(|| panic!("no element '{css}' on {}", self.url()))
    }

    /// The same, or `None` while there is no such element (a page being loaded).
    pub fn try_text(&self, css: &str) -> Option<String> {
        let v = self
            .cmd(
                "POST",
                "/element",
                json!({"using": "css selector", "value": css}),
            )
            .ok()?;
        let el = v.as_object()?.values().next()?.as_str()?.to_string();
        let t = self
            .cmd("GET", &format!("/element/{el}/text"), json!({}))
            .ok()?;
        Some(t.as_str()?.to_string())
    }

    pub fn count(&self, css: &str) -> usize {
        self.must(
            "POST",
            "/elements",
            json!({"using": "css selector", "value": css}),
        )
        .as_array()
        .map_or(0, Vec::len)
    }

    pub fn click(&self, css: &str) {
        let el = self.find(css);
        self.must("POST", &format!("/element/{el}/click"), json!({}));
    }

    pub fn type_into(&self, css: &str, text: &str) {
        let el = self.find(css);
        self.must(
            "POST",
            &format!("/element/{el}/value"),
            json!({"text": text}),
        );
    }

    /// Keys to whatever has the focus (`\u{E004}` is Tab, `\u{E007}` Enter).
    pub fn keys(&self, text: &str) {
        let actions: Vec<Value> = text
            .chars()
            .flat_map(|c| {
                [
                    json!({"type": "keyDown", "value": c.to_string()}),
                    json!({"type": "keyUp", "value": c.to_string()}),
                ]
            })
            .collect();
        self.must(
            "POST",
            "/actions",
            json!({"actions": [{"type": "key", "id": "keyboard", "actions": actions}]}),
        );
        let _ = self.cmd("DELETE", "/actions", json!({}));
    }

    /// Runs a script in the page (the test's own, never the message's) and returns its
    /// value.
    pub fn script(&self, js: &str) -> Value {
        self.must("POST", "/execute/sync", json!({"script": js, "args": []}))
    }

    /// Runs an asynchronous script: it ends by calling its last argument with the value.
    pub fn script_async(&self, js: &str) -> Value {
        self.must("POST", "/execute/async", json!({"script": js, "args": []}))
    }

    /// axe-core's serious and critical accessibility violations on the current page (axe
    /// from `crates/arkiv/tests/web`, installed by scripts/test).
    pub fn accessibility_violations(&self) -> Vec<String> {
        let axe = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("tests/web/node_modules/axe-core/axe.min.js");
        let src = std::fs::read_to_string(&axe).unwrap_or_else(|e| {
            panic!(
                "{}: {e}: install it with `cd crates/arkiv/tests/web && npm ci` (scripts/test does)",
                axe.display()
            )
        });
        self.script(&format!("{src}\n;return true;"));
        let r = self.script_async(
            "const done = arguments[arguments.length - 1]; \
             axe.run(document).then(r => done(r.violations.map(v => ({id: v.id, impact: v.impact, \
               help: v.help, nodes: v.nodes.map(n => n.target.join(' ')).slice(0, 3)})))) \
               .catch(e => done([{id: 'axe-error', impact: 'critical', help: String(e), nodes: []}]));",
        );
        r.as_array()
            .unwrap()
            .iter()
            .filter(|v| matches!(v["impact"].as_str(), Some("serious" | "critical")))
            .map(|v| {
                format!(
                    "{} ({}): {} at {}",
                    v["id"], v["impact"], v["help"], v["nodes"]
                )
            })
            .collect()
    }

    /// The text of an open alert, if a page managed to open one.
    pub fn alert(&self) -> Option<String> {
        self.cmd("GET", "/alert/text", json!({}))
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
    }

    pub fn window(&self, width: u32, height: u32) {
        self.must(
            "POST",
            "/window/rect",
            json!({"width": width, "height": height}),
        );
    }

    pub fn screenshot(&self, path: &Path) {
        if let Ok(v) = self.cmd("GET", "/screenshot", json!({}))
            && let Some(b) = v.as_str()
            && let Ok(png) = base64::engine::general_purpose::STANDARD.decode(b)
        {
            let _ = std::fs::create_dir_all(path.parent().unwrap());
            let _ = std::fs::write(path, png);
        }
    }

    /// Waits until `f` holds (polling), or panics with `what`.
    pub fn wait_for(&self, what: &str, mut f: impl FnMut(&Browser) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while !f(self) {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let dir =
                PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/web-screenshots");
            let path = dir.join(format!("{}.png", self.name));
            self.screenshot(&path);
            eprintln!("screenshot of the last page: {}", path.display());
        }
        let _ = self.cmd("DELETE", "", json!({}));
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}
