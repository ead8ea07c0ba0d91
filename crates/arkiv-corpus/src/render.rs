//! Rendering: a `Plan` (who, when, what, which attachments) becomes RFC 5322 / MIME bytes.
//!
//! Rendering is a pure function of the plan (every choice comes from an RNG seeded by the
//! plan's seed), which is what lets a duplicate or a quoted reply be regenerated instead of
//! stored.

use crate::attach::{self, Attachment, Kind};
use crate::date::{self, SPAN, START};
use crate::encode::{self, Charset};
use crate::people::{MAILERS, Person};
use crate::plan::{Plan, Quote};
use crate::rng::{Rng, mix};
use crate::text::{self, Lang};

/// Sub-seed streams derived from a plan's or an attachment's seed.
pub(crate) const TEXT_STREAM: u64 = 1;
const HEADER_STREAM: u64 = 2;
const PART_STREAM: u64 = 3;
const FORWARD_STREAM: u64 = 4;
const FORWARD_SUBJECT_STREAM: u64 = 6;

/// What rendering needs besides the plan.
pub(crate) struct Ctx<'a> {
    pub(crate) people: &'a [Person],
    pub(crate) users: usize,
}

/// Buffers reused from message to message.
#[derive(Default)]
pub(crate) struct Scratch {
    raw: Vec<u8>,
}

struct Writer<'a, 'b> {
    ctx: &'a Ctx<'a>,
    scratch: &'b mut Scratch,
    out: Vec<u8>,
    rng: Rng,
    boundary_tag: u64,
    boundaries: u32,
}

/// Renders `plan` to message bytes (LF line ends, ending with `\n`).
pub(crate) fn render(plan: &Plan, ctx: &Ctx<'_>, scratch: &mut Scratch) -> Vec<u8> {
    let estimate: usize = 3000
        + plan.text_len * 3
        + plan
            .attachments
            .iter()
            .map(|a| a.size * 4 / 3 + 600)
            .sum::<usize>();
    let mut w = Writer {
        ctx,
        scratch,
        out: Vec::with_capacity(estimate),
        rng: Rng::new(mix(plan.seed, HEADER_STREAM)),
        boundary_tag: plan.seed,
        boundaries: 0,
    };
    w.message(plan);
    w.out
}

/// Subject and language of the forwarded message rendered from an attachment seed.
pub(crate) fn forwarded_subject(seed: u64) -> (String, Lang) {
    let mut r = Rng::new(mix(seed, FORWARD_SUBJECT_STREAM));
    let lang = Lang::pick(&mut r);
    (text::subject(&mut r, lang), lang)
}

impl Writer<'_, '_> {
    fn push(&mut self, s: &str) {
        self.out.extend_from_slice(s.as_bytes());
    }

    fn boundary(&mut self) -> String {
        self.boundaries += 1;
        // "=_" cannot occur in base64 or quoted-printable output, nor in generated text.
        format!(
            "=_arkiv_{:012x}_{}",
            self.boundary_tag & 0xFFFF_FFFF_FFFF,
            self.boundaries
        )
    }

