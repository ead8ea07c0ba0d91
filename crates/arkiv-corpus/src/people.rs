//! People: the mailbox owners (`users()`) and a larger pool of outside correspondents, with
//! names from several cultures (non-ASCII display names included), time zones and mail clients.

use crate::CorpusUser;
use crate::rng::{Rng, mix};
use crate::text::Lang;

/// Someone who sends or receives mail in the corpus.
#[derive(Clone, Debug)]
pub(crate) struct Person {
    pub(crate) name: String,
    pub(crate) first: String,
    pub(crate) email: String,
    /// UTC offset in minutes in winter, and whether summer time adds an hour.
    pub(crate) tz: (i32, bool),
    pub(crate) lang: Lang,
    /// Index into `MAILERS`.
    pub(crate) mailer: usize,
    /// Sends a company logo with (some of) their mail: a shared attachment.
    pub(crate) has_logo: bool,
}

impl Person {
    /// UTC offset in minutes at time `t` (summer time April to October).
    pub(crate) fn offset_at(&self, t: i64) -> i32 {
        let m = crate::date::month(t);
        self.tz.0
            + if self.tz.1 && (4..=10).contains(&m) {
                60
            } else {
                0
            }
    }

    pub(crate) fn login(&self) -> &str {
        self.email.split('@').next().unwrap_or_default()
    }
}

struct Culture {
    firsts: &'static [(&'static str, &'static str)],
    lasts: &'static [(&'static str, &'static str)],
    family_first: bool,
    tzs: &'static [(i32, bool)],
    lang: Lang,
}

const CULTURES: &[Culture] = &[
    Culture {
        firsts: &[
            ("anna", "Anna"),
            ("john", "John"),
            ("mary", "Mary"),
            ("james", "James"),
            ("linda", "Linda"),
            ("robert", "Robert"),
            ("susan", "Susan"),
            ("david", "David"),
            ("karen", "Karen"),
            ("michael", "Michael"),
            ("emily", "Emily"),
            ("peter", "Peter"),
        ],
        lasts: &[
            ("smith", "Smith"),
            ("johnson", "Johnson"),
            ("brown", "Brown"),
            ("taylor", "Taylor"),
            ("wilson", "Wilson"),
            ("clark", "Clark"),
            ("walker", "Walker"),
            ("oconnor", "O'Connor"),
            ("berg", "Berg"),
            ("miller", "Miller"),
            ("young", "Young"),
            ("king", "King"),
        ],
        family_first: false,
        tzs: &[
            (0, true),
            (-300, true),
            (-480, true),
            (-360, true),
            (330, false),
            (600, false),
        ],
        lang: Lang::En,
    },
    Culture {
        firsts: &[
            ("joerg", "Jörg"),
            ("anna", "Anna"),
            ("juergen", "Jürgen"),
            ("baerbel", "Bärbel"),
            ("klaus", "Klaus"),
            ("ute", "Ute"),
            ("stefan", "Stefan"),
            ("sabine", "Sabine"),
            ("uwe", "Uwe"),
            ("doerte", "Dörte"),
        ],
        lasts: &[
            ("mueller", "Müller"),
            ("berg", "Berg"),
            ("schaefer", "Schäfer"),
            ("weiss", "Weiß"),
            ("hoffmann", "Hoffmann"),
            ("koehler", "Köhler"),
            ("schmidt", "Schmidt"),
            ("gross", "Groß"),
            ("wagner", "Wagner"),
            ("boehm", "Böhm"),
        ],
        family_first: false,
        tzs: &[(60, true)],
        lang: Lang::De,
    },
    Culture {
        firsts: &[
            ("francois", "François"),
            ("helene", "Hélène"),
            ("jerome", "Jérôme"),
            ("celine", "Céline"),
            ("marc", "Marc"),
            ("zoe", "Zoé"),
            ("andre", "André"),
            ("claire", "Claire"),
        ],
        lasts: &[
            ("lefevre", "Lefèvre"),
            ("dubois", "Dubois"),
            ("girard", "Girard"),
            ("benoit", "Benoît"),
            ("moreau", "Moreau"),
            ("lemaitre", "Lemaître"),
        ],
        family_first: false,
        tzs: &[(60, true), (-300, true)],
        lang: Lang::Fr,
    },
    Culture {
        firsts: &[
            ("soeren", "Søren"),
            ("bjoern", "Björn"),
            ("asa", "Åsa"),
            ("lars", "Lars"),
            ("ingrid", "Ingrid"),
            ("jose", "José"),
            ("nuria", "Núria"),
            ("lukasz", "Łukasz"),
        ],
        lasts: &[
            ("lindqvist", "Lindqvist"),
            ("nilsen", "Nilsen"),
            ("aastroem", "Åström"),
            ("garcia", "García"),
            ("nowak", "Nowak"),
            ("soerensen", "Sørensen"),
        ],
        family_first: false,
        tzs: &[(60, true), (120, true)],
        lang: Lang::En,
    },
    Culture {
        firsts: &[
            ("olga", "Ольга"),
            ("ivan", "Иван"),
            ("sergey", "Сергей"),
            ("natalia", "Наталья"),
            ("dmitry", "Дмитрий"),
            ("elena", "Елена"),
        ],
        lasts: &[
            ("ivanova", "Иванова"),
            ("petrov", "Петров"),
            ("smirnov", "Смирнов"),
            ("volkova", "Волкова"),
            ("kuznetsov", "Кузнецов"),
            ("fedorov", "Фёдоров"),
        ],
        family_first: false,
        tzs: &[(180, false)],
        lang: Lang::Ru,
    },
    Culture {
        firsts: &[
            ("taro", "太郎"),
            ("hanako", "花子"),
            ("kenji", "健二"),
            ("yuki", "由紀"),
            ("hiroshi", "博"),
        ],
        lasts: &[
            ("tanaka", "田中"),
            ("suzuki", "鈴木"),
            ("sato", "佐藤"),
            ("takahashi", "高橋"),
            ("watanabe", "渡辺"),
        ],
        family_first: true,
        tzs: &[(540, false)],
        lang: Lang::Ja,
    },
    Culture {
        firsts: &[
            ("wei", "伟"),
            ("fang", "芳"),
            ("min", "敏"),
            ("jing", "静"),
            ("lei", "磊"),
        ],
        lasts: &[
            ("wang", "王"),
            ("li", "李"),
            ("zhang", "张"),
            ("liu", "刘"),
            ("chen", "陈"),
        ],
        family_first: true,
        tzs: &[(480, false)],
        lang: Lang::Zh,
    },
];

