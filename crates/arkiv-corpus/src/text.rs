//! Text: a fixed vocabulary of pseudo-words (Zipf-distributed, so search benchmarks find both
//! very common and very rare terms) mixed with real words in six languages.

use std::sync::OnceLock;

use crate::rng::Rng;

/// The language a message body is written in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Lang {
    En,
    De,
    Fr,
    Ru,
    Ja,
    Zh,
}

impl Lang {
    pub(crate) fn pick(rng: &mut Rng) -> Lang {
        const LANGS: [Lang; 6] = [Lang::En, Lang::De, Lang::Fr, Lang::Ru, Lang::Ja, Lang::Zh];
        LANGS[rng.weighted(&[70, 9, 7, 6, 5, 3])]
    }

    fn is_cjk(self) -> bool {
        matches!(self, Lang::Ja | Lang::Zh)
    }

    fn real_words(self) -> (&'static [&'static str], f64) {
        match self {
            Lang::En => (ENGLISH, 0.40),
            Lang::De => (GERMAN, 0.45),
            Lang::Fr => (FRENCH, 0.45),
            Lang::Ru => (RUSSIAN, 0.55),
            Lang::Ja => (JAPANESE, 0.80),
            Lang::Zh => (CHINESE, 0.80),
        }
    }

    /// "Re:" as written by mail clients in this language.
    pub(crate) fn reply_prefix(self, rng: &mut Rng) -> &'static str {
        match self {
            Lang::De if rng.chance(0.5) => "AW: ",
            _ => "Re: ",
        }
    }

    pub(crate) fn forward_prefix(self, rng: &mut Rng) -> &'static str {
        match self {
            Lang::De if rng.chance(0.6) => "WG: ",
            Lang::Fr if rng.chance(0.6) => "TR: ",
            _ if rng.chance(0.3) => "Fw: ",
            _ => "Fwd: ",
        }
    }

    pub(crate) fn wrote(self) -> &'static str {
        match self {
            Lang::De => "schrieb",
            Lang::Fr => "a écrit",
            Lang::Ru => "написал(а)",
            _ => "wrote",
        }
    }
}

/// Number of pseudo-words in the fixed vocabulary.
pub(crate) const VOCABULARY_SIZE: usize = 6000;
const ZIPF_SLOTS: usize = 1 << 16;

struct Vocabulary {
    words: Vec<String>,
    /// Maps a uniform 16-bit draw to a rank with probability ~ 1/(rank + 3).
    zipf: Vec<u16>,
}

fn vocabulary() -> &'static Vocabulary {
    static VOCAB: OnceLock<Vocabulary> = OnceLock::new();
    VOCAB.get_or_init(|| {
        const ONSETS: &[&str] = &[
            "", "b", "c", "d", "f", "g", "h", "k", "l", "m", "n", "p", "r", "s", "t", "v", "w",
            "z", "br", "cl", "dr", "gr", "st", "tr", "sh", "ch", "pl", "fr", "sk", "qu",
        ];
        const VOWELS: &[&str] = &["a", "e", "i", "o", "u", "ai", "ea", "ou", "y", "io"];
        const CODAS: &[&str] = &[
            "", "", "", "", "n", "r", "s", "l", "m", "x", "nd", "st", "k",
        ];
        // A fixed seed: the vocabulary is the same for every corpus, so benchmark queries can
        // name words.
        let mut rng = Rng::new(0x4152_4b49_565f_564f);
        let mut seen = std::collections::HashSet::new();
        let mut words = Vec::with_capacity(VOCABULARY_SIZE);
        while words.len() < VOCABULARY_SIZE {
            let syllables = rng.weighted(&[0, 30, 45, 20, 5]);
            let mut w = String::new();
            for _ in 0..syllables {
                w.push_str(rng.pick(ONSETS));
                w.push_str(rng.pick(VOWELS));
                w.push_str(rng.pick(CODAS));
            }
            if w.len() >= 3 && seen.insert(w.clone()) {
                words.push(w);
            }
        }
        // Zipf-Mandelbrot weights 1/(rank + 3): the top word is ~4% of pseudo-words, not 11%.
        let harmonic: f64 = (1..=VOCABULARY_SIZE).map(|r| 1.0 / (r + 2) as f64).sum();
        let mut zipf = Vec::with_capacity(ZIPF_SLOTS);
        let mut rank = 0usize;
        let mut cdf = 1.0 / (3.0 * harmonic);
        for slot in 0..ZIPF_SLOTS {
            let u = (slot as f64 + 0.5) / ZIPF_SLOTS as f64;
            while cdf < u && rank + 1 < VOCABULARY_SIZE {
                rank += 1;
                cdf += 1.0 / ((rank + 3) as f64 * harmonic);
            }
            zipf.push(rank as u16);
        }
        Vocabulary { words, zipf }
    })
}