    fn message(&mut self, plan: &Plan) {
        let people = self.ctx.people;
        let from = &people[plan.from];
        let rcpt = plan
            .to
            .first()
            .or(plan.cc.first())
            .map_or(&from.email, |&p| &people[p].email);
        self.push(&format!("Return-Path: <{}>\n", from.email));
        self.received(plan, from, rcpt);
        self.date_from_to(plan, from);
        self.address_header("Cc", &plan.cc);
        self.address_header("Bcc", &plan.bcc);
        self.subject(&plan.subject);
        self.push(&format!("Message-ID: {}\n", plan.message_id));
        if let Some(parent) = &plan.in_reply_to {
            self.push(&format!("In-Reply-To: {parent}\n"));
        }
        if !plan.references.is_empty() {
            self.push(&format!("References: {}\n", plan.references.join("\n\t")));
        }
        self.push("MIME-Version: 1.0\n");
        let mailer = MAILERS[from.mailer];
        if !mailer.is_empty() {
            self.push(mailer);
            self.push("\n");
        }
        match self.rng.below(50) {
            0 => self.push("X-Priority: 1 (Highest)\nImportance: High\n"),
            1 => self.push("X-Priority: 5 (Lowest)\nImportance: Low\n"),
            2 => self.push("Importance: high\n"),
            _ => {}
        }
        let text = self.body_text(plan, from);
        if plan.attachments.is_empty() {
            self.text_entity(&text, plan.lang, plan.html);
        } else {
            let b = self.boundary();
            self.push(&format!(
                "Content-Type: multipart/mixed;\n\tboundary=\"{b}\"\n\n\
                 This is a multi-part message in MIME format.\n\n--{b}\n"
            ));
            self.text_entity(&text, plan.lang, plan.html);
            for a in &plan.attachments {
                self.push(&format!("\n--{b}\n"));
                self.attachment(a);
            }
            self.push(&format!("\n--{b}--\n"));
        }
    }

    fn received(&mut self, plan: &Plan, from: &Person, rcpt: &str) {
        let internal = from.email.ends_with("@example.com");
        let mut t = plan.time + self.rng.range(2, 90) as i64;
        let server = |t: i64| {
            date::rfc5322(
                t,
                if (4..=10).contains(&date::month(t)) {
                    120
                } else {
                    60
                },
            )
        };
        let id = |r: &mut Rng| format!("{:010X}", r.next_u64() >> 24);
        let lmtp = id(&mut self.rng);
        self.push(&format!(
            "Received: from mail.example.com (mail.example.com [10.1.0.25])\n\
             \tby imap.example.com (Dovecot) with LMTP id {lmtp}\n\tfor <{rcpt}>; {}\n",
            server(t)
        ));
        t -= self.rng.range(1, 30) as i64;
        let smtp = id(&mut self.rng);
        if internal {
            let (c, d) = (self.rng.range(2, 250), self.rng.range(2, 250));
            self.push(&format!(
                "Received: from [10.2.{c}.{d}] (client-{c}-{d}.example.com [10.2.{c}.{d}])\n\
                 \tby mail.example.com (Postfix) with ESMTPSA id {smtp}\n\tfor <{rcpt}>; {}\n",
                server(t)
            ));
        } else {
            let domain = from.email.split('@').nth(1).unwrap_or("example.org");
            let ip = self.rng.range(1, 254);
            self.push(&format!(
                "Received: from smtp.{domain} (smtp.{domain} [203.0.113.{ip}])\n\
                 \tby mx1.example.com (Postfix) with ESMTPS id {smtp}\n\tfor <{rcpt}>; {}\n",
                server(t)
            ));
            if self.rng.chance(0.6) {
                t -= self.rng.range(1, 20) as i64;
                let (c, d) = (self.rng.range(1, 254), self.rng.range(1, 254));
                let id = self.rng.next_u64() as u32;
                self.push(&format!(
                    "Received: from [192.168.{c}.{d}] (unknown [198.51.100.{d}])\n\
                     \tby smtp.{domain} with ESMTPSA id {id:08x}\n\tfor <{rcpt}>; {}\n",
                    date::rfc5322(t, from.offset_at(t))
                ));
            }
        }
    }

    /// `Name <address>`, with RFC 2047 encoded words for non-ASCII names.
    fn mailbox(&mut self, p: &Person) -> String {
        let mut s = String::new();
        if p.name.is_ascii() {
            match self.rng.below(10) {
                0 => return p.email.clone(),
                1..=3 => {
                    let (first, last) = p.name.split_once(' ').unwrap_or((&p.name, ""));
                    s.push_str(&format!("\"{last}, {first}\""));
                }
                4..=5 => s.push_str(&format!("\"{}\"", p.name)),
                _ => s.push_str(&p.name),
            }
        } else {
            let latin1 = p.name.chars().all(|c| u32::from(c) < 256);
            match self.rng.below(10) {
                0..=3 if latin1 => encode::encoded_words_q(&p.name, "ISO-8859-1", " ", &mut s),
                0..=4 => encode::encoded_words_q(&p.name, "UTF-8", " ", &mut s),
                _ => encode::encoded_words_b(&p.name, " ", &mut s),
            }
        }
        s.push_str(&format!(" <{}>", p.email));
        s
    }

