//! Property tests of the session machine over random inputs and clocks.

use deepwork_core::session::{Effect, Input, MAX_SESSION, Machine};
use deepwork_core::{Class, ItemId, SessionId};
use jiff::{SignedDuration, Timestamp};
use proptest::prelude::*;
use std::collections::{HashMap, HashSet};

#[derive(Clone, Debug)]
enum Action {
    Start {
        minutes: i64,
        check_ins: Vec<i64>,
    },
    Extend {
        minutes: i64,
        check_ins: Vec<i64>,
    },
    Stop,
    CheckInNow,
    Item(Class),
    Tick,
    HoldOffHours {
        minutes: i64,
    },
    EndOffHours,
    /// The user left the computer this many minutes ago.
    Away {
        minutes_ago: i64,
    },
    Back,
}

fn class() -> impl Strategy<Value = Class> {
    prop::sample::select(Class::ALL.to_vec())
}

fn action() -> impl Strategy<Value = Action> {
    // Lengths and check-ins reach past the 12 h limit and before "now", so the
    // machine's refusals are exercised too.
    let minutes = -5i64..(13 * 60);
    let check_ins = prop::collection::vec(-30i64..(13 * 60), 0..4);
    prop_oneof![
        2 => (minutes.clone(), check_ins.clone()).prop_map(|(minutes, check_ins)| Action::Start { minutes, check_ins }),
        1 => (minutes, check_ins).prop_map(|(minutes, check_ins)| Action::Extend { minutes, check_ins }),
        1 => Just(Action::Stop),
        1 => Just(Action::CheckInNow),
        6 => class().prop_map(Action::Item),
        3 => Just(Action::Tick),
        1 => (-5i64..(3 * 24 * 60)).prop_map(|minutes| Action::HoldOffHours { minutes }),
        1 => Just(Action::EndOffHours),
        2 => (0i64..20).prop_map(|minutes_ago| Action::Away { minutes_ago }),
        2 => Just(Action::Back),
    ]
}

/// Minutes the clock moves before each action: mostly small, sometimes an engine that
/// was down for a day.
fn advance() -> impl Strategy<Value = i64> {
    prop_oneof![8 => 0i64..30, 2 => 30i64..400, 1 => 400i64..3000]
}

struct Open {
    id: SessionId,
    started_at: Timestamp,
}

#[derive(Default)]
struct Ledger {
    open: Option<Open>,
    /// The after-hours hold, never open beside a session.
    hold: Option<Open>,
    held: HashMap<ItemId, SessionId>,
    delivered: HashSet<ItemId>,
    broke_through: HashSet<ItemId>,
    focus: SignedDuration,
    last_end: Option<Timestamp>,
    /// The open session's end as planned, and its away spans so far.
    ends_at: Option<Timestamp>,
    away: Vec<(Timestamp, Timestamp)>,
    away_total: SignedDuration,
}

impl Ledger {
    fn record(&mut self, effect: Effect) -> Result<(), TestCaseError> {
        match effect {
            Effect::SessionStarted {
                session,
                started_at,
                ends_at,
                check_ins,
                ..
            } => {
                prop_assert!(
                    self.open.is_none() && self.hold.is_none(),
                    "a session started while {session:?} was open or items were held after hours"
                );
                prop_assert!(
                    self.last_end.is_none_or(|end| end <= started_at),
                    "sessions overlap"
                );
                prop_assert!(ends_at.duration_since(started_at) <= MAX_SESSION);
                prop_assert!(
                    check_ins.iter().all(|c| *c > started_at && *c <= ends_at),
                    "check-ins inside the session"
                );
                self.open = Some(Open {
                    id: session,
                    started_at,
                });
                self.ends_at = Some(ends_at);
                self.away.clear();
            }
            Effect::SessionRescheduled {
                session,
                ends_at,
                check_ins,
            } => {
                let open = self
                    .open
                    .as_ref()
                    .ok_or_else(|| TestCaseError::fail("rescheduled while idle"))?;
                prop_assert_eq!(open.id, session);
                prop_assert!(ends_at.duration_since(open.started_at) <= MAX_SESSION);
                self.ends_at = Some(ends_at);
                prop_assert!(
                    check_ins
                        .iter()
                        .all(|c| *c > open.started_at && *c <= ends_at)
                );
            }
            Effect::OffHoursStarted {
                hold,
                started_at,
                until,
            } => {
                prop_assert!(
                    self.open.is_none() && self.hold.is_none(),
                    "an after-hours hold began beside {hold:?}"
                );
                prop_assert!(until > started_at);
                self.hold = Some(Open {
                    id: hold,
                    started_at,
                });
            }
            Effect::OffHoursEnded { hold, at } => {
                let open = self
                    .hold
                    .take()
                    .ok_or_else(|| TestCaseError::fail("a hold ended that never began"))?;
                prop_assert_eq!(open.id, hold);
                prop_assert!(at >= open.started_at);
            }
            Effect::Hold { item, session, .. } => {
                prop_assert_eq!(
                    self.open.as_ref().or(self.hold.as_ref()).map(|o| o.id),
                    Some(session),
                    "held outside its session or hold"
                );
                prop_assert!(self.held.insert(item, session).is_none(), "held twice");
            }
            Effect::BreakThrough { item, session } => {
                prop_assert_eq!(self.open.as_ref().map(|o| o.id), Some(session));
                self.broke_through.insert(item);
            }
            Effect::Show { .. } => prop_assert!(self.open.is_none(), "shown during focus"),
            Effect::Away { session, from, to } => {
                let open = self
                    .open
                    .as_ref()
                    .ok_or_else(|| TestCaseError::fail("away time outside a session"))?;
                prop_assert_eq!(open.id, session);
                prop_assert!(
                    from >= open.started_at && from < to,
                    "away span {from}..{to}"
                );
                prop_assert!(
                    self.ends_at.is_some_and(|end| to <= end),
                    "away after the end"
                );
                prop_assert!(
                    self.away.iter().all(|(f, t)| *t <= from || to <= *f),
                    "away spans overlap"
                );
                self.away.push((from, to));
                self.away_total += to.duration_since(from);
            }
            Effect::DeliverDigest {
                session,
                at,
                items,
                counts,
                ..
            } => {
                let open = self
                    .open
                    .as_ref()
                    .or(self.hold.as_ref())
                    .ok_or_else(|| TestCaseError::fail("digest while idle"))?;
                prop_assert_eq!(open.id, session);
                prop_assert!(at >= open.started_at, "check-in before the start");
                prop_assert_eq!(counts.total() as usize, items.len());
                for item in items {
                    prop_assert_eq!(
                        self.held.get(&item),
                        Some(&session),
                        "delivered something not held"
                    );
                    prop_assert!(self.delivered.insert(item), "{:?} delivered twice", item);
                }
            }
            Effect::SessionEnded { session, at, .. } => {
                let open = self
                    .open
                    .take()
                    .ok_or_else(|| TestCaseError::fail("ended while idle"))?;
                prop_assert_eq!(open.id, session);
                prop_assert!(at >= open.started_at);
                self.focus += at.duration_since(open.started_at);
                prop_assert!(
                    self.away.iter().all(|(_, to)| *to <= at),
                    "away after the session ended"
                );
                self.last_end = Some(at);
            }
        }
        Ok(())
    }
}

