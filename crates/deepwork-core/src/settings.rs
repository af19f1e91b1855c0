//! The settings the window edits, and how they are written back into `config.toml`.
//!
//! Writing edits the user's document in place (toml_edit), so their comments, their
//! order and every setting the window does not show survive; the result is validated
//! as a whole [`Config`] before anyone writes it.

use crate::config::{Config, ConfigError, Length, RuleConfig};
use crate::item::Class;
use crate::plans::{Days, FocusBlock, WorkSpan};
use crate::resident::HotkeySetting;
use crate::schedule::ClockTime;
use crate::standup::PostTarget;
use serde::{Deserialize, Serialize};
use toml_edit::{Array, ArrayOfTables, DocumentMut, Item, Table, Value, value};

/// What the Settings view shows and saves.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Settings {
    /// `session.default_length`.
    pub default_length: Length,
    /// `session.check_in_slots`.
    pub check_in_slots: Vec<ClockTime>,
    /// `stats.weekly_goal_hours`.
    pub weekly_goal_hours: f64,
    /// `desktop.hotkey`; empty for none.
    pub hotkey: HotkeySetting,
    /// `status.template`.
    pub status_template: String,
    /// `triage.vip_senders`.
    pub vip_senders: Vec<String>,
    /// The `triage.rules` that only match keywords; the others are kept as written.
    pub keyword_rules: Vec<KeywordRule>,
    /// How many other rules config.toml has (regex, source, sender or channel rules).
    pub other_rules: u32,
    /// `auto_reply.template`.
    pub auto_reply_template: String,
    /// `auto_reply.emergency`.
    pub auto_reply_emergency: String,
    /// `plans.work_hours`.
    pub work_hours: Vec<WorkSpan>,
    /// `plans.days_off`.
    #[cfg_attr(feature = "ts", ts(type = "string[]"))]
    pub days_off: Vec<jiff::civil::Date>,
    /// `plans.hold_after_hours`.
    pub hold_after_hours: bool,
    /// `plans.blocks`.
    pub focus_blocks: Vec<FocusBlock>,
    /// `plans.after_hours_status`.
    pub after_hours_status: String,
    /// `auto_reply.after_hours`.
    pub auto_reply_after_hours: String,
    /// `status.intent_template`; empty keeps intents private.
    pub status_intent_template: String,
    /// `standup.at`; none drafts only when asked.
    pub standup_at: Option<ClockTime>,
    /// `standup.days`.
    pub standup_days: Days,
    /// `standup.post_to`.
    pub standup_post_to: Option<PostTarget>,
}

/// A rule that classes items by keywords alone.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct KeywordRule {
    /// Shown in the digest's "why".
    pub name: Option<String>,
    /// The class it gives.
    pub class: Class,
    /// Whole words or phrases, any of which matches.
    pub keywords: Vec<String>,
}

fn is_keyword_rule(rule: &RuleConfig) -> bool {
    rule.pattern.is_none()
        && rule.source.is_none()
        && rule.sender.is_none()
        && rule.channel.is_none()
}

impl Settings {
    /// The settings as `config` has them.
    pub fn from_config(config: &Config) -> Settings {
        let (keyword, other): (Vec<&RuleConfig>, Vec<&RuleConfig>) = config
            .triage
            .rules
            .iter()
            .partition(|rule| is_keyword_rule(rule));
        Settings {
            default_length: config.session.default_length,
            check_in_slots: config.session.check_in_slots.clone(),
            weekly_goal_hours: config.stats.weekly_goal_hours,
            hotkey: config.desktop.hotkey,
            status_template: config.status.template.clone(),
            vip_senders: config.triage.vip_senders.clone(),
            keyword_rules: keyword
                .into_iter()
                .map(|rule| KeywordRule {
                    name: rule.name.clone(),
                    class: rule.class,
                    keywords: rule.keywords.clone(),
                })
                .collect(),
            other_rules: u32::try_from(other.len()).unwrap_or(u32::MAX),
            auto_reply_template: config.auto_reply.template.clone(),
            auto_reply_emergency: config.auto_reply.emergency.clone(),
            work_hours: config.plans.work_hours.clone(),
            days_off: config.plans.days_off.clone(),
            hold_after_hours: config.plans.hold_after_hours,
            focus_blocks: config.plans.blocks.clone(),
            after_hours_status: config.plans.after_hours_status.clone(),
            auto_reply_after_hours: config.auto_reply.after_hours.clone(),
            status_intent_template: config.status.intent_template.clone(),
            standup_at: config.standup.at,
            standup_days: config.standup.days,
            standup_post_to: config.standup.post_to.clone(),
        }
    }