    fn address_header(&mut self, name: &str, list: &[usize]) {
        if list.is_empty() {
            return;
        }
        let mut line_len = name.len() + 2;
        self.push(name);
        self.push(": ");
        for (i, &p) in list.iter().enumerate() {
            let m = self.mailbox(&self.ctx.people[p]);
            if i > 0 {
                if line_len + m.len() + 2 > 76 {
                    self.push(",\n\t");
                    line_len = 8;
                } else {
                    self.push(", ");
                    line_len += 2;
                }
            }
            self.push(&m);
            line_len += m.len();
        }
        self.push("\n");
    }

    fn subject(&mut self, subject: &str) {
        let mut s = String::from("Subject: ");
        if subject.is_ascii() {
            s.push_str(subject);
        } else {
            let latin1 = subject.chars().all(|c| u32::from(c) < 256);
            match self.rng.below(10) {
                0..=2 if latin1 => encode::encoded_words_q(subject, "ISO-8859-1", "\n ", &mut s),
                0..=3 => encode::encoded_words_q(subject, "UTF-8", "\n ", &mut s),
                _ => encode::encoded_words_b(subject, "\n ", &mut s),
            }
        }
        s.push('\n');
        self.push(&s);
    }

    /// Greeting, the plan's own paragraphs, sign-off, signature, and the quoted parent.
    fn body_text(&mut self, plan: &Plan, from: &Person) -> String {
        let people = self.ctx.people;
        let mut text = String::with_capacity(plan.text_len + 600);
        let to = plan.to.first().map(|&p| &people[p]);
        let first = to.map_or("all", |p| p.first.as_str());
        let greeting = match plan.lang {
            Lang::En => ["Hi {},", "Hello {},", "Dear {},", "{},"][self.rng.below(4)],
            Lang::De => ["Hallo {},", "Liebe/r {},", "Guten Tag {},"][self.rng.below(3)],
            Lang::Fr => ["Bonjour {},", "Cher {},", "Salut {},"][self.rng.below(3)],
            Lang::Ru => ["Здравствуйте, {}!", "Добрый день, {}!"][self.rng.below(2)],
            Lang::Ja => [
                "{}様\n\nいつもお世話になっております。",
                "{}様\n\nお疲れ様です。",
            ][self.rng.below(2)],
            Lang::Zh => ["{}，你好！", "您好，{}："][self.rng.below(2)],
        };
        text.push_str(&greeting.replace("{}", first));
        text.push_str("\n\n");
        let mut trng = Rng::new(mix(plan.seed, TEXT_STREAM));
        text::paragraphs(&mut trng, plan.lang, plan.text_len, &mut text);
        let signoff = match plan.lang {
            Lang::En => ["Best regards,", "Thanks,", "Cheers,", "Kind regards,"][self.rng.below(4)],
            Lang::De => {
                ["Viele Grüße", "Mit freundlichen Grüßen", "Beste Grüße"][self.rng.below(3)]
            }
            Lang::Fr => ["Cordialement,", "Bien à vous,", "Merci d'avance,"][self.rng.below(3)],
            Lang::Ru => ["С уважением,", "Спасибо,"][self.rng.below(2)],
            Lang::Ja => "よろしくお願いします。",
            Lang::Zh => ["谢谢！", "此致"][self.rng.below(2)],
        };
        text.push_str(&format!("\n{signoff}\n{}\n", from.name));
        if self.rng.chance(0.3) {
            text.push_str(&format!(
                "\n-- \n{}\n{}\nPhone: +{} {} {}\n{}\n",
                from.name,
                [
                    "Sales Manager",
                    "Head of IT",
                    "Project Lead",
                    "Accountant",
                    "CEO"
                ][self.rng.below(5)],
                self.rng.range(1, 89),
                self.rng.range(10, 999),
                self.rng.range(100_000, 9_999_999),
                from.email.split('@').nth(1).unwrap_or_default(),
            ));
        }
        if let Some(q) = &plan.quote {
            self.quote(q, &mut text);
        }
        text
    }

