//! Effects of the session machine made durable (one transaction per step) and then
//! announced: events to subscribers, notices on the desktop.

use super::{CursorSave, Engine, restore};
use crate::api::Event;
use crate::notify::{Loudness, Notice, NoticeAction};
use deepwork_core::digest::{self, DigestId, ItemRecord};
use deepwork_core::session::{Effect, Input, Session, SessionError};
use deepwork_core::{Class, Disposition, ItemId, SessionId};
use deepwork_store::{SessionKind, StoreError};
use jiff::Timestamp;
use std::collections::HashMap;

impl Engine {
    /// Feeds inputs to the machine, writes all their effects in one transaction, then
    /// notifies. If the write fails the machine is reloaded from the store, so memory
    /// never runs ahead of what is durable.
    pub(super) fn step(
        &mut self,
        now: Timestamp,
        inputs: Vec<Input>,
        mut records: HashMap<ItemId, ItemRecord>,
        cursor: Option<CursorSave<'_>>,
    ) -> Result<StepOutcome, StoreError> {
        let mut results = Vec::with_capacity(inputs.len());
        let mut effects = Vec::new();
        for input in inputs {
            results.push(self.machine.handle(now, input));
            while let Some(effect) = self.machine.poll_effect() {
                effects.push(effect);
            }
        }
        if effects.is_empty() && cursor.is_none() {
            return Ok(StepOutcome { results, effects });
        }
        let remaining_check_ins = self.machine.holding().map(|s| (s.id, s.check_ins.clone()));
        let after_hours: Vec<SessionId> = effects
            .iter()
            .filter_map(|effect| match effect {
                Effect::OffHoursEnded { hold, .. } => Some(*hold),
                _ => None,
            })
            .chain(self.machine.off_hours().map(|hold| hold.id))
            .collect();
        let shown: Vec<&ItemRecord> = effects
            .iter()
            .filter_map(|effect| match effect {
                Effect::BreakThrough { item, .. } | Effect::Show { item } => records.get(item),
                _ => None,
            })
            .collect();
        let ladders = self.ladders_for(now, &shown);
        let written = self.store.write(|w| {
            let mut digests = Vec::new();
            for effect in &effects {
                match effect {
                    Effect::SessionStarted {
                        session,
                        started_at,
                        ends_at,
                        check_ins,
                        plan,
                    } => {
                        w.insert_session(
                            *session,
                            SessionKind::Focus,
                            *started_at,
                            *ends_at,
                            check_ins,
                            plan.as_deref(),
                        )?;
                    }
                    Effect::OffHoursStarted {
                        hold,
                        started_at,
                        until,
                    } => {
                        w.insert_session(
                            *hold,
                            SessionKind::OffHours,
                            *started_at,
                            *until,
                            &[*until],
                            None,
                        )?;
                    }
                    Effect::OffHoursEnded { hold, at } => w.end_session(*hold, *at, false)?,
                    Effect::SessionRescheduled {
                        session,
                        ends_at,
                        check_ins,
                    } => {
                        w.reschedule_session(*session, *ends_at, check_ins)?;
                    }
                    Effect::Hold { item, session, .. } => {
                        if let Some(record) = records.get_mut(item) {
                            record.session = Some(*session);
                            record.disposition = Disposition::Held;
                            w.insert_item(record)?;
                        }
                    }
                    Effect::BreakThrough { item, session } => {
                        if let Some(record) = records.get_mut(item) {
                            record.session = Some(*session);
                            record.disposition = Disposition::BrokeThrough;
                            w.insert_item(record)?;
                        }
                    }
                    Effect::Show { item } => {
                        if let Some(record) = records.get_mut(item) {
                            record.disposition = Disposition::Shown;
                            w.insert_item(record)?;
                        }
                    }
                    Effect::DeliverDigest {
                        session, at, items, ..
                    } => {
                        digests.push(w.insert_digest(*session, *at, items)?);
                        if let Some((running, check_ins)) = &remaining_check_ins
                            && running == session
                        {
                            w.set_check_ins(*session, check_ins)?;
                        }
                    }
                    Effect::Away { session, from, to } => w.record_away(*session, *from, *to)?,
                    Effect::SessionEnded { session, at, early } => {
                        w.end_session(*session, *at, *early)?
                    }
                }
            }
            if let Some(save) = &cursor {
                w.set_adapter_cursor(save.adapter, save.session, save.cursor)?;
            }
            for ladder in &ladders {
                w.save_escalation(ladder, true)?;
            }
            Ok(digests)
        });
        let digests = match written {
            Ok(digests) => digests,
            Err(error) => {
                match restore(&self.store) {
                    Ok(mut machine) => {
                        machine.carry_presence(&self.machine);
                        self.machine = machine;
                    }
                    Err(reload) => {
                        tracing::error!(%reload, "could not reload the session after a failed write")
                    }
                }
                return Err(error);
            }
        };
        self.announce(now, &effects, &digests, &records, &after_hours);
        self.opened(now, ladders);
        // Reminders wait while focusing; what is owed is looked at again when a hold
        // starts or ends, or a blocker arrives outside one.
        let owed_changed = effects.iter().any(|effect| match effect {
            Effect::SessionStarted { .. }
            | Effect::OffHoursStarted { .. }
            | Effect::SessionEnded { .. }
            | Effect::OffHoursEnded { .. } => true,
            Effect::Show { item } => records.get(item).is_some_and(|r| r.class == Class::Blocker),
            _ => false,
        });
        if owed_changed {
            self.plan_reminder(now);
        }
        if effects.iter().any(|effect| {
            matches!(
                effect,
                Effect::SessionEnded { .. } | Effect::OffHoursEnded { .. }
            )
        }) {
            self.announce_waiting_standup();
        }
        Ok(StepOutcome { results, effects })
    }