    /// `text` (a config.toml, possibly empty) with these settings written into it, and
    /// the config it now holds. Fails, naming the setting, when the result is invalid;
    /// `text` is then unchanged.
    pub fn apply(&self, text: &str) -> Result<(String, Config), ConfigError> {
        let mut document: DocumentMut =
            text.parse()
                .map_err(|error: toml_edit::TomlError| ConfigError {
                    key: None,
                    line: None,
                    column: None,
                    message: format!(
                        "config.toml cannot be read as TOML, so it was not changed: {error}"
                    ),
                })?;
        let strings = |items: &[String]| items.iter().map(String::as_str).collect::<Array>();
        let slots: Array = self
            .check_in_slots
            .iter()
            .map(ToString::to_string)
            .collect();
        let session = section(&mut document, "session");
        set(
            session,
            "default_length",
            self.default_length.to_string().into(),
        );
        set(session, "check_in_slots", slots.into());
        set(
            section(&mut document, "stats"),
            "weekly_goal_hours",
            self.weekly_goal_hours.into(),
        );
        set(
            section(&mut document, "desktop"),
            "hotkey",
            self.hotkey.to_string().into(),
        );
        let status = section(&mut document, "status");
        set(status, "template", self.status_template.as_str().into());
        set(
            status,
            "intent_template",
            self.status_intent_template.as_str().into(),
        );
        let standup = section(&mut document, "standup");
        set_or_remove(standup, "at", self.standup_at.map(|at| at.to_string()));
        set(standup, "days", self.standup_days.to_string().into());
        set_or_remove(
            standup,
            "post_to",
            self.standup_post_to.as_ref().map(ToString::to_string),
        );
        let auto_reply = section(&mut document, "auto_reply");
        set(
            auto_reply,
            "template",
            self.auto_reply_template.as_str().into(),
        );
        set(
            auto_reply,
            "emergency",
            self.auto_reply_emergency.as_str().into(),
        );
        set(
            auto_reply,
            "after_hours",
            self.auto_reply_after_hours.as_str().into(),
        );
        let plans = section(&mut document, "plans");
        set(
            plans,
            "work_hours",
            self.work_hours
                .iter()
                .map(ToString::to_string)
                .collect::<Array>()
                .into(),
        );
        set(
            plans,
            "days_off",
            self.days_off
                .iter()
                .map(ToString::to_string)
                .collect::<Array>()
                .into(),
        );
        set(plans, "hold_after_hours", self.hold_after_hours.into());
        set(
            plans,
            "after_hours_status",
            self.after_hours_status.as_str().into(),
        );
        let mut blocks = ArrayOfTables::new();
        for block in &self.focus_blocks {
            let mut table = Table::new();
            table["days"] = value(block.days.to_string());
            table["from"] = value(block.from.to_string());
            table["until"] = value(block.until.to_string());
            if !block.check_ins.is_empty() {
                table["check_ins"] = value(
                    block
                        .check_ins
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Array>(),
                );
            }
            blocks.push(table);
        }
        if blocks.is_empty() {
            plans.remove("blocks");
        } else {
            plans["blocks"] = Item::ArrayOfTables(blocks);
        }
        let triage = section(&mut document, "triage");
        set(triage, "vip_senders", strings(&self.vip_senders).into());
        let kept: Vec<Table> = triage
            .get("rules")
            .and_then(Item::as_array_of_tables)
            .map(|rules| {
                rules
                    .iter()
                    .filter(|rule| !table_is_keyword_rule(rule))
                    .cloned()
                    .collect()
            })
            .unwrap_or_default();
        let mut rules = ArrayOfTables::new();
        for rule in &self.keyword_rules {
            let mut table = Table::new();
            if let Some(name) = rule.name.as_deref().filter(|name| !name.trim().is_empty()) {
                table["name"] = value(name);
            }
            table["class"] = value(class_name(rule.class));
            table["keywords"] = value(strings(&rule.keywords));
            rules.push(table);
        }
        for table in kept {
            rules.push(table);
        }
        if rules.is_empty() {
            triage.remove("rules");
        } else {
            triage["rules"] = Item::ArrayOfTables(rules);
        }
        let written = document.to_string();
        let config = Config::from_toml_str(&written)?;
        Ok((written, config))
    }
}