    fn quote(&mut self, q: &Quote, text: &mut String) {
        let author = &self.ctx.people[q.author];
        let when = date::rfc5322(q.time, author.offset_at(q.time));
        text.push_str(&format!(
            "\nOn {when}, {} <{}> {}:\n",
            author.name,
            author.email,
            q.lang.wrote()
        ));
        // Paragraph generation is prefix-stable, so the first 4 KB need not regenerate all.
        let len = q.len.min(4200);
        let mut parent = String::with_capacity(len + 300);
        text::paragraphs(
            &mut Rng::new(mix(q.seed, TEXT_STREAM)),
            q.lang,
            len,
            &mut parent,
        );
        let mut quoted = 0;
        for line in parent.lines() {
            if quoted > 4000 {
                text.push_str("> [...]\n");
                break;
            }
            text.push_str(if line.is_empty() { ">\n" } else { "> " });
            if !line.is_empty() {
                text.push_str(line);
                text.push('\n');
            }
            quoted += line.len();
        }
    }

    /// The message text as text/plain, or multipart/alternative with an HTML copy.
    fn text_entity(&mut self, text: &str, lang: Lang, html: bool) {
        let choices: &[(Charset, u32)] = match lang {
            Lang::En => &[
                (Charset::UsAscii, 15),
                (Charset::Utf8, 60),
                (Charset::Latin1, 15),
                (Charset::Windows1252, 10),
            ],
            Lang::De | Lang::Fr => &[
                (Charset::Utf8, 50),
                (Charset::Latin1, 30),
                (Charset::Windows1252, 20),
            ],
            Lang::Ru => &[(Charset::Utf8, 60), (Charset::Koi8R, 40)],
            Lang::Ja => &[(Charset::Utf8, 50), (Charset::Iso2022Jp, 50)],
            Lang::Zh => &[(Charset::Utf8, 1)],
        };
        let weights: Vec<u32> = choices.iter().map(|c| c.1).collect();
        let mut charset = choices[self.rng.weighted(&weights)].0;
        let mut bytes = Vec::with_capacity(text.len());
        if !charset.encode(text, &mut bytes) {
            bytes.clear();
            charset = if text.is_ascii() {
                Charset::UsAscii
            } else {
                Charset::Utf8
            };
            charset.encode(text, &mut bytes);
        }
        let cjk_or_cyrillic = matches!(lang, Lang::Ru | Lang::Ja | Lang::Zh);
        if !html {
            self.leaf("plain", charset, &bytes, cjk_or_cyrillic);
            return;
        }
        let b = self.boundary();
        self.push(&format!(
            "Content-Type: multipart/alternative;\n\tboundary=\"{b}\"\n\n--{b}\n"
        ));
        self.leaf("plain", charset, &bytes, cjk_or_cyrillic);
        self.push(&format!("\n--{b}\n"));
        let mut h = String::with_capacity(text.len() + 600);
        text::html(text, &mut h);
        bytes.clear();
        if !charset.encode(&h, &mut bytes) {
            bytes.clear();
            charset = Charset::Utf8;
            charset.encode(&h, &mut bytes);
        }
        self.leaf("html", charset, &bytes, cjk_or_cyrillic);
        self.push(&format!("\n--{b}--\n"));
    }

