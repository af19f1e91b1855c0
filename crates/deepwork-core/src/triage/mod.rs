//! Triage: which class an item belongs to, and why, in one line a person can read.
//!
//! Layered, first decision wins: the user's VIPs and rules; urgency a trusted source
//! declared; the user's own corrections ([`Lesson`]s); a message that is only a greeting;
//! then the learned [`model`], held by guard rails it cannot override: an explicit "not
//! urgent" never makes an emergency, and a deadline stated for today makes at least a
//! blocker. A source's usual class for an item's kind ([`NewItem::source_class`]) stands
//! unless a correction or a more urgent reading of the text says otherwise. A stated
//! deadline also sets the item's reply-by.

pub mod deadline;
pub mod eval;
pub mod features;
pub mod model;

use crate::config::{RuleConfig, TriageConfig};
use crate::item::{Class, NewItem};
use deadline::StatedDeadline;
use features::Origin;
use jiff::Zoned;
use model::{Model, ModelError, Scores};
use regex::{Regex, RegexBuilder};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::sync::LazyLock;

/// Why an item got its class.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum Reason {
    /// The source declared the urgency, and the source is trusted to.
    SourceUrgency {
        /// The trusted source.
        source: String,
    },
    /// The source's usual class for items of its kind (a review request is a blocker),
    /// which the text did not raise.
    SourceClass {
        /// The source.
        source: String,
    },
    /// The sender is on the VIP list.
    VipSender {
        /// The VIP.
        sender: String,
    },
    /// A rule of the user's matched.
    Rule {
        /// What the rule matched, e.g. "keyword 'outage'" or "channel '#incidents'".
        matched: String,
        /// The rule's name when the user gave one.
        name: Option<String>,
    },
    /// The text is only a greeting or a request for attention.
    PrePing {
        /// The text, shortened.
        text: String,
    },
    /// The learned model decided.
    Model {
        /// The phrases that weighed most for the class, strongest first.
        evidence: Vec<String>,
        /// The model's probability for the class, in percent.
        confidence: u8,
    },
    /// The message says it is not urgent, so it is not an emergency whatever the model
    /// made of it.
    NotUrgent {
        /// The words that said so.
        phrase: String,
    },
    /// The message states a deadline today, so it is at least a blocker.
    DeadlineToday {
        /// The words that stated it.
        phrase: String,
    },
    /// The message resembles one the user re-classed.
    Lesson {
        /// The start of the corrected message.
        example: String,
        /// How alike the two are, in percent.
        similarity: u8,
    },
    /// The sender wrote EMERGENCY, as the default auto-reply tells them to.
    EmergencyWord,
    /// The user set the class by hand.
    Corrected,
    /// Nothing decided: the configured default class.
    Default,
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::SourceUrgency { source } => {
                write!(f, "urgency declared by trusted source '{source}'")
            }
            Reason::SourceClass { source } => {
                write!(
                    f,
                    "usual for its kind of {source} item; the text says no more"
                )
            }
            Reason::VipSender { sender } => write!(f, "VIP sender '{sender}'"),
            Reason::Rule {
                matched,
                name: Some(name),
            } => write!(f, "{matched} (rule '{name}')"),
            Reason::Rule {
                matched,
                name: None,
            } => f.write_str(matched),
            Reason::PrePing { text } => write!(f, "pre-ping: '{text}' carries no request"),
            Reason::Model {
                evidence,
                confidence,
            } => {
                f.write_str("model")?;
                for (i, phrase) in evidence.iter().enumerate() {
                    f.write_str(if i == 0 { ": '" } else { ", '" })?;
                    write!(f, "{phrase}'")?;
                }
                write!(f, " ({}.{:02})", confidence / 100, confidence % 100)
            }
            Reason::NotUrgent { phrase } => {
                write!(f, "says '{phrase}': never an emergency")
            }
            Reason::DeadlineToday { phrase } => {
                write!(f, "deadline '{phrase}' today: at least a blocker")
            }
            Reason::Lesson {
                example,
                similarity,
            } => write!(
                f,
                "like '{example}', which you re-classed ({similarity}% alike)"
            ),
            Reason::EmergencyWord => {
                f.write_str("the sender wrote EMERGENCY, as the auto-reply asks")
            }
            Reason::Corrected => f.write_str("classed by you"),
            Reason::Default => f.write_str("nothing decided: default class"),
        }
    }
}

/// Separates evidence phrases in the stored form; no sanitized text contains it.
const EVIDENCE_SEPARATOR: char = '\u{1f}';

impl Reason {
    /// The reason as flat parts (kind, detail, extra), the form the store keeps.
    pub fn to_parts(&self) -> (&'static str, Option<String>, Option<String>) {
        match self {
            Reason::SourceUrgency { source } => ("source_urgency", Some(source.clone()), None),
            Reason::SourceClass { source } => ("source_class", Some(source.clone()), None),
            Reason::VipSender { sender } => ("vip_sender", Some(sender.clone()), None),
            Reason::Rule { matched, name } => ("rule", Some(matched.clone()), name.clone()),
            Reason::PrePing { text } => ("pre_ping", Some(text.clone()), None),
            Reason::Model {
                evidence,
                confidence,
            } => (
                "model",
                Some(evidence.join(&EVIDENCE_SEPARATOR.to_string())),
                Some(confidence.to_string()),
            ),
            Reason::NotUrgent { phrase } => ("not_urgent", Some(phrase.clone()), None),
            Reason::DeadlineToday { phrase } => ("deadline_today", Some(phrase.clone()), None),
            Reason::Lesson {
                example,
                similarity,
            } => (
                "lesson",
                Some(example.clone()),
                Some(similarity.to_string()),
            ),
            Reason::EmergencyWord => ("emergency_word", None, None),
            Reason::Corrected => ("corrected", None, None),
            Reason::Default => ("default", None, None),
        }
    }

