//! Emergencies followed until acknowledged. The engine keeps each open ladder in
//! memory, stores it after every change, performs its desktop alerts itself and hands
//! every other step to the escalation worker, durably marked as being sent first.

use super::{Engine, storage_error};
use crate::api::{ApiError, ErrorCode, EscalationStatus, Event, Reply};
use crate::escalate::{Alert, Job};
use crate::notify::{Loudness, Notice, NoticeAction};
use deepwork_core::digest::{self, Digest, ItemRecord};
use deepwork_core::escalation::{
    AckVia, Dispatch, EscalationConfig, Ladder, Outcome, Step, is_acknowledgement,
};
use deepwork_core::{Class, ItemId};
use jiff::Timestamp;
use tokio::sync::mpsc;

impl Engine {
    /// Connects the worker that sends texts, calls and commands as `config` says;
    /// `twilio` says whether Twilio credentials were found, `problem` why escalation is
    /// limited, if it is. New emergencies follow the plan from here; those open keep
    /// theirs. At the first connection, steps that were being sent when the engine
    /// stopped go again, checked first; a later worker (credentials stored, config
    /// reloaded) leaves them to the one that has them.
    pub fn set_escalator(
        &mut self,
        jobs: mpsc::UnboundedSender<Job>,
        config: &EscalationConfig,
        twilio: bool,
        problem: Option<String>,
        now: Timestamp,
    ) {
        let first = self.escalation_jobs.is_none();
        self.escalation_plan = config.plan(twilio);
        if let Some(problem) = &problem {
            tracing::warn!(%problem, "emergencies are escalated only in part");
        }
        self.escalation_problem = problem;
        self.escalation_jobs = Some(jobs);
        if first {
            let resumed: Vec<Dispatch> =
                self.escalations.values().flat_map(Ladder::resume).collect();
            for dispatch in resumed {
                self.hand_over(now, dispatch);
            }
        }
        self.watching_replies = None;
        self.watch_replies(now);
    }

    /// A ladder for each emergency among `records` that is being shown now.
    pub(super) fn ladders_for(&self, now: Timestamp, shown: &[&ItemRecord]) -> Vec<Ladder> {
        shown
            .iter()
            .filter(|record| record.class == Class::Emergency)
            .map(|record| {
                let mut ladder = Ladder::open(
                    record.id,
                    now,
                    &self.escalation_plan,
                    self.config.response_windows.emergency.0,
                );
                if !self.notifier.shows() {
                    ladder.not_shown(now, "desktop notifications are off in the config");
                }
                ladder
            })
            .collect()
    }

    /// Takes in ladders just stored, and performs what is due on them already.
    pub(super) fn opened(&mut self, now: Timestamp, ladders: Vec<Ladder>) {
        for ladder in ladders {
            tracing::info!(item = %ladder.item, next = ?ladder.next_step(), "escalating an emergency until it is acknowledged");
            self.escalations.insert(ladder.item, ladder);
        }
        self.escalate(now);
    }

    /// When the next step of any ladder falls due.
    pub(super) fn next_escalation(&self) -> Option<Timestamp> {
        self.escalations.values().filter_map(Ladder::next_due).min()
    }

    /// Performs every step due at `now`, each marked as being sent before it is, and
    /// lets go of ladders that no longer matter.
    pub(super) fn escalate(&mut self, now: Timestamp) {
        let past: Vec<ItemId> = self
            .escalations
            .values()
            .filter(|ladder| !ladder.is_live(now))
            .map(|ladder| ladder.item)
            .collect();
        for item in past {
            self.change_ladder(now, item, |_| {});
        }
        let mut due = Vec::new();
        for ladder in self.escalations.values_mut() {
            let taken = ladder.take_due(now);
            if !taken.is_empty() {
                due.push((ladder.clone(), taken));
            }
        }
        if due.is_empty() {
            return;
        }
        let saved = self.store.write(|w| {
            for (ladder, _) in &due {
                w.save_escalation(ladder, true)?;
            }
            Ok(())
        });
        if let Err(error) = saved {
            // Not marked, so not sent: reloaded, the steps fall due again shortly.
            tracing::error!(%error, "could not record an escalation step; retrying shortly");
            self.reload_escalations(now);
            self.retry_at = now.checked_add(super::RETRY_AFTER_FAILURE).ok();
            return;
        }
        for dispatch in due.into_iter().flat_map(|(_, taken)| taken) {
            tracing::info!(item = %dispatch.item, step = ?dispatch.step, attempt = dispatch.attempt, "escalation step due");
            self.hand_over(now, dispatch);
        }
    }

