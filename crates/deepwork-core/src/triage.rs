//! Triage: which class an item belongs to, and the rule that decided it.
//!
//! Pure and explainable: [`Triager::triage`] returns the class and a [`Reason`] a person
//! can read in the digest ("keyword 'outage'", "VIP sender 'ceo'").

use crate::config::{RuleConfig, TriageConfig};
use crate::item::{Class, NewItem};
use regex::{Regex, RegexBuilder};
use serde::{Deserialize, Serialize};
use std::fmt;

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
    /// The sender is on the VIP list.
    VipSender {
        /// The VIP.
        sender: String,
    },
    /// A configured or built-in rule matched.
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
    /// Nothing matched: the default class.
    Default,
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::SourceUrgency { source } => {
                write!(f, "urgency declared by trusted source '{source}'")
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
            Reason::Default => f.write_str("no rule matched: default class"),
        }
    }
}

impl Reason {
    /// The reason as flat parts (kind, detail, rule name), the form the store keeps.
    pub fn to_parts(&self) -> (&'static str, Option<&str>, Option<&str>) {
        match self {
            Reason::SourceUrgency { source } => ("source_urgency", Some(source), None),
            Reason::VipSender { sender } => ("vip_sender", Some(sender), None),
            Reason::Rule { matched, name } => ("rule", Some(matched), name.as_deref()),
            Reason::PrePing { text } => ("pre_ping", Some(text), None),
            Reason::Default => ("default", None, None),
        }
    }