    /// Rebuilds a reason from [`Reason::to_parts`]; `None` for an unknown kind.
    pub fn from_parts(kind: &str, detail: Option<String>, extra: Option<String>) -> Option<Reason> {
        let detail = detail.unwrap_or_default();
        let percent = |extra: Option<String>| extra.and_then(|e| e.parse::<u8>().ok()).unwrap_or(0);
        Some(match kind {
            "source_urgency" => Reason::SourceUrgency { source: detail },
            "source_class" => Reason::SourceClass { source: detail },
            "vip_sender" => Reason::VipSender { sender: detail },
            "rule" => Reason::Rule {
                matched: detail,
                name: extra,
            },
            "pre_ping" => Reason::PrePing { text: detail },
            "model" => Reason::Model {
                evidence: detail
                    .split(EVIDENCE_SEPARATOR)
                    .filter(|p| !p.is_empty())
                    .map(str::to_owned)
                    .collect(),
                confidence: percent(extra),
            },
            "not_urgent" => Reason::NotUrgent { phrase: detail },
            "deadline_today" => Reason::DeadlineToday { phrase: detail },
            "lesson" => Reason::Lesson {
                example: detail,
                similarity: percent(extra),
            },
            "emergency_word" => Reason::EmergencyWord,
            "corrected" => Reason::Corrected,
            "default" => Reason::Default,
            _ => return None,
        })
    }
}

/// The outcome of triage.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Triage {
    /// The class.
    pub class: Class,
    /// Why.
    pub reason: Reason,
    /// A deadline the message states, when it has one.
    pub deadline: Option<StatedDeadline>,
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("triage rule {index}: {message}")]
pub struct RuleError {
    /// Position of the rule in `triage.rules` (from 0).
    pub index: usize,
    /// What is wrong.
    pub message: String,
}

struct CompiledRule {
    name: Option<String>,
    class: Class,
    source: Option<String>,
    sender: Option<String>,
    channel: Option<String>,
    keywords: Option<Regex>,
    pattern: Option<Regex>,
}

impl CompiledRule {
    fn compile(rule: &RuleConfig) -> Result<Self, String> {
        let keywords = if rule.keywords.is_empty() {
            None
        } else {
            Some(keyword_regex(&rule.keywords).map_err(|e| format!("keywords: {e}"))?)
        };
        let pattern = match &rule.pattern {
            Some(p) => Some(
                RegexBuilder::new(p)
                    .case_insensitive(true)
                    .size_limit(1 << 20)
                    .build()
                    .map_err(|e| format!("pattern: {e}"))?,
            ),
            None => None,
        };
        if keywords.is_none()
            && pattern.is_none()
            && rule.source.is_none()
            && rule.sender.is_none()
            && rule.channel.is_none()
        {
            return Err(
                "a rule needs at least one of keywords, pattern, source, sender, channel".into(),
            );
        }
        Ok(CompiledRule {
            name: rule.name.clone(),
            class: rule.class,
            source: rule.source.as_deref().map(str::to_lowercase),
            sender: rule.sender.as_deref().map(str::to_lowercase),
            channel: rule.channel.as_deref().map(str::to_lowercase),
            keywords,
            pattern,
        })
    }

    /// Returns what matched when every condition the rule sets holds.
    fn matches(&self, item: &NormalizedItem<'_>) -> Option<String> {
        let mut matched = Vec::new();
        if let Some(source) = &self.source {
            if *source != item.source {
                return None;
            }
            matched.push(format!("source '{source}'"));
        }
        if let Some(sender) = &self.sender {
            if *sender != item.sender {
                return None;
            }
            matched.push(format!("sender '{sender}'"));
        }
        if let Some(channel) = &self.channel {
            if Some(channel.as_str()) != item.channel.as_deref() {
                return None;
            }
            matched.push(format!("channel '{channel}'"));
        }
        if let Some(keywords) = &self.keywords {
            let found = keywords.find(item.text)?;
            matched.push(format!("keyword '{}'", found.as_str().to_lowercase()));
        }
        if let Some(pattern) = &self.pattern {
            let found = pattern.find(item.text)?;
            matched.push(format!(
                "pattern /{}/ matched '{}'",
                pattern.as_str(),
                shorten(found.as_str(), 40)
            ));
        }
        Some(matched.join(", "))
    }
}

fn keyword_regex(keywords: &[String]) -> Result<Regex, regex::Error> {
    let alternatives: Vec<String> = keywords
        .iter()
        .map(|k| regex::escape(k.trim()))
        .filter(|k| !k.is_empty())
        .collect();
    RegexBuilder::new(&format!(r"\b(?:{})\b", alternatives.join("|")))
        .case_insensitive(true)
        .build()
}

struct NormalizedItem<'a> {
    source: String,
    sender: String,
    channel: Option<String>,
    text: &'a str,
}