fn minutes(from: Timestamp, n: i64) -> Timestamp {
    from + SignedDuration::from_mins(n)
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 512,
        failure_persistence: Some(Box::new(prop::test_runner::FileFailurePersistence::WithSource("regressions"))),
        ..ProptestConfig::default()
    })]

    #[test]
    fn sessions_hold_and_deliver_every_item_exactly_once(steps in prop::collection::vec((advance(), action()), 1..80)) {
        let first = Timestamp::from_second(1_800_000_000).unwrap();
        let mut now = first;
        let mut machine = Machine::default();
        let mut ledger = Ledger::default();
        let mut next_item = 0;
        let mut next_session = 0;
        for (advance, action) in steps {
            now = minutes(now, advance);
            let input = match action {
                Action::Start { minutes: length, check_ins } => {
                    next_session += 1;
                    Input::Start {
                        id: SessionId(next_session),
                        until: minutes(now, length),
                        check_ins: check_ins.into_iter().map(|c| minutes(now, c)).collect(),
                        plan: None,
                    }
                }
                Action::Extend { minutes: length, check_ins } => Input::Extend {
                    until: minutes(now, length),
                    check_ins: check_ins.into_iter().map(|c| minutes(now, c)).collect(),
                },
                Action::Stop => Input::Stop,
                Action::CheckInNow => Input::CheckInNow,
                Action::Item(class) => {
                    next_item += 1;
                    Input::Item { id: ItemId(next_item), class }
                }
                Action::Tick => Input::Tick,
                Action::HoldOffHours { minutes: length } => {
                    next_session += 1;
                    Input::HoldOffHours { id: SessionId(next_session), until: minutes(now, length) }
                }
                Action::EndOffHours => Input::EndOffHours,
                Action::Away { minutes_ago } => Input::Away { since: minutes(now, -minutes_ago) },
                Action::Back => Input::Back,
            };
            // The engine ticks before every request; so does this driver.
            machine.handle(now, Input::Tick).unwrap();
            let away = machine.away_since().is_some();
            while let Some(effect) = machine.poll_effect() {
                prop_assert!(!away, "the timer fired {effect:?} while the user was away");
                ledger.record(effect)?;
            }
            let back = matches!(input, Input::Back) && away;
            let waited = machine.waiting_for_return();
            let ticked = machine.state().clone();
            let result = machine.handle(now, input);
            if result.is_err() {
                prop_assert_eq!(machine.state(), &ticked, "a refused input changed the state");
                prop_assert!(machine.poll_effect().is_none(), "a refused input queued an effect");
            }
            while let Some(effect) = machine.poll_effect() {
                if let Effect::DeliverDigest { welcome_back, .. } = &effect {
                    prop_assert_eq!(*welcome_back, back && waited, "welcome back only to a waiting digest");
                }
                ledger.record(effect)?;
            }
            if back && waited {
                prop_assert!(!machine.waiting_for_return(), "back, and still waiting");
            }
            if let Some(deadline) = machine.next_deadline() {
                prop_assert!(deadline > now, "a due deadline was left unfired");
            }
        }
        // The user comes back, and every session runs out, as the engine's timer would.
        machine.handle(now, Input::Back).unwrap();
        while let Some(effect) = machine.poll_effect() {
            ledger.record(effect)?;
        }
        while let Some(deadline) = machine.next_deadline() {
            now = now.max(deadline);
            machine.handle(now, Input::Tick).unwrap();
            while let Some(effect) = machine.poll_effect() {
                ledger.record(effect)?;
            }
        }
        prop_assert!(ledger.open.is_none() && ledger.hold.is_none());
        let held: HashSet<ItemId> = ledger.held.keys().copied().collect();
        prop_assert_eq!(&held, &ledger.delivered, "every held item is delivered");
        prop_assert!(ledger.broke_through.is_disjoint(&ledger.delivered), "breakthroughs are not re-delivered");
        prop_assert!(ledger.focus <= now.duration_since(first), "focus time exceeds wall time");
        prop_assert!(ledger.away_total <= ledger.focus, "more away than session time");
    }
}
