//! The session machine: Idle → Focusing → Idle, sans-IO.
//!
//! The engine calls [`Machine::handle`] with the current time, executes every
//! [`Effect`] from [`Machine::poll_effect`], and sets one timer for
//! [`Machine::next_deadline`]. The machine never reads a clock.

use crate::item::{Class, ItemId, SessionId};
use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;

/// The longest a session may last.
pub const MAX_SESSION: SignedDuration = SignedDuration::from_hours(12);

/// Held items per class.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ClassCounts {
    /// Emergencies (only held if they arrive while breaking through is impossible).
    pub emergency: u32,
    /// Blockers.
    pub blocker: u32,
    /// Updates.
    pub update: u32,
    /// Strategic items.
    pub strategic: u32,
    /// Pre-pings.
    pub pre_ping: u32,
}

impl ClassCounts {
    /// Counts the classes given.
    pub fn of(classes: impl IntoIterator<Item = Class>) -> Self {
        let mut counts = ClassCounts::default();
        for class in classes {
            counts.add(class);
        }
        counts
    }

    /// Counts one more of `class`.
    pub fn add(&mut self, class: Class) {
        *self.get_mut(class) += 1;
    }

    /// The count of one class.
    pub fn get(&self, class: Class) -> u32 {
        match class {
            Class::Emergency => self.emergency,
            Class::Blocker => self.blocker,
            Class::Update => self.update,
            Class::Strategic => self.strategic,
            Class::PrePing => self.pre_ping,
        }
    }

    fn get_mut(&mut self, class: Class) -> &mut u32 {
        match class {
            Class::Emergency => &mut self.emergency,
            Class::Blocker => &mut self.blocker,
            Class::Update => &mut self.update,
            Class::Strategic => &mut self.strategic,
            Class::PrePing => &mut self.pre_ping,
        }
    }

    /// All classes together.
    pub fn total(&self) -> u32 {
        Class::ALL.iter().map(|c| self.get(*c)).sum()
    }

    /// "9 held: 1 blocker, 6 updates, 2 pre-pings", or "Nothing held".
    pub fn summary(&self) -> String {
        let total = self.total();
        if total == 0 {
            return "Nothing held".to_owned();
        }
        let parts: Vec<String> = Class::ALL
            .iter()
            .filter(|c| self.get(**c) > 0)
            .map(|c| c.count_label(self.get(*c) as usize))
            .collect();
        format!("{total} held: {}", parts.join(", "))
    }
}

/// A held item the machine is waiting to deliver.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeldRef {
    /// The item.
    pub id: ItemId,
    /// Its class.
    pub class: Class,
}

/// Items held since the last check-in, with their counts kept alongside so that
/// status and events cost the same with one item held or a hundred thousand.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Held {
    items: Vec<HeldRef>,
    counts: ClassCounts,
}

impl Held {
    /// Held items, in arrival order.
    pub fn new(items: Vec<HeldRef>) -> Self {
        let counts = ClassCounts::of(items.iter().map(|h| h.class));
        Held { items, counts }
    }

    /// Holds one more.
    pub fn push(&mut self, held: HeldRef) {
        self.counts.add(held.class);
        self.items.push(held);
    }

    /// The items, in arrival order.
    pub fn items(&self) -> &[HeldRef] {
        &self.items
    }

    /// Per class.
    pub fn counts(&self) -> ClassCounts {
        self.counts
    }
}

/// A running session.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    /// Its id.
    pub id: SessionId,
    /// When it started.
    pub started_at: Timestamp,
    /// When it ends.
    pub ends_at: Timestamp,
    /// Check-ins still to come, sorted; the last is `ends_at`.
    pub check_ins: Vec<Timestamp>,
    /// Items held since the last check-in.
    pub held: Held,
    /// The planned block it runs for (`None`: started by hand).
    pub plan: Option<String>,
}

impl Session {
    /// The next check-in.
    pub fn next_check_in(&self) -> Timestamp {
        self.check_ins.first().copied().unwrap_or(self.ends_at)
    }

    /// Held items per class.
    pub fn held_counts(&self) -> ClassCounts {
        self.held.counts()
    }
}

/// The machine's state.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum State {
    /// No session.
    Idle,
    /// A session is running.
    Focusing(Session),
    /// Outside work hours: items are held until the next working start (its end), with
    /// no focus status and no focus time.
    OffHours(Session),
}

