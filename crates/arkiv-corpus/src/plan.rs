//! Planning: the sequential part of generation. Decides, message by message, who writes to
//! whom, in which thread, with which attachments, and which messages are duplicated; keeps
//! only bounded state (recent plans, open threads, recent attachment handles).

use std::collections::VecDeque;

use crate::attach::{self, Attachment, Kind};
use crate::date::{self, SPAN, START};
use crate::people::{self, Person};
use crate::render::{self, Ctx, Scratch};
use crate::rng::{Rng, mix};
use crate::text::{self, Lang};
use crate::{CorpusSpec, GeneratedMessage, Profile};

/// Earlier messages a duplicate may repeat (their plans, not their bytes).
const HISTORY: usize = 2000;
/// Threads that can still receive replies.
const OPEN_THREADS: usize = 400;
/// Recent attachment handles that may be forwarded again.
const ATTACHMENT_POOL: usize = 256;
/// Share of (non-thread, non-logo) attachment slots that re-send a recent attachment.
const REUSE_SHARE: f64 = 0.19;

/// Everything needed to render one message: rendering is a pure function of this.
#[derive(Clone, Debug)]
pub(crate) struct Plan {
    pub(crate) index: usize,
    pub(crate) seed: u64,
    pub(crate) user: usize,
    pub(crate) folder: String,
    pub(crate) from: usize,
    pub(crate) to: Vec<usize>,
    pub(crate) cc: Vec<usize>,
    pub(crate) bcc: Vec<usize>,
    pub(crate) time: i64,
    pub(crate) subject: String,
    pub(crate) lang: Lang,
    pub(crate) message_id: String,
    pub(crate) in_reply_to: Option<String>,
    pub(crate) references: Vec<String>,
    pub(crate) quote: Option<Quote>,
    pub(crate) attachments: Vec<Attachment>,
    pub(crate) text_len: usize,
    pub(crate) html: bool,
}

/// The text of an earlier message, regenerated to be quoted in a reply.
#[derive(Clone, Debug)]
pub(crate) struct Quote {
    pub(crate) seed: u64,
    pub(crate) lang: Lang,
    pub(crate) len: usize,
    pub(crate) author: usize,
    pub(crate) time: i64,
}

struct Thread {
    subject: String,
    lang: Lang,
    participants: Vec<usize>,
    ids: Vec<String>,
    last: Quote,
    attachment: Option<Attachment>,
}

/// A generated message plus what an mbox `From ` line needs.
pub(crate) struct Produced {
    pub(crate) message: GeneratedMessage,
    pub(crate) sender: String,
    pub(crate) time: i64,
}

/// The lazily generated corpus: an iterator of [`GeneratedMessage`]s.
///
/// Memory is bounded: it holds the people, the plans of the last 2,000 originals (for
/// duplicates), 400 open threads and 256 attachment handles, never old message bytes.
pub struct Corpus {
    spec: CorpusSpec,
    people: Vec<Person>,
    owner_weights: Vec<u64>,
    rng: Rng,
    produced: usize,
    history: VecDeque<Plan>,
    threads: VecDeque<Thread>,
    pool: VecDeque<Attachment>,
    scratch: Scratch,
}

impl Corpus {
    pub(crate) fn new(spec: &CorpusSpec) -> Corpus {
        let mut spec = spec.clone();
        spec.users = spec.users.max(1);
        spec.duplicate_ratio = spec.duplicate_ratio.clamp(0.0, 0.95);
        let people = people::people(spec.seed, spec.users);
        // Mailbox sizes are skewed: a few users hold much of the mail. Cumulative weights.
        let owner_weights = (0..spec.users as u64)
            .scan(0u64, |acc, u| {
                *acc += 6000 / (u + 3) + 1;
                Some(*acc)
            })
            .collect();
        Corpus {
            rng: Rng::new(mix(spec.seed, 0x706c_616e)),
            people,
            owner_weights,
            produced: 0,
            history: VecDeque::with_capacity(HISTORY),
            threads: VecDeque::with_capacity(OPEN_THREADS),
            pool: VecDeque::with_capacity(ATTACHMENT_POOL),
            scratch: Scratch::default(),
            spec,
        }
    }

    pub(crate) fn people(&self) -> &[Person] {
        &self.people
    }

