//! What others see while the user focuses: the status text on each platform and the
//! one auto-reply a sender may get. Pure: times and the time zone are passed in.

use crate::item::Class;
use jiff::Timestamp;
use jiff::tz::TimeZone;
use serde::{Deserialize, Serialize};

/// Placeholders a status or reply template may use.
pub const PLACEHOLDERS: &[&str] = &["{check_in}", "{until}", "{emergency}"];
/// The placeholder `[status] intent_template` adds: the session's intent.
pub const INTENT: &str = "{intent}";

/// The `[status]` section.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StatusConfig {
    /// The status text; `{check_in}` and `{until}` become local times.
    pub template: String,
    /// The status text for a session started with an intent, where `{intent}` names
    /// it ("Deep work on {intent} — checking messages at {check_in}"); empty (the
    /// default) keeps `template` and the intent private.
    pub intent_template: String,
    /// How those times are written, in the status and the auto-reply.
    pub clock: ClockFormat,
}

impl Default for StatusConfig {
    fn default() -> Self {
        StatusConfig {
            template: "Deep work — checking messages at {check_in}".into(),
            intent_template: String::new(),
            clock: ClockFormat::TwentyFourHour,
        }
    }
}

/// How a time of day is written for others to read.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum ClockFormat {
    /// "14:00".
    #[default]
    #[serde(rename = "24h")]
    TwentyFourHour,
    /// "2:00 PM".
    #[serde(rename = "12h")]
    TwelveHour,
}

/// The `[auto_reply]` section. Replies are opt-in per adapter.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AutoReplyConfig {
    /// The reply; `{check_in}`, `{until}` and `{emergency}` are filled in.
    pub template: String,
    /// How to reach the user in an emergency, e.g. "call +49 30 1234567".
    pub emergency: String,
    /// The reply outside work hours (while `[plans]` holds what arrives); empty for
    /// none. `{check_in}` is the next working start.
    pub after_hours: String,
}

impl Default for AutoReplyConfig {
    fn default() -> Self {
        AutoReplyConfig {
            template:
                "I'm in deep work until {check_in}. Please send the whole request in one message; \
                       for an emergency, {emergency}."
                    .into(),
            emergency: "write EMERGENCY in your message and it reaches me at once".into(),
            after_hours: String::new(),
        }
    }
}

/// The times a template speaks of.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AwayTimes {
    /// The next check-in.
    pub check_in: Timestamp,
    /// The session's end.
    pub until: Timestamp,
}

fn clock(at: Timestamp, now: Timestamp, tz: &TimeZone, format: ClockFormat) -> String {
    let zoned = at.to_zoned(tz.clone());
    let time = match format {
        ClockFormat::TwentyFourHour => "%H:%M",
        ClockFormat::TwelveHour => "%-I:%M %p",
    };
    if zoned.date() == now.to_zoned(tz.clone()).date() {
        zoned.strftime(time).to_string()
    } else {
        zoned.strftime(&format!("%a {time}")).to_string()
    }
}

/// Fills a template: times in the user's zone and clock ("14:00" or "2:00 PM", with the
/// weekday when not today: "Thu 09:00").
pub fn render(
    template: &str,
    times: AwayTimes,
    emergency: &str,
    now: Timestamp,
    tz: &TimeZone,
    format: ClockFormat,
) -> String {
    template
        .replace("{check_in}", &clock(times.check_in, now, tz, format))
        .replace("{until}", &clock(times.until, now, tz, format))
        .replace("{emergency}", emergency)
}

/// The first placeholder-looking `{…}` that is not a known placeholder.
pub fn unknown_placeholder(template: &str) -> Option<String> {
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        let after = &rest[open..];
        let Some(close) = after.find('}') else {
            return Some(after.to_owned());
        };
        let placeholder = &after[..=close];
        if !PLACEHOLDERS.contains(&placeholder) {
            return Some(placeholder.to_owned());
        }
        rest = &after[close + 1..];
    }
    None
}

/// Shortens to at most `max_chars` characters, ending with "…" when cut.
pub fn fit(text: &str, max_chars: usize) -> String {
    if text.chars().count() <= max_chars {
        return text.to_owned();
    }
    let kept: String = text.chars().take(max_chars.saturating_sub(1)).collect();
    format!("{}…", kept.trim_end())
}