    /// Rebuilds a reason from [`Reason::to_parts`]; `None` for an unknown kind.
    pub fn from_parts(kind: &str, detail: Option<String>, name: Option<String>) -> Option<Reason> {
        let detail = detail.unwrap_or_default();
        Some(match kind {
            "source_urgency" => Reason::SourceUrgency { source: detail },
            "vip_sender" => Reason::VipSender { sender: detail },
            "rule" => Reason::Rule {
                matched: detail,
                name,
            },
            "pre_ping" => Reason::PrePing { text: detail },
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
}

/// A rule whose regular expression did not compile.
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

/// Built-in rules, applied after the user's own.
fn builtin_rules() -> Vec<RuleConfig> {
    let rule = |class, keywords: &[&str]| RuleConfig {
        name: None,
        class,
        keywords: keywords.iter().map(|k| (*k).to_owned()).collect(),
        pattern: None,
        source: None,
        sender: None,
        channel: None,
    };
    vec![
        rule(
            Class::Emergency,
            &[
                "outage",
                "production is down",
                "prod is down",
                "site is down",
                "is down for everyone",
                "sev1",
                "sev-1",
                "sev 1",
                "sev0",
                "p0",
                "security breach",
                "security incident",
                "data breach",
                "data loss",
                "breach",
                "pagerduty",
                "on fire",
                "emergency",
            ],
        ),
        rule(
            Class::Blocker,
            &[
                "blocker",
                "blocking",
                "blocked",
                "urgent",
                "asap",
                "deploy",
                "deployment",
                "release",
                "hotfix",
                "needs your review",
                "review needed",
                "waiting on you",
                "can't merge",
                "cannot merge",
                "build failed",
                "deploy failed",
            ],
        ),
        rule(
            Class::Strategic,
            &[
                "roadmap",
                "next quarter",
                "strategy",
                "strategic",
                "okr",
                "okrs",
                "planning",
                "vision",
                "long-term",
                "long term",
                "q1",
                "q2",
                "q3",
                "q4",
                "headcount",
            ],
        ),
    ]
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

/// Classes items by the configured rules. Build once per configuration.
pub struct Triager {
    trust_all_sources: bool,
    trusted_sources: Vec<String>,
    vips: Vec<String>,
    vip_class: Class,
    rules: Vec<CompiledRule>,
    pre_ping: PrePingDetector,
    default_class: Class,
}

impl fmt::Debug for Triager {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Triager")
            .field("rules", &self.rules.len())
            .finish_non_exhaustive()
    }
}

impl Triager {
    /// Compiles the configuration; a bad rule is reported with its position.
    pub fn new(config: &TriageConfig) -> Result<Self, RuleError> {
        let mut rules = Vec::with_capacity(config.rules.len() + 3);
        for (index, rule) in config.rules.iter().enumerate() {
            rules
                .push(CompiledRule::compile(rule).map_err(|message| RuleError { index, message })?);
        }
        if config.builtin_rules {
            for rule in builtin_rules() {
                rules.push(CompiledRule::compile(&rule).map_err(|message| RuleError {
                    index: usize::MAX,
                    message,
                })?);
            }
        }
        let lower = |v: &[String]| v.iter().map(|s| s.to_lowercase()).collect::<Vec<_>>();
        Ok(Triager {
            trust_all_sources: config.trusted_urgency_sources.iter().any(|s| s == "*"),
            trusted_sources: lower(&config.trusted_urgency_sources),
            vips: lower(&config.vip_senders),
            vip_class: config.vip_class,
            rules,
            pre_ping: PrePingDetector::new(&config.pre_ping_phrases, &config.my_names),
            default_class: config.default_class,
        })
    }

    /// Classes one item. First match wins: trusted urgency, VIP, rules, pre-ping, default.
    pub fn triage(&self, item: &NewItem) -> Triage {
        let source = item.source.to_lowercase();
        if let Some(urgency) = item.urgency
            && (self.trust_all_sources || self.trusted_sources.contains(&source))
        {
            return Triage {
                class: urgency.class(),
                reason: Reason::SourceUrgency {
                    source: item.source.clone(),
                },
            };
        }
        let sender = item.sender.to_lowercase();
        if self.vips.contains(&sender) {
            return Triage {
                class: self.vip_class,
                reason: Reason::VipSender {
                    sender: item.sender.clone(),
                },
            };
        }
        let text = match &item.body {
            Some(body) if !body.trim().is_empty() => format!("{}\n{}", item.title, body),
            _ => item.title.clone(),
        };
        let normalized = NormalizedItem {
            source,
            sender,
            channel: item.channel.as_deref().map(str::to_lowercase),
            text: &text,
        };
        for rule in &self.rules {
            if let Some(matched) = rule.matches(&normalized) {
                return Triage {
                    class: rule.class,
                    reason: Reason::Rule {
                        matched,
                        name: rule.name.clone(),
                    },
                };
            }
        }
        if self.pre_ping.is_pre_ping(&text) {
            return Triage {
                class: Class::PrePing,
                reason: Reason::PrePing {
                    text: shorten(&text, 40),
                },
            };
        }
        Triage {
            class: self.default_class,
            reason: Reason::Default,
        }
    }
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
        }
    }

    fn triager(toml: &str) -> Triager {
        let config = Config::from_toml_str(toml).expect("test config parses");
        Triager::new(&config.triage).expect("test rules compile")
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
            Reason::Default,
        ];
        for reason in reasons {
            let (kind, detail, name) = reason.to_parts();
            let back = Reason::from_parts(kind, detail.map(str::to_owned), name.map(str::to_owned));
            assert_eq!(back, Some(reason));
        }
        assert_eq!(Reason::from_parts("nonsense", None, None), None);
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
        ] {
            assert_eq!(
                t.triage(&item("bob", text)).class,
                Class::PrePing,
                "{text:?} is a pre-ping"
            );
        }
        for text in [
            "hi, can you review PR 42 before the 3pm deploy?",
            "hey, lunch tomorrow?",
            "quick question: where is the design doc?",
        ] {
            assert_ne!(
                t.triage(&item("bob", text)).class,
                Class::PrePing,
                "{text:?} carries a request"
            );
        }
    }

    #[test]
    fn builtin_keywords_class_by_the_response_matrix() {
        let t = triager("");
        let cases = [
            (
                "Production outage in eu-west",
                Class::Emergency,
                "keyword 'outage'",
            ),
            (
                "security breach on the VPN",
                Class::Emergency,
                "keyword 'security breach'",
            ),
            (
                "EMERGENCY: payroll export failed",
                Class::Emergency,
                "keyword 'emergency'",
            ),
            (
                "this is blocking the deploy",
                Class::Blocker,
                "keyword 'blocking'",
            ),
            (
                "thoughts on the roadmap for next quarter?",
                Class::Strategic,
                "keyword 'roadmap'",
            ),
            (
                "new design mockups are up",
                Class::Update,
                "no rule matched: default class",
            ),
        ];
        for (text, class, why) in cases {
            let triage = t.triage(&item("bob", text));
            assert_eq!(triage.class, class, "{text:?}");
            assert_eq!(triage.reason.to_string(), why, "{text:?}");
        }
    }

    #[test]
    fn keywords_match_whole_words_only() {
        let t = triager("");
        assert_eq!(
            t.triage(&item("bob", "the breachless audit passed")).class,
            Class::Update
        );
        assert_eq!(
            t.triage(&item("bob", "we released the p0wer tool")).class,
            Class::Update
        );
    }

    #[test]
    fn vip_and_user_rules_come_before_builtins() {
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
        let vip = t.triage(&item("ceo", "hi"));
        assert_eq!(
            (vip.class, vip.reason.to_string()),
            (Class::Blocker, "VIP sender 'ceo'".into())
        );
        let mut incident = item("bob", "fyi");
        incident.channel = Some("#Incidents".into());
        let triage = t.triage(&incident);
        assert_eq!(triage.class, Class::Emergency);
        assert_eq!(
            triage.reason.to_string(),
            "channel '#incidents' (rule 'incidents channel')"
        );
        assert_eq!(
            t.triage(&item("bob", "Offsite  agenda draft")).class,
            Class::Strategic
        );
    }

    #[test]
    fn declared_urgency_counts_only_from_trusted_sources() {
        let t = triager("[triage]\ntrusted_urgency_sources = [\"ci\"]\n");
        let mut from_ci = item("build-bot", "nightly");
        from_ci.source = "ci".into();
        from_ci.urgency = Some(Urgency::Emergency);
        assert_eq!(t.triage(&from_ci).class, Class::Emergency);
        let mut from_chat = from_ci.clone();
        from_chat.source = "slack".into();
        assert_eq!(
            t.triage(&from_chat).class,
            Class::Update,
            "slack may not self-declare an emergency"
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
        let err = Triager::new(&config).expect_err("pattern is invalid");
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