/// Phrases that, alone, make a pre-ping.
const PRE_PING_PHRASES: &[&str] = &[
    "hi",
    "hello",
    "hey",
    "heya",
    "hiya",
    "yo",
    "howdy",
    "ping",
    "morning",
    "good morning",
    "good afternoon",
    "good evening",
    "there",
    "hi there",
    "hey there",
    "hello there",
    "got a sec",
    "got a second",
    "got a minute",
    "got a min",
    "got a moment",
    "have a sec",
    "have a second",
    "have a minute",
    "have a moment",
    "do you have a sec",
    "do you have a second",
    "do you have a minute",
    "do you have a moment",
    "you got a sec",
    "quick question",
    "quick q",
    "a quick question",
    "i have a quick question",
    "are you free",
    "you free",
    "are you around",
    "you around",
    "are you there",
    "you there",
    "u there",
    "are you busy",
    "you busy",
    "are you online",
    "you online",
    "can i ask you something",
    "can i ask you a question",
    "can i ask something",
    "can we talk",
    "can we chat",
    "can you talk",
    "can you chat",
    "sorry to bother you",
    "sorry to bother",
    "so",
    "um",
    "uh",
    "just",
    "quickly",
    "please",
    "real quick",
    "sup",
    "hallo",
    "moin",
    "servus",
    "guten morgen",
    "kurze frage",
    "hast du kurz zeit",
    "hast du mal kurz zeit",
    "hast du eine minute",
    "bist du da",
    "hola",
    "buenos días",
    "una pregunta",
    "una pregunta rápida",
    "tienes un minuto",
    "tienes un momento",
    "estás",
    "salut",
    "bonjour",
    "petite question",
    "une question",
    "t'as deux minutes",
    "tu as une minute",
    "tu es là",
    "olá",
    "oi",
    "bom dia",
    "tem um minuto",
    "pergunta rápida",
    "ciao",
    "buongiorno",
    "hai un minuto",
    "domanda veloce",
    "hoi",
    "heb je even",
    "snelle vraag",
    "hej",
];

struct PrePingDetector {
    /// Phrases as word lists, longest first, so "hey there" wins over "hey".
    phrases: Vec<Vec<String>>,
}

impl PrePingDetector {
    fn new(extra_phrases: &[String], names: &[String]) -> Self {
        let mut phrases: Vec<Vec<String>> = PRE_PING_PHRASES
            .iter()
            .map(|p| (*p).to_owned())
            .chain(extra_phrases.iter().cloned())
            .chain(names.iter().cloned())
            .map(|p| words(&p))
            .filter(|w| !w.is_empty())
            .collect();
        phrases.sort_by_key(|p| std::cmp::Reverse(p.len()));
        PrePingDetector { phrases }
    }

    /// True when the text is made only of greeting and attention phrases.
    fn is_pre_ping(&self, text: &str) -> bool {
        let words = words(text);
        if words.is_empty() || words.len() > 16 {
            return false;
        }
        let mut at = 0;
        while at < words.len() {
            let rest = &words[at..];
            match self.phrases.iter().find(|p| rest.starts_with(p)) {
                Some(phrase) => at += phrase.len(),
                None => return false,
            }
        }
        true
    }
}

fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !(c.is_alphanumeric() || c == '\''))
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

