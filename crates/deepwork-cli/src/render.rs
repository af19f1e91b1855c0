//! Text for people. Message text is untrusted: every field from an item goes through
//! [`safe`] so it cannot move the cursor, recolour or retitle the terminal.

use deepwork_core::digest::{Digest, DoneBy};
use deepwork_core::standup::{Intent, Outcome, StandupEntry};
use deepwork_core::stats::WeeklyStats;
use deepwork_core::{Class, ItemId};
use deepwork_engine::api::{AdapterState, BlockState, PlanDay, PushAck, Status, TimeSpan};
use jiff::Timestamp;
use jiff::tz::TimeZone;
use serde::Serialize;
use std::fmt::Write;

/// Text with every control character (escape sequences included) and bidirectional
/// override replaced.
pub fn safe(text: &str) -> String {
    deepwork_core::text::visible(text)
}

fn clock(at: Timestamp, tz: &TimeZone) -> String {
    at.to_zoned(tz.clone()).strftime("%H:%M").to_string()
}

pub fn day_clock(at: Timestamp, tz: &TimeZone) -> String {
    at.to_zoned(tz.clone())
        .strftime("%a %d %b %H:%M")
        .to_string()
}

fn minutes_text(seconds: i64) -> String {
    let minutes = (seconds + 59) / 60;
    if minutes >= 60 {
        format!("{} h {:02} min", minutes / 60, minutes % 60)
    } else {
        format!("{minutes} min")
    }
}

pub fn json<T: Serialize>(value: &T) -> Result<String, serde_json::Error> {
    serde_json::to_string_pretty(value)
}