/// What the auto-reply rule needs to know of a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReplyCandidate {
    /// Sent directly to the user (not in a channel or room).
    pub direct: bool,
    /// Sent by a bot or as an automatic reply.
    pub automated: bool,
    /// Sent by the user themself (from another device).
    pub from_self: bool,
    /// Its class.
    pub class: Class,
    /// The sender already got a reply in this session.
    pub already_replied: bool,
}

/// One polite reply per sender per session, to direct messages only; never to bots, to
/// the user, or to an emergency (which broke through).
pub fn should_auto_reply(candidate: ReplyCandidate) -> bool {
    let class_wants_reply = match candidate.class {
        Class::Emergency => false,
        Class::Blocker | Class::Update | Class::Strategic | Class::PrePing => true,
    };
    candidate.direct
        && !candidate.automated
        && !candidate.from_self
        && !candidate.already_replied
        && class_wants_reply
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::SignedDuration;

    fn tz() -> TimeZone {
        TimeZone::get("Europe/Berlin").expect("tzdb")
    }

    fn at(text: &str) -> Timestamp {
        let zoned: jiff::Zoned = format!("{text}[Europe/Berlin]").parse().expect("time");
        zoned.timestamp()
    }

    #[test]
    fn templates_speak_local_time() {
        let times = AwayTimes {
            check_in: at("2026-11-25T14:00"),
            until: at("2026-11-26T09:30"),
        };
        let now = at("2026-11-25T12:00");
        let h24 = ClockFormat::TwentyFourHour;
        let text = render(
            &StatusConfig::default().template,
            times,
            "",
            now,
            &tz(),
            h24,
        );
        assert_eq!(text, "Deep work — checking messages at 14:00");
        let reply = render(
            &AutoReplyConfig::default().template,
            times,
            "call me",
            now,
            &tz(),
            h24,
        );
        assert_eq!(
            reply,
            "I'm in deep work until 14:00. Please send the whole request in one message; for an emergency, call me."
        );
        assert_eq!(
            render("until {until}", times, "", now, &tz(), h24),
            "until Thu 09:30"
        );
    }

    #[test]
    fn a_twelve_hour_clock_is_written_as_such() {
        let times = AwayTimes {
            check_in: at("2026-11-25T14:00"),
            until: at("2026-11-26T09:30"),
        };
        let now = at("2026-11-25T12:00");
        let h12 = ClockFormat::TwelveHour;
        assert_eq!(
            render("at {check_in}, back {until}", times, "", now, &tz(), h12),
            "at 2:00 PM, back Thu 9:30 AM"
        );
        let config: StatusConfig = toml::from_str("clock = \"12h\"").expect("config");
        assert_eq!(config.clock, h12);
        assert!(toml::from_str::<StatusConfig>("clock = \"ampm\"").is_err());
    }

    #[test]
    fn unknown_placeholders_are_found() {
        assert_eq!(
            unknown_placeholder("at {check_in} {untill}"),
            Some("{untill}".into())
        );
        assert_eq!(
            unknown_placeholder("at {check_in"),
            Some("{check_in".into())
        );
        assert_eq!(unknown_placeholder("plain {until}"), None);
    }

    #[test]
    fn fitting_keeps_characters_whole() {
        assert_eq!(fit("Deep work — checking", 100), "Deep work — checking");
        assert_eq!(fit("Deep work — checking messages", 11), "Deep work…");
        assert_eq!(fit(&"é".repeat(200), 100).chars().count(), 100);
    }

    #[test]
    fn one_reply_to_direct_humans_only() {
        let base = ReplyCandidate {
            direct: true,
            automated: false,
            from_self: false,
            class: Class::PrePing,
            already_replied: false,
        };
        assert!(should_auto_reply(base));
        assert!(
            !should_auto_reply(ReplyCandidate {
                already_replied: true,
                ..base
            }),
            "never twice"
        );
        assert!(
            !should_auto_reply(ReplyCandidate {
                direct: false,
                ..base
            }),
            "never in channels"
        );
        assert!(
            !should_auto_reply(ReplyCandidate {
                automated: true,
                ..base
            }),
            "never to bots or other auto-replies"
        );
        assert!(
            !should_auto_reply(ReplyCandidate {
                from_self: true,
                ..base
            }),
            "never to yourself"
        );
        assert!(
            !should_auto_reply(ReplyCandidate {
                class: Class::Emergency,
                ..base
            }),
            "emergencies broke through"
        );
        let _ = SignedDuration::ZERO;
    }
}