fn shorten(text: &str, max_chars: usize) -> String {
    let text = text.trim();
    match text.char_indices().nth(max_chars) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

/// Words that say a message is not urgent. An emergency is never read past them.
static NOT_URGENT: LazyLock<Regex> = LazyLock::new(|| {
    RegexBuilder::new(
        r"\b(?:not (?:urgent|an emergency|time[- ]sensitive|time[- ]critical|critical|a big deal|on fire)|non[- ]?urgent|nothing (?:is |'s |was )?(?:urgent|on fire|critical|burning)|nothing's (?:urgent|on fire|burning)|no (?:rush|hurry|emergency|urgency|pressure)|low[- ]prio(?:rity)?|whenever you (?:get a chance|have (?:a )?(?:time|minute|moment|sec))|nicht (?:dringend|eilig)|kein(?:e)? (?:eile|stress|notfall)|hat zeit|pas urgent|rien d'urgent|pas press[ée]|no es urgente|nada urgente|sin prisa|n[ãa]o [ée] urgente|sem pressa|non [èe] urgente|niet dringend|geen haast)\b|\bthis is (?:only |just )?an? (?:drill|test|exercise)\s*(?:[.!:,;)\-–—]|$)",
    )
    .case_insensitive(true)
    .build()
    .expect("the not-urgent pattern is valid")
});

/// Alert states that say the incident is over or in hand: alerting tools put the state
/// first ("RESOLVED:", "[OK]", "Recovered:"), people say it in passing.
static OVER: LazyLock<Regex> = LazyLock::new(|| {
    RegexBuilder::new(
        r"^\W*(?:\[(?:resolved|recovered|ok|closed|acknowledged)\]|(?:resolved|recovered|closed|acknowledged)\s*:)|\b(?:has been|have been|is now|was) (?:resolved|mitigated)\b|\backnowledged by\b|\bback to normal\b|\ball clear\b|\byou are no longer being notified\b",
    )
    .case_insensitive(true)
    .build()
    .expect("the incident-over pattern is valid")
});

/// A message's own words that take it out of the emergency class: it says it is not
/// urgent, or that the incident is over or in hand. Words that are negated ("has not been
/// resolved", "not back to normal") or asked ("has this been resolved?") say neither.
pub fn says_not_urgent(text: &str) -> Option<String> {
    NOT_URGENT
        .find_iter(text)
        .chain(OVER.find_iter(text))
        .find(|m| !negated_before(text, m.start()) && !asked(text, m.end()))
        .map(|m| {
            m.as_str()
                .trim_matches(|c: char| !c.is_alphanumeric())
                .to_lowercase()
        })
}

/// Whether the sender wrote EMERGENCY in capitals, not negated: the route the default
/// auto-reply offers ("write EMERGENCY in your message and it reaches me at once").
fn writes_emergency(text: &str) -> bool {
    text.match_indices("EMERGENCY").any(|(at, word)| {
        let whole = !text[..at].ends_with(char::is_alphanumeric)
            && !text[at + word.len()..].starts_with(char::is_alphanumeric);
        whole && !negated_before(text, at) && says_not_urgent(text).is_none()
    })
}

/// Whether one of the three words before `at` negates what follows.
fn negated_before(text: &str, at: usize) -> bool {
    let before = features::words(&text[..at]);
    before
        .iter()
        .rev()
        .take(3)
        .any(|word| features::is_negation(&word.text) || word.text.ends_with("n't"))
}

/// Whether the clause ending at `at` is a question.
fn asked(text: &str, at: usize) -> bool {
    text[at..]
        .chars()
        .find(|c| matches!(c, '.' | '!' | '?' | ',' | ';' | '\n'))
        == Some('?')
}

/// How alike a message must be to a corrected one for the correction to apply.
pub const LESSON_SIMILARITY: f32 = 0.6;

/// A class the user gave a message by hand, remembered so that messages like it go the
/// same way.
#[derive(Clone, Debug, PartialEq)]
pub struct Lesson {
    features: Vec<u32>,
    class: Class,
    example: String,
}

impl Lesson {
    /// Remembers `item` as belonging to `class`.
    pub fn new(item: &NewItem, class: Class) -> Lesson {
        let text = item_text(item);
        let words = features::words(&text);
        Lesson {
            features: key_set(&features::extract(origin_of(item), &words)),
            class,
            example: shorten(&text, 40),
        }
    }

    /// Cosine similarity of two sets of binary features.
    fn similarity(&self, features: &[u32]) -> f32 {
        let (mut a, mut b, mut shared) = (0, 0, 0usize);
        while a < self.features.len() && b < features.len() {
            match self.features[a].cmp(&features[b]) {
                std::cmp::Ordering::Less => a += 1,
                std::cmp::Ordering::Greater => b += 1,
                std::cmp::Ordering::Equal => {
                    shared += 1;
                    a += 1;
                    b += 1;
                }
            }
        }
        shared as f32 / ((self.features.len() * features.len()).max(1) as f32).sqrt()
    }
}

fn key_set(found: &[features::Feature]) -> Vec<u32> {
    let mut keys: Vec<u32> = found.iter().map(|f| f.key).collect();
    keys.sort_unstable();
    keys.dedup();
    keys
}

fn origin_of(item: &NewItem) -> Origin<'_> {
    Origin {
        source: &item.source,
        sender: &item.sender,
        channel: item.channel.as_deref(),
    }
}

/// Title and body.
fn whole_text(item: &NewItem) -> String {
    match &item.body {
        Some(body) if !body.trim().is_empty() => format!("{}\n{}", item.title, body),
        _ => item.title.clone(),
    }
}

/// The start of `text`, at most `bytes` long, cut at a character boundary.
fn head(text: &str, bytes: usize) -> &str {
    let mut cut = bytes.min(text.len());
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    &text[..cut]
}

/// Title and body, up to [`READ_BYTES`], for the model, the guard rails and deadlines:
/// what decides a class and states a deadline is at the start, and a bound here bounds
/// the time one item takes. (The model reads fewer still: [`features::MAX_CHARS`].)
fn item_text(item: &NewItem) -> String {
    head(&whole_text(item), READ_BYTES).to_owned()
}

/// How much of a message triage reads, in bytes.
pub const READ_BYTES: usize = 4096;

/// At most this many corrections are consulted; the engine hands in the newest.
pub const MAX_LESSONS: usize = 2000;

/// Why triage could not be set up.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TriageError {
    /// A rule of the user's is wrong.
    #[error(transparent)]
    Rule(#[from] RuleError),
    /// The shipped model could not be read.
    #[error("the built-in triage model: {0}")]
    Model(#[from] ModelError),
}

/// Classes items. Build once per configuration; teach it with [`Triager::learn`].
pub struct Triager {
    trust_all_sources: bool,
    trusted_sources: Vec<String>,
    vips: Vec<String>,
    vip_class: Class,
    rules: Vec<CompiledRule>,
    pre_ping: PrePingDetector,
    model: Option<Model>,
    lessons: Vec<Lesson>,
    default_class: Class,
}

impl fmt::Debug for Triager {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Triager")
            .field("rules", &self.rules.len())
            .field("model", &self.model)
            .field("lessons", &self.lessons.len())
            .finish_non_exhaustive()
    }
}

/// Urgency order for floors: emergency, then blocker, then the rest alike.
fn rank(class: Class) -> u8 {
    match class {
        Class::Emergency => 0,
        Class::Blocker => 1,
        Class::Update | Class::Strategic | Class::PrePing => 2,
    }
}

impl Triager {
    /// Compiles the configuration with the shipped model; a bad rule is reported with
    /// its position.
    pub fn new(config: &TriageConfig) -> Result<Self, TriageError> {
        let model = if config.builtin_model {
            Some(Model::shipped()?)
        } else {
            None
        };
        Ok(Triager::with_model(config, model)?)
    }