/// What the engine tells the machine.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Input {
    /// Start a session, with its check-ins already resolved (the last at `until`).
    Start {
        /// Id for the new session.
        id: SessionId,
        /// When it ends.
        until: Timestamp,
        /// When it checks in.
        check_ins: Vec<Timestamp>,
        /// The planned block it runs for (`None`: started by hand).
        plan: Option<String>,
    },
    /// Hold items until `until`, outside work hours (only when no session runs).
    HoldOffHours {
        /// Id for the hold.
        id: SessionId,
        /// The next working start.
        until: Timestamp,
    },
    /// Deliver what the after-hours hold kept and end it (work hours changed).
    EndOffHours,
    /// Move the running session's end later (or earlier, but not into the past).
    Extend {
        /// The new end.
        until: Timestamp,
        /// The new check-ins, the last at `until`.
        check_ins: Vec<Timestamp>,
    },
    /// End the running session now.
    Stop,
    /// Deliver the digest now; the session goes on.
    CheckInNow,
    /// An item arrived and was triaged.
    Item {
        /// Its id.
        id: ItemId,
        /// Its class.
        class: Class,
    },
    /// Time passed: fire whatever is due.
    Tick,
    /// The user left the computer: locked it, or has not touched it since `since`.
    Away {
        /// When they left (the last input before an idle spell, or the lock).
        since: Timestamp,
    },
    /// The user is back at the computer.
    Back,
}

/// What the machine asks the engine to do, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Effect {
    /// Record a new session.
    SessionStarted {
        /// The session.
        session: SessionId,
        /// Its start.
        started_at: Timestamp,
        /// Its end.
        ends_at: Timestamp,
        /// Its check-ins.
        check_ins: Vec<Timestamp>,
        /// The planned block it runs for.
        plan: Option<String>,
    },
    /// Record a new after-hours hold.
    OffHoursStarted {
        /// The hold.
        hold: SessionId,
        /// Its start.
        started_at: Timestamp,
        /// The next working start, when it ends.
        until: Timestamp,
    },
    /// Record the end of an after-hours hold (its digest was delivered just before).
    OffHoursEnded {
        /// The hold.
        hold: SessionId,
        /// When.
        at: Timestamp,
    },
    /// Record the session's new end and check-ins.
    SessionRescheduled {
        /// The session.
        session: SessionId,
        /// Its new end.
        ends_at: Timestamp,
        /// Its check-ins to come.
        check_ins: Vec<Timestamp>,
    },
    /// Keep the item for the next digest.
    Hold {
        /// The item.
        item: ItemId,
        /// Its class.
        class: Class,
        /// The session holding it.
        session: SessionId,
    },
    /// Show the item now: an emergency during focus. Counts as an interruption.
    BreakThrough {
        /// The item.
        item: ItemId,
        /// The session it interrupted.
        session: SessionId,
    },
    /// Show the item now: no session is running.
    Show {
        /// The item.
        item: ItemId,
    },
    /// Deliver these held items as one digest, with one summary notification.
    DeliverDigest {
        /// The session.
        session: SessionId,
        /// When it is delivered.
        at: Timestamp,
        /// The items, in arrival order.
        items: Vec<ItemId>,
        /// Per class.
        counts: ClassCounts,
        /// It waited for the user to come back to the computer.
        welcome_back: bool,
    },
    /// Record time the user was away inside a session: not focus time.
    Away {
        /// The session.
        session: SessionId,
        /// When they left, or the session's start.
        from: Timestamp,
        /// When they came back, or the session's end.
        to: Timestamp,
    },
    /// Record the end of the session.
    SessionEnded {
        /// The session.
        session: SessionId,
        /// When its focus time ended: its planned end, or now for an early stop.
        at: Timestamp,
        /// Whether the user stopped it before its end.
        early: bool,
    },
}

