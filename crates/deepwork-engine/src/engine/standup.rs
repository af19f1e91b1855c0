//! The written standup: sessions' intents and how they went, and today's draft from
//! what the store and the plans know.

use super::{Engine, storage_error};
use crate::api::{ApiError, ErrorCode, Event, Reply};
use crate::chat_calls::ChatError;
use crate::notify::{Loudness, Notice, NoticeAction};
use deepwork_adapters::WorkDone;
use deepwork_core::Class;
use deepwork_core::SessionId;
use deepwork_core::digest;
use deepwork_core::plans::{Planner, WorkHours};
use deepwork_core::standup::{
    self, Intent, Outcome, Owed, PlannedFocus, PostTarget, Posted, StandupDraft, StandupEntry,
    StandupFacts,
};
use jiff::{SignedDuration, Timestamp, ToSpan};

/// How long after its start an intent's outcome is still asked for.
const ASKED_FOR: SignedDuration = SignedDuration::from_hours(24);
/// How far back intents and handled items are read for a draft.
const LOOK_BACK: SignedDuration = SignedDuration::from_hours(14 * 24);

impl Engine {
    /// Records how a session's intent went (the latest session with one by default).
    pub(super) fn outcome(
        &mut self,
        session: Option<SessionId>,
        outcome: Outcome,
        note: Option<&str>,
    ) -> Result<Reply, ApiError> {
        let session = match session {
            Some(session) => session,
            None => match self.store.latest_intent().map_err(storage_error)? {
                Some(intent) => intent.session,
                None => {
                    return Err(ApiError::new(
                        ErrorCode::NotFound,
                        "no session has an intent yet; start one with --intent",
                    ));
                }
            },
        };
        let note = note.map(str::trim).filter(|n| !n.is_empty());
        let note = note.and_then(standup::clean_intent);
        let found = self
            .store
            .write(|w| w.set_outcome(session, outcome, note.as_deref()))
            .map_err(storage_error)?;
        if !found {
            return Err(ApiError::new(
                ErrorCode::NotFound,
                format!("session {session} has no intent"),
            ));
        }
        let intent = self
            .store
            .intents_since(Timestamp::MIN)
            .map_err(storage_error)?
            .into_iter()
            .find(|intent| intent.session == session);
        if self
            .latest_intent
            .as_ref()
            .is_some_and(|latest| latest.session == session)
        {
            self.latest_intent.clone_from(&intent);
        }
        intent.map(Reply::Intent).ok_or_else(|| {
            ApiError::new(
                ErrorCode::NotFound,
                format!("session {session} has no intent"),
            )
        })
    }

    /// The latest intent whose session has ended without the user saying how it went,
    /// for a day after it started: the window asks.
    pub(super) fn unsaid_intent(&self, now: Timestamp) -> Option<Box<Intent>> {
        let intent = self.latest_intent.as_ref()?;
        let running = self
            .machine
            .session()
            .is_some_and(|s| s.id == intent.session);
        let recent = now.duration_since(intent.started_at) < ASKED_FOR;
        (intent.outcome.is_none() && !running && recent).then(|| Box::new(intent.clone()))
    }

    /// Today's standup: as kept, or drafted now (also when `fresh`, keeping where the
    /// kept one was posted).
    pub(super) fn standup(&self, now: Timestamp, fresh: bool) -> Result<StandupEntry, ApiError> {
        let today = now.to_zoned(self.tz.clone()).date();
        let kept = self.store.standup(today).map_err(storage_error)?;
        match kept {
            Some(kept) if !fresh => Ok(kept),
            kept => Ok(StandupEntry {
                draft: self.draft_standup(now)?,
                kept: false,
                edited_at: None,
                posted: kept.and_then(|k| k.posted),
            }),
        }
    }

    /// Keeps the user's edit of a standup.
    pub(super) fn save_standup(
        &mut self,
        now: Timestamp,
        draft: StandupDraft,
    ) -> Result<StandupEntry, ApiError> {
        let today = now.to_zoned(self.tz.clone()).date();
        let latest = today.checked_add(1.day()).unwrap_or(today);
        if draft.date > latest || draft.since > draft.date {
            return Err(ApiError::new(
                ErrorCode::BadRequest,
                format!(
                    "a standup for {} looking back to {} cannot be kept; write today's",
                    draft.date, draft.since
                ),
            ));
        }
        let draft = draft.cleaned();
        self.store
            .write(|w| w.save_standup(&draft, Some(now)))
            .map_err(storage_error)?;
        self.kept_standup(draft.date)
    }

    /// The kept standups, newest first.
    pub(super) fn standups(&self, limit: u32) -> Result<Reply, ApiError> {
        self.store
            .standups(limit)
            .map(Reply::Standups)
            .map_err(storage_error)
    }

    fn kept_standup(&self, day: jiff::civil::Date) -> Result<StandupEntry, ApiError> {
        self.store
            .standup(day)
            .map_err(storage_error)?
            .ok_or_else(|| {
                ApiError::new(
                    ErrorCode::Storage,
                    format!("the standup of {day} was not kept"),
                )
            })
    }

    /// What posting asks for: the draft (`draft`, else today's), kept first so that a
    /// failed post loses nothing, and the place (`to`, else `[standup] post_to`).
    pub fn prepare_post(
        &mut self,
        now: Timestamp,
        draft: Option<StandupDraft>,
        to: Option<PostTarget>,
    ) -> Result<(PostTarget, StandupDraft), ApiError> {
        let entry = match draft {
            Some(draft) => self.save_standup(now, draft)?,
            None => {
                let entry = self.standup(now, false)?;
                if !entry.kept {
                    self.store
                        .write(|w| w.save_standup(&entry.draft, None))
                        .map_err(storage_error)?;
                }
                entry
            }
        };
        let to = to
            .or_else(|| self.config.standup.post_to.clone())
            .ok_or_else(|| {
                ApiError::new(
                    ErrorCode::NotPosted,
                    "no place to post to: set [standup] post_to (like \"slack:#team\") or name one (the standup is kept)",
                )
            })?;
        Ok((to, entry.draft))
    }