    /// One text/* leaf with a transfer encoding suited to its bytes.
    fn leaf(&mut self, subtype: &str, charset: Charset, bytes: &[u8], prefer_base64: bool) {
        let cte = if charset == Charset::Iso2022Jp {
            // A 7-bit charset by design; mailers send it as is (or, rarely, base64).
            ["7bit", "7bit", "7bit", "base64"][self.rng.below(4)]
        } else if bytes.is_ascii() {
            [
                "7bit",
                "7bit",
                "7bit",
                "7bit",
                "7bit",
                "7bit",
                "quoted-printable",
                "quoted-printable",
                "base64",
            ][self.rng.below(9)]
        } else if prefer_base64 {
            ["base64", "base64", "8bit", "8bit", "quoted-printable"][self.rng.below(5)]
        } else {
            [
                "8bit",
                "8bit",
                "quoted-printable",
                "quoted-printable",
                "base64",
            ][self.rng.below(5)]
        };
        let cs = charset.name();
        let quoted_cs = if self.rng.chance(0.5) {
            format!("\"{cs}\"")
        } else {
            cs.to_string()
        };
        let ct = if self.rng.chance(0.2) && subtype == "plain" {
            format!("Content-Type: text/plain; charset={quoted_cs}; format=flowed\n")
        } else {
            format!("Content-Type: text/{subtype}; charset={quoted_cs}\n")
        };
        self.push(&ct);
        self.push(&format!("Content-Transfer-Encoding: {cte}\n\n"));
        self.encoded_body(cte, bytes);
    }

    fn encoded_body(&mut self, cte: &str, bytes: &[u8]) {
        match cte {
            "base64" => encode::base64_lines(bytes, &mut self.out),
            "quoted-printable" => encode::quoted_printable(bytes, &mut self.out),
            _ => self.out.extend_from_slice(bytes),
        }
        if !self.out.ends_with(b"\n") {
            self.out.push(b'\n');
        }
    }

    /// `name`/`filename` parameters; non-ASCII names as RFC 2231 or RFC 2047 (both occur).
    fn name_params(r: &mut Rng, name: &str) -> (String, String) {
        if name.is_ascii() {
            return (format!("name=\"{name}\""), format!("filename=\"{name}\""));
        }
        let mut ew = String::new();
        encode::encoded_words_b(name, " ", &mut ew);
        let ext = encode::rfc2231_value(name);
        match r.below(3) {
            0 => (format!("name*={ext}"), format!("filename*={ext}")),
            1 => (format!("name=\"{ew}\""), format!("filename=\"{ew}\"")),
            _ => (format!("name=\"{ew}\""), format!("filename*={ext}")),
        }
    }

    fn attachment(&mut self, a: &Attachment) {
        // Header choices come from the attachment's own seed: a shared attachment looks the
        // same in every message that carries it.
        let mut r = Rng::new(mix(a.seed, PART_STREAM));
        let (name_param, file_param) = Self::name_params(&mut r, &a.name);
        match a.kind {
            Kind::Message => {
                let nested = self.forwarded(a);
                let cte = if nested.is_ascii() { "7bit" } else { "8bit" };
                self.push(&format!(
                    "Content-Type: message/rfc822;\n\t{name_param}\n\
                     Content-Disposition: attachment;\n\t{file_param}\n\
                     Content-Transfer-Encoding: {cte}\n\n"
                ));
                self.out.extend_from_slice(&nested);
            }
            Kind::Csv | Kind::Txt | Kind::Ics => {
                attach::payload(a, &mut self.scratch.raw);
                let cte = match r.below(10) {
                    0..=3 => "base64",
                    4..=6 => "quoted-printable",
                    _ if self.scratch.raw.is_ascii() => "7bit",
                    _ => "8bit",
                };
                let extra = if a.kind == Kind::Ics {
                    "; method=REQUEST"
                } else {
                    ""
                };
                self.push(&format!(
                    "Content-Type: {}; charset=\"utf-8\"{extra};\n\t{name_param}\n\
                     Content-Disposition: attachment;\n\t{file_param}\n\
                     Content-Transfer-Encoding: {cte}\n\n",
                    a.kind.mime()
                ));
                let raw = std::mem::take(&mut self.scratch.raw);
                self.encoded_body(cte, &raw);
                self.scratch.raw = raw;
            }
            _ => {
                attach::payload(a, &mut self.scratch.raw);
                let (disposition, cid) = if a.kind == Kind::Logo {
                    (
                        "inline",
                        format!("Content-ID: <{:016x}@example.com>\n", a.seed),
                    )
                } else {
                    ("attachment", String::new())
                };
                self.push(&format!(
                    "Content-Type: {};\n\t{name_param}\n{cid}\
                     Content-Disposition: {disposition};\n\t{file_param}\n\
                     Content-Transfer-Encoding: base64\n\n",
                    a.kind.mime()
                ));
                encode::base64_lines(&self.scratch.raw, &mut self.out);
            }
        }
    }