    fn reload_escalations(&mut self, now: Timestamp) {
        match self.store.open_escalations() {
            Ok(ladders) => {
                self.escalations = ladders
                    .into_iter()
                    .filter(|l| l.is_live(now))
                    .map(|l| (l.item, l))
                    .collect();
            }
            Err(error) => tracing::error!(%error, "could not read the open escalations"),
        }
    }

    /// Performs one step: the desktop alert here, the rest by the worker.
    fn hand_over(&mut self, now: Timestamp, dispatch: Dispatch) {
        let record = match self.store.item(dispatch.item) {
            Ok(Some(record)) => record,
            Ok(None) => {
                let outcome = Outcome::Refused {
                    reason: "the item is gone".into(),
                };
                return self.escalation_outcome(now, dispatch, outcome);
            }
            Err(error) => {
                let outcome = Outcome::Retry {
                    reason: format!("the database failed: {error}"),
                    retry_after: None,
                };
                return self.escalation_outcome(now, dispatch, outcome);
            }
        };
        if dispatch.step == Step::Renotify {
            self.alert(&record, "Still unacknowledged: emergency from");
            return self.escalation_outcome(now, dispatch, Outcome::Sent);
        }
        let since = self
            .escalations
            .get(&dispatch.item)
            .and_then(|ladder| ladder.sending_since(dispatch.step))
            .unwrap_or(now);
        let job = Job::Perform {
            dispatch,
            since,
            alert: Alert {
                item: record.id,
                sender: record.sender.clone(),
                title: record.title.clone(),
                source: record.source.clone(),
                received_at: record.received_at,
            },
        };
        let handed = self
            .escalation_jobs
            .as_ref()
            .is_some_and(|jobs| jobs.send(job).is_ok());
        if !handed {
            let outcome = Outcome::Retry {
                reason: "the escalation worker is not running".into(),
                retry_after: None,
            };
            self.escalation_outcome(now, dispatch, outcome);
        }
    }

    /// Shows an emergency on the desktop, with "I'm on it" and "Open".
    pub(super) fn alert(&self, record: &ItemRecord, summary: &str) {
        let mut body = record.title.clone();
        if let Some(snippet) = record.body.as_deref().and_then(digest::snippet) {
            body.push('\n');
            body.push_str(&snippet);
        }
        self.notifier.notify(Notice {
            summary: format!("{summary} {}", record.sender),
            body,
            loudness: Loudness::Critical,
            action: Some(NoticeAction::Acknowledge(record.id)),
            emergency: Some(record.id),
        });
    }

    /// What became of a step's attempt.
    pub fn escalation_outcome(&mut self, now: Timestamp, dispatch: Dispatch, outcome: Outcome) {
        if let Outcome::Refused { reason } | Outcome::Retry { reason, .. } = &outcome {
            tracing::warn!(item = %dispatch.item, step = ?dispatch.step, %reason, "an escalation step did not go out");
        }
        self.change_ladder(now, dispatch.item, |ladder| {
            ladder.outcome(dispatch.step, dispatch.attempt, now, outcome);
        });
        self.escalate(now);
    }

    /// An emergency's notification could not be shown: the next step goes now.
    pub fn escalation_not_shown(&mut self, now: Timestamp, item: ItemId, reason: &str) {
        self.change_ladder(now, item, |ladder| ladder.not_shown(now, reason));
        self.escalate(now);
    }

    /// A text from the user's phone: one that acknowledges ("ack", "ok") closes every
    /// emergency whose SMS went out before it.
    pub fn sms_reply(&mut self, now: Timestamp, at: Timestamp, text: &str) {
        if !is_acknowledgement(text) {
            tracing::info!("a text reply that does not acknowledge was ignored");
            return;
        }
        let answered: Vec<ItemId> = self
            .escalations
            .values()
            .filter(|ladder| {
                ladder
                    .awaits_reply(now)
                    .is_some_and(|sent| sent - crate::escalate::CLOCK_MARGIN <= at)
            })
            .map(|ladder| ladder.item)
            .collect();
        for item in answered {
            self.change_ladder(now, item, |ladder| {
                ladder.acknowledge(at, AckVia::Sms);
            });
        }
    }