    /// Compiles the configuration with the given model (the trainer's, in evaluation).
    pub fn with_model(config: &TriageConfig, model: Option<Model>) -> Result<Self, RuleError> {
        let mut rules = Vec::with_capacity(config.rules.len());
        for (index, rule) in config.rules.iter().enumerate() {
            rules
                .push(CompiledRule::compile(rule).map_err(|message| RuleError { index, message })?);
        }
        let lower = |v: &[String]| v.iter().map(|s| s.to_lowercase()).collect::<Vec<_>>();
        if model.is_some() {
            deadline::prepare();
            features::prepare();
            LazyLock::force(&NOT_URGENT);
            LazyLock::force(&OVER);
        }
        Ok(Triager {
            trust_all_sources: config.trusted_urgency_sources.iter().any(|s| s == "*"),
            trusted_sources: lower(&config.trusted_urgency_sources),
            vips: lower(&config.vip_senders),
            vip_class: config.vip_class,
            rules,
            pre_ping: PrePingDetector::new(&config.pre_ping_phrases, &config.my_names),
            model,
            lessons: Vec::new(),
            default_class: config.default_class,
        })
    }

    /// Remembers a correction; the newest [`MAX_LESSONS`] are kept. A correction of the
    /// same message replaces the earlier one, so a slip in the digest can be undone.
    pub fn learn(&mut self, lesson: Lesson) {
        self.lessons.retain(|l| l.features != lesson.features);
        if self.lessons.len() == MAX_LESSONS {
            self.lessons.remove(0);
        }
        self.lessons.push(lesson);
    }

    /// Classes one item that arrived at `received` (its time zone reads stated deadlines).
    pub fn triage(&self, item: &NewItem, received: &Zoned) -> Triage {
        let whole = whole_text(item);
        let text = head(&whole, READ_BYTES);
        let deadline = deadline::stated_deadline(text, received);
        let decide = |class, reason| Triage {
            class,
            reason,
            deadline: deadline.clone(),
        };
        let source = item.source.to_lowercase();
        let sender = item.sender.to_lowercase();
        let normalized = NormalizedItem {
            source,
            sender,
            channel: item.channel.as_deref().map(str::to_lowercase),
            // The user's rules see all of the message, as before the model.
            text: &whole,
        };
        for rule in &self.rules {
            if let Some(matched) = rule.matches(&normalized) {
                return decide(
                    rule.class,
                    Reason::Rule {
                        matched,
                        name: rule.name.clone(),
                    },
                );
            }
        }
        let trusted = self.trust_all_sources || self.trusted_sources.contains(&normalized.source);
        if let Some(urgency) = item.urgency
            && trusted
        {
            return decide(
                urgency.class(),
                Reason::SourceUrgency {
                    source: item.source.clone(),
                },
            );
        }
        if writes_emergency(text) {
            return decide(Class::Emergency, Reason::EmergencyWord);
        }
        let own = self.judge(item, text, received, deadline.as_ref());
        if self.vips.contains(&normalized.sender) && rank(self.vip_class) <= rank(own.class) {
            return decide(
                self.vip_class,
                Reason::VipSender {
                    sender: item.sender.clone(),
                },
            );
        }
        // What the source knows of the item's kind stands, unless the user taught
        // otherwise or the text is more urgent than that. An emergency in a tracker or a
        // document is rare: there the model's recall-tuned threshold is not enough, the
        // emergency must be what it finds most likely.
        let doubtful_emergency = own.class == Class::Emergency
            && matches!(own.reason, Reason::Model { confidence, .. } if confidence < 50);
        if let Some(usual) = item.source_class
            && !matches!(own.reason, Reason::Lesson { .. })
            && (rank(own.class) >= rank(usual) || doubtful_emergency)
        {
            return decide(
                usual,
                Reason::SourceClass {
                    source: item.source.clone(),
                },
            );
        }
        decide(own.class, own.reason)
    }

    /// What the message itself says: the user's corrections, greetings, then the model
    /// within its guard rails.
    fn judge(
        &self,
        item: &NewItem,
        text: &str,
        received: &Zoned,
        deadline: Option<&StatedDeadline>,
    ) -> Judgement {
        let words = features::words(text);
        // Extracted once: the lessons and the model read the same features.
        let found = features::extract(origin_of(item), &words);
        if !self.lessons.is_empty() {
            let keys = key_set(&found);
            // `max_by` keeps the last of equals: the newest lesson wins a tie.
            let nearest = self
                .lessons
                .iter()
                .map(|lesson| (lesson, lesson.similarity(&keys)))
                .max_by(|a, b| a.1.total_cmp(&b.1));
            // An emergency taught once does not make its "RESOLVED" follow-up one.
            if let Some((lesson, similarity)) = nearest
                && similarity >= LESSON_SIMILARITY
                && !(lesson.class == Class::Emergency && says_not_urgent(text).is_some())
            {
                return Judgement {
                    class: lesson.class,
                    reason: Reason::Lesson {
                        example: lesson.example.clone(),
                        similarity: (similarity * 100.0).round() as u8,
                    },
                };
            }
        }
        if self.pre_ping.is_pre_ping(text) {
            return Judgement {
                class: Class::PrePing,
                reason: Reason::PrePing {
                    text: shorten(text, 40),
                },
            };
        }
        let Some(model) = &self.model else {
            return Judgement {
                class: self.default_class,
                reason: Reason::Default,
            };
        };
        let scores = model.score(found, &words);
        guard(&scores, text, received, deadline)
    }