/// A pseudo-word: Zipf-distributed, with a small uniform share so that every word occurs.
pub(crate) fn pseudo_word(rng: &mut Rng) -> &'static str {
    let v = vocabulary();
    let x = rng.next_u64();
    let rank = if x & 31 == 0 {
        ((x >> 8) % VOCABULARY_SIZE as u64) as usize
    } else {
        usize::from(v.zipf[(x >> 48) as usize])
    };
    &v.words[rank]
}

pub(crate) fn word(rng: &mut Rng, lang: Lang) -> &'static str {
    let (real, share) = lang.real_words();
    let x = rng.next_u64();
    if ((x >> 40) as f64) < share * (1u64 << 24) as f64 {
        real[(((x & 0xFF_FFFF) * real.len() as u64) >> 24) as usize]
    } else {
        pseudo_word(rng)
    }
}

/// Appends paragraphs of about `target` bytes, wrapped at ~72 columns, ending with `\n`.
///
/// Word by word straight into `out` (this is the hot path of text generation).
pub(crate) fn paragraphs(rng: &mut Rng, lang: Lang, target: usize, out: &mut String) {
    let start = out.len();
    let cjk = lang.is_cjk();
    out.reserve(target + 200);
    while out.len() - start < target {
        let mut line_start = out.len();
        // Now and then a paragraph starts with "From " so that mbox writers must quote it.
        if !cjk && rng.chance(0.03) {
            out.push_str("From the notes:");
        }
        for _ in 0..rng.range(1, 5) {
            let mut prev_ascii = true;
            for i in 0..rng.range(4, 16) {
                let w = word(rng, lang);
                let ascii = w.as_bytes()[0] < 0x80;
                let sep = if out.len() == line_start {
                    ""
                } else if !cjk || ascii || prev_ascii {
                    " "
                } else if rng.chance(0.12) {
                    "、"
                } else {
                    ""
                };
                out.push_str(sep);
                if cjk && !ascii {
                    // No spaces to break at: break between characters.
                    for c in w.chars() {
                        if out.len() - line_start >= 66 {
                            out.push('\n');
                            line_start = out.len();
                        }
                        out.push(c);
                    }
                } else {
                    if out.len() - line_start + w.len() > 72 && out.len() > line_start {
                        if sep == " " {
                            out.pop();
                        }
                        out.push('\n');
                        line_start = out.len();
                    }
                    if i == 0 && w.as_bytes()[0].is_ascii_lowercase() {
                        out.push(w.as_bytes()[0].to_ascii_uppercase() as char);
                        out.push_str(&w[1..]);
                    } else {
                        out.push_str(w);
                    }
                }
                prev_ascii = ascii;
            }
            if cjk {
                out.push('。');
            } else {
                out.push(match rng.below(12) {
                    0 => '?',
                    1 => '!',
                    _ => '.',
                });
            }
        }
        out.push_str("\n\n");
    }
    out.pop();
}

/// A subject line of a few words (no "Re:").
pub(crate) fn subject(rng: &mut Rng, lang: Lang) -> String {
    let mut s = String::new();
    let n = rng.range(2, 6);
    for i in 0..n {
        let w = word(rng, lang);
        if i > 0 && (!lang.is_cjk() || w.is_ascii()) {
            s.push(' ');
        }
        if i == 0 && w.as_bytes()[0].is_ascii_lowercase() {
            s.push(w.as_bytes()[0].to_ascii_uppercase() as char);
            s.push_str(&w[1..]);
        } else {
            s.push_str(w);
        }
    }
    if rng.chance(0.15) {
        s.push_str(&format!(" {}", rng.range(1, 2030)));
    }
    s
}

/// An HTML rendering of `text`: paragraphs become `<p>`, quoted lines a `<blockquote>`.
pub(crate) fn html(text: &str, out: &mut String) {
    out.push_str("<html>\n<head><meta http-equiv=\"Content-Type\" content=\"text/html\"></head>\n");
    out.push_str("<body style=\"font-family: Arial, sans-serif; font-size: 11pt\">\n");
    let mut in_quote = false;
    for para in text.split("\n\n") {
        let quoted = para.starts_with('>');
        if quoted != in_quote {
            out.push_str(if quoted {
                "<blockquote type=\"cite\">\n"
            } else {
                "</blockquote>\n"
            });
            in_quote = quoted;
        }
        out.push_str("<p>");
        for (i, line) in para.lines().enumerate() {
            if i > 0 {
                out.push_str("<br>\n");
            }
            let line = if quoted {
                line.trim_start_matches(['>', ' '])
            } else {
                line
            };
            let mut rest = line;
            while let Some(i) = rest.find(['&', '<', '>']) {
                out.push_str(&rest[..i]);
                out.push_str(match rest.as_bytes()[i] {
                    b'&' => "&amp;",
                    b'<' => "&lt;",
                    _ => "&gt;",
                });
                rest = &rest[i + 1..];
            }
            out.push_str(rest);
        }
        out.push_str("</p>\n");
    }
    if in_quote {
        out.push_str("</blockquote>\n");
    }
    out.push_str("</body>\n</html>\n");
}

