//! The escalation ladder of one emergency, sans IO: what to do next and when, until the
//! user acknowledges it. The response matrix answers emergencies within 15 minutes, so
//! a notification nobody saw is followed by another, then an SMS, then a phone call.
//!
//! The engine stores a [`Ladder`] whole after every change and performs its
//! [`Dispatch`]es. A step is marked as being sent, durably, before it is sent; a step
//! found in that state after a crash is dispatched again with `check_first`, and the
//! sender looks for the first attempt (for an SMS, the same text in the provider's list)
//! before repeating it. That is how no step is lost and none is sent twice.

use crate::config::Length;
use crate::item::ItemId;
use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// The `[escalation]` section.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EscalationConfig {
    /// The user's phone, in E.164 form (`+4915112345678`); no SMS or call without it.
    pub phone: Option<String>,
    /// Who texts and calls: a Twilio phone number in E.164 form, or a Messaging
    /// Service SID (`MG…`, SMS only).
    pub from: Option<String>,
    /// Alert on the desktop again after this long.
    pub renotify_after: After,
    /// Text the phone after this long.
    pub sms_after: After,
    /// Call the phone after this long.
    pub call_after: After,
    /// Run [`Self::command`] after this long (off unless set).
    pub command_after: After,
    /// A program and its arguments, given the emergency as JSON on stdin (ntfy,
    /// Pushover, Signal: whatever the user routes it to).
    pub command: Vec<String>,
    /// Twilio's REST API, for tests and proxies.
    pub twilio_api: String,
}

impl Default for EscalationConfig {
    fn default() -> Self {
        EscalationConfig {
            phone: None,
            from: None,
            renotify_after: After::minutes(3),
            sms_after: After::minutes(5),
            call_after: After::minutes(10),
            command_after: After::Off,
            command: Vec::new(),
            twilio_api: "https://api.twilio.com".into(),
        }
    }
}

impl EscalationConfig {
    /// Whether `number` is a phone number in E.164 form.
    pub fn is_e164(number: &str) -> bool {
        number.strip_prefix('+').is_some_and(|digits| {
            (8..=15).contains(&digits.len())
                && digits.bytes().all(|b| b.is_ascii_digit())
                && !digits.starts_with('0')
        })
    }

    /// What is wrong with the section, as (key, message).
    pub fn problem(&self) -> Option<(&'static str, String)> {
        if let Some(phone) = &self.phone
            && !Self::is_e164(phone)
        {
            return Some((
                "escalation.phone",
                format!(
                    "{phone:?} is not a phone number in international form; write it like \"+4915112345678\""
                ),
            ));
        }
        if let Some(from) = &self.from {
            let service = from.starts_with("MG") && from.len() == 34;
            if !service && !Self::is_e164(from) {
                return Some((
                    "escalation.from",
                    format!(
                        "{from:?} is neither a Twilio phone number like \"+15017122661\" nor a Messaging Service SID (MG…)"
                    ),
                ));
            }
        }
        if self.phone.is_some() && self.from.is_none() {
            return Some((
                "escalation.from",
                "is needed with escalation.phone: the Twilio number that texts and calls".into(),
            ));
        }
        if self.command_after != After::Off && self.command.is_empty() {
            return Some((
                "escalation.command",
                "is needed with escalation.command_after: the program to run".into(),
            ));
        }
        let api = self.twilio_api.to_ascii_lowercase();
        if !(api.starts_with("https://") || api.starts_with("http://")) {
            return Some((
                "escalation.twilio_api",
                format!(
                    "{:?} must be an http:// or https:// address",
                    self.twilio_api
                ),
            ));
        }
        None
    }

    /// The steps this configuration takes, in the order they fall due. `twilio` says
    /// whether Twilio credentials are stored: without them, SMS and calls are left out.
    pub fn plan(&self, twilio: bool) -> Vec<(Step, SignedDuration)> {
        let phone = twilio && self.phone.is_some() && self.from.is_some();
        let calls = phone && self.from.as_deref().is_some_and(Self::is_e164);
        let mut steps: Vec<(Step, SignedDuration)> = [
            (Step::Renotify, self.renotify_after, true),
            (Step::Sms, self.sms_after, phone),
            (Step::Call, self.call_after, calls),
            (Step::Command, self.command_after, !self.command.is_empty()),
        ]
        .into_iter()
        .filter_map(|(step, after, usable)| match after {
            After::After(delay) if usable => Some((step, delay)),
            _ => None,
        })
        .collect();
        steps.sort_by_key(|(step, delay)| (*delay, *step));
        steps
    }
}