const CULTURE_WEIGHTS: [u32; 7] = [45, 18, 10, 8, 8, 6, 5];

/// Mail clients: header line written for messages sent by someone using it (`""`: none).
pub(crate) const MAILERS: &[&str] = &[
    "X-Mailer: Microsoft Outlook 16.0",
    "X-Mailer: Microsoft Office Outlook 12.0",
    "User-Agent: Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:102.0) Gecko/20100101\n Thunderbird/102.6.0",
    "X-Mailer: Apple Mail (2.3445.104.11)",
    "X-Mailer: iPhone Mail (16G102)",
    "User-Agent: Mutt/1.10.1 (2018-07-13)",
    "User-Agent: Roundcube Webmail/1.4.8",
    "X-Mailer: Zimbra 8.8.15_GA_3869 (ZimbraWebClient - GC86 (Win)/8.8.15_GA_3869)",
    "User-Agent: K-9 Mail for Android",
    "X-Mailer: Evolution 3.36.5-0ubuntu1",
    "User-Agent: Microsoft-MacOutlook/16.43.20110804",
    "",
];

const DOMAINS: &[&str] = &[
    "example.org",
    "example.net",
    "acme.example.org",
    "globex.example.net",
    "initech.example.org",
    "mail.example.net",
    "partner.example.org",
    "lieferant.example.net",
];

/// Number of outside correspondents.
const EXTERNALS: usize = 400;

fn person(
    rng: &mut Rng,
    login: String,
    domain: &str,
    culture: &Culture,
    first: &str,
    last: &str,
) -> Person {
    let name = if culture.family_first {
        format!("{last} {first}")
    } else {
        format!("{first} {last}")
    };
    Person {
        name,
        first: first.to_string(),
        email: format!("{login}@{domain}"),
        tz: rng.pick(culture.tzs),
        lang: culture.lang,
        mailer: rng.below(MAILERS.len()),
        has_logo: rng.chance(0.12),
    }
}

/// Everyone: the `users` mailbox owners first (at example.com), then outside correspondents.
pub(crate) fn people(seed: u64, users: usize) -> Vec<Person> {
    let mut rng = Rng::new(mix(seed, 0x7065_6f70_6c65));
    let mut out = Vec::with_capacity(users + EXTERNALS);
    let mut logins = std::collections::HashSet::new();
    for i in 0..users + EXTERNALS {
        let culture = &CULTURES[rng.weighted(&CULTURE_WEIGHTS)];
        let (fa, fd) = rng.pick(culture.firsts);
        let (la, ld) = rng.pick(culture.lasts);
        let (mut login, domain) = if i < users {
            (format!("{fa}.{la}"), "example.com")
        } else {
            let login = match rng.below(4) {
                0 => format!("{}.{la}", &fa[..1]),
                1 => format!("{fa}{}", &la[..1]),
                _ => format!("{fa}.{la}"),
            };
            (login, rng.pick(DOMAINS))
        };
        let base = login.clone();
        let mut n = 1;
        while !logins.insert(format!("{login}@{domain}")) {
            n += 1;
            login = format!("{base}{n}");
        }
        out.push(person(&mut rng, login, domain, culture, fd, ld));
    }
    out
}

pub(crate) fn to_user(p: &Person) -> CorpusUser {
    CorpusUser {
        login: p.login().to_string(),
        full_name: p.name.clone(),
        email: p.email.clone(),
    }
}
