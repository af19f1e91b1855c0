//! What the tray shows, computed from the engine's status: pure, so it is tested
//! without a bus or a display.

use deepwork_core::config::Config;
use deepwork_core::schedule::{ClockTime, next_occurrence};
use deepwork_engine::api::{BlockState, Status};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};

/// The three looks of the tray icon.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IconState {
    /// No session.
    Idle,
    /// A session is running.
    Focusing,
    /// A check-in delivered a digest the user has not opened yet.
    DigestWaiting,
}

/// Everything the tray displays; the menu's texts and which entries can be used.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrayView {
    /// The icon.
    pub icon: IconState,
    /// The tooltip, and the first (inert) line of the menu: counts, never content.
    pub tooltip: String,
    /// The main start entry, e.g. "Start deep work (50 min)".
    pub start_label: String,
    /// The next check-in slot a session could run until, with its entry's label.
    pub until_slot: Option<(ClockTime, String)>,
    /// Start entries usable.
    pub can_start: bool,
    /// Stop and check in usable.
    pub focusing: bool,
    /// The acknowledge entry's label, while emergencies wait for an acknowledgement.
    pub acknowledge: Option<String>,
    /// The planned focus block running or next: "Next: focus 09:00–11:30", or
    /// "Next: focus Mon 09:00–11:30" when not today.
    pub next_block: Option<String>,
    /// The skip entry's label, while today's block is running or still to come.
    pub skip_block: Option<String>,
    /// The outcome submenu's label ("How did “Finish the RFC” go?"), while the latest
    /// session's intent waits for one.
    pub outcome: Option<String>,
}

/// The longest intent shown in the menu, in characters.
const MENU_INTENT_CHARS: usize = 40;

/// Sessions shorter than this are not offered as "until the next slot".
const SHORTEST_UNTIL_SLOT: SignedDuration = SignedDuration::from_mins(5);

/// The tray's look for `status` at `now`; `digest_waiting` counts the items of a digest
/// delivered at a check-in and not opened since.
pub fn tray_view(
    status: &Status,
    digest_waiting: Option<u32>,
    config: &Config,
    tz: &TimeZone,
    now: Timestamp,
) -> TrayView {
    let default_length = config.session.default_length.0;
    let start_label = format!("Start deep work ({})", length_text(default_length));
    let held = status.held.total();
    let (icon, tooltip) = match (&status.session, digest_waiting) {
        (Some(session), _) => {
            let left = session.ends_at.duration_since(now);
            let mut text = format!("Deep work — {} left · {held} held", length_text(left));
            if session.next_check_in < session.ends_at {
                let check_in = session.next_check_in.to_zoned(tz.clone());
                text.push_str(&format!(" · check-in {}", check_in.strftime("%H:%M")));
            }
            (IconState::Focusing, text)
        }
        (None, Some(items)) if items > 0 => (
            IconState::DigestWaiting,
            format!(
                "Check-in — {items} {} in your digest",
                if items == 1 { "item" } else { "items" }
            ),
        ),
        (None, _) => match status.off_hours_until {
            Some(until) => (
                IconState::Idle,
                format!(
                    "After hours — {held} held until {}",
                    until.to_zoned(tz.clone()).strftime("%a %H:%M")
                ),
            ),
            None => (IconState::Idle, "Deepwork — not focusing".to_owned()),
        },
    };
    let (next_block, skip_block) = block_entries(status, tz, now);
    let until_slot = next_slot(config, tz, now).map(|slot| (slot, format!("Until {slot}")));
    let unacknowledged = status.escalations.len();
    let acknowledge = match unacknowledged {
        0 => None,
        1 => Some("I'm on it: acknowledge the emergency".to_owned()),
        n => Some(format!("I'm on it: acknowledge {n} emergencies")),
    };
    let tooltip = match unacknowledged {
        0 => tooltip,
        1 => format!("{tooltip} · 1 emergency unacknowledged"),
        n => format!("{tooltip} · {n} emergencies unacknowledged"),
    };
    TrayView {
        icon,
        tooltip,
        start_label,
        until_slot,
        can_start: status.session.is_none(),
        focusing: status.session.is_some(),
        acknowledge,
        next_block,
        skip_block,
        outcome: status.unsaid_intent.as_ref().map(|intent| {
            let mut text: String = intent.text.chars().take(MENU_INTENT_CHARS).collect();
            if text.len() < intent.text.len() {
                text.push('…');
            }
            format!("How did “{text}” go?")
        }),
    }
}

