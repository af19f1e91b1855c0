//! Keeping one platform's status in step with the session, as a machine with no IO:
//! the platform task tells it what the session wants and how each action went, and
//! it says what to do next. It puts every session's status back (oldest first, before
//! showing another), never brings back a status whose session has ended or lapsed, and
//! backs off boundedly after failures.

use crate::item::SessionId;
use jiff::{SignedDuration, Timestamp};
use std::collections::{BTreeSet, VecDeque};

/// The first wait after a failure.
pub const FIRST_BACKOFF: SignedDuration = SignedDuration::from_secs(1);
/// The longest wait after repeated failures.
pub const MAX_BACKOFF: SignedDuration = SignedDuration::from_secs(60);
/// The longest wait a platform's own "retry after" is taken at.
pub const MAX_RETRY_AFTER: SignedDuration = SignedDuration::from_secs(3600);
/// How often to try again when the user must act (they may have fixed it).
pub const ATTENTION_RETRY: SignedDuration = SignedDuration::from_secs(300);

/// The focus status a session wants on the platform.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Desired {
    /// The session.
    pub session: SessionId,
    /// The text, fitted to the platform.
    pub text: String,
    /// When it lapses (the session's end).
    pub until: Timestamp,
}

/// Something the platform task must do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Put back the status kept from before `session`.
    Restore(SessionId),
    /// Keep the status as it is now (unless one is kept for this session already), then
    /// show the focus status.
    Show(Desired),
}

/// What to do now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Next {
    /// This action; report how it went with [`StatusReconciler::finished`].
    Act(Action),
    /// Nothing until then (a retry, or the lapse of the status shown), or until the
    /// session changes.
    WaitUntil(Timestamp),
    /// Nothing until the session changes.
    Idle,
}

/// How an action went.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Done.
    Done,
    /// Failed; worth trying again after a growing wait.
    Failed,
    /// The platform asked to wait this long.
    RateLimited(SignedDuration),
    /// The user must act (a revoked token); tried again now and then.
    NeedsAttention,
}

/// One platform's status: what the session wants, what it shows, what is owed.
#[derive(Clone, Debug, Default)]
pub struct StatusReconciler {
    desired: Option<Desired>,
    applied: Option<(SessionId, String)>,
    restores: VecDeque<SessionId>,
    ended: BTreeSet<SessionId>,
    retry_at: Option<Timestamp>,
    backoff: Option<SignedDuration>,
}

impl StatusReconciler {
    /// A platform with nothing owed.
    pub fn new() -> Self {
        StatusReconciler::default()
    }

    /// Sessions that ended before this task started with their status not put back.
    pub fn owed(&mut self, sessions: impl IntoIterator<Item = SessionId>) {
        for session in sessions {
            self.ended(session);
        }
    }

    /// What the running session wants (`None`: no session). A session known to have
    /// ended is never shown again. A change is acted on at once, not after a retry.
    pub fn want(&mut self, desired: Option<Desired>) {
        self.desired = desired.filter(|d| !self.ended.contains(&d.session));
        self.retry_at = None;
    }

    /// `session` ended: its status is owed back.
    pub fn ended(&mut self, session: SessionId) {
        if self.desired.as_ref().is_some_and(|d| d.session == session) {
            self.desired = None;
        }
        if self.ended.insert(session) {
            self.restores.push_back(session);
        }
        self.retry_at = None;
    }

    /// What to do at `now`.
    pub fn next(&self, now: Timestamp) -> Next {
        if let Some(at) = self.retry_at.filter(|at| *at > now) {
            return Next::WaitUntil(at);
        }
        if let Some(session) = self.restores.front() {
            return Next::Act(Action::Restore(*session));
        }
        let Some(desired) = &self.desired else {
            return Next::Idle;
        };
        let shown = self.applied.as_ref() == Some(&(desired.session, desired.text.clone()));
        match (shown, desired.until > now) {
            (false, true) => Next::Act(Action::Show(desired.clone())),
            // A status that promises a time now past (the session runs on only because
            // its last check-in waits for the user to come back) is put back at its
            // lapse, as a platform that expires statuses itself would.
            (true, true) => Next::WaitUntil(desired.until),
            (true, false) => Next::Act(Action::Restore(desired.session)),
            (false, false) => Next::Idle,
        }
    }