    /// The next message with its envelope data, or `None` when `spec.messages` are out.
    pub(crate) fn next_produced(&mut self) -> Option<Produced> {
        if self.produced >= self.spec.messages {
            return None;
        }
        let n = self.produced;
        self.produced += 1;
        if !self.history.is_empty() && self.rng.chance(self.spec.duplicate_ratio) {
            return Some(self.duplicate());
        }
        let plan = self.plan(n);
        let bytes = self.render(&plan);
        let produced = Produced {
            message: GeneratedMessage {
                user: plan.user,
                folder: plan.folder.clone(),
                bytes,
                duplicate_of: None,
            },
            sender: self.people[plan.from].email.clone(),
            time: plan.time,
        };
        if self.history.len() == HISTORY {
            self.history.pop_front();
        }
        self.history.push_back(plan);
        Some(produced)
    }

    fn render(&mut self, plan: &Plan) -> Vec<u8> {
        let ctx = Ctx {
            people: &self.people,
            users: self.spec.users,
        };
        render::render(plan, &ctx, &mut self.scratch)
    }

    /// An exact copy of an earlier message in another mailbox (a recipient's Inbox copy of a
    /// Sent message, the sender's Sent copy) or another folder of the same mailbox.
    fn duplicate(&mut self) -> Produced {
        let i = self.rng.below(self.history.len());
        let orig = self.history[i].clone();
        let users = self.spec.users;
        let mut others: Vec<usize> = std::iter::once(orig.from)
            .chain(orig.to.iter().copied())
            .chain(orig.cc.iter().copied())
            .filter(|&p| p < users && p != orig.user)
            .collect();
        others.dedup();
        let (user, folder) = if !others.is_empty() && self.rng.chance(0.85) {
            let v = self.rng.pick(&others);
            let folder = if v == orig.from {
                "Sent".to_string()
            } else {
                self.received_folder(orig.time)
            };
            (v, folder)
        } else {
            let mut folder = self.received_folder(orig.time);
            for _ in 0..8 {
                if folder != orig.folder {
                    break;
                }
                folder = self.received_folder(orig.time);
            }
            if folder == orig.folder {
                folder = format!("Archive/{}", date::year(orig.time) + 1);
            }
            (orig.user, folder)
        };
        let bytes = self.render(&orig);
        Produced {
            message: GeneratedMessage {
                user,
                folder,
                bytes,
                duplicate_of: Some(orig.index),
            },
            sender: self.people[orig.from].email.clone(),
            time: orig.time,
        }
    }

    fn received_folder(&mut self, time: i64) -> String {
        const FOLDERS: [&str; 7] = [
            "Inbox",
            "Projects/Alpha",
            "Projects/Beta",
            "Projects/Gamma",
            "Customers/Acme",
            "Newsletters",
            "Archive",
        ];
        match FOLDERS[self.rng.weighted(&[52, 7, 6, 4, 5, 3, 23])] {
            "Archive" => format!("Archive/{}", date::year(time)),
            f => f.to_string(),
        }
    }

    fn owner(&mut self) -> usize {
        let total = *self.owner_weights.last().expect("at least one user");
        let x = self.rng.below(total as usize) as u64;
        self.owner_weights.partition_point(|&c| c <= x)
    }

    fn other_owner(&mut self, not: usize) -> Option<usize> {
        if self.spec.users < 2 {
            return None;
        }
        loop {
            let u = self.owner();
            if u != not {
                return Some(u);
            }
        }
    }

    fn external(&mut self) -> usize {
        let users = self.spec.users;
        users + self.rng.below(self.people.len() - users)
    }