/// Why an input was refused. The state is unchanged.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SessionError {
    /// Start while focusing.
    #[error("a deep work session is already running (until {until})")]
    AlreadyFocusing {
        /// Its end.
        until: Timestamp,
    },
    /// Stop, extend or check in while idle.
    #[error("no deep work session is running")]
    NotFocusing,
    /// An after-hours hold while one is already held, or while focusing.
    #[error("items are already being held")]
    AlreadyHolding,
    /// The end is not after now.
    #[error("the session's end must be in the future")]
    EndNotInFuture,
    /// Longer than [`MAX_SESSION`].
    #[error("a session can last at most 12h")]
    TooLong,
    /// A check-in before now.
    #[error("a check-in is in the past")]
    CheckInInPast,
    /// A check-in after the end.
    #[error("a check-in is after the session ends")]
    CheckInAfterEnd,
}

/// The session machine.
#[derive(Clone, Debug)]
pub struct Machine {
    state: State,
    effects: VecDeque<Effect>,
    /// Since when the user is away from the computer, if they are.
    away_since: Option<Timestamp>,
    /// A check-in or the end fell due while the user was away: it waits for them.
    waiting_for_return: bool,
    /// When the user last came back: a new absence cannot start before it.
    back_at: Option<Timestamp>,
}

impl Default for Machine {
    fn default() -> Self {
        Machine::new(State::Idle)
    }
}

impl Machine {
    /// A machine in `state`: idle, or a session restored from the store.
    pub fn new(state: State) -> Self {
        Machine {
            state,
            effects: VecDeque::new(),
            away_since: None,
            waiting_for_return: false,
            back_at: None,
        }
    }

    /// Since when the user is away from the computer, if they are.
    pub fn away_since(&self) -> Option<Timestamp> {
        self.away_since
    }

    /// Whether a check-in is due but waits for the user to come back.
    pub fn waiting_for_return(&self) -> bool {
        self.waiting_for_return
    }

    /// Takes over what `earlier` knew of the user's presence (after a reload from the
    /// store, which does not keep it: the desktop reports it again on connect).
    pub fn carry_presence(&mut self, earlier: &Machine) {
        self.away_since = earlier.away_since;
        self.back_at = earlier.back_at;
        self.waiting_for_return = earlier.waiting_for_return && self.holding().is_some();
    }

    /// The current state.
    pub fn state(&self) -> &State {
        &self.state
    }

    /// The running session, if any.
    pub fn session(&self) -> Option<&Session> {
        match &self.state {
            State::Idle | State::OffHours(_) => None,
            State::Focusing(session) => Some(session),
        }
    }

    /// The after-hours hold, if one runs.
    pub fn off_hours(&self) -> Option<&Session> {
        match &self.state {
            State::Idle | State::Focusing(_) => None,
            State::OffHours(hold) => Some(hold),
        }
    }

    /// Whatever is holding items now: the session or the after-hours hold.
    pub fn holding(&self) -> Option<&Session> {
        match &self.state {
            State::Idle => None,
            State::Focusing(session) | State::OffHours(session) => Some(session),
        }
    }

    /// The next effect to execute.
    pub fn poll_effect(&mut self) -> Option<Effect> {
        self.effects.pop_front()
    }

    /// When the engine must next call `handle(now, Input::Tick)`; `None` when idle, or
    /// when what is due waits for the user to come back.
    pub fn next_deadline(&self) -> Option<Timestamp> {
        if self.waiting_for_return {
            return None;
        }
        self.holding().map(Session::next_check_in)
    }

    /// Applies one input at `now`. On error nothing changed and no effect was queued.
    pub fn handle(&mut self, now: Timestamp, input: Input) -> Result<(), SessionError> {
        match input {
            Input::Start {
                id,
                until,
                check_ins,
                plan,
            } => self.start(now, id, until, check_ins, plan),
            Input::HoldOffHours { id, until } => self.hold_off_hours(now, id, until),
            Input::EndOffHours => self.end_off_hours(now, false),
            Input::Extend { until, check_ins } => self.extend(now, until, check_ins),
            Input::Stop => self.stop(now),
            Input::CheckInNow => self.check_in_now(now),
            Input::Item { id, class } => {
                self.item(id, class);
                Ok(())
            }
            Input::Tick => {
                self.tick(now);
                Ok(())
            }
            Input::Away { since } => {
                if self.away_since.is_none() {
                    let since = since.min(now);
                    self.away_since = Some(self.back_at.map_or(since, |back| since.max(back)));
                }
                Ok(())
            }
            Input::Back => {
                self.back(now);
                Ok(())
            }
        }
    }