    /// How `action`, taken at `now`, went.
    pub fn finished(&mut self, now: Timestamp, action: &Action, outcome: Outcome) {
        let wait = match outcome {
            Outcome::Done => {
                self.backoff = None;
                self.retry_at = None;
                match action {
                    Action::Restore(session) => {
                        self.restores.retain(|owed| owed != session);
                        self.applied = None;
                        // Put back once: not shown again, nor owed again at its end.
                        self.ended.insert(*session);
                        if self.desired.as_ref().is_some_and(|d| d.session == *session) {
                            self.desired = None;
                        }
                    }
                    Action::Show(desired) => {
                        self.applied = Some((desired.session, desired.text.clone()));
                    }
                }
                return;
            }
            Outcome::Failed => {
                let wait = self.backoff.unwrap_or(FIRST_BACKOFF);
                self.backoff = Some((wait * 2).min(MAX_BACKOFF));
                wait
            }
            Outcome::RateLimited(asked) => asked.clamp(SignedDuration::ZERO, MAX_RETRY_AFTER),
            Outcome::NeedsAttention => ATTENTION_RETRY,
        };
        self.retry_at = Some(now.saturating_add(wait).unwrap_or(Timestamp::MAX));
    }

    /// Whether a session's status is still owed back.
    pub fn owes(&self) -> bool {
        !self.restores.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn at(second: i64) -> Timestamp {
        Timestamp::from_second(1_800_000_000 + second).expect("in range")
    }

    fn desired(session: i64, until: i64) -> Desired {
        Desired {
            session: SessionId(session),
            text: format!("Deep work — session {session}"),
            until: at(until),
        }
    }

    #[test]
    fn a_session_is_shown_then_put_back() {
        let mut machine = StatusReconciler::new();
        machine.want(Some(desired(1, 3600)));
        let show = Action::Show(desired(1, 3600));
        assert_eq!(machine.next(at(0)), Next::Act(show.clone()));
        machine.finished(at(0), &show, Outcome::Done);
        assert_eq!(machine.next(at(1)), Next::WaitUntil(at(3600)));
        machine.ended(SessionId(1));
        assert_eq!(
            machine.next(at(2)),
            Next::Act(Action::Restore(SessionId(1)))
        );
        machine.finished(at(2), &Action::Restore(SessionId(1)), Outcome::Done);
        assert_eq!(machine.next(at(3)), Next::Idle);
        machine.want(Some(desired(1, 3600)));
        assert_eq!(
            machine.next(at(4)),
            Next::Idle,
            "an ended session is not shown again"
        );
    }

    #[test]
    fn a_status_is_put_back_when_it_lapses_even_if_the_session_runs_on() {
        let mut machine = StatusReconciler::new();
        machine.want(Some(desired(1, 3600)));
        let show = Action::Show(desired(1, 3600));
        machine.finished(at(0), &show, Outcome::Done);
        assert_eq!(machine.next(at(10)), Next::WaitUntil(at(3600)));

        // The session's end passed while the user was away: it runs on, its digest
        // waiting, but its status promised a time now past.
        let restore = Action::Restore(SessionId(1));
        assert_eq!(machine.next(at(3600)), Next::Act(restore.clone()));
        machine.finished(at(3600), &restore, Outcome::Failed);
        assert_eq!(machine.next(at(3600)), Next::WaitUntil(at(3601)));
        assert_eq!(machine.next(at(3601)), Next::Act(restore.clone()));
        machine.finished(at(3601), &restore, Outcome::Done);
        assert_eq!(machine.next(at(3602)), Next::Idle);

        // Refreshed while it runs on, and ended when the user is back: nothing is shown
        // or put back again.
        machine.want(Some(desired(1, 3600)));
        assert_eq!(machine.next(at(3700)), Next::Idle);
        machine.ended(SessionId(1));
        assert_eq!(machine.next(at(3800)), Next::Idle);
        assert!(!machine.owes());
    }

    #[test]
    fn failures_back_off_within_bounds_and_a_rate_limit_is_capped() {
        let mut machine = StatusReconciler::new();
        machine.want(Some(desired(1, 99_999)));
        let show = Action::Show(desired(1, 99_999));
        machine.finished(at(0), &show, Outcome::Failed);
        assert_eq!(machine.next(at(0)), Next::WaitUntil(at(1)));
        machine.finished(at(1), &show, Outcome::Failed);
        assert_eq!(machine.next(at(1)), Next::WaitUntil(at(3)));
        machine.finished(at(3), &show, Outcome::RateLimited(SignedDuration::MAX));
        assert_eq!(machine.next(at(3)), Next::WaitUntil(at(3 + 3600)));
    }

    #[derive(Clone, Debug)]
    enum Event {
        Want(i64, i64),
        NoSession,
        End(i64),
        Wait(i64),
        Act(u8),
    }

    fn event() -> impl Strategy<Value = Event> {
        prop_oneof![
            (1..4i64, 0..400i64).prop_map(|(s, until)| Event::Want(s, until)),
            Just(Event::NoSession),
            (1..4i64).prop_map(Event::End),
            (0..120i64).prop_map(Event::Wait),
            (0..4u8).prop_map(Event::Act),
        ]
    }

    fn outcome(kind: u8) -> Outcome {
        match kind {
            0 => Outcome::Done,
            1 => Outcome::Failed,
            2 => Outcome::RateLimited(SignedDuration::from_secs(i64::MAX / 4)),
            _ => Outcome::NeedsAttention,
        }
    }

    proptest! {
        #[test]
        fn statuses_are_put_back_never_revived_and_waits_are_bounded(
            events in proptest::collection::vec(event(), 0..60)
        ) {
            let mut machine = StatusReconciler::new();
            let mut now = at(0);
            let mut ended = BTreeSet::new();
            let mut restored = BTreeSet::new();
            // Sessions shown; the lapse each was last wanted with; and those put back at
            // it, never shown again.
            let mut shown = BTreeSet::new();
            let mut lapses = std::collections::BTreeMap::new();
            let mut lapsed = BTreeSet::new();
            for event in events {
                match event {
                    Event::Want(session, until) => {
                        lapses.insert(SessionId(session), at(until));
                        machine.want(Some(desired(session, until)));
                    }
                    Event::NoSession => machine.want(None),
                    Event::End(session) => {
                        ended.insert(SessionId(session));
                        machine.ended(SessionId(session));
                    }
                    Event::Wait(seconds) => now += SignedDuration::from_secs(seconds),
                    Event::Act(kind) => match machine.next(now) {
                        Next::Act(action) => {
                            match (&action, outcome(kind)) {
                                (Action::Show(desired), outcome) => {
                                    prop_assert!(desired.until > now, "a lapsed status is not shown");
                                    prop_assert!(!ended.contains(&desired.session), "an ended session is not shown");
                                    prop_assert!(!lapsed.contains(&desired.session), "a lapsed session is not shown again");
                                    if outcome == Outcome::Done {
                                        shown.insert(desired.session);
                                    }
                                }
                                (Action::Restore(session), Outcome::Done) => {
                                    if !ended.contains(session) {
                                        prop_assert!(shown.contains(session), "only a status shown is put back");
                                        prop_assert!(lapses.get(session).is_some_and(|until| *until <= now), "only an ended or lapsed status is put back");
                                        lapsed.insert(*session);
                                    }
                                    restored.insert(*session);
                                }
                                (Action::Restore(_), _) => {}
                            }
                            machine.finished(now, &action, outcome(kind));
                        }
                        Next::WaitUntil(until) => {
                            prop_assert!(until > now);
                            prop_assert!(until.duration_since(now) <= MAX_RETRY_AFTER, "waits are bounded");
                        }
                        Next::Idle => {}
                    },
                }
            }
            // The platform answers again: everything owed is put back, in a bounded
            // number of steps, and nothing lapsed is shown on the way.
            for _ in 0..100 {
                match machine.next(now) {
                    Next::Act(action) => {
                        match &action {
                            Action::Restore(session) => {
                                if !ended.contains(session) {
                                    lapsed.insert(*session);
                                }
                                restored.insert(*session);
                            }
                            Action::Show(desired) => {
                                prop_assert!(desired.until > now && !ended.contains(&desired.session) && !lapsed.contains(&desired.session));
                                shown.insert(desired.session);
                            }
                        }
                        machine.finished(now, &action, Outcome::Done);
                    }
                    Next::WaitUntil(until) => now = until,
                    Next::Idle => break,
                }
            }
            prop_assert!(!machine.owes());
            let expected: BTreeSet<SessionId> = ended.union(&lapsed).copied().collect();
            prop_assert_eq!(&restored, &expected, "every ended or lapsed session's status is put back, and no other");
            prop_assert_eq!(machine.next(now), Next::Idle);
        }
    }
}