    /// A forwarded message rendered from the attachment seed (with its own boundaries).
    fn forwarded(&mut self, a: &Attachment) -> Vec<u8> {
        let ctx = self.ctx;
        let mut r = Rng::new(mix(a.seed, FORWARD_STREAM));
        let (subject, lang) = forwarded_subject(a.seed);
        let externals = ctx.people.len() - ctx.users;
        let from = if externals > 0 {
            ctx.users + r.below(externals)
        } else {
            r.below(ctx.people.len())
        };
        let to = r.below(ctx.people.len());
        let time = START + r.below(SPAN as usize) as i64;
        let mut inner = Writer {
            ctx,
            scratch: &mut *self.scratch,
            out: Vec::with_capacity(a.size + 4000),
            rng: r,
            boundary_tag: !a.seed,
            boundaries: 0,
        };
        let plan = Plan {
            index: 0,
            seed: a.seed,
            user: 0,
            folder: String::new(),
            from,
            to: vec![to],
            cc: Vec::new(),
            bcc: Vec::new(),
            time,
            subject,
            lang,
            message_id: format!("<{:016x}.fwd@example.com>", a.seed),
            in_reply_to: None,
            references: Vec::new(),
            quote: None,
            attachments: Vec::new(),
            text_len: a.size,
            html: false,
        };
        inner.forwarded_message(&plan);
        inner.out
    }

    /// The Date, From and To headers, shared by top-level and forwarded messages.
    fn date_from_to(&mut self, plan: &Plan, from: &Person) {
        self.push(&format!(
            "Date: {}\n",
            date::rfc5322(plan.time, from.offset_at(plan.time))
        ));
        let from_value = self.mailbox(from);
        self.push(&format!("From: {from_value}\n"));
        self.address_header("To", &plan.to);
    }

    fn forwarded_message(&mut self, plan: &Plan) {
        let from = &self.ctx.people[plan.from];
        self.date_from_to(plan, from);
        self.subject(&plan.subject);
        self.push(&format!(
            "Message-ID: {}\nMIME-Version: 1.0\n",
            plan.message_id
        ));
        let text = self.body_text(plan, from);
        let html = self.rng.chance(0.3);
        if self.rng.chance(0.3) {
            let b = self.boundary();
            self.push(&format!(
                "Content-Type: multipart/mixed;\n\tboundary=\"{b}\"\n\n--{b}\n"
            ));
            self.text_entity(&text, plan.lang, html);
            self.push(&format!("\n--{b}\n"));
            let mut r = Rng::new(mix(plan.seed, 5));
            let doc = Attachment {
                kind: Kind::Pdf,
                seed: r.next_u64(),
                size: r.log_normal(20_000.0, 0.6, 3_000, 200_000),
                name: format!("{}.pdf", text::pseudo_word(&mut r)),
            };
            self.attachment(&doc);
            self.push(&format!("\n--{b}--\n"));
        } else {
            self.text_entity(&text, plan.lang, html);
        }
    }
}