/// When a step falls due after the emergency arrived, or never.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum After {
    /// The step is switched off.
    Off,
    /// After this long (zero: at once).
    After(SignedDuration),
}

impl After {
    const fn minutes(minutes: i64) -> Self {
        After::After(SignedDuration::from_mins(minutes))
    }
}

impl FromStr for After {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let text = text.trim();
        if text.eq_ignore_ascii_case("off") {
            return Ok(After::Off);
        }
        if text == "0" {
            return Ok(After::After(SignedDuration::ZERO));
        }
        let delay: SignedDuration = text
            .parse()
            .map_err(|_| format!("{text:?} is neither a length of time like \"5m\" nor \"off\""))?;
        if delay < SignedDuration::ZERO {
            return Err(format!("{text:?} must not be negative"));
        }
        if delay > SignedDuration::from_hours(24) {
            return Err(format!(
                "{text:?} is more than a day; use \"off\" to switch the step off"
            ));
        }
        Ok(After::After(delay))
    }
}

text_serde!(After);

impl fmt::Display for After {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            After::Off => f.write_str("off"),
            After::After(delay) => write!(f, "{}", Length(*delay)),
        }
    }
}

/// A rung of the ladder.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    /// The desktop notification again.
    Renotify,
    /// A text message.
    Sms,
    /// A phone call that reads the emergency out.
    Call,
    /// The user's own command.
    Command,
}

impl Step {
    /// How the step is named in timelines and status.
    pub fn label(self) -> &'static str {
        match self {
            Step::Renotify => "alerted again",
            Step::Sms => "SMS",
            Step::Call => "call",
            Step::Command => "command",
        }
    }
}

/// How the user acknowledged an emergency.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum AckVia {
    /// "I'm on it" on the notification.
    Notification,
    /// The tray menu.
    Tray,
    /// The window.
    Window,
    /// `deepwork ack`.
    Command,
    /// A text message back.
    Sms,
}

impl AckVia {
    /// As a timeline says it: "acknowledged 09:19 by SMS".
    pub fn label(self) -> &'static str {
        match self {
            AckVia::Notification => "on the notification",
            AckVia::Tray => "from the tray",
            AckVia::Window => "in the window",
            AckVia::Command => "with deepwork ack",
            AckVia::Sms => "by SMS",
        }
    }
}

/// Where one step stands.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "state")]
pub enum StepState {
    /// Not yet due, or due again after a failure.
    Waiting {
        /// When it falls due.
        due: Timestamp,
        /// Attempts made so far.
        attempts: u32,
        /// Why the last attempt failed, if one did.
        last_error: Option<String>,
    },
    /// Handed to the sender, whose answer has not come back. Found like this after a
    /// restart, it may or may not have gone out.
    Sending {
        /// The attempt, from 1.
        attempt: u32,
        /// When it was handed over.
        since: Timestamp,
    },
    /// Done.
    Sent {
        /// When.
        at: Timestamp,
    },
    /// Given up: permanently refused, or out of time.
    Failed {
        /// When.
        at: Timestamp,
        /// Why, in words for the user.
        reason: String,
    },
    /// Not needed: acknowledged first.
    Cancelled,
}

/// What the sender made of a dispatch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// It went out (or was found to have gone out before).
    Sent,
    /// It did not, and trying again may help (a rate limit, an outage); after
    /// `retry_after` if the provider said.
    Retry {
        /// Why, in words for the user.
        reason: String,
        /// How long the provider asked to wait.
        retry_after: Option<SignedDuration>,
    },
    /// It did not, and trying again cannot help (a refused number or credentials).
    Refused {
        /// Why, in words for the user.
        reason: String,
    },
}

/// One step to perform now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Dispatch {
    /// The emergency.
    pub item: ItemId,
    /// The step.
    pub step: Step,
    /// The attempt, from 1.
    pub attempt: u32,
    /// An earlier attempt may have gone out: look for it before repeating it.
    pub check_first: bool,
}