/// The block line and the skip entry's label.
fn block_entries(
    status: &Status,
    tz: &TimeZone,
    now: Timestamp,
) -> (Option<String>, Option<String>) {
    let Some(block) = &status.next_block else {
        return (None, None);
    };
    let (from, until) = (
        block.span.from.to_zoned(tz.clone()),
        block.span.until.to_zoned(tz.clone()),
    );
    let today = from.date() == now.to_zoned(tz.clone()).date();
    let day = if today {
        String::new()
    } else {
        from.strftime("%a ").to_string()
    };
    let line = match block.state {
        BlockState::Running => format!("Focus block until {}", until.strftime("%H:%M")),
        BlockState::Planned | BlockState::Ran | BlockState::Skipped | BlockState::Missed => {
            format!(
                "Next: focus {day}{}–{}",
                from.strftime("%H:%M"),
                until.strftime("%H:%M")
            )
        }
    };
    let skip = match block.state {
        BlockState::Running | BlockState::Planned if today => {
            Some(format!("Skip today's {} block", from.strftime("%H:%M")))
        }
        BlockState::Running
        | BlockState::Planned
        | BlockState::Ran
        | BlockState::Skipped
        | BlockState::Missed => None,
    };
    (Some(line), skip)
}

/// When the countdown's minute changes next, if a session runs: the tray wakes then,
/// and only then.
pub fn next_tick(status: &Status, now: Timestamp) -> Option<Timestamp> {
    let session = status.session.as_ref()?;
    let left_ms = session.ends_at.duration_since(now).as_millis();
    if left_ms <= 0 {
        return None;
    }
    let into_minute = left_ms % 60_000;
    let wait = if into_minute == 0 {
        60_000
    } else {
        into_minute
    };
    now.checked_add(SignedDuration::from_millis(wait as i64))
        .ok()
}

/// The first configured check-in slot far enough ahead to focus until.
fn next_slot(config: &Config, tz: &TimeZone, now: Timestamp) -> Option<ClockTime> {
    let earliest = now.checked_add(SHORTEST_UNTIL_SLOT).ok()?;
    config
        .session
        .check_in_slots
        .iter()
        .map(|&slot| (next_occurrence(now, tz, slot), slot))
        .filter(|(at, _)| *at >= earliest)
        .min_by_key(|(at, _)| *at)
        .map(|(_, slot)| slot)
}

