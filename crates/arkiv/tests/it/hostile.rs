//! Hostile and broken input: a clear per-message outcome, exact bytes, no panic.

use std::fs;

use crate::support::Env;

fn junk(len: usize, seed: u32) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect()
}

#[test]
fn broken_messages_are_archived_exactly_or_reported() {
    let env = Env::new();
    let dir = env.path("bad");
    fs::create_dir_all(&dir).unwrap();
    let mut cases: Vec<(&str, Vec<u8>)> = vec![
        ("junk", junk(50_000, 7)),
        ("nul", b"Subject: a\0b\r\nFrom: \0@x\r\n\r\nbody\0with\0nuls\r\n".to_vec()),
        ("latin1", b"Subject: Gr\xfc\xdfe aus K\xf6ln\nFrom: J\xfcrgen <j@x.de>\n\nK\xe4se\n".to_vec()),
        ("no-header", b"just some text without any header at all\n".to_vec()),
        ("unterminated", b"Content-Type: multipart/mixed; boundary=zz\n\n--zz\nContent-Type: text/plain\n\nnever closed".to_vec()),
        ("bad-base64", b"Content-Type: application/pdf\nContent-Transfer-Encoding: base64\n\n!!!not base64 at all!!!\n====\n".to_vec()),
    ];
    // 10,000 MIME parts.
    let mut many = b"Content-Type: multipart/mixed; boundary=\"b\"\n\n".to_vec();
    for i in 0..10_000 {
        many.extend_from_slice(format!("--b\nContent-Type: text/plain\n\npart {i}\n").as_bytes());
    }
    many.extend_from_slice(b"--b--\n");
    cases.push(("many-parts", many));
    // 2,000 levels of nested multiparts.
    let mut deep = Vec::new();
    for i in 0..2000 {
        deep.extend_from_slice(
            format!("Content-Type: multipart/mixed; boundary=\"l{i}\"\n\n--l{i}\n").as_bytes(),
        );
    }
    deep.extend_from_slice(b"Content-Type: text/plain\n\ninnermost\n");
    for i in (0..2000).rev() {
        deep.extend_from_slice(format!("--l{i}--\n").as_bytes());
    }
    cases.push(("deep", deep));
    // Nested message/rfc822 many levels deep.
    let mut inner = b"Subject: core\n\ncore\n".to_vec();
    for _ in 0..200 {
        let mut outer = b"Subject: fwd\nContent-Type: message/rfc822\n\n".to_vec();
        outer.extend_from_slice(&inner);
        inner = outer;
    }
    cases.push(("rfc822-nest", inner));
    for (name, bytes) in &cases {
        fs::write(dir.join(format!("{name}.eml")), bytes).unwrap();
    }
    fs::write(dir.join("empty.eml"), b"").unwrap();

    let r = env.import(&["eml", dir.to_str().unwrap(), "--user", "alice"]);
    let failed = r["failed"].as_array().unwrap();
    assert_eq!(failed.len(), 1, "{r}");
    assert!(failed[0]["origin"].as_str().unwrap().contains("empty.eml"));
    assert!(failed[0]["reason"].as_str().unwrap().contains("empty"));
    assert_eq!(r["archived"].as_u64().unwrap() as usize, cases.len());
    assert!(
        r["flagged"].as_u64().unwrap() >= 1,
        "junk is flagged as unparsed: {r}"
    );
    let mut have: Vec<Vec<u8>> = env.contents("alice")["bad"]
        .iter()
        .map(|x| x.1.clone())
        .collect();
    let mut want: Vec<Vec<u8>> = cases.into_iter().map(|c| c.1).collect();
    have.sort();
    want.sort();
    assert!(
        have == want,
        "every broken message comes back byte for byte"
    );
    let out = env.run(&["import", "eml", dir.to_str().unwrap(), "--user", "alice"]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "exit code 2 when some messages failed"
    );
    assert!(env.run(&["verify"]).status.success());
}

#[test]
fn a_100_mb_message_round_trips() {
    let env = Env::new();
    let payload = junk(75 * 1024 * 1024, 3);
    let mut b64 = String::new();
    {
        const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let mut line = 0;
        for c in payload.chunks(3) {
            let n = (c[0] as u32) << 16
                | (*c.get(1).unwrap_or(&0) as u32) << 8
                | *c.get(2).unwrap_or(&0) as u32;
            for (k, shift) in [18, 12, 6, 0].iter().enumerate() {
                b64.push(if k <= c.len() {
                    T[(n >> shift) as usize & 63] as char
                } else {
                    '='
                });
            }
            line += 4;
            if line == 76 {
                b64.push_str("\r\n");
                line = 0;
            }
        }
        b64.push_str("\r\n");
    }
    let msg = format!(
        "From: a@example.com\r\nSubject: huge\r\nContent-Type: multipart/mixed; boundary=\"q\"\r\n\r\n--q\r\nContent-Type: text/plain\r\n\r\nsee attachment\r\n--q\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\nContent-Disposition: attachment; filename=\"big.bin\"\r\n\r\n{b64}--q--\r\n"
    )
    .into_bytes();
    assert!(msg.len() > 100_000_000);
    let f = env.path("huge.eml");
    fs::write(&f, &msg).unwrap();
    let r = env.import(&["eml", f.to_str().unwrap(), "--user", "alice"]);
    assert_eq!(r["archived"], 1);
    // Stored decoded: about 75 MB, not the 100 MB of base64 text.
    assert!(r["stored_bytes"].as_u64().unwrap() < 80_000_000, "{r}");
    let got = env.contents("alice");
    assert!(got["huge"][0].1 == msg);
}

#[test]
fn oversized_and_truncated_mbox_messages() {
    let env = Env::new();
    let cfg = env.data().join("arkiv.toml");
    let text = fs::read_to_string(&cfg).unwrap();
    fs::write(
        &cfg,
        text.replace(
            "max_message_bytes = 268435456",
            "max_message_bytes = 100000",
        ),
    )
    .unwrap();
    let mut mbox = Vec::new();
    mbox.extend_from_slice(b"From a@b Thu Jan  1 00:00:00 2015\nSubject: small\n\nok\n\n");
    mbox.extend_from_slice(b"From a@b Thu Jan  1 00:00:00 2015\nSubject: big\n\n");
    mbox.extend_from_slice(&b"x".repeat(300_000));
    mbox.extend_from_slice(
        b"\n\nFrom a@b Thu Jan  1 00:00:00 2015\nSubject: after\n\nstill here\n\n",
    );
    mbox.extend_from_slice(
        b"From a@b Thu Jan  1 00:00:00 2015\nSubject: truncated\n\nthe file ends in the mid",
    );
    let f = env.path("box.mbox");
    fs::write(&f, &mbox).unwrap();
    let out = env.run(&[
        "import",
        "mbox",
        f.to_str().unwrap(),
        "--user",
        "alice",
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["archived"], 3, "{r}");
    let failed = r["failed"].as_array().unwrap();
    assert_eq!(failed.len(), 1);
    assert!(
        failed[0]["reason"].as_str().unwrap().contains("100000"),
        "{r}"
    );
    let got = env.contents("alice");
    let mut bodies: Vec<Vec<u8>> = got["box"].iter().map(|x| x.1.clone()).collect();
    bodies.sort();
    assert_eq!(
        bodies,
        vec![
            b"Subject: after\n\nstill here\n".to_vec(),
            b"Subject: small\n\nok\n".to_vec(),
            b"Subject: truncated\n\nthe file ends in the mid".to_vec(),
        ]
    );
}