/// The first retry waits this long, doubling each time up to [`LONGEST_BACKOFF`].
const FIRST_BACKOFF: SignedDuration = SignedDuration::from_secs(10);
const LONGEST_BACKOFF: SignedDuration = SignedDuration::from_mins(2);
/// How long after the emergency an acknowledgement is still news: until then an
/// unacknowledged ladder stays live (in status, open to a text reply).
pub const ACKNOWLEDGE_WITHIN: SignedDuration = SignedDuration::from_hours(2);

/// The ladder of one emergency.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ladder {
    /// The emergency.
    pub item: ItemId,
    /// When it arrived.
    pub opened_at: Timestamp,
    /// Steps are retried until then; after it a failed step is given up.
    pub budget_ends: Timestamp,
    /// When the desktop notification was shown, if it was.
    pub shown_at: Option<Timestamp>,
    /// Why it could not be shown, if it could not.
    pub not_shown: Option<String>,
    /// When and how it was acknowledged.
    pub acknowledged: Option<(Timestamp, AckVia)>,
    /// The steps in the order they fall due.
    pub steps: Vec<(Step, StepState)>,
}

/// One line of an emergency's story, for the digest and status.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct TimelineEntry {
    /// When.
    #[cfg_attr(feature = "ts", ts(type = "string"))]
    pub at: Timestamp,
    /// What happened: "shown", "SMS", "acknowledged by SMS", "SMS failed: …".
    pub what: String,
}

impl Ladder {
    /// A ladder for an emergency that arrived at `at` and was handed to the desktop,
    /// with `plan`'s steps; `budget` is the emergency's response window.
    pub fn open(
        item: ItemId,
        at: Timestamp,
        plan: &[(Step, SignedDuration)],
        budget: SignedDuration,
    ) -> Self {
        let later = |delay: SignedDuration| at.checked_add(delay).unwrap_or(Timestamp::MAX);
        Ladder {
            item,
            opened_at: at,
            budget_ends: later(budget),
            shown_at: Some(at),
            not_shown: None,
            acknowledged: None,
            steps: plan
                .iter()
                .map(|(step, delay)| {
                    let waiting = StepState::Waiting {
                        due: later(*delay),
                        attempts: 0,
                        last_error: None,
                    };
                    (*step, waiting)
                })
                .collect(),
        }
    }

    /// Whether anything is left to do or wait for.
    pub fn is_open(&self) -> bool {
        self.acknowledged.is_none()
            && self.steps.iter().any(|(_, state)| {
                matches!(state, StepState::Waiting { .. } | StepState::Sending { .. })
            })
    }

    /// Whether it still matters at `now`: unacknowledged, with steps left or not older
    /// than [`ACKNOWLEDGE_WITHIN`].
    pub fn is_live(&self, now: Timestamp) -> bool {
        self.acknowledged.is_none()
            && (self.is_open()
                || self
                    .opened_at
                    .checked_add(ACKNOWLEDGE_WITHIN)
                    .is_ok_and(|end| now < end))
    }

    /// When the next step falls due, if one waits.
    pub fn next_due(&self) -> Option<Timestamp> {
        if self.acknowledged.is_some() {
            return None;
        }
        self.steps
            .iter()
            .filter_map(|(_, state)| match state {
                StepState::Waiting { due, .. } => Some(*due),
                _ => None,
            })
            .min()
    }

    /// The next step to fall due, and when.
    pub fn next_step(&self) -> Option<(Step, Timestamp)> {
        if self.acknowledged.is_some() {
            return None;
        }
        self.steps
            .iter()
            .filter_map(|(step, state)| match state {
                StepState::Waiting { due, .. } => Some((*step, *due)),
                _ => None,
            })
            .min_by_key(|(_, due)| *due)
    }

    /// When `step` was handed over, while it is being sent.
    pub fn sending_since(&self, step: Step) -> Option<Timestamp> {
        self.steps.iter().find_map(|(s, state)| match state {
            StepState::Sending { since, .. } if *s == step => Some(*since),
            _ => None,
        })
    }

    /// The steps due at `now`, now marked as being sent.
    pub fn take_due(&mut self, now: Timestamp) -> Vec<Dispatch> {
        if self.acknowledged.is_some() {
            return Vec::new();
        }
        let item = self.item;
        let mut due = Vec::new();
        for (step, state) in &mut self.steps {
            if let StepState::Waiting {
                due: at, attempts, ..
            } = state
                && *at <= now
            {
                let attempt = *attempts + 1;
                due.push(Dispatch {
                    item,
                    step: *step,
                    attempt,
                    check_first: attempt > 1,
                });
                *state = StepState::Sending {
                    attempt,
                    since: now,
                };
            }
        }
        due
    }