const ENGLISH: &[&str] = &[
    "the",
    "the",
    "the",
    "and",
    "and",
    "to",
    "to",
    "of",
    "of",
    "a",
    "a",
    "in",
    "for",
    "is",
    "on",
    "that",
    "with",
    "we",
    "you",
    "it",
    "this",
    "be",
    "will",
    "have",
    "are",
    "our",
    "your",
    "can",
    "should",
    "would",
    "about",
    "as",
    "at",
    "by",
    "all",
    "new",
    "please",
    "let",
    "me",
    "know",
    "if",
    "any",
    "questions",
    "see",
    "below",
    "thanks",
    "best",
    "meeting",
    "report",
    "project",
    "schedule",
    "budget",
    "customer",
    "contract",
    "invoice",
    "question",
    "review",
    "update",
    "attached",
    "deadline",
    "quarter",
    "sales",
    "team",
    "manager",
    "server",
    "database",
    "migration",
    "release",
    "version",
    "issue",
    "ticket",
    "fix",
    "deploy",
    "backup",
    "archive",
    "agenda",
    "minutes",
    "proposal",
    "draft",
    "final",
    "approval",
    "office",
    "travel",
    "expense",
    "lunch",
    "call",
    "tomorrow",
    "today",
    "next",
    "week",
    "Monday",
    "Friday",
    "invoice",
    "payment",
    "delivery",
    "order",
    "shipment",
    "warehouse",
    "forecast",
    "revenue",
    "marketing",
    "campaign",
    "launch",
    "feedback",
    "support",
    "contract",
    "legal",
    "compliance",
    "retention",
    "audit",
    "security",
    "password",
    "access",
    "account",
    "renewal",
    "license",
    "vendor",
    "partner",
    "conference",
    "slides",
    "presentation",
    "spreadsheet",
    "figures",
    "numbers",
    "estimate",
    "timeline",
    "milestone",
    "priority",
    "status",
    "risk",
    "plan",
    "strategy",
    "hiring",
    "interview",
    "candidate",
    "onboarding",
    "training",
    "holiday",
    "vacation",
    "reminder",
    "confirmed",
    "cancelled",
    "postponed",
    "urgent",
];

const GERMAN: &[&str] = &[
    "und",
    "der",
    "die",
    "das",
    "mit",
    "für",
    "über",
    "bitte",
    "danke",
    "Besprechung",
    "Unterlagen",
    "Bestätigung",
    "Grüße",
    "Projekt",
    "Änderung",
    "Größe",
    "Prüfung",
    "Lösung",
    "Kunde",
    "Vertrag",
    "Angebot",
    "Rechnung",
    "Frage",
    "Termin",
    "nächste",
    "Woche",
    "heute",
    "morgen",
    "Übersicht",
    "Zusammenfassung",
    "Entwicklung",
    "Geschäftsführer",
    "Abteilung",
    "Mitarbeiter",
    "Haushalt",
    "Umsatz",
    "Bericht",
    "wichtig",
    "dringend",
    "schön",
    "können",
    "müssen",
    "würden",
    "Straße",
    "München",
    "Köln",
    "Zürich",
    "Düsseldorf",
    "Ergebnis",
    "Aufgabe",
    "Verbesserung",
    "Schlüssel",
    "Gebäude",
    "Anhang",
    "freundliche",
    "Mittwoch",
    "Donnerstag",
    "Qualität",
    "Fähigkeit",
    "Außendienst",
    "Maßnahme",
    "Gespräch",
    "Unterstützung",
    "Grundstück",
    "Lieferung",
    "Bestellung",
    "Abrechnung",
    "Freigabe",
];