    fn announce(
        &mut self,
        now: Timestamp,
        effects: &[Effect],
        digests: &[DigestId],
        records: &HashMap<ItemId, ItemRecord>,
        after_hours: &[SessionId],
    ) {
        let mut digests = digests.iter();
        for effect in effects {
            let event = match effect {
                Effect::SessionStarted { .. }
                | Effect::SessionRescheduled { .. }
                | Effect::OffHoursStarted { .. } => Event::SessionChanged {
                    status: self.status(now),
                },
                // The platforms put back what the hold's status replaced, as after a session.
                Effect::OffHoursEnded { hold, .. } => Event::SessionEnded {
                    session: *hold,
                    early: false,
                },
                Effect::Hold { item, class, .. } => Event::ItemHeld {
                    item: *item,
                    class: *class,
                    held: self
                        .machine
                        .holding()
                        .map(Session::held_counts)
                        .unwrap_or_default(),
                },
                Effect::BreakThrough { item, .. } => {
                    if let Some(record) = records.get(item) {
                        self.alert(record, "Emergency from");
                    }
                    Event::BrokeThrough { item: *item }
                }
                Effect::Show { item } => {
                    match records.get(item) {
                        Some(record) if record.class == Class::Emergency => {
                            self.alert(record, "Emergency from");
                        }
                        Some(record) => self.show(record),
                        None => {}
                    }
                    Event::ItemShown { item: *item }
                }
                Effect::DeliverDigest {
                    counts,
                    session,
                    welcome_back,
                    ..
                } => {
                    let Some(digest) = digests.next() else {
                        continue;
                    };
                    self.latest_digest = Some(*digest);
                    let summary = counts.summary();
                    let heading = if *welcome_back {
                        "Welcome back"
                    } else if after_hours.contains(session) {
                        "After hours"
                    } else {
                        "Deep work check-in"
                    };
                    self.notifier.notify(Notice {
                        summary: format!("{heading}: {summary}"),
                        body: "See the digest: deepwork digest".into(),
                        loudness: Loudness::Normal,
                        action: Some(NoticeAction::OpenDigest),
                        emergency: None,
                    });
                    Event::CheckIn {
                        digest: *digest,
                        summary,
                        counts: *counts,
                    }
                }
                // Away time is for the stats; the presence change was announced already.
                Effect::Away { .. } => continue,
                Effect::SessionEnded { session, early, .. } => Event::SessionEnded {
                    session: *session,
                    early: *early,
                },
            };
            // No subscriber is not an error: events are for whoever listens.
            let _ = self.events.send(event);
        }
    }

    fn show(&self, record: &ItemRecord) {
        let mut body = record.title.clone();
        if let Some(snippet) = record.body.as_deref().and_then(digest::snippet) {
            body.push('\n');
            body.push_str(&snippet);
        }
        self.notifier.notify(Notice {
            summary: format!("{} · {}", record.sender, record.source),
            body,
            loudness: Loudness::Normal,
            action: None,
            emergency: None,
        });
    }
}

pub(super) struct StepOutcome {
    pub(super) results: Vec<Result<(), SessionError>>,
    pub(super) effects: Vec<Effect>,
}