    fn plan(&mut self, n: usize) -> Plan {
        let seed = self.rng.next_u64();
        let total = self.spec.messages.max(1) as f64;
        let time = START + ((n as f64 + self.rng.f64()) / total * SPAN as f64) as i64;
        let users = self.spec.users;
        let profile = self.spec.profile;

        let reply_to = if !self.threads.is_empty() && self.rng.chance(0.4) {
            // Recent threads are likelier to get replies.
            let len = self.threads.len();
            let back = self.rng.below(len) * self.rng.below(len) / len;
            Some(len - 1 - back)
        } else {
            None
        };

        let (from, mut to, mut cc, subject, lang, in_reply_to, references, quote) =
            if let Some(ti) = reply_to {
                let th = &self.threads[ti];
                let last_author = th.last.author;
                let candidates: Vec<usize> = th
                    .participants
                    .iter()
                    .copied()
                    .filter(|&p| p != last_author)
                    .collect();
                let from = if candidates.is_empty() {
                    last_author
                } else {
                    candidates[self.rng.below(candidates.len())]
                };
                let to = vec![last_author];
                let cc: Vec<usize> = th
                    .participants
                    .iter()
                    .copied()
                    .filter(|&p| p != from && p != last_author)
                    .take(4)
                    .collect();
                let th_lang = th.lang;
                let th_subject = th.subject.clone();
                let lang = if self.rng.chance(0.85) {
                    th_lang
                } else {
                    self.people[from].lang
                };
                let prefix = th_lang.reply_prefix(&mut self.rng);
                let subject = format!("{prefix}{th_subject}");
                let th = &self.threads[ti];
                let quote = self.rng.chance(0.85).then(|| th.last.clone());
                (
                    from,
                    to,
                    cc,
                    subject,
                    lang,
                    th.ids.last().cloned(),
                    th.ids.clone(),
                    quote,
                )
            } else {
                let (from, to, cc) = match self.rng.weighted(&[30, 25, 45]) {
                    0 => {
                        let from = self.owner();
                        let mut to = Vec::new();
                        for _ in 0..self.rng.range(1, 3) {
                            to.push(self.other_owner(from).unwrap_or_else(|| self.external()));
                        }
                        let cc = if self.rng.chance(0.2) {
                            vec![self.external()]
                        } else {
                            vec![]
                        };
                        (from, to, cc)
                    }
                    1 => {
                        let from = self.owner();
                        let mut to = vec![self.external()];
                        if self.rng.chance(0.3) {
                            to.push(self.external());
                        }
                        let cc = match self.other_owner(from) {
                            Some(o) if self.rng.chance(0.25) => vec![o],
                            _ => vec![],
                        };
                        (from, to, cc)
                    }
                    _ => {
                        let from = self.external();
                        let first = self.owner();
                        let mut to = vec![first];
                        if let Some(o) = self.other_owner(first).filter(|_| self.rng.chance(0.25)) {
                            to.push(o);
                        }
                        let cc = if self.rng.chance(0.3) {
                            vec![self.external()]
                        } else {
                            vec![]
                        };
                        (from, to, cc)
                    }
                };
                let lang = if self.rng.chance(0.7) {
                    self.people[from].lang
                } else {
                    Lang::pick(&mut self.rng)
                };
                let subject = text::subject(&mut self.rng, lang);
                (from, to, cc, subject, lang, None, Vec::new(), None)
            };
        to.sort_unstable();
        to.dedup();
        to.retain(|&p| p != from);
        cc.sort_unstable();
        cc.dedup();
        cc.retain(|&p| p != from && !to.contains(&p));
        if to.is_empty() {
            to.push(if from < users {
                self.external()
            } else {
                self.owner()
            });
        }

        // Whose mailbox holds this copy.
        let rcpt_owners: Vec<usize> = to
            .iter()
            .chain(cc.iter())
            .copied()
            .filter(|&p| p < users)
            .collect();
        let mut bcc = Vec::new();
        let (user, folder) = if from < users && (rcpt_owners.is_empty() || self.rng.chance(0.4)) {
            if self.rng.chance(0.08) {
                let b = self.external();
                if !to.contains(&b) && !cc.contains(&b) {
                    bcc.push(b);
                }
            }
            (from, "Sent".to_string())
        } else if !rcpt_owners.is_empty() {
            let u = rcpt_owners[self.rng.below(rcpt_owners.len())];
            (u, self.received_folder(time))
        } else {
            let u = self.owner();
            cc.push(u);
            (u, self.received_folder(time))
        };

        // Attachments: new ones, the thread's document again, the sender's logo, or a
        // recent document forwarded once more.
        let thread_attachment = reply_to.and_then(|ti| self.threads[ti].attachment.clone());
        let carry = thread_attachment.is_some() && self.rng.chance(0.3);
        let p_has = match profile {
            Profile::AttachmentHeavy => 0.36,
            Profile::TextOnly => 0.05,
        };
        let mut attachments: Vec<Attachment> = Vec::new();
        if carry || self.rng.chance(p_has) {
            let count = match profile {
                Profile::AttachmentHeavy => 1 + self.rng.weighted(&[68, 22, 10]),
                Profile::TextOnly => 1,
            };
            for slot in 0..count {
                let a = if slot == 0 && carry {
                    thread_attachment
                        .clone()
                        .expect("carry implies an attachment")
                } else if slot == 0
                    && matches!(profile, Profile::AttachmentHeavy)
                    && self.people[from].has_logo
                    && self.rng.chance(0.5)
                {
                    attach::logo(self.spec.seed, from)
                } else if !self.pool.is_empty() && self.rng.chance(REUSE_SHARE) {
                    let len = self.pool.len();
                    let back = self.rng.below(len) * self.rng.below(len) / len;
                    self.pool[len - 1 - back].clone()
                } else {
                    let a = attach::new_attachment(&mut self.rng, profile);
                    if a.kind != Kind::Message {
                        if self.pool.len() == ATTACHMENT_POOL {
                            self.pool.pop_front();
                        }
                        self.pool.push_back(a.clone());
                    }
                    a
                };
                if !attachments.iter().any(|b| b.seed == a.seed) {
                    attachments.push(a);
                }
            }
        }
        let forwarded = attachments
            .iter()
            .find(|a| a.kind == Kind::Message)
            .map(|a| a.seed);
        let (subject, lang) = match (forwarded, reply_to) {
            (Some(fseed), None) => {
                let (s, l) = render::forwarded_subject(fseed);
                (format!("{}{s}", l.forward_prefix(&mut self.rng)), l)
            }
            _ => (subject, lang),
        };

        let text_len = match profile {
            Profile::AttachmentHeavy => self.rng.log_normal(1_300.0, 0.8, 150, 40_000),
            Profile::TextOnly => self.rng.log_normal(900.0, 0.6, 350, 5_000),
        };
        let message_id = match self.rng.below(3) {
            0 => format!("<{seed:016x}.{n}@example.com>"),
            1 => format!(
                "<{n}.{:08x}.JavaMail.{}@example.com>",
                seed as u32,
                self.people[from].login()
            ),
            _ => format!("<{:X}{n:X}@example.com>", seed),
        };
        let plan = Plan {
            index: n,
            seed,
            user,
            folder,
            from,
            to,
            cc,
            bcc,
            time,
            subject,
            lang,
            message_id,
            in_reply_to,
            references,
            quote,
            attachments,
            text_len,
            html: self.rng.chance(0.5),
        };
        self.update_threads(reply_to, &plan);
        plan
    }