/// "47 min", "1 h", "2 h 5 min": whole minutes, rounded up so "0 min" never shows
/// while time is left.
pub fn length_text(length: SignedDuration) -> String {
    let minutes = (length.as_millis().max(0) + 59_999) / 60_000;
    match (minutes / 60, minutes % 60) {
        (0, m) => format!("{m} min"),
        (h, 0) => format!("{h} h"),
        (h, m) => format!("{h} h {m} min"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use deepwork_core::SessionId;
    use deepwork_core::session::ClassCounts;
    use deepwork_engine::api::SessionStatus;

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    fn idle(now: Timestamp) -> Status {
        Status {
            now,
            session: None,
            held: ClassCounts::default(),
            latest_digest: None,
            adapters: Vec::new(),
            escalations: Vec::new(),
            escalation_problem: None,
            off_hours_until: None,
            next_block: None,
            plan_problems: Vec::new(),
            unsaid_intent: None,
            desktop: None,
            away_since: None,
            check_in_waiting: false,
        }
    }

    fn focusing(now: Timestamp, ends_at: Timestamp, next_check_in: Timestamp, held: u32) -> Status {
        Status {
            session: Some(Box::new(SessionStatus {
                id: SessionId(1),
                started_at: now,
                ends_at,
                next_check_in,
                check_ins: vec![next_check_in],
                remaining_seconds: ends_at.duration_since(now).as_secs(),
                plan: None,
                intent: None,
            })),
            held: ClassCounts {
                update: held,
                ..ClassCounts::default()
            },
            ..idle(now)
        }
    }

    #[test]
    fn lengths_read_as_people_say_them() {
        let cases = [
            (SignedDuration::from_mins(50), "50 min"),
            (SignedDuration::from_secs(47 * 60 + 1), "48 min"),
            (SignedDuration::from_secs(1), "1 min"),
            (SignedDuration::ZERO, "0 min"),
            (SignedDuration::from_mins(60), "1 h"),
            (SignedDuration::from_mins(125), "2 h 5 min"),
        ];
        for (length, text) in cases {
            assert_eq!(length_text(length), text, "{length:?}");
        }
    }

    #[test]
    fn focusing_shows_time_left_and_held_counts_never_content() {
        let now = at("2026-11-25T09:13:00Z");
        let status = focusing(
            now,
            at("2026-11-25T10:00:00Z"),
            at("2026-11-25T10:00:00Z"),
            5,
        );
        let view = tray_view(&status, None, &Config::default(), &TimeZone::UTC, now);
        assert_eq!(view.icon, IconState::Focusing);
        assert_eq!(view.tooltip, "Deep work — 47 min left · 5 held");
        assert!(view.focusing && !view.can_start);
    }

    #[test]
    fn unacknowledged_emergencies_are_counted_and_offered_an_acknowledgement() {
        use deepwork_core::ItemId;
        use deepwork_engine::api::EscalationStatus;
        let now = at("2026-11-25T09:13:00Z");
        let escalation = |item: i64| EscalationStatus {
            item: ItemId(item),
            opened_at: now,
            next_step: None,
            timeline: Vec::new(),
        };
        let mut status = idle(now);
        status.escalations = vec![escalation(1)];
        let view = tray_view(&status, None, &Config::default(), &TimeZone::UTC, now);
        assert_eq!(
            view.tooltip,
            "Deepwork — not focusing · 1 emergency unacknowledged"
        );
        assert_eq!(
            view.acknowledge.as_deref(),
            Some("I'm on it: acknowledge the emergency")
        );
        status.escalations.push(escalation(2));
        let view = tray_view(&status, None, &Config::default(), &TimeZone::UTC, now);
        assert_eq!(
            view.acknowledge.as_deref(),
            Some("I'm on it: acknowledge 2 emergencies")
        );
        let view = tray_view(&idle(now), None, &Config::default(), &TimeZone::UTC, now);
        assert_eq!(view.acknowledge, None);
    }

    #[test]
    fn an_earlier_check_in_is_named() {
        let now = at("2026-11-25T09:00:00Z");
        let status = focusing(
            now,
            at("2026-11-25T12:00:00Z"),
            at("2026-11-25T11:00:00Z"),
            0,
        );
        let view = tray_view(&status, None, &Config::default(), &TimeZone::UTC, now);
        assert_eq!(
            view.tooltip,
            "Deep work — 3 h left · 0 held · check-in 11:00"
        );
    }

    #[test]
    fn a_waiting_digest_shows_until_opened_and_an_empty_one_does_not() {
        let now = at("2026-11-25T09:00:00Z");
        let config = Config::default();
        let view = tray_view(&idle(now), Some(3), &config, &TimeZone::UTC, now);
        assert_eq!(view.icon, IconState::DigestWaiting);
        assert_eq!(view.tooltip, "Check-in — 3 items in your digest");
        assert!(view.can_start && !view.focusing);
        let view = tray_view(&idle(now), Some(0), &config, &TimeZone::UTC, now);
        assert_eq!(view.icon, IconState::Idle);
        assert_eq!(view.tooltip, "Deepwork — not focusing");
        assert_eq!(view.start_label, "Start deep work (50 min)");
    }

    #[test]
    fn an_intent_without_an_outcome_is_asked_about_shortened() {
        use deepwork_core::standup::Intent;
        let now = at("2026-11-30T11:00:00Z");
        let mut status = idle(now);
        let config = Config::default();
        let view = tray_view(&status, None, &config, &TimeZone::UTC, now);
        assert_eq!(view.outcome, None);
        status.unsaid_intent = Some(Box::new(Intent {
            session: SessionId(4),
            started_at: at("2026-11-30T09:00:00Z"),
            text: "Finish the billing RFC and send it to Ana for the review".into(),
            outcome: None,
            note: None,
        }));
        let view = tray_view(&status, None, &config, &TimeZone::UTC, now);
        assert_eq!(
            view.outcome.as_deref(),
            Some("How did “Finish the billing RFC and send it to An…” go?")
        );
    }

    #[test]
    fn until_slot_offers_the_next_slot_far_enough_ahead() {
        let config =
            Config::from_toml_str("[session]\ncheck_in_slots = [\"11:00\", \"14:00\"]\n").unwrap();
        let view = |now| tray_view(&idle(now), None, &config, &TimeZone::UTC, now);
        let label = |now| view(now).until_slot.map(|(_, label)| label);
        assert_eq!(
            label(at("2026-11-25T09:00:00Z")).as_deref(),
            Some("Until 11:00")
        );
        assert_eq!(
            label(at("2026-11-25T10:57:00Z")).as_deref(),
            Some("Until 14:00")
        );
        assert_eq!(
            label(at("2026-11-25T15:00:00Z")).as_deref(),
            Some("Until 11:00")
        );
        let no_slots = tray_view(
            &idle(at("2026-11-25T09:00:00Z")),
            None,
            &Config::default(),
            &TimeZone::UTC,
            at("2026-11-25T09:00:00Z"),
        );
        assert_eq!(no_slots.until_slot, None);
    }

    #[test]
    fn the_tray_wakes_when_the_minute_changes_and_never_when_idle() {
        let now = at("2026-11-25T09:13:00Z");
        assert_eq!(next_tick(&idle(now), now), None);
        let ends = at("2026-11-25T10:00:00Z");
        let status = focusing(now, ends, ends, 0);
        assert_eq!(next_tick(&status, now), Some(at("2026-11-25T09:14:00Z")));
        let later = at("2026-11-25T09:13:20.5Z");
        assert_eq!(next_tick(&status, later), Some(at("2026-11-25T09:14:00Z")));
        assert_eq!(next_tick(&status, ends), None);
    }

    #[test]
    fn plans_show_the_next_block_and_the_after_hours_hold() {
        use deepwork_engine::api::{BlockStatus, TimeSpan};
        let tz = TimeZone::get("Europe/Berlin").unwrap();
        // Friday 19:30 in Berlin.
        let now = at("2026-11-27T18:30:00Z");
        let block = |from: &str, until: &str, state| {
            Some(Box::new(BlockStatus {
                plan: "2026-11-30 09:00-11:30".into(),
                span: TimeSpan {
                    from: at(from),
                    until: at(until),
                },
                state,
                title: None,
            }))
        };
        let mut status = idle(now);
        status.off_hours_until = Some(at("2026-11-30T08:00:00Z"));
        status.held.blocker = 2;
        status.next_block = block(
            "2026-11-30T08:00:00Z",
            "2026-11-30T10:30:00Z",
            BlockState::Planned,
        );
        let view = tray_view(&status, None, &Config::default(), &tz, now);
        assert_eq!(view.tooltip, "After hours — 2 held until Mon 09:00");
        assert_eq!(
            view.next_block.as_deref(),
            Some("Next: focus Mon 09:00–11:30")
        );
        assert_eq!(view.skip_block, None, "only today's block can be skipped");
        let monday = at("2026-11-30T07:00:00Z");
        let mut status = idle(monday);
        status.next_block = block(
            "2026-11-30T08:00:00Z",
            "2026-11-30T10:30:00Z",
            BlockState::Planned,
        );
        let view = tray_view(&status, None, &Config::default(), &tz, monday);
        assert_eq!(view.next_block.as_deref(), Some("Next: focus 09:00–11:30"));
        assert_eq!(view.skip_block.as_deref(), Some("Skip today's 09:00 block"));
    }
}