    /// Records where the standup of `day` was posted.
    pub fn standup_posted(
        &mut self,
        day: jiff::civil::Date,
        posted: &Posted,
    ) -> Result<StandupEntry, ApiError> {
        self.store
            .write(|w| w.set_standup_posted(day, posted))
            .map_err(storage_error)?;
        tracing::info!(to = %posted.to, %day, "standup posted");
        self.kept_standup(day)
    }

    /// Keeps what `adapter` says of the user's work, for drafts to come.
    pub(super) fn record_work(
        &mut self,
        now: Timestamp,
        adapter: &str,
        work: &WorkDone,
    ) -> Result<(), ChatError> {
        let forget_before = now.checked_sub(LOOK_BACK).unwrap_or(Timestamp::MIN);
        self.store
            .write(|w| w.record_source_work(adapter, &work.shipped, &work.blocked, forget_before))
            .map_err(super::chat::chat_store_error)
    }

    /// When the day's standup is next drafted by itself.
    pub(super) fn plan_standup(&mut self, now: Timestamp) {
        let last = match self.store.last_standup_day() {
            Ok(last) => last,
            Err(error) => {
                tracing::warn!(%error, "cannot read the kept standups; no daily draft");
                self.next_standup = None;
                return;
            }
        };
        self.next_standup = standup::next_draft_at(
            &self.config.standup,
            &self.config.plans.days_off,
            now,
            &self.tz,
            last,
        );
    }

    /// Drafts and keeps the day's standup when its time has come, and says so.
    pub(super) fn draft_standup_when_due(&mut self, now: Timestamp) {
        if self.next_standup.is_none_or(|due| due > now) {
            return;
        }
        let kept = self.draft_standup(now).and_then(|draft| {
            self.store
                .write(|w| w.save_standup(&draft, None))
                .map_err(storage_error)
                .map(|()| draft)
        });
        match kept {
            Ok(draft) => {
                // Its notice waits for the end of a session or the after-hours hold.
                if self.machine.holding().is_some() {
                    self.standup_waiting = Some(draft.date);
                } else {
                    self.announce_standup(&draft);
                }
                let _ = self.events.send(Event::StandupDrafted { date: draft.date });
                self.plan_standup(now);
            }
            Err(error) => {
                tracing::error!(%error, "could not draft the standup; trying again shortly");
                self.next_standup = now.checked_add(super::RETRY_AFTER_FAILURE).ok();
            }
        }
    }

    /// The desktop notice that the day's standup is drafted.
    fn announce_standup(&self, draft: &StandupDraft) {
        let lines = draft.shipped.len() + draft.today.len() + draft.blockers.len();
        self.notifier.notify(Notice {
            summary: "Your standup is drafted".into(),
            body: format!(
                "{lines} lines to read over, edit and post ({} shipped, {} today, {} blocking).",
                draft.shipped.len(),
                draft.today.len(),
                draft.blockers.len()
            ),
            loudness: Loudness::Normal,
            action: Some(NoticeAction::OpenStandup),
            emergency: None,
        });
    }

    /// Gives the standup's notice that waited for a session (or the hold) to end.
    pub(super) fn announce_waiting_standup(&mut self) {
        if self.machine.holding().is_some() {
            return;
        }
        let Some(day) = self.standup_waiting.take() else {
            return;
        };
        match self.store.standup(day) {
            Ok(Some(entry)) if entry.posted.is_none() => self.announce_standup(&entry.draft),
            Ok(_) => {}
            Err(error) => tracing::warn!(%error, "could not read the drafted standup"),
        }
    }

    /// Today's standup drafted from what the store, the plans and the sources know.
    fn draft_standup(&self, now: Timestamp) -> Result<StandupDraft, ApiError> {
        let since = now.checked_sub(LOOK_BACK).unwrap_or(Timestamp::MIN);
        let intents = self.store.intents_since(since).map_err(storage_error)?;
        let done_items = self.store.done_since(since).map_err(storage_error)?;
        let (shipped, blocked) = self.store.source_work(since).map_err(storage_error)?;
        let hours = WorkHours::new(&self.config.plans, &self.tz);
        let owed: Vec<Owed> = self
            .store
            .open_items(since)
            .map_err(storage_error)?
            .into_iter()
            .map(|open| open.record)
            .filter(|item| item.class == Class::Blocker)
            .map(|item| Owed {
                reply_by: digest::item_reply_by(&item, &self.config.response_windows, &hours),
                item,
            })
            .collect();
        let today = now.to_zoned(self.tz.clone()).date();
        let planned: Vec<PlannedFocus> = Planner::new(&self.config.plans, &self.tz)
            .with_events(&self.calendar_events)
            .pieces_on(today)
            .into_iter()
            .map(|piece| PlannedFocus {
                from: piece.from,
                until: piece.until,
                title: piece.title,
            })
            .collect();
        Ok(standup::draft(&StandupFacts {
            now,
            tz: &self.tz,
            hours: &hours,
            intents: &intents,
            done_items: &done_items,
            shipped: &shipped,
            blocked: &blocked,
            planned: &planned,
            owed: &owed,
        }))
    }
}