    fn update_threads(&mut self, reply_to: Option<usize>, plan: &Plan) {
        let last = Quote {
            seed: plan.seed,
            lang: plan.lang,
            len: plan.text_len,
            author: plan.from,
            time: plan.time,
        };
        let doc = plan
            .attachments
            .iter()
            .find(|a| a.kind != Kind::Logo)
            .cloned();
        match reply_to {
            Some(ti) => {
                let th = &mut self.threads[ti];
                th.ids.push(plan.message_id.clone());
                if th.ids.len() > 10 {
                    // Keep the root and the most recent references, as mail clients do.
                    th.ids.remove(1);
                }
                for &p in std::iter::once(&plan.from).chain(&plan.to).chain(&plan.cc) {
                    if !th.participants.contains(&p) && th.participants.len() < 8 {
                        th.participants.push(p);
                    }
                }
                th.last = last;
                if th.attachment.is_none() {
                    th.attachment = doc;
                }
            }
            None => {
                if self.threads.len() == OPEN_THREADS {
                    self.threads.pop_front();
                }
                let base = plan
                    .subject
                    .split_once(": ")
                    .filter(|(p, _)| p.len() <= 3)
                    .map_or(plan.subject.as_str(), |(_, s)| s);
                let mut participants = vec![plan.from];
                participants.extend(plan.to.iter().chain(&plan.cc).copied());
                self.threads.push_back(Thread {
                    subject: base.to_string(),
                    lang: plan.lang,
                    participants,
                    ids: vec![plan.message_id.clone()],
                    last,
                    attachment: doc,
                });
            }
        }
    }
}

impl Iterator for Corpus {
    type Item = GeneratedMessage;

    fn next(&mut self) -> Option<GeneratedMessage> {
        self.next_produced().map(|p| p.message)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = self.spec.messages - self.produced;
        (left, Some(left))
    }
}

impl ExactSizeIterator for Corpus {}