    fn start(
        &mut self,
        now: Timestamp,
        id: SessionId,
        until: Timestamp,
        check_ins: Vec<Timestamp>,
        plan: Option<String>,
    ) -> Result<(), SessionError> {
        if let State::Focusing(session) = &self.state {
            return Err(SessionError::AlreadyFocusing {
                until: session.ends_at,
            });
        }
        let check_ins = validate_schedule(now, now, until, check_ins)?;
        // Starting after hours means the user is at work: what the night held comes first.
        self.end_off_hours(now, false).ok();
        self.effects.push_back(Effect::SessionStarted {
            session: id,
            started_at: now,
            ends_at: until,
            check_ins: check_ins.clone(),
            plan: plan.clone(),
        });
        self.state = State::Focusing(Session {
            id,
            started_at: now,
            ends_at: until,
            check_ins,
            held: Held::default(),
            plan,
        });
        Ok(())
    }

    fn hold_off_hours(
        &mut self,
        now: Timestamp,
        id: SessionId,
        until: Timestamp,
    ) -> Result<(), SessionError> {
        if !matches!(self.state, State::Idle) {
            return Err(SessionError::AlreadyHolding);
        }
        if until <= now {
            return Err(SessionError::EndNotInFuture);
        }
        self.effects.push_back(Effect::OffHoursStarted {
            hold: id,
            started_at: now,
            until,
        });
        self.state = State::OffHours(Session {
            id,
            started_at: now,
            ends_at: until,
            check_ins: vec![until],
            held: Held::default(),
            plan: None,
        });
        Ok(())
    }

    fn end_off_hours(&mut self, now: Timestamp, welcome_back: bool) -> Result<(), SessionError> {
        let State::OffHours(hold) = &mut self.state else {
            return Err(SessionError::NotFocusing);
        };
        // A quiet night brings no digest and no notice.
        let effect = (!hold.held.items().is_empty()).then(|| deliver(hold, now, welcome_back));
        let hold = hold.id;
        self.state = State::Idle;
        self.waiting_for_return = false;
        self.effects.extend(effect);
        self.effects
            .push_back(Effect::OffHoursEnded { hold, at: now });
        Ok(())
    }

    fn extend(
        &mut self,
        now: Timestamp,
        until: Timestamp,
        check_ins: Vec<Timestamp>,
    ) -> Result<(), SessionError> {
        let State::Focusing(session) = &mut self.state else {
            return Err(SessionError::NotFocusing);
        };
        let check_ins = validate_schedule(now, session.started_at, until, check_ins)?;
        session.ends_at = until;
        session.check_ins = check_ins.clone();
        // The new check-ins are all ahead: none is due to wait for the user any more.
        self.waiting_for_return = false;
        self.effects.push_back(Effect::SessionRescheduled {
            session: session.id,
            ends_at: until,
            check_ins,
        });
        Ok(())
    }

    fn stop(&mut self, now: Timestamp) -> Result<(), SessionError> {
        if !matches!(self.state, State::Focusing(_)) {
            return Err(SessionError::NotFocusing);
        }
        let State::Focusing(session) = std::mem::replace(&mut self.state, State::Idle) else {
            unreachable!("checked just above");
        };
        self.waiting_for_return = false;
        self.record_away(&session, now);
        self.finish(session, now, now, true, false);
        Ok(())
    }

    fn check_in_now(&mut self, now: Timestamp) -> Result<(), SessionError> {
        let (State::Focusing(session) | State::OffHours(session)) = &mut self.state else {
            return Err(SessionError::NotFocusing);
        };
        let effect = deliver(session, now, false);
        self.effects.push_back(effect);
        Ok(())
    }

    fn item(&mut self, id: ItemId, class: Class) {
        let effect = match &mut self.state {
            State::Idle => Effect::Show { item: id },
            State::OffHours(hold) => match class {
                Class::Emergency => Effect::Show { item: id },
                Class::Blocker | Class::Update | Class::Strategic | Class::PrePing => {
                    hold.held.push(HeldRef { id, class });
                    Effect::Hold {
                        item: id,
                        class,
                        session: hold.id,
                    }
                }
            },
            State::Focusing(session) => match class {
                Class::Emergency => Effect::BreakThrough {
                    item: id,
                    session: session.id,
                },
                Class::Blocker | Class::Update | Class::Strategic | Class::PrePing => {
                    session.held.push(HeldRef { id, class });
                    Effect::Hold {
                        item: id,
                        class,
                        session: session.id,
                    }
                }
            },
        };
        self.effects.push_back(effect);
    }