    /// Acknowledges one emergency, or every open one.
    pub(super) fn acknowledge(
        &mut self,
        now: Timestamp,
        item: Option<ItemId>,
        via: AckVia,
    ) -> Result<Reply, ApiError> {
        let items: Vec<ItemId> = match item {
            Some(item) => {
                let known = self.escalations.contains_key(&item)
                    || !self
                        .store
                        .escalations_of(&[item])
                        .map_err(storage_error)?
                        .is_empty();
                if !known {
                    return Err(ApiError::new(
                        ErrorCode::NotFound,
                        format!("item {item} is no emergency being escalated"),
                    ));
                }
                vec![item]
            }
            // Only unacknowledged ones are kept: an acknowledged ladder leaves at once.
            None => self.escalations.keys().copied().collect(),
        };
        let mut acknowledged = Vec::new();
        for item in items {
            if self.escalations.contains_key(&item) {
                let mut changed = false;
                self.change_ladder(now, item, |ladder| changed = ladder.acknowledge(now, via));
                if changed {
                    acknowledged.push(item);
                }
            }
        }
        Ok(Reply::Acknowledged(acknowledged))
    }

    /// Applies `change` to an open ladder and stores it; a closed one leaves memory.
    fn change_ladder(&mut self, now: Timestamp, item: ItemId, change: impl FnOnce(&mut Ladder)) {
        let Some(ladder) = self.escalations.get_mut(&item) else {
            return;
        };
        let before = ladder.clone();
        change(ladder);
        let keep = ladder.is_live(now);
        if *ladder == before && keep {
            return;
        }
        let ladder = ladder.clone();
        if let Err(error) = self.store.write(|w| w.save_escalation(&ladder, keep)) {
            tracing::error!(%error, %item, "could not record an escalation; it is kept as it was");
            self.escalations.insert(item, before);
            return;
        }
        if let Some((_, via)) = ladder.acknowledged
            && before.acknowledged.is_none()
        {
            tracing::info!(%item, ?via, "emergency acknowledged");
            let _ = self.events.send(Event::Acknowledged { item });
        }
        if keep {
            self.escalations.insert(item, ladder);
        } else {
            self.escalations.remove(&item);
        }
        self.watch_replies(now);
    }

    /// Tells the worker whether text replies may acknowledge anything, and from when.
    fn watch_replies(&mut self, now: Timestamp) {
        let since = self
            .escalations
            .values()
            .filter_map(|ladder| ladder.awaits_reply(now))
            .min();
        if since == self.watching_replies {
            return;
        }
        self.watching_replies = since;
        if let Some(jobs) = &self.escalation_jobs {
            let _ = jobs.send(Job::WatchReplies(since));
        }
    }

    /// Each open emergency's story, and what limits escalation, for `status`.
    pub(super) fn escalation_status(&self) -> Vec<EscalationStatus> {
        self.escalations
            .values()
            .map(|ladder| EscalationStatus {
                item: ladder.item,
                opened_at: ladder.opened_at,
                next_step: ladder
                    .next_step()
                    .map(|(step, at)| (step.label().to_owned(), at)),
                timeline: ladder.timeline(),
            })
            .collect()
    }

    /// Fills in the story of each emergency in `digest`.
    pub(super) fn with_escalations(&self, mut digest: Digest) -> Result<Digest, ApiError> {
        let emergencies: Vec<ItemId> = digest
            .groups
            .iter()
            .filter(|group| group.class == Class::Emergency)
            .flat_map(|group| group.items.iter().map(|item| item.id))
            .collect();
        if emergencies.is_empty() {
            return Ok(digest);
        }
        let ladders = self
            .store
            .escalations_of(&emergencies)
            .map_err(storage_error)?;
        for entry in digest
            .groups
            .iter_mut()
            .flat_map(|group| group.items.iter_mut())
        {
            if let Some(ladder) = ladders.iter().find(|ladder| ladder.item == entry.id) {
                entry.escalation = ladder.timeline();
            }
        }
        Ok(digest)
    }
}