fn table_is_keyword_rule(rule: &Table) -> bool {
    ["pattern", "source", "sender", "channel"]
        .iter()
        .all(|key| !rule.contains_key(key))
}

fn class_name(class: Class) -> &'static str {
    match class {
        Class::Emergency => "emergency",
        Class::Blocker => "blocker",
        Class::Update => "update",
        Class::Strategic => "strategic",
        Class::PrePing => "pre_ping",
    }
}

/// Sets `key`, keeping the comment and spacing around the value it replaces.
fn set(table: &mut Table, key: &str, mut new: Value) {
    if let Some(old) = table.get(key).and_then(Item::as_value) {
        *new.decor_mut() = old.decor().clone();
    }
    table[key] = Item::Value(new);
}

/// Sets `key` to `text`, or removes it when there is none.
fn set_or_remove(table: &mut Table, key: &str, text: Option<String>) {
    match text {
        Some(text) => set(table, key, text.into()),
        None => {
            table.remove(key);
        }
    }
}

/// The table `[name]`, made when missing.
fn section<'a>(document: &'a mut DocumentMut, name: &str) -> &'a mut Table {
    let item = document
        .entry(name)
        .or_insert_with(|| Item::Table(Table::new()));
    if !item.is_table() {
        *item = Item::Table(Table::new());
    }
    item.as_table_mut().expect("made a table just above")
}

#[cfg(test)]
mod tests {
    use super::*;

    const WRITTEN_BY_HAND: &str = r##"# my focus setup
[session]
default_length = "90m" # mornings are long
check_in_slots = ["11:00"]

[[triage.rules]]
name = "incidents channel"
class = "emergency"
channel = "#incidents"

[[triage.rules]]
class = "blocker"
keywords = ["deploy"]

[adapters.matrix]
homeserver = "https://matrix.example.org"
user_id = "@alice:example.org"
"##;

    #[test]
    fn saving_keeps_comments_other_rules_and_untouched_sections() {
        let config = Config::from_toml_str(WRITTEN_BY_HAND).unwrap();
        let mut settings = Settings::from_config(&config);
        assert_eq!(settings.other_rules, 1);
        assert_eq!(settings.keyword_rules.len(), 1);
        settings.default_length = "50m".parse().unwrap();
        settings.check_in_slots = vec!["11:00".parse().unwrap(), "15:30".parse().unwrap()];
        settings.keyword_rules.push(KeywordRule {
            name: Some("money".into()),
            class: Class::Strategic,
            keywords: vec!["budget".into(), "roadmap".into()],
        });
        let (text, saved) = settings.apply(WRITTEN_BY_HAND).unwrap();
        assert!(text.starts_with("# my focus setup\n"), "{text}");
        assert!(text.contains("# mornings are long"), "{text}");
        assert!(text.contains("user_id = \"@alice:example.org\""), "{text}");
        assert_eq!(saved.session.default_length.to_string(), "50m");
        assert_eq!(saved.triage.rules.len(), 3);
        assert_eq!(saved.triage.rules[2].channel.as_deref(), Some("#incidents"));
        assert_eq!(Settings::from_config(&saved), settings);
    }