    fn tick(&mut self, now: Timestamp) {
        let due = self
            .holding()
            .is_some_and(|held| held.next_check_in() <= now);
        if due && self.away_since.is_some() {
            // Nobody is there to read it: the digest waits until they are back.
            self.waiting_for_return = true;
            return;
        }
        self.fire_due(now, false);
    }

    fn back(&mut self, now: Timestamp) {
        let Some(since) = self.away_since.take() else {
            return;
        };
        self.back_at = Some(now);
        if let State::Focusing(session) = &self.state {
            let session = session.clone();
            self.away_span(&session, since, now);
        }
        if std::mem::take(&mut self.waiting_for_return) {
            self.fire_due(now, true);
        }
    }

    /// Delivers the check-ins due at `now`, ending the session or the hold if its end
    /// is among them.
    fn fire_due(&mut self, now: Timestamp, welcome_back: bool) {
        if self.off_hours().is_some_and(|hold| now >= hold.ends_at) {
            self.end_off_hours(now, welcome_back).ok();
            return;
        }
        let State::Focusing(session) = &mut self.state else {
            return;
        };
        if now >= session.ends_at {
            let ends_at = session.ends_at;
            if let State::Focusing(session) = std::mem::replace(&mut self.state, State::Idle) {
                self.finish(session, now, ends_at, false, welcome_back);
            }
            return;
        }
        let due = session
            .check_ins
            .iter()
            .take_while(|at| **at <= now)
            .count();
        if due > 0 {
            // Several check-ins missed while the engine was down (or the user away)
            // collapse into one digest.
            session.check_ins.drain(..due);
            let effect = deliver(session, now, welcome_back);
            self.effects.push_back(effect);
        }
    }

    /// Records the away time of a session that ends at `now` while the user is away.
    fn record_away(&mut self, session: &Session, now: Timestamp) {
        if let Some(since) = self.away_since {
            self.away_span(session, since, now);
        }
    }

    fn away_span(&mut self, session: &Session, since: Timestamp, until: Timestamp) {
        let from = since.max(session.started_at);
        let to = until.min(session.ends_at);
        if to > from {
            self.effects.push_back(Effect::Away {
                session: session.id,
                from,
                to,
            });
        }
    }

    fn finish(
        &mut self,
        mut session: Session,
        now: Timestamp,
        ended_at: Timestamp,
        early: bool,
        welcome_back: bool,
    ) {
        let effect = deliver(&mut session, now, welcome_back);
        self.effects.push_back(effect);
        self.effects.push_back(Effect::SessionEnded {
            session: session.id,
            at: ended_at,
            early,
        });
    }
}

fn deliver(session: &mut Session, now: Timestamp, welcome_back: bool) -> Effect {
    let held = std::mem::take(&mut session.held);
    Effect::DeliverDigest {
        session: session.id,
        at: now,
        counts: held.counts,
        items: held.items.into_iter().map(|h| h.id).collect(),
        welcome_back,
    }
}

