//! The written standup: sessions' intents and how they went, and today's draft from
//! what the store and the plans know.

use super::{Engine, storage_error};
use crate::api::{ApiError, ErrorCode, Reply};
use deepwork_core::Class;
use deepwork_core::SessionId;
use deepwork_core::digest;
use deepwork_core::plans::{Planner, WorkHours};
use deepwork_core::standup::{self, Outcome, Owed, PlannedFocus, StandupDraft, StandupFacts};
use jiff::{SignedDuration, Timestamp};

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
        intent.map(Reply::Intent).ok_or_else(|| {
            ApiError::new(
                ErrorCode::NotFound,
                format!("session {session} has no intent"),
            )
        })
    }

    /// Today's standup draft.
    pub(super) fn standup(&self, now: Timestamp) -> Result<StandupDraft, ApiError> {
        let since = now.checked_sub(LOOK_BACK).unwrap_or(Timestamp::MIN);
        let intents = self.store.intents_since(since).map_err(storage_error)?;
        let done_items = self.store.done_since(since).map_err(storage_error)?;
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
            shipped: &[],
            planned: &planned,
            owed: &owed,
        }))
    }
}