    /// The steps that were being sent when the engine stopped: they go again, each
    /// checked for an earlier attempt first.
    pub fn resume(&self) -> Vec<Dispatch> {
        if self.acknowledged.is_some() {
            return Vec::new();
        }
        self.steps
            .iter()
            .filter_map(|(step, state)| match state {
                StepState::Sending { attempt, .. } => Some(Dispatch {
                    item: self.item,
                    step: *step,
                    attempt: *attempt,
                    check_first: true,
                }),
                _ => None,
            })
            .collect()
    }

    /// The desktop notification could not be shown: the next step that reaches the
    /// user elsewhere falls due at once, and alerting the desktop again is pointless.
    pub fn not_shown(&mut self, now: Timestamp, reason: &str) {
        self.shown_at = None;
        self.not_shown = Some(reason.to_owned());
        let mut brought_forward = false;
        for (step, state) in &mut self.steps {
            let StepState::Waiting { due, .. } = state else {
                continue;
            };
            if *step == Step::Renotify {
                *state = StepState::Failed {
                    at: now,
                    reason: "the desktop could not show notifications".into(),
                };
            } else if !brought_forward {
                *due = (*due).min(now);
                brought_forward = true;
            }
        }
    }

    /// What the sender made of `step`'s attempt, at `now`. An answer for an attempt
    /// that is no longer outstanding (a duplicate, or one from before a restart that
    /// was dispatched again) changes nothing.
    pub fn outcome(&mut self, step: Step, attempt: u32, now: Timestamp, outcome: Outcome) {
        let budget_ends = self.budget_ends;
        let Some((_, state)) = self.steps.iter_mut().find(|(s, state)| {
            *s == step && matches!(state, StepState::Sending { attempt: a, .. } if *a == attempt)
        }) else {
            return;
        };
        *state = match outcome {
            Outcome::Sent => StepState::Sent { at: now },
            Outcome::Refused { reason } => StepState::Failed { at: now, reason },
            Outcome::Retry {
                reason,
                retry_after,
            } => {
                let backoff = FIRST_BACKOFF
                    .checked_mul(1 << attempt.saturating_sub(1).min(8))
                    .unwrap_or(LONGEST_BACKOFF)
                    .min(LONGEST_BACKOFF);
                // At least a second: a provider answering "retry after 0" must not be asked in a loop.
                let wait = retry_after
                    .unwrap_or(backoff)
                    .max(SignedDuration::from_secs(1));
                match now.checked_add(wait) {
                    Ok(due) if due < budget_ends => StepState::Waiting {
                        due,
                        attempts: attempt,
                        last_error: Some(reason),
                    },
                    _ => StepState::Failed {
                        at: now,
                        reason: format!("{reason}; gave up after {attempt} attempts"),
                    },
                }
            }
        };
    }

    /// Acknowledged at `at`: whatever has not gone out is not needed. Returns whether
    /// this changed anything (a second acknowledgement does not).
    pub fn acknowledge(&mut self, at: Timestamp, via: AckVia) -> bool {
        if self.acknowledged.is_some() {
            return false;
        }
        self.acknowledged = Some((at, via));
        for (_, state) in &mut self.steps {
            if matches!(state, StepState::Waiting { .. }) {
                *state = StepState::Cancelled;
            }
        }
        true
    }

    /// When the first SMS went out, if a text reply could still acknowledge this.
    pub fn awaits_reply(&self, now: Timestamp) -> Option<Timestamp> {
        if !self.is_live(now) {
            return None;
        }
        self.steps
            .iter()
            .find_map(|(step, state)| match (step, state) {
                (Step::Sms, StepState::Sent { at }) => Some(*at),
                _ => None,
            })
    }