fn validate_schedule(
    now: Timestamp,
    started_at: Timestamp,
    until: Timestamp,
    mut check_ins: Vec<Timestamp>,
) -> Result<Vec<Timestamp>, SessionError> {
    if until <= now {
        return Err(SessionError::EndNotInFuture);
    }
    if until.duration_since(started_at) > MAX_SESSION {
        return Err(SessionError::TooLong);
    }
    check_ins.sort();
    check_ins.dedup();
    if check_ins.first().is_some_and(|first| *first <= now) {
        return Err(SessionError::CheckInInPast);
    }
    if check_ins.last().is_some_and(|last| *last > until) {
        return Err(SessionError::CheckInAfterEnd);
    }
    if check_ins.last() != Some(&until) {
        check_ins.push(until);
    }
    Ok(check_ins)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(minutes: i64) -> Timestamp {
        Timestamp::from_second(1_800_000_000 + minutes * 60).expect("in range")
    }

    fn drain(machine: &mut Machine) -> Vec<Effect> {
        std::iter::from_fn(|| machine.poll_effect()).collect()
    }

    fn started(minutes: i64) -> Machine {
        let mut m = Machine::default();
        m.handle(
            t(0),
            Input::Start {
                id: SessionId(1),
                until: t(minutes),
                check_ins: vec![],
                plan: None,
            },
        )
        .expect("starts");
        drain(&mut m);
        m
    }

    #[test]
    fn holds_and_delivers_at_the_end() {
        let mut m = started(90);
        assert_eq!(m.next_deadline(), Some(t(90)));
        m.handle(
            t(5),
            Input::Item {
                id: ItemId(1),
                class: Class::Update,
            },
        )
        .expect("item");
        m.handle(
            t(6),
            Input::Item {
                id: ItemId(2),
                class: Class::Emergency,
            },
        )
        .expect("item");
        m.handle(t(90), Input::Tick).expect("tick");
        assert_eq!(
            drain(&mut m),
            vec![
                Effect::Hold {
                    item: ItemId(1),
                    class: Class::Update,
                    session: SessionId(1)
                },
                Effect::BreakThrough {
                    item: ItemId(2),
                    session: SessionId(1)
                },
                Effect::DeliverDigest {
                    session: SessionId(1),
                    at: t(90),
                    items: vec![ItemId(1)],
                    counts: ClassCounts {
                        update: 1,
                        ..ClassCounts::default()
                    },
                    welcome_back: false,
                },
                Effect::SessionEnded {
                    session: SessionId(1),
                    at: t(90),
                    early: false
                },
            ]
        );
        assert_eq!(m.next_deadline(), None);
    }

    #[test]
    fn after_hours_items_wait_for_the_morning_and_emergencies_still_show() {
        let mut m = Machine::default();
        m.handle(
            t(0),
            Input::HoldOffHours {
                id: SessionId(7),
                until: t(600),
            },
        )
        .expect("holds");
        assert_eq!(m.session(), None, "a hold is not a focus session");
        assert_eq!(m.next_deadline(), Some(t(600)));
        for (id, class) in [
            (1, Class::Update),
            (2, Class::Emergency),
            (3, Class::Blocker),
        ] {
            m.handle(
                t(id),
                Input::Item {
                    id: ItemId(id),
                    class,
                },
            )
            .expect("item");
        }
        assert_eq!(m.handle(t(5), Input::Stop), Err(SessionError::NotFocusing));
        m.handle(t(600), Input::Tick).expect("tick");
        let effects = drain(&mut m);
        assert_eq!(effects[2], Effect::Show { item: ItemId(2) });
        assert_eq!(
            &effects[4..],
            &[
                Effect::DeliverDigest {
                    session: SessionId(7),
                    at: t(600),
                    items: vec![ItemId(1), ItemId(3)],
                    counts: ClassCounts {
                        update: 1,
                        blocker: 1,
                        ..ClassCounts::default()
                    },
                    welcome_back: false,
                },
                Effect::OffHoursEnded {
                    hold: SessionId(7),
                    at: t(600)
                },
            ]
        );
        assert_eq!(m.state(), &State::Idle);
    }

    #[test]
    fn starting_a_session_after_hours_delivers_what_was_held_first() {
        let mut m = Machine::default();
        m.handle(
            t(0),
            Input::HoldOffHours {
                id: SessionId(1),
                until: t(600),
            },
        )
        .expect("holds");
        m.handle(
            t(1),
            Input::Item {
                id: ItemId(1),
                class: Class::Update,
            },
        )
        .expect("item");
        drain(&mut m);
        m.handle(
            t(30),
            Input::Start {
                id: SessionId(2),
                until: t(120),
                check_ins: vec![],
                plan: None,
            },
        )
        .expect("starts");
        let effects = drain(&mut m);
        assert!(
            matches!(&effects[0], Effect::DeliverDigest { session: SessionId(1), items, .. } if items == &[ItemId(1)])
        );
        assert_eq!(
            effects[1],
            Effect::OffHoursEnded {
                hold: SessionId(1),
                at: t(30)
            }
        );
        assert!(matches!(
            effects[2],
            Effect::SessionStarted {
                session: SessionId(2),
                ..
            }
        ));
        assert_eq!(
            m.handle(
                t(31),
                Input::HoldOffHours {
                    id: SessionId(3),
                    until: t(600)
                }
            ),
            Err(SessionError::AlreadyHolding)
        );
    }

    #[test]
    fn refuses_what_makes_no_sense() {
        let mut m = started(90);
        assert!(matches!(
            m.handle(
                t(1),
                Input::Start {
                    id: SessionId(2),
                    until: t(30),
                    check_ins: vec![],
                    plan: None,
                }
            ),
            Err(SessionError::AlreadyFocusing { .. })
        ));
        m.handle(t(2), Input::Stop).expect("stops");
        assert_eq!(m.handle(t(3), Input::Stop), Err(SessionError::NotFocusing));
        assert_eq!(
            m.handle(
                t(3),
                Input::Start {
                    id: SessionId(2),
                    until: t(3),
                    check_ins: vec![],
                    plan: None,
                }
            ),
            Err(SessionError::EndNotInFuture)
        );
        assert_eq!(
            m.handle(
                t(3),
                Input::Start {
                    id: SessionId(2),
                    until: t(3 + 12 * 60 + 1),
                    check_ins: vec![],
                    plan: None,
                }
            ),
            Err(SessionError::TooLong)
        );
        assert_eq!(
            m.handle(
                t(3),
                Input::Start {
                    id: SessionId(2),
                    until: t(60),
                    check_ins: vec![t(2)],
                    plan: None,
                }
            ),
            Err(SessionError::CheckInInPast)
        );
        assert_eq!(
            m.handle(
                t(3),
                Input::Start {
                    id: SessionId(2),
                    until: t(60),
                    check_ins: vec![t(61)],
                    plan: None,
                }
            ),
            Err(SessionError::CheckInAfterEnd)
        );
        assert_eq!(m.state(), &State::Idle);
    }

    #[test]
    fn check_ins_inside_a_session_deliver_and_go_on() {
        let mut m = Machine::default();
        m.handle(
            t(0),
            Input::Start {
                id: SessionId(1),
                until: t(120),
                check_ins: vec![t(60)],
                plan: None,
            },
        )
        .expect("starts");
        m.handle(
            t(10),
            Input::Item {
                id: ItemId(1),
                class: Class::Blocker,
            },
        )
        .expect("item");
        m.handle(t(60), Input::Tick).expect("tick");
        m.handle(
            t(70),
            Input::Item {
                id: ItemId(2),
                class: Class::PrePing,
            },
        )
        .expect("item");
        let effects = drain(&mut m);
        assert!(
            matches!(&effects[2], Effect::DeliverDigest { items, .. } if items == &vec![ItemId(1)])
        );
        assert!(matches!(
            effects[3],
            Effect::Hold {
                item: ItemId(2),
                ..
            }
        ));
        assert_eq!(m.next_deadline(), Some(t(120)));
    }

    #[test]
    fn missed_check_ins_collapse_into_one_digest() {
        let mut m = Machine::default();
        m.handle(
            t(0),
            Input::Start {
                id: SessionId(1),
                until: t(120),
                check_ins: vec![t(30), t(60)],
                plan: None,
            },
        )
        .expect("starts");
        m.handle(
            t(10),
            Input::Item {
                id: ItemId(1),
                class: Class::Update,
            },
        )
        .expect("item");
        drain(&mut m);
        m.handle(t(200), Input::Tick).expect("tick");
        let effects = drain(&mut m);
        assert_eq!(effects.len(), 2, "{effects:?}");
        assert_eq!(
            effects[1],
            Effect::SessionEnded {
                session: SessionId(1),
                at: t(120),
                early: false
            }
        );
    }

    #[test]
    fn stop_is_early_and_items_after_it_are_shown() {
        let mut m = started(90);
        m.handle(t(30), Input::Stop).expect("stops");
        m.handle(
            t(31),
            Input::Item {
                id: ItemId(9),
                class: Class::Update,
            },
        )
        .expect("item");
        let effects = drain(&mut m);
        assert_eq!(
            effects[1],
            Effect::SessionEnded {
                session: SessionId(1),
                at: t(30),
                early: true
            }
        );
        assert_eq!(effects[2], Effect::Show { item: ItemId(9) });
    }

    #[test]
    fn summaries_read_like_a_person_wrote_them() {
        let counts = ClassCounts {
            blocker: 1,
            update: 6,
            pre_ping: 2,
            ..ClassCounts::default()
        };
        assert_eq!(
            counts.summary(),
            "9 held: 1 blocker, 6 updates, 2 pre-pings"
        );
        assert_eq!(ClassCounts::default().summary(), "Nothing held");
    }

    #[test]
    fn a_check_in_while_away_waits_until_the_user_is_back() {
        let mut m = Machine::default();
        m.handle(
            t(0),
            Input::Start {
                id: SessionId(1),
                until: t(120),
                check_ins: vec![t(60)],
                plan: None,
            },
        )
        .expect("starts");
        drain(&mut m);
        m.handle(
            t(10),
            Input::Item {
                id: ItemId(1),
                class: Class::Update,
            },
        )
        .expect("item");
        m.handle(t(50), Input::Away { since: t(45) }).expect("away");
        // A second report of the same absence keeps the first start.
        m.handle(t(55), Input::Away { since: t(52) }).expect("away");
        drain(&mut m);
        m.handle(t(60), Input::Tick).expect("tick");
        assert_eq!(drain(&mut m), vec![], "nobody is there to read it");
        assert!(m.waiting_for_return());
        assert_eq!(m.next_deadline(), None, "no timer spins while it waits");
        m.handle(t(75), Input::Back).expect("back");
        assert_eq!(
            drain(&mut m),
            vec![
                Effect::Away {
                    session: SessionId(1),
                    from: t(45),
                    to: t(75)
                },
                Effect::DeliverDigest {
                    session: SessionId(1),
                    at: t(75),
                    items: vec![ItemId(1)],
                    counts: ClassCounts {
                        update: 1,
                        ..ClassCounts::default()
                    },
                    welcome_back: true,
                },
            ]
        );
        assert_eq!(m.next_deadline(), Some(t(120)));
        assert_eq!(m.away_since(), None);
    }

    #[test]
    fn away_without_a_due_check_in_is_only_recorded_and_the_end_waits_too() {
        let mut m = started(90);
        m.handle(t(20), Input::Away { since: t(15) }).expect("away");
        m.handle(t(30), Input::Back).expect("back");
        assert_eq!(
            drain(&mut m),
            vec![Effect::Away {
                session: SessionId(1),
                from: t(15),
                to: t(30)
            }],
            "a short absence delivers nothing"
        );
        m.handle(t(80), Input::Away { since: t(80) }).expect("away");
        m.handle(t(90), Input::Tick).expect("tick");
        assert_eq!(drain(&mut m), vec![]);
        assert!(m.session().is_some(), "the session waits for the user");
        m.handle(t(130), Input::Back).expect("back");
        assert_eq!(
            drain(&mut m),
            vec![
                Effect::Away {
                    session: SessionId(1),
                    from: t(80),
                    to: t(90)
                },
                Effect::DeliverDigest {
                    session: SessionId(1),
                    at: t(130),
                    items: vec![],
                    counts: ClassCounts::default(),
                    welcome_back: true,
                },
                Effect::SessionEnded {
                    session: SessionId(1),
                    at: t(90),
                    early: false
                },
            ],
            "away time stops at the planned end, and so does focus time"
        );
        assert_eq!(m.session(), None);
    }

    #[test]
    fn stopping_while_away_records_the_absence_and_away_before_the_start_counts_from_it() {
        let mut m = Machine::default();
        m.handle(t(0), Input::Away { since: t(-30) }).expect("away");
        m.handle(
            t(5),
            Input::Start {
                id: SessionId(2),
                until: t(60),
                check_ins: vec![],
                plan: Some("focus block".into()),
            },
        )
        .expect("a plan starts a session while the user is away");
        drain(&mut m);
        m.handle(t(25), Input::Stop).expect("stop");
        let effects = drain(&mut m);
        assert_eq!(
            effects[0],
            Effect::Away {
                session: SessionId(2),
                from: t(5),
                to: t(25)
            }
        );
        assert!(matches!(
            effects[1],
            Effect::DeliverDigest {
                welcome_back: false,
                ..
            }
        ));
        m.handle(t(30), Input::Back).expect("back");
        assert_eq!(drain(&mut m), vec![], "no session: nothing to record");
    }
}