    /// The probability from which the model says emergency; `None` without a model.
    pub fn emergency_threshold(&self) -> Option<f32> {
        self.model.as_ref().map(Model::emergency_threshold)
    }

    /// The model's scores for a message, for `deepwork triage explain`.
    pub fn model_scores(&self, item: &NewItem) -> Option<Scores> {
        let text = item_text(item);
        self.model.as_ref().map(|model| {
            let words = features::words(&text);
            model.score(features::extract(origin_of(item), &words), &words)
        })
    }
}

struct Judgement {
    class: Class,
    reason: Reason,
}

/// The guard rails around the model's decision.
fn guard(
    scores: &Scores,
    text: &str,
    received: &Zoned,
    deadline: Option<&StatedDeadline>,
) -> Judgement {
    let mut class = scores.class;
    let mut reason = Reason::Model {
        evidence: scores.evidence.iter().map(|(p, _)| p.clone()).collect(),
        confidence: (scores.probability(class) * 100.0).round() as u8,
    };
    if class == Class::Emergency
        && let Some(phrase) = says_not_urgent(text)
    {
        class = scores.best_except(&[Class::Emergency]);
        reason = Reason::NotUrgent { phrase };
    }
    if rank(class) > rank(Class::Blocker)
        && let Some(deadline) = deadline
        && deadline::is_same_day(deadline.at, received)
    {
        class = Class::Blocker;
        reason = Reason::DeadlineToday {
            phrase: deadline.phrase.clone(),
        };
    }
    Judgement { class, reason }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::item::Urgency;

    fn item(sender: &str, title: &str) -> NewItem {
        NewItem {
            source: "slack".into(),
            sender: sender.into(),
            title: title.into(),
            body: None,
            url: None,
            channel: None,
            urgency: None,
            message_id: None,
            source_class: None,
            conversation: None,
        }
    }

    fn triager(toml: &str) -> Triager {
        let config = Config::from_toml_str(toml).expect("test config parses");
        Triager::new(&config.triage).expect("test rules compile")
    }

    /// A Wednesday morning in Berlin.
    fn received() -> Zoned {
        "2026-11-25T09:40:00[Europe/Berlin]".parse().expect("valid")
    }

    fn class_of(t: &Triager, text: &str) -> Class {
        t.triage(&item("bob", text), &received()).class
    }

    #[test]
    fn reasons_round_trip_through_parts() {
        let reasons = [
            Reason::SourceUrgency {
                source: "ci".into(),
            },
            Reason::VipSender {
                sender: "ceo".into(),
            },
            Reason::Rule {
                matched: "keyword 'x'".into(),
                name: Some("n".into()),
            },
            Reason::Rule {
                matched: "keyword 'x'".into(),
                name: None,
            },
            Reason::PrePing { text: "hi".into() },
            Reason::Model {
                evidence: vec!["returning 500s".into(), "every customer".into()],
                confidence: 94,
            },
            Reason::NotUrgent {
                phrase: "no rush".into(),
            },
            Reason::DeadlineToday {
                phrase: "by 3pm".into(),
            },
            Reason::Lesson {
                example: "deploy bot says".into(),
                similarity: 81,
            },
            Reason::EmergencyWord,
            Reason::Corrected,
            Reason::Default,
        ];
        for reason in reasons {
            let (kind, detail, extra) = reason.to_parts();
            let back = Reason::from_parts(kind, detail, extra);
            assert_eq!(back, Some(reason));
        }
        assert_eq!(Reason::from_parts("nonsense", None, None), None);
    }

    #[test]
    fn explanations_read_as_one_line() {
        let model = Reason::Model {
            evidence: vec!["returning 500s".into(), "every customer".into()],
            confidence: 94,
        };
        assert_eq!(
            model.to_string(),
            "model: 'returning 500s', 'every customer' (0.94)"
        );
        assert_eq!(
            Reason::NotUrgent {
                phrase: "not urgent".into()
            }
            .to_string(),
            "says 'not urgent': never an emergency"
        );
        assert_eq!(
            Reason::DeadlineToday {
                phrase: "by 3pm".into()
            }
            .to_string(),
            "deadline 'by 3pm' today: at least a blocker"
        );
    }

    #[test]
    fn pre_pings_carry_no_request() {
        let t = triager("");
        for text in [
            "hi",
            "hey, got a sec?",
            "Quick question",
            "are you free?",
            "you there?",
            "Hi there!!",
            "hello?? are you around",
            "hallo, hast du kurz Zeit?",
            "hola, ¿tienes un minuto?",
        ] {
            assert_eq!(class_of(&t, text), Class::PrePing, "{text:?} is a pre-ping");
        }
        for text in [
            "hi, can you review PR 42 before the 3pm deploy?",
            "hey, got a sec? checkout returns 500 for every customer since 9:12",
        ] {
            assert_ne!(
                class_of(&t, text),
                Class::PrePing,
                "{text:?} carries a request"
            );
        }
    }

    #[test]
    fn the_model_reads_clear_cases_of_each_class() {
        let t = triager("");
        let cases = [
            (
                "Production API is down, 100% of checkout requests failing since 09:12",
                Class::Emergency,
            ),
            (
                "Ransomware detected on build server, isolate immediately",
                Class::Emergency,
            ),
            (
                "can you approve my PR? I can't merge until you do and the release is this afternoon",
                Class::Blocker,
            ),
            (
                "RFC: moving to an event-sourced design for billing. Comments open for two weeks",
                Class::Strategic,
            ),
            (
                "the new office coffee machine is finally here ☕",
                Class::Update,
            ),
        ];
        for (text, class) in cases {
            let triage = t.triage(&item("bob", text), &received());
            assert_eq!(triage.class, class, "{text:?}: {}", triage.reason);
            assert!(
                matches!(triage.reason, Reason::Model { ref evidence, .. } if !evidence.is_empty()),
                "{text:?}: the model names its evidence, got {}",
                triage.reason
            );
        }
    }

    fn scores(probabilities: [f32; 5], class: Class) -> Scores {
        Scores {
            probabilities,
            class,
            evidence: vec![("down".into(), 1.0)],
        }
    }

    #[test]
    fn saying_not_urgent_never_yields_an_emergency() {
        let emergency = scores([0.5, 0.1, 0.3, 0.1, 0.0], Class::Emergency);
        for text in [
            "not urgent, but prod logs show a few 500s",
            "No rush: the db failover test is done",
            "nothing is on fire, just curious why staging was down",
            "kein Stress, nur eine Frage",
            "this is a drill: prod is down",
            "RESOLVED: [P1] checkout 5xx rate on prod",
            "[OK] disk usage on db-1",
            "Incident #2716 acknowledged by Nikhil — SEV2: search-api error rate",
        ] {
            let judged = guard(&emergency, text, &received(), None);
            assert_eq!(judged.class, Class::Update, "{text:?}");
            assert!(
                matches!(judged.reason, Reason::NotUrgent { .. }),
                "{text:?}"
            );
        }
        for text in [
            "this is not a drill: prod is down",
            "ok so the discount email went to the whole list and people are using it",
            "ok - prod is down for every customer",
            "the outage has not been resolved, checkout is still down",
            "prod is NOT back to normal, 500s everywhere",
            "has this been resolved? checkout still 500s",
            "call me whenever you can, prod is down",
            "this is a test of our patience: the db is gone",
        ] {
            let judged = guard(&emergency, text, &received(), None);
            assert_eq!(judged.class, Class::Emergency, "{text:?} is no hedge");
        }
    }

    #[test]
    fn a_deadline_today_yields_at_least_a_blocker() {
        let update = scores([0.0, 0.2, 0.7, 0.1, 0.0], Class::Update);
        let text = "could you send me the numbers by 3pm?";
        let deadline = deadline::stated_deadline(text, &received());
        let judged = guard(&update, text, &received(), deadline.as_ref());
        assert_eq!(judged.class, Class::Blocker);
        assert_eq!(
            judged.reason,
            Reason::DeadlineToday {
                phrase: "by 3pm".into()
            }
        );
        let later = "could you send me the numbers by Friday?";
        let deadline = deadline::stated_deadline(later, &received());
        assert!(deadline.is_some());
        let judged = guard(&update, later, &received(), deadline.as_ref());
        assert_eq!(judged.class, Class::Update, "Friday is not today");
    }

    #[test]
    fn the_deadline_is_kept_with_the_class() {
        let t = triager("");
        let triage = t.triage(
            &item("bob", "need your sign-off before end of day"),
            &received(),
        );
        let deadline = triage.deadline.expect("a stated deadline");
        assert_eq!(deadline.phrase, "before end of day");
        assert_eq!(triage.class, Class::Blocker, "{}", triage.reason);
    }

    #[test]
    fn vips_are_a_floor_and_user_rules_come_first() {
        let t = triager(
            r##"
            [triage]
            vip_senders = ["CEO"]
            vip_class = "blocker"
            [[triage.rules]]
            name = "incidents channel"
            class = "emergency"
            channel = "#incidents"
            [[triage.rules]]
            class = "strategic"
            pattern = 'offsite\s+agenda'
            "##,
        );
        let vip = t.triage(&item("ceo", "hi"), &received());
        assert_eq!(
            (vip.class, vip.reason.to_string()),
            (Class::Blocker, "VIP sender 'ceo'".into())
        );
        let vip_outage = t.triage(
            &item(
                "ceo",
                "the whole site is down for every customer, ransomware on the servers",
            ),
            &received(),
        );
        assert_eq!(
            vip_outage.class,
            Class::Emergency,
            "a VIP's emergency is not lowered to the VIP class"
        );
        let mut incident = item("bob", "fyi");
        incident.channel = Some("#Incidents".into());
        let triage = t.triage(&incident, &received());
        assert_eq!(triage.class, Class::Emergency);
        assert_eq!(
            triage.reason.to_string(),
            "channel '#incidents' (rule 'incidents channel')"
        );
        assert_eq!(class_of(&t, "Offsite  agenda draft"), Class::Strategic);
    }

    #[test]
    fn declared_urgency_counts_only_from_trusted_sources() {
        let t = triager("[triage]\ntrusted_urgency_sources = [\"ci\"]\n");
        let mut from_ci = item("build-bot", "nightly finished");
        from_ci.source = "ci".into();
        from_ci.urgency = Some(Urgency::Emergency);
        assert_eq!(t.triage(&from_ci, &received()).class, Class::Emergency);
        let mut from_chat = from_ci.clone();
        from_chat.source = "slack".into();
        assert_ne!(
            t.triage(&from_chat, &received()).reason,
            Reason::SourceUrgency {
                source: "slack".into()
            },
            "slack may not self-declare an emergency"
        );
    }

    #[test]
    fn a_sources_usual_class_stands_unless_the_text_is_more_urgent_or_a_rule_says_otherwise() {
        let t = triager("[[triage.rules]]\nkeywords = [\"dependabot\"]\nclass = \"update\"\n");
        let mut review = item("bob", "Review requested: Add retry to the payment client");
        review.source = "github".into();
        review.source_class = Some(Class::Blocker);
        let decision = t.triage(&review, &received());
        assert_eq!(decision.class, Class::Blocker);
        assert_eq!(
            decision.reason,
            Reason::SourceClass {
                source: "github".into()
            }
        );
        assert!(decision.reason.to_string().contains("github"));

        let mut outage = review.clone();
        outage.title =
            "Production API is down, 100% of checkout requests failing since 09:12".into();
        assert_eq!(
            t.triage(&outage, &received()).class,
            Class::Emergency,
            "the model still reads the text"
        );

        let mut comment = review.clone();
        comment.source_class = Some(Class::Strategic);
        comment.title = "hi".into();
        assert_eq!(
            t.triage(&comment, &received()).class,
            Class::Strategic,
            "a greeting on a document is still a comment on it"
        );

        let mut numbers = comment.clone();
        numbers.title = "Comment on Billing RFC".into();
        numbers.body = Some("Snapshots every 1,000 events?".into());
        assert_eq!(
            t.triage(&numbers, &received()).class,
            Class::Strategic,
            "a doubtful emergency in a document comment stays a comment"
        );

        let mut bot = review.clone();
        bot.title = "dependabot: bump serde from 1.0.1 to 1.0.2".into();
        assert_eq!(
            t.triage(&bot, &received()).class,
            Class::Update,
            "rules first"
        );
    }

    #[test]
    fn lessons_send_similar_messages_the_same_way() {
        let mut t = triager("");
        let taught = item(
            "deploy-bot",
            "Nightly export to the data warehouse finished with 3 warnings",
        );
        let before = t.triage(&taught, &received()).class;
        let corrected = if before == Class::Blocker {
            Class::Strategic
        } else {
            Class::Blocker
        };
        t.learn(Lesson::new(&taught, corrected));
        let similar = item(
            "deploy-bot",
            "Nightly export to the data warehouse finished with 5 warnings",
        );
        let triage = t.triage(&similar, &received());
        assert_eq!(triage.class, corrected);
        assert!(
            triage
                .reason
                .to_string()
                .starts_with("like 'Nightly export"),
            "{}",
            triage.reason
        );
        t.learn(Lesson::new(&taught, Class::Update));
        assert_eq!(
            t.triage(&similar, &received()).class,
            Class::Update,
            "a second correction of the same message replaces the first"
        );
        let other = item("ana", "lunch at the new ramen place?");
        assert!(
            !matches!(t.triage(&other, &received()).reason, Reason::Lesson { .. }),
            "an unrelated message is not swayed"
        );
    }

    #[test]
    fn a_taught_emergency_does_not_make_its_resolved_follow_up_one() {
        let mut t = triager("");
        let firing = item("grafana", "[FIRING:1] disk full on db-1 (prod)");
        t.learn(Lesson::new(&firing, Class::Emergency));
        let resolved = item("grafana", "[RESOLVED] disk full on db-1 (prod)");
        let triage = t.triage(&resolved, &received());
        assert_ne!(triage.class, Class::Emergency, "{}", triage.reason);
    }

    #[test]
    fn writing_emergency_as_the_auto_reply_asks_reaches_the_user() {
        let t = triager("");
        let triage = t.triage(&item("ana", "EMERGENCY can you call me"), &received());
        assert_eq!(
            (triage.class, triage.reason),
            (Class::Emergency, Reason::EmergencyWord)
        );
        for text in [
            "this is NOT an EMERGENCY, just curious about lunch",
            "the EMERGENCYEXIT sign is broken",
            "the emergency exit sign on floor 3 is broken",
        ] {
            assert_ne!(
                t.triage(&item("ana", text), &received()).reason,
                Reason::EmergencyWord,
                "{text:?}"
            );
        }
    }

    #[test]
    fn user_rules_read_the_whole_message() {
        let t = triager("[[triage.rules]]\nclass = \"strategic\"\nkeywords = [\"offsite\"]\n");
        let mut long = item("bob", "notes");
        long.body = Some(format!("{} offsite", "blah ".repeat(2000)));
        assert_eq!(t.triage(&long, &received()).class, Class::Strategic);
    }

    #[test]
    fn without_the_model_the_default_class_applies() {
        let t = triager("[triage]\nbuiltin_rules = false\ndefault_class = \"strategic\"\n");
        let triage = t.triage(&item("bob", "prod is down"), &received());
        assert_eq!(
            (triage.class, triage.reason),
            (Class::Strategic, Reason::Default)
        );
    }

    #[test]
    fn a_bad_pattern_names_its_rule() {
        let config = TriageConfig {
            rules: vec![RuleConfig {
                name: None,
                class: Class::Update,
                keywords: vec![],
                pattern: Some("(".into()),
                source: None,
                sender: None,
                channel: None,
            }],
            ..TriageConfig::default()
        };
        let err = Triager::with_model(&config, None).expect_err("pattern is invalid");
        assert_eq!(err.index, 0);
        assert!(err.message.starts_with("pattern:"), "{}", err.message);
        let err =
            Config::from_toml_str("\n[[triage.rules]]\nclass = \"update\"\npattern = \"(\"\n")
                .expect_err("invalid");
        assert_eq!(
            (err.key.as_deref(), err.line),
            (Some("triage.rules[0]"), Some(2)),
            "{err}"
        );
    }
}