    /// The emergency's story so far, oldest first.
    pub fn timeline(&self) -> Vec<TimelineEntry> {
        let mut timeline = Vec::new();
        let mut add = |at: Timestamp, what: String| timeline.push(TimelineEntry { at, what });
        match (&self.shown_at, &self.not_shown) {
            (Some(at), _) => add(*at, "shown".into()),
            (None, Some(reason)) => add(self.opened_at, format!("could not be shown: {reason}")),
            (None, None) => {}
        }
        for (step, state) in &self.steps {
            match state {
                StepState::Sent { at } => add(*at, step.label().into()),
                StepState::Failed { at, reason } => {
                    add(*at, format!("{} failed: {reason}", step.label()));
                }
                StepState::Sending { since, .. } => {
                    add(*since, format!("{} sending", step.label()))
                }
                StepState::Waiting {
                    due,
                    last_error: Some(error),
                    ..
                } => add(*due, format!("{} to be retried ({error})", step.label())),
                StepState::Waiting { .. } | StepState::Cancelled => {}
            }
        }
        if let Some((at, via)) = self.acknowledged {
            add(at, format!("acknowledged {}", via.label()));
        }
        timeline.sort_by_key(|entry| entry.at);
        timeline
    }
}

/// Whether a text message acknowledges: "ack", "ok", "on it" and the like, alone or
/// followed by anything (an emergency's number, "thanks").
pub fn is_acknowledgement(text: &str) -> bool {
    let lower = text.trim().to_lowercase();
    let first: String = lower
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '\'' || *c == ' ')
        .collect();
    let words: Vec<&str> = first.split_whitespace().collect();
    matches!(
        words.as_slice(),
        [
            "ack" | "ok" | "okay" | "k" | "yes" | "y" | "acknowledged" | "roger",
            ..
        ] | ["on", "it", ..]
            | ["i'm", "on", "it", ..]
            | ["im", "on", "it", ..]
    ) || lower.starts_with('👍')
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn at(minutes: i64) -> Timestamp {
        Timestamp::from_second(1_800_000_000).unwrap() + SignedDuration::from_secs(minutes * 60)
    }

    fn default_ladder() -> Ladder {
        let plan = EscalationConfig {
            phone: Some("+4915112345678".into()),
            from: Some("+15017122661".into()),
            ..EscalationConfig::default()
        }
        .plan(true);
        Ladder::open(ItemId(7), at(0), &plan, SignedDuration::from_mins(15))
    }

    #[test]
    fn the_default_ladder_alerts_again_then_texts_then_calls() {
        let mut ladder = default_ladder();
        assert_eq!(ladder.next_due(), Some(at(3)));
        assert!(ladder.take_due(at(2)).is_empty());
        let renotify = ladder.take_due(at(3));
        assert_eq!(renotify.len(), 1);
        assert_eq!(renotify[0].step, Step::Renotify);
        ladder.outcome(Step::Renotify, 1, at(3), Outcome::Sent);
        assert_eq!(ladder.next_due(), Some(at(5)));
        let sms = ladder.take_due(at(5));
        assert_eq!((sms[0].step, sms[0].check_first), (Step::Sms, false));
        ladder.outcome(Step::Sms, 1, at(5), Outcome::Sent);
        assert_eq!(ladder.awaits_reply(at(6)), Some(at(5)));
        assert!(ladder.acknowledge(at(7), AckVia::Sms));
        assert!(!ladder.acknowledge(at(8), AckVia::Command), "once");
        assert_eq!(ladder.next_due(), None, "no call after the acknowledgement");
        assert!(!ladder.is_open());
        let story: Vec<String> = ladder.timeline().into_iter().map(|e| e.what).collect();
        assert_eq!(
            story,
            ["shown", "alerted again", "SMS", "acknowledged by SMS"]
        );
    }

    #[test]
    fn steps_can_be_switched_off_or_left_out_without_a_phone() {
        let config = EscalationConfig {
            sms_after: After::Off,
            ..EscalationConfig::default()
        };
        let steps: Vec<Step> = config.plan(true).into_iter().map(|(s, _)| s).collect();
        assert_eq!(steps, [Step::Renotify], "no phone: no SMS or call");
        let config = EscalationConfig {
            phone: Some("+4915112345678".into()),
            from: Some("MG9752274e9e519418a7406176694466fa".into()),
            ..EscalationConfig::default()
        };
        let steps: Vec<Step> = config.plan(true).into_iter().map(|(s, _)| s).collect();
        assert_eq!(
            steps,
            [Step::Renotify, Step::Sms],
            "a Messaging Service cannot call"
        );
        let steps: Vec<Step> = config.plan(false).into_iter().map(|(s, _)| s).collect();
        assert_eq!(steps, [Step::Renotify], "no Twilio credentials stored");
    }

    #[test]
    fn an_emergency_that_could_not_be_shown_texts_at_once() {
        let mut ladder = default_ladder();
        ladder.not_shown(at(0), "no notification server");
        assert_eq!(ladder.next_due(), Some(at(0)));
        let due = ladder.take_due(at(0));
        assert_eq!(due.iter().map(|d| d.step).collect::<Vec<_>>(), [Step::Sms]);
        let story: Vec<String> = ladder.timeline().into_iter().map(|e| e.what).collect();
        assert_eq!(story[0], "could not be shown: no notification server");
    }

    #[test]
    fn failures_are_retried_with_backoff_within_the_budget_then_given_up() {
        let mut ladder = default_ladder();
        ladder.take_due(at(5));
        ladder.outcome(Step::Renotify, 1, at(5), Outcome::Sent);
        let retry = |reason: &str| Outcome::Retry {
            reason: reason.into(),
            retry_after: None,
        };
        ladder.outcome(Step::Sms, 1, at(5), retry("Twilio answered 503"));
        let next = ladder.next_due().unwrap();
        assert_eq!(next, at(5) + FIRST_BACKOFF);
        let again = ladder.take_due(next);
        assert!(
            again
                .iter()
                .any(|d| d.step == Step::Sms && d.attempt == 2 && d.check_first)
        );
        ladder.outcome(
            Step::Sms,
            2,
            next,
            Outcome::Retry {
                reason: "rate limited".into(),
                retry_after: Some(SignedDuration::ZERO),
            },
        );
        let next = next + SignedDuration::from_secs(1);
        assert_eq!(
            ladder.next_due(),
            Some(next),
            "a provider's 'retry after 0' waits a second, not a loop"
        );
        ladder.take_due(next);
        ladder.outcome(
            Step::Sms,
            3,
            next,
            Outcome::Retry {
                reason: "rate limited".into(),
                retry_after: Some(SignedDuration::from_mins(30)),
            },
        );
        let sms = &ladder
            .steps
            .iter()
            .find(|(s, _)| *s == Step::Sms)
            .unwrap()
            .1;
        assert!(
            matches!(sms, StepState::Failed { reason, .. } if reason.contains("gave up after 3 attempts")),
            "a wait past the 15 minutes is not waited: {sms:?}"
        );
        ladder.take_due(at(10));
        ladder.outcome(
            Step::Call,
            1,
            at(10),
            Outcome::Refused {
                reason: "Twilio refused the number (21211)".into(),
            },
        );
        assert!(!ladder.is_open());
        assert!(
            ladder
                .timeline()
                .iter()
                .any(|e| e.what == "call failed: Twilio refused the number (21211)")
        );
    }

    #[test]
    fn answers_for_attempts_no_longer_outstanding_change_nothing() {
        let mut ladder = default_ladder();
        ladder.take_due(at(5));
        ladder.outcome(Step::Sms, 1, at(5), Outcome::Sent);
        let before = ladder.clone();
        ladder.outcome(
            Step::Sms,
            1,
            at(6),
            Outcome::Refused {
                reason: "late".into(),
            },
        );
        ladder.outcome(Step::Call, 3, at(6), Outcome::Sent);
        assert_eq!(ladder, before);
    }

    #[test]
    fn texts_that_acknowledge() {
        for yes in [
            "ack",
            "ACK 17",
            "ok",
            "Ok!",
            "okay thanks",
            "on it",
            "I'm on it",
            "y",
            "👍",
        ] {
            assert!(is_acknowledgement(yes), "{yes}");
        }
        for no in [
            "",
            "what happened?",
            "not ok",
            "stop",
            "acknowledge later",
            "okey-dokey?",
        ] {
            assert!(!is_acknowledgement(no), "{no}");
        }
    }

    #[test]
    fn config_values_are_checked() {
        assert_eq!("off".parse::<After>(), Ok(After::Off));
        assert_eq!("0".parse::<After>(), Ok(After::After(SignedDuration::ZERO)));
        assert_eq!(
            "90s".parse::<After>(),
            Ok(After::After(SignedDuration::from_secs(90)))
        );
        assert!("soon".parse::<After>().unwrap_err().contains("\"off\""));
        assert!("-5m".parse::<After>().is_err());
        assert_eq!(After::minutes(3).to_string(), "3m");
        let bad_phone = EscalationConfig {
            phone: Some("0151 1234".into()),
            from: Some("+15017122661".into()),
            ..EscalationConfig::default()
        };
        assert_eq!(bad_phone.problem().map(|p| p.0), Some("escalation.phone"));
        let no_from = EscalationConfig {
            phone: Some("+4915112345678".into()),
            ..EscalationConfig::default()
        };
        assert_eq!(no_from.problem().map(|p| p.0), Some("escalation.from"));
        assert_eq!(EscalationConfig::default().problem(), None);
    }

    /// What happens to a ladder: time passes, the sender answers, the engine restarts
    /// (sending steps are dispatched again), the user acknowledges.
    #[derive(Clone, Debug)]
    enum Event {
        Wait(i64),
        Answer(usize, u8),
        Restart,
        NotShown,
        Acknowledge,
    }

    fn event() -> impl Strategy<Value = Event> {
        prop_oneof![
            4 => (1i64..400).prop_map(Event::Wait),
            4 => (0usize..4, 0u8..3).prop_map(|(i, kind)| Event::Answer(i, kind)),
            1 => Just(Event::Restart),
            1 => Just(Event::NotShown),
            1 => Just(Event::Acknowledge),
        ]
    }

    proptest! {
        /// Whatever happens, a step is reported sent at most once and nothing is
        /// dispatched after the acknowledgement; a repeated dispatch always checks for
        /// the earlier attempt first; and with a sender that keeps answering, the
        /// ladder closes by the end of its budget plus the last step's delay.
        #[test]
        fn no_step_twice_and_none_after_the_acknowledgement(events in proptest::collection::vec(event(), 1..60)) {
            let mut ladder = default_ladder();
            let mut now = at(0);
            let mut outstanding: Vec<Dispatch> = Vec::new();
            let mut sent = std::collections::HashMap::<Step, u32>::new();
            let mut dispatched_before = std::collections::HashSet::<Step>::new();
            for event in events {
                match event {
                    Event::Wait(seconds) => now += SignedDuration::from_secs(seconds),
                    Event::Answer(index, kind) => {
                        if outstanding.is_empty() { continue; }
                        let dispatch = outstanding.remove(index % outstanding.len());
                        let outcome = match kind {
                            0 => Outcome::Sent,
                            1 => Outcome::Retry { reason: "busy".into(), retry_after: None },
                            _ => Outcome::Refused { reason: "no".into() },
                        };
                        let was_sent = ladder.steps.iter().any(|(s, st)| *s == dispatch.step && matches!(st, StepState::Sent { .. }));
                        ladder.outcome(dispatch.step, dispatch.attempt, now, outcome);
                        let is_sent = ladder.steps.iter().any(|(s, st)| *s == dispatch.step && matches!(st, StepState::Sent { .. }));
                        if is_sent && !was_sent {
                            *sent.entry(dispatch.step).or_default() += 1;
                        }
                    }
                    Event::Restart => {
                        outstanding = ladder.resume();
                        prop_assert!(outstanding.iter().all(|d| d.check_first));
                    }
                    Event::NotShown => ladder.not_shown(now, "no server"),
                    Event::Acknowledge => { ladder.acknowledge(now, AckVia::Command); }
                }
                let due = ladder.take_due(now);
                if ladder.acknowledged.is_some() {
                    prop_assert!(due.is_empty());
                    prop_assert_eq!(ladder.next_due(), None);
                }
                for dispatch in &due {
                    if !dispatched_before.insert(dispatch.step) {
                        prop_assert!(dispatch.check_first, "a repeat must look for the first attempt");
                    }
                }
                outstanding.extend(due);
            }
            prop_assert!(sent.values().all(|count| *count <= 1), "{sent:?}");
            // The sender answers everything from here on: the ladder runs out.
            let mut rounds = 0;
            while ladder.is_open() {
                rounds += 1;
                prop_assert!(rounds < 100, "the ladder never closed: {ladder:?}");
                for dispatch in outstanding.drain(..).chain(ladder.resume()) {
                    ladder.outcome(dispatch.step, dispatch.attempt, now, Outcome::Retry { reason: "busy".into(), retry_after: None });
                }
                now = ladder.next_due().unwrap_or(now).max(now);
                outstanding = ladder.take_due(now);
            }
        }
    }
}