pub fn acknowledged(items: &[ItemId]) -> String {
    match items {
        [] => "No emergency was waiting for an acknowledgement.".into(),
        [item] => format!("Acknowledged emergency {item}: nothing more follows it."),
        _ => format!(
            "Acknowledged emergencies {}: nothing more follows them.",
            items
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

pub fn status(status: &Status, tz: &TimeZone) -> String {
    let mut out = session_status(status, tz);
    for escalation in &status.escalations {
        let story: Vec<String> = escalation
            .timeline
            .iter()
            .map(|entry| format!("{} {}", safe(&entry.what), clock(entry.at, tz)))
            .collect();
        let next = match &escalation.next_step {
            Some((step, at)) => format!("; next: {} at {}", safe(step), clock(*at, tz)),
            None => "; not acknowledged: deepwork ack".into(),
        };
        let _ = write!(
            out,
            "\nEmergency {}: {}{next}",
            escalation.item,
            story.join(", ")
        );
    }
    if let Some(problem) = &status.escalation_problem {
        let _ = write!(out, "\nescalation: {}", safe(problem));
    }
    for problem in &status.plan_problems {
        let _ = write!(out, "\n{}", safe(problem));
    }
    for adapter in &status.adapters {
        let state = match &adapter.state {
            AdapterState::Ok => "ok".to_owned(),
            AdapterState::Retrying { error } => format!("retrying ({})", safe(error)),
            AdapterState::NeedsAttention { fix } => format!("needs attention: {}", safe(fix)),
        };
        let _ = write!(out, "\n{}: {state}", safe(&adapter.name));
    }
    if let Some(since) = status.away_since {
        let _ = write!(
            out,
            "\nAway since {}{}",
            clock(since, tz),
            if status.check_in_waiting {
                ": the check-in waits until you are back"
            } else {
                ""
            }
        );
    }
    if let Some(desktop) = &status.desktop {
        for (part, state) in [
            ("tray", &desktop.tray),
            ("hotkey", &desktop.hotkey),
            ("away detection", &desktop.presence),
        ] {
            if !state.working {
                let _ = write!(out, "\n{part}: {}", safe(&state.how));
            }
        }
    }
    out
}

fn session_status(status: &Status, tz: &TimeZone) -> String {
    let mut out = match (&status.session, status.off_hours_until) {
        (Some(session), _) => {
            let mut out = format!(
                "Deep work until {} ({} left){}",
                clock(session.ends_at, tz),
                minutes_text(session.remaining_seconds),
                if session.plan.is_some() {
                    ", a planned focus block"
                } else {
                    ""
                }
            );
            if session.next_check_in < session.ends_at {
                let _ = write!(out, " · next check-in {}", clock(session.next_check_in, tz));
            }
            out
        }
        (None, Some(until)) => format!(
            "After hours: messages are held until {} (emergencies still break through).",
            day_clock(until, tz)
        ),
        (None, None) => "Not in deep work. Start with: deepwork start --for 90m".to_owned(),
    };
    if let Some(block) = status
        .next_block
        .as_ref()
        .filter(|b| b.state == BlockState::Planned)
    {
        let _ = write!(
            out,
            "\nNext focus block: {}–{} (skip it: deepwork plan skip)",
            day_clock(block.span.from, tz),
            clock(block.span.until, tz)
        );
    }
    if status.session.is_none() && status.off_hours_until.is_none() {
        return out;
    }
    let total = status.held.total();
    if total == 0 {
        out.push_str("\nNothing held yet.");
    } else {
        let parts: Vec<String> = Class::ALL
            .iter()
            .filter(|c| status.held.get(**c) > 0)
            .map(|c| c.count_label(status.held.get(*c) as usize))
            .collect();
        let _ = write!(out, "\n{total} held: {}", parts.join(", "));
    }
    out
}

/// One line a day: the date, working time and focus blocks with what became of them.
pub fn plan(days: &[PlanDay], tz: &TimeZone) -> String {
    let mut out = String::new();
    for day in days {
        let date = day
            .date
            .parse::<jiff::civil::Date>()
            .map(|d| d.strftime("%a %d %b").to_string())
            .unwrap_or_else(|_| safe(&day.date));
        let _ = write!(out, "{date}  ");
        if day.day_off {
            out.push_str("day off");
        } else if day.work.is_empty() && day.blocks.is_empty() && day.meetings.is_empty() {
            out.push('—');
        }
        let spans = |label: &str, span: &TimeSpan| {
            format!("{label} {}–{}", clock(span.from, tz), clock(span.until, tz))
        };
        let mut parts: Vec<String> = day.work.iter().map(|w| spans("work", w)).collect();
        parts.extend(day.meetings.iter().map(|m| spans("meeting", m)));
        parts.extend(day.blocks.iter().map(|block| {
            let state = match block.state {
                BlockState::Planned => "planned",
                BlockState::Running => "running",
                BlockState::Ran => "ran",
                BlockState::Skipped => "skipped",
                BlockState::Missed => "missed",
            };
            match &block.title {
                Some(title) => format!(
                    "{} \"{}\" ({state})",
                    spans("focus", &block.span),
                    safe(title)
                ),
                None => format!("{} ({state})", spans("focus", &block.span)),
            }
        }));
        out.push_str(&parts.join(" · "));
        out.push('\n');
    }
    if days
        .iter()
        .all(|d| d.work.is_empty() && d.blocks.is_empty())
    {
        out.push_str(
            "No work hours or focus blocks set: add them under [plans] in the config \
             (deepwork config check shows where it is).\n",
        );
    }
    out
}

pub fn push_ack(ack: &PushAck) -> String {
    let what = match ack.disposition {
        deepwork_core::Disposition::Held => "held for the next check-in",
        deepwork_core::Disposition::BrokeThrough => "broke through (emergency)",
        deepwork_core::Disposition::Shown => "shown now (no session running)",
    };
    format!(
        "Item {} {what} as {} ({})",
        ack.id,
        ack.class.label(),
        safe(&ack.why)
    )
}

fn class_heading(class: Class) -> &'static str {
    match class {
        Class::Emergency => "EMERGENCIES",
        Class::Blocker => "BLOCKERS",
        Class::Update => "UPDATES",
        Class::Strategic => "STRATEGIC",
        Class::PrePing => "PRE-PINGS",
    }
}

pub fn digest(digest: &Digest, tz: &TimeZone) -> String {
    let mut out = format!(
        "Digest {} · {} · {}\n",
        digest.id.0,
        day_clock(digest.delivered_at, tz),
        digest.summary
    );
    for group in &digest.groups {
        let _ = writeln!(out, "\n{}", class_heading(group.class));
        for item in &group.items {
            let channel = item
                .channel
                .as_deref()
                .map(|c| format!(" in {}", safe(c)))
                .unwrap_or_default();
            let done = match (item.done, item.done_by) {
                (true, Some(DoneBy::Answer)) => " [answered]",
                (true, _) => " [done]",
                (false, _) => "",
            };
            let _ = writeln!(
                out,
                "  [{}] {} via {}{channel}, {}: {}{done}",
                item.id,
                safe(&item.sender),
                safe(&item.source),
                clock(item.received_at, tz),
                safe(&item.title)
            );
            if let Some(snippet) = &item.snippet {
                let _ = writeln!(out, "      {}", safe(snippet));
            }
            if let Some(shown) = item.shown_at {
                let _ = writeln!(out, "      shown at {} (broke through)", clock(shown, tz));
            }
            if !item.escalation.is_empty() {
                let story: Vec<String> = item
                    .escalation
                    .iter()
                    .map(|entry| format!("{} {}", safe(&entry.what), clock(entry.at, tz)))
                    .collect();
                let _ = writeln!(out, "      {}", story.join(", "));
            }
            let stated = item
                .stated_deadline
                .as_deref()
                .map(|phrase| format!(" (asked: {})", safe(phrase)))
                .unwrap_or_default();
            let _ = write!(
                out,
                "      reply by {}{stated} · why: {}",
                day_clock(item.reply_by, tz),
                safe(&item.why)
            );
            if let Some(url) = &item.url {
                let _ = write!(out, " · {}", safe(url));
            }
            out.push('\n');
        }
    }
    out
}

fn bar(hours: f64, scale: f64) -> String {
    let cells = if scale > 0.0 {
        (hours / scale * 30.0).round() as usize
    } else {
        0
    };
    "█".repeat(cells.min(30))
}

pub fn stats(stats: &WeeklyStats) -> String {
    let mut out = format!(
        "Week {}: {:.1} h of deep work · goal {:.1} h · reference {:.1} h\n\n",
        stats.week, stats.total_hours, stats.goal_hours, stats.reference_hours
    );
    let scale = stats.days.iter().map(|d| d.hours).fold(1.0_f64, f64::max);
    for day in &stats.days {
        let planned = if day.planned_hours > 0.0 {
            format!("  (planned {:.1} h)", day.planned_hours)
        } else {
            String::new()
        };
        let _ = writeln!(
            out,
            "  {}  {:>5.1} h  {}{planned}",
            day.date.strftime("%a %d"),
            day.hours,
            bar(day.hours, scale)
        );
    }
    if stats.planned_hours > 0.0 || stats.planned_sessions > 0 {
        let _ = write!(
            out,
            "\nPlanned {:.1} h · achieved {:.1} h · sessions from plans {}, by hand {}\n",
            stats.planned_hours,
            stats.total_hours,
            stats.planned_sessions,
            stats.sessions - stats.planned_sessions
        );
    }
    let recovery = stats.recovery_minutes_saved.round() as i64;
    let longest = stats.longest_block_minutes.round() as i64;
    let _ = write!(
        out,
        "\nSessions {} · average {:.0} min · longest uninterrupted {} · early stops {}\nInterruptions {} · items held {} · interruptions avoided {} · recovery time saved {}\n",
        stats.sessions,
        stats.average_session_minutes,
        minutes_text(longest * 60),
        stats.early_stops,
        stats.interruptions,
        stats.items_held,
        stats.interruptions_avoided,
        minutes_text(recovery * 60),
    );
    if stats.away_hours > 0.0 {
        let away = (stats.away_hours * 60.0).round() as i64;
        let _ = writeln!(
            out,
            "Away from the computer during sessions {} (not counted as focus)",
            minutes_text(away * 60)
        );
    }
    if !stats.answered_in_time.is_empty() {
        let answered: Vec<String> = stats
            .answered_in_time
            .iter()
            .map(|a| {
                let name = a.class.count_label(a.items as usize);
                let plural = name.split_once(' ').map_or(name.as_str(), |(_, n)| n);
                format!("{plural} {}/{}", a.in_time, a.items)
            })
            .collect();
        let _ = writeln!(out, "Answered within the window: {}", answered.join(", "));
    }
    let tally = &stats.intents;
    if tally.total() > 0 {
        let _ = writeln!(
            out,
            "Intents: {} done · {} partly · {} not done · {} not said",
            tally.done, tally.partly, tally.not_done, tally.unsaid
        );
    }
    if stats.trend.len() > 1 {
        let trend: Vec<String> = stats
            .trend
            .iter()
            .map(|w| format!("{} {:.1} h", w.week, w.hours))
            .collect();
        let _ = writeln!(out, "Trend: {}", trend.join(" · "));
    }
    out
}

/// How a session's intent went, as recorded.
pub fn intent(intent: &Intent) -> String {
    let outcome = match intent.outcome {
        Some(Outcome::Done) => "done",
        Some(Outcome::Partly) => "partly done",
        Some(Outcome::NotDone) => "not done",
        None => "not said yet",
    };
    let note = intent
        .note
        .as_deref()
        .map(|note| format!(" — {}", safe(note)))
        .unwrap_or_default();
    format!("{}: {outcome}{note}", safe(&intent.text))
}

/// Standups as Markdown, each followed by where it was posted.
pub fn standups(entries: &[StandupEntry], tz: &TimeZone) -> String {
    let mut out = String::new();
    for (n, entry) in entries.iter().enumerate() {
        if n > 0 {
            out.push('\n');
        }
        // Every line of a draft is one safe line already (`one_line`).
        out.push_str(&entry.draft.to_markdown());
        if let Some(posted) = &entry.posted {
            let _ = write!(
                out,
                "\nPosted to {} at {}",
                posted.to,
                day_clock(posted.at, tz)
            );
            if let Some(link) = &posted.link {
                let _ = write!(out, ": {}", safe(link));
            }
            out.push('\n');
        }
    }
    if entries.is_empty() {
        out.push_str("No standup kept yet.\n");
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn escape_sequences_are_defused() {
        assert_eq!(
            super::safe("a\u{1b}]0;pwned\u{7}b\r\n"),
            "a\u{FFFD}]0;pwned\u{FFFD}b\u{FFFD}\u{FFFD}"
        );
    }
}