const FRENCH: &[&str] = &[
    "et",
    "le",
    "la",
    "les",
    "de",
    "pour",
    "avec",
    "merci",
    "cordialement",
    "réunion",
    "document",
    "confirmation",
    "projet",
    "modification",
    "problème",
    "solution",
    "client",
    "contrat",
    "devis",
    "facture",
    "question",
    "rendez-vous",
    "semaine",
    "aujourd'hui",
    "demain",
    "résumé",
    "développement",
    "directeur",
    "équipe",
    "budget",
    "chiffre",
    "rapport",
    "important",
    "urgent",
    "été",
    "très",
    "déjà",
    "après",
    "à",
    "où",
    "ça",
    "reçu",
    "envoyé",
    "prévu",
    "préparé",
    "société",
    "Genève",
    "Montréal",
    "résultat",
    "tâche",
    "amélioration",
    "clé",
    "bâtiment",
    "pièce",
    "jointe",
    "mercredi",
    "jeudi",
    "qualité",
    "sécurité",
    "intérêt",
    "événement",
    "réponse",
    "prochaine",
    "première",
    "étape",
    "données",
    "cœur",
];

const JAPANESE: &[&str] = &[
    "会議",
    "資料",
    "確認",
    "お願い",
    "します",
    "よろしく",
    "予定",
    "来週",
    "今週",
    "報告",
    "担当",
    "連絡",
    "添付",
    "ファイル",
    "プロジェクト",
    "東京",
    "大阪",
    "会社",
    "契約",
    "見積",
    "請求書",
    "問題",
    "対応",
    "修正",
    "変更",
    "日程",
    "調整",
    "打ち合わせ",
    "ありがとう",
    "ございます",
    "申し訳",
    "検討",
    "送付",
    "返信",
    "メール",
    "システム",
    "サーバー",
    "データ",
    "移行",
    "完了",
    "開始",
    "終了",
    "売上",
    "月次",
    "部長",
    "課長",
    "新しい",
    "重要",
    "至急",
    "議事録",
    "共有",
    "内容",
    "以下",
    "参加",
    "予算",
    "承認",
    "について",
    "です",
    "ます",
    "から",
    "まで",
];
const CHINESE: &[&str] = &[
    "会议",
    "文件",
    "确认",
    "请",
    "谢谢",
    "项目",
    "北京",
    "上海",
    "公司",
    "合同",
    "报价",
    "发票",
    "问题",
    "处理",
    "修改",
    "时间",
    "安排",
    "附件",
    "邮件",
    "系统",
    "服务器",
    "数据",
    "迁移",
    "完成",
    "开始",
    "结束",
    "销售",
    "每月",
    "经理",
    "重要",
    "紧急",
    "纪要",
    "共享",
    "内容",
    "以下",
    "参加",
    "预算",
    "批准",
    "客户",
    "市场",
    "产品",
    "技术",
    "支持",
    "团队",
    "计划",
    "报告",
    "下周",
    "本周",
    "今天",
    "明天",
    "我们",
    "关于",
    "已经",
];
const RUSSIAN: &[&str] = &[
    "встреча",
    "документ",
    "проект",
    "отчёт",
    "договор",
    "счёт",
    "вопрос",
    "решение",
    "клиент",
    "система",
    "сервер",
    "данные",
    "перенос",
    "завершено",
    "начало",
    "неделя",
    "сегодня",
    "завтра",
    "пожалуйста",
    "спасибо",
    "здравствуйте",
    "коллеги",
    "срочно",
    "важно",
    "бюджет",
    "продажи",
    "директор",
    "менеджер",
    "команда",
    "план",
    "результат",
    "задача",
    "изменение",
    "время",
    "компания",
    "Москва",
    "Петербург",
    "письмо",
    "вложение",
    "ответ",
    "согласование",
    "обсуждение",
    "предложение",
    "работа",
    "новый",
    "старый",
    "большой",
    "хороший",
    "приложение",
    "ошибка",
    "исправление",
    "версия",
    "выпуск",
    "тестирование",
    "качество",
    "Ёлка",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vocabulary_is_large_and_skewed() {
        let mut rng = Rng::new(1);
        let mut counts = std::collections::HashMap::new();
        for _ in 0..200_000 {
            *counts.entry(pseudo_word(&mut rng)).or_insert(0usize) += 1;
        }
        assert!(counts.len() > 5000, "{} distinct", counts.len());
        let max = counts.values().max().copied().unwrap_or(0);
        assert!(max > 5000, "most common word only {max}");
        assert!(counts.values().any(|&c| c <= 3), "no rare words");
    }

    #[test]
    fn paragraphs_wrap() {
        let mut rng = Rng::new(7);
        for lang in [Lang::En, Lang::De, Lang::Ru, Lang::Ja] {
            let mut s = String::new();
            paragraphs(&mut rng, lang, 3000, &mut s);
            assert!(s.len() >= 3000 && s.ends_with('\n') && !s.ends_with("\n\n"));
            assert!(s.lines().all(|l| l.len() < 200), "{s}");
        }
    }
}