    #[test]
    fn the_standup_and_the_intent_template_are_saved_and_cleared() {
        let config = Config::from_toml_str(WRITTEN_BY_HAND).unwrap();
        let mut settings = Settings::from_config(&config);
        assert_eq!(settings.standup_at, None);
        assert_eq!(settings.standup_days.to_string(), "mon-fri");
        settings.standup_at = Some("09:15".parse().unwrap());
        settings.standup_days = "mon,wed,fri".parse().unwrap();
        settings.standup_post_to = Some("matrix:#standup:example.org".parse().unwrap());
        settings.status_intent_template = "Deep work on {intent} — back at {check_in}".into();
        let (text, saved) = settings.apply(WRITTEN_BY_HAND).unwrap();
        assert!(text.contains("[standup]\nat = \"09:15\"\ndays = \"mon,wed,fri\"\npost_to = \"matrix:#standup:example.org\"\n"), "{text}");
        assert_eq!(Settings::from_config(&saved), settings);
        settings.standup_at = None;
        settings.standup_post_to = None;
        let (text, saved) = settings.apply(&text).unwrap();
        assert!(
            !text.contains("post_to") && !text.contains("at = "),
            "{text}"
        );
        assert_eq!(saved.standup.at, None);
        settings.status_intent_template = "On {intnet}".into();
        let error = settings.apply(&text).unwrap_err();
        assert_eq!(
            error.key.as_deref(),
            Some("status.intent_template"),
            "{error}"
        );
    }

    #[test]
    fn work_hours_and_focus_blocks_are_saved_beside_the_calendars() {
        let written = "[plans]\ncalendars = [{ url = \"https://example.com/team.ics\" }]\n";
        let mut settings = Settings::from_config(&Config::from_toml_str(written).unwrap());
        settings.work_hours = vec!["mon-fri 09:00-17:30".parse().unwrap()];
        settings.days_off = vec!["2026-12-24".parse().unwrap()];
        settings.hold_after_hours = false;
        settings.after_hours_status = "Off work, back {check_in}".into();
        settings.auto_reply_after_hours = "Off until {check_in}.".into();
        settings.focus_blocks = vec![
            toml::from_str(
                "days = \"mon-fri\"\nfrom = \"09:00\"\nuntil = \"11:30\"\ncheck_ins = [\"10:15\"]",
            )
            .unwrap(),
        ];
        let (text, saved) = settings.apply(written).unwrap();
        assert_eq!(saved.plans.calendars.len(), 1, "{text}");
        assert_eq!(saved.plans.blocks.len(), 1, "{text}");
        assert!(!saved.plans.hold_after_hours);
        assert_eq!(Settings::from_config(&saved), settings);
        settings.focus_blocks.clear();
        let (text, saved) = settings.apply(&text).unwrap();
        assert!(
            saved.plans.blocks.is_empty() && !text.contains("blocks"),
            "{text}"
        );
    }

    #[test]
    fn an_empty_file_gets_every_setting() {
        let settings = Settings::from_config(&Config::default());
        let (text, saved) = settings.apply("").unwrap();
        assert_eq!(saved, Config::default(), "{text}");
    }

    #[test]
    fn an_invalid_setting_is_refused_naming_it() {
        let mut settings = Settings::from_config(&Config::default());
        settings.weekly_goal_hours = 200.0;
        let error = settings.apply("").unwrap_err();
        assert_eq!(error.key.as_deref(), Some("stats.weekly_goal_hours"));
        assert!(error.message.contains("between 0 and 168"), "{error}");

        let mut settings = Settings::from_config(&Config::default());
        settings.keyword_rules.push(KeywordRule {
            name: None,
            class: Class::Update,
            keywords: vec![],
        });
        let error = settings.apply("").unwrap_err();
        assert!(error.to_string().contains("triage.rules"), "{error}");
    }

    #[test]
    fn a_file_that_is_not_toml_is_not_overwritten() {
        let settings = Settings::from_config(&Config::default());
        let error = settings.apply("[session\n").unwrap_err();
        assert!(error.message.contains("was not changed"), "{error}");
    }
}
