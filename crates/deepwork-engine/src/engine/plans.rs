//! The engine's side of `[plans]`: focus blocks start and end sessions by themselves,
//! and outside work hours what arrives is held for the next working morning.

use super::{Engine, storage_error};
use crate::api::{ApiError, BlockState, BlockStatus, ErrorCode, PlanDay, Reply, TimeSpan};
use crate::calendars::{CalendarRead, CalendarValidators, READ_AHEAD, READ_BEHIND};
use deepwork_adapters::calendar::Fetched;
use deepwork_core::SessionId;
use deepwork_core::plans::calendar::events_between;
use deepwork_core::plans::{Occurrence, Planned, Planner};
use deepwork_core::schedule;
use deepwork_core::session::{Input, MAX_SESSION};
use deepwork_core::stats::IsoWeek;
use deepwork_store::{CalendarCopy, PlanFate};
use jiff::{SignedDuration, Timestamp};

/// The most days `plan` shows.
const MAX_PLAN_DAYS: u32 = 62;

impl Engine {
    /// Does what the plans want at `now` unless a session runs: start a focus block,
    /// begin or end the after-hours hold. Remembers when to look again.
    pub(super) fn follow_plans(&mut self, now: Timestamp) {
        if self.machine.session().is_some() {
            // A running session is never cut short by a plan (its end brings a tick), only
            // by a meeting in the calendar.
            self.next_plan = None;
            self.make_way_for_meetings(now);
            if self.machine.session().is_some() {
                return;
            }
        }
        let planner = Planner::new(&self.config.plans, &self.tz).with_events(&self.calendar_events);
        let planned = planner.planned_at(now, |piece| self.piece_taken(piece));
        self.next_plan = planner.next_change(now);
        let input = match planned {
            Planned::Focus(block) => self.planned_start(now, block),
            Planned::OffHours { until } if self.machine.off_hours().is_none() => {
                let id = SessionId(self.next_session);
                self.next_session += 1;
                Input::HoldOffHours { id, until }
            }
            Planned::Open if self.machine.off_hours().is_some() => Input::EndOffHours,
            Planned::OffHours { .. } | Planned::Open => return,
        };
        match self.session_input(now, input) {
            Ok(_) => self.plan_problem = None,
            Err(error) => {
                tracing::error!(%error, "could not follow the plans; trying again shortly");
                self.plan_problem = Some(format!("plans: {}", error.message));
                self.next_plan = now.checked_add(super::RETRY_AFTER_FAILURE).ok();
            }
        }
    }

    /// A piece of planned focus ran, or it or its whole block was skipped. A store that
    /// cannot say counts it as taken: a block not started is better than one started
    /// twice.
    fn piece_taken(&self, piece: &Occurrence) -> bool {
        let fate = |plan: &str| {
            self.store.plan_fate(plan).unwrap_or_else(|error| {
                tracing::warn!(%error, plan, "could not read whether a block ran");
                Some(PlanFate::Skipped)
            })
        };
        fate(&piece.key).is_some() || fate(&piece.block) == Some(PlanFate::Skipped)
    }

    /// A running session ends for a meeting: at its check-in (`before_meeting` ahead),
    /// or now if the meeting began during the session (the calendar told of it late).
    /// A meeting already under way when the session started is the user's choice to
    /// skip it; the next one still counts.
    fn make_way_for_meetings(&mut self, now: Timestamp) {
        let Some(session) = self.machine.session() else {
            return;
        };
        let planner = Planner::new(&self.config.plans, &self.tz).with_events(&self.calendar_events);
        let Some(mut meeting) = planner.busy_after(now) else {
            return;
        };
        if meeting.from <= session.started_at {
            match planner.busy_after(meeting.until) {
                Some(next) => meeting = next,
                None => return,
            }
        }
        if meeting.from >= session.ends_at {
            return;
        }
        let input = if meeting.from <= now {
            Input::Stop
        } else {
            // The session ends as the meeting starts, with a check-in before it.
            let until = meeting.from;
            let mut check_ins: Vec<Timestamp> = session
                .check_ins
                .iter()
                .copied()
                .filter(|at| *at < meeting.check_in)
                .collect();
            if meeting.check_in > now {
                check_ins.push(meeting.check_in);
            }
            check_ins.push(until);
            Input::Extend { until, check_ins }
        };
        if let Err(error) = self.session_input(now, input) {
            tracing::error!(%error, "could not end the session for a meeting");
        }
    }

    /// The calendars' events around `now`, read again from the copies kept.
    pub(super) fn read_calendar_copies(&mut self, now: Timestamp) {
        let from = now.checked_sub(READ_BEHIND).unwrap_or(now);
        let until = now.checked_add(READ_AHEAD).unwrap_or(now);
        let focus = self.config.plans.focus_match.regex();
        let mut events = Vec::new();
        for copy in self.calendar_copies.values() {
            match events_between(&copy.body, from, until, focus, &self.tz) {
                Ok(found) => events.extend(found),
                Err(error) => {
                    self.calendar_problems
                        .insert(copy.url.clone(), format!("calendar {}: {error}", copy.url));
                }
            }
        }
        events.sort_by_key(|e| e.from);
        self.calendar_events = events;
    }

    /// The validators of the calendar copies the engine accepted, for the reader.
    pub fn calendar_validators(&self) -> CalendarValidators {
        self.calendar_validators.clone()
    }

    /// Forgets the copies of calendars no longer in the config, and tells the reader
    /// the versions of those kept.
    pub(super) fn keep_only_followed_calendars(&mut self, followed: &[String]) {
        let urls: Vec<&str> = followed.iter().map(String::as_str).collect();
        if let Err(error) = self.store.write(|w| w.keep_calendar_copies(&urls)) {
            tracing::warn!(%error, "could not forget the copies of calendars no longer followed");
        }
        for copy in self.calendar_copies.values() {
            if let Some(validator) = &copy.validator {
                self.calendar_validators.accept(&copy.url, validator);
            }
        }
    }

    /// What the calendar reader found: a new copy is kept (in the store, so it still
    /// applies after a restart with the server down), a failure is reported in status
    /// while the last good copy goes on applying.
    pub fn calendar_read(&mut self, now: Timestamp, read: CalendarRead) {
        self.tick(now);
        let CalendarRead { url, outcome } = read;
        match outcome {
            Ok(Fetched::Changed { body, validator }) => {
                let focus = self.config.plans.focus_match.regex();
                let window = (
                    now.checked_sub(READ_BEHIND).unwrap_or(now),
                    now.checked_add(READ_AHEAD).unwrap_or(now),
                );
                match events_between(&body, window.0, window.1, focus, &self.tz) {
                    Ok(_) => {
                        let copy = CalendarCopy {
                            url: url.clone(),
                            body,
                            validator,
                            fetched_at: now,
                        };
                        match self.store.write(|w| w.save_calendar_copy(&copy)) {
                            Ok(()) => {
                                self.calendar_problems.remove(&url);
                                if let Some(validator) = &copy.validator {
                                    self.calendar_validators.accept(&url, validator);
                                }
                            }
                            Err(error) => {
                                self.calendar_problems.insert(
                                    url.clone(),
                                    format!("calendar {url}: could not keep its copy: {error}"),
                                );
                            }
                        }
                        self.calendar_copies.insert(url, copy);
                    }
                    Err(error) => {
                        let kept = self.kept_copy_note(&url);
                        self.calendar_problems
                            .insert(url.clone(), format!("calendar {url}: {error}; {kept}"));
                    }
                }
            }
            Ok(Fetched::Unchanged) => {
                self.calendar_problems.remove(&url);
            }
            Err(error) => {
                let kept = self.kept_copy_note(&url);
                self.calendar_problems
                    .insert(url.clone(), format!("calendar {url}: {error}; {kept}"));
            }
        }
        self.read_calendar_copies(now);
        self.follow_plans(now);
    }

    fn kept_copy_note(&self, url: &str) -> String {
        match self.calendar_copies.get(url) {
            Some(copy) => format!(
                "the copy read {} still applies",
                copy.fetched_at
                    .to_zoned(self.tz.clone())
                    .strftime("%a %d %b %H:%M")
            ),
            None => "no copy of it yet".to_owned(),
        }
    }

    fn planned_start(&mut self, now: Timestamp, block: Occurrence) -> Input {
        let slots = if block.check_ins.is_empty() {
            &self.config.session.check_in_slots
        } else {
            &block.check_ins
        };
        // A calendar focus event may be longer than a session may last.
        let until = block
            .until
            .min(now.checked_add(MAX_SESSION).unwrap_or(block.until));
        let mut check_ins = schedule::slot_check_ins(now, until, &self.tz, slots);
        check_ins.extend(block.before_meeting.filter(|at| now < *at && *at < until));
        check_ins.sort();
        check_ins.push(until);
        let id = SessionId(self.next_session);
        self.next_session += 1;
        Input::Start {
            id,
            until,
            check_ins,
            plan: Some(block.key),
        }
    }

    /// Ends the running session by hand. A block running now (the session's own, or
    /// one that a session by hand overlapped) counts as skipped, so it does not start
    /// again the moment the user stopped.
    pub(super) fn stop(&mut self, now: Timestamp) -> Result<Reply, ApiError> {
        self.session_input(now, Input::Stop)?;
        let covering: Vec<String> = self
            .blocks_on_day_of(now)
            .into_iter()
            .filter(|block| block.from <= now && now < block.until)
            .map(|block| block.key)
            .collect();
        for plan in covering {
            if let Err(error) = self.store.write(|w| w.skip_plan(&plan, now)) {
                tracing::warn!(%error, plan, "could not remember a stopped block as skipped");
            }
        }
        self.follow_plans(now);
        Ok(Reply::Status(self.status(now)))
    }

    /// Skips `plan`, or the block running or next to come today.
    pub(super) fn skip_block(
        &mut self,
        now: Timestamp,
        plan: Option<String>,
    ) -> Result<Reply, ApiError> {
        let today = self.blocks_on_day_of(now);
        let running = self.machine.session().and_then(|s| s.plan.clone());
        let chosen = match plan {
            Some(plan) => {
                let planner =
                    Planner::new(&self.config.plans, &self.tz).with_events(&self.calendar_events);
                let mut date = now.to_zoned(self.tz.clone()).date();
                let mut known = false;
                for _ in 0..MAX_PLAN_DAYS {
                    known |= planner.focus_on(date).iter().any(|o| o.key == plan);
                    let Ok(next) = date.tomorrow() else { break };
                    date = next;
                }
                if !known {
                    return Err(ApiError::new(
                        ErrorCode::NotFound,
                        format!(
                            "no focus block {plan:?} in the coming weeks; deepwork plan --json names them"
                        ),
                    ));
                }
                plan
            }
            None => running
                .as_deref()
                .and_then(|piece| today.iter().find(|block| part_of(piece, &block.key)))
                .or_else(|| {
                    today.iter().find(|block| {
                        now < block.until && matches!(self.store.plan_fate(&block.key), Ok(None))
                    })
                })
                .map(|block| block.key.clone())
                .ok_or_else(|| {
                    ApiError::new(ErrorCode::NotFound, "no focus block is left today")
                })?,
        };
        self.store
            .write(|w| w.skip_plan(&chosen, now))
            .map_err(storage_error)?;
        let running_it = running
            .as_deref()
            .is_some_and(|piece| part_of(piece, &chosen));
        if running_it {
            self.session_input(now, Input::Stop)?;
        }
        self.follow_plans(now);
        Ok(Reply::Status(self.status(now)))
    }

    /// The blocks and calendar focus events of the day of `at`.
    fn blocks_on_day_of(&self, at: Timestamp) -> Vec<Occurrence> {
        let planner = Planner::new(&self.config.plans, &self.tz).with_events(&self.calendar_events);
        planner.focus_on(at.to_zoned(self.tz.clone()).date())
    }

    /// Where a block stands at `now` (a part of it running after a meeting counts).
    fn block_status(&self, now: Timestamp, block: Occurrence) -> BlockStatus {
        let running = self
            .machine
            .session()
            .and_then(|session| session.plan.as_deref())
            .is_some_and(|piece| part_of(piece, &block.key));
        let state = if running {
            BlockState::Running
        } else {
            match self.store.plan_fate(&block.key) {
                Ok(Some(PlanFate::Ran)) => BlockState::Ran,
                Ok(Some(PlanFate::Skipped)) => BlockState::Skipped,
                Ok(None) if block.until <= now => BlockState::Missed,
                Ok(None) | Err(_) => BlockState::Planned,
            }
        };
        BlockStatus {
            plan: block.key,
            span: TimeSpan {
                from: block.from,
                until: block.until,
            },
            state,
            title: block.title,
        }
    }

    /// The block running now, or the next one to come within a week.
    pub(super) fn next_block_status(&self, now: Timestamp) -> Option<BlockStatus> {
        let planner = Planner::new(&self.config.plans, &self.tz).with_events(&self.calendar_events);
        let week_later = now.checked_add(SignedDuration::from_hours(7 * 24)).ok()?;
        let mut after = now;
        let today = self.blocks_on_day_of(now);
        let current = today
            .into_iter()
            .find(|block| block.from <= now && now < block.until)
            .map(|block| self.block_status(now, block))
            .filter(|status| status.state == BlockState::Running);
        if current.is_some() {
            return current;
        }
        while let Some(block) = planner.next_block(after) {
            if block.from > week_later {
                return None;
            }
            after = block.from;
            let status = self.block_status(now, block);
            if status.state == BlockState::Planned {
                return Some(status);
            }
        }
        None
    }

    /// The spans of planned focus in `week`: its blocks, and the calendar focus events
    /// known (the calendars are read two weeks ahead and one day back), less meetings.
    pub(super) fn planned_focus(&self, week: IsoWeek) -> Vec<(Timestamp, Timestamp)> {
        let planner = Planner::new(&self.config.plans, &self.tz).with_events(&self.calendar_events);
        week.days()
            .flat_map(|date| planner.pieces_on(date))
            .map(|piece| (piece.from, piece.until))
            .collect()
    }

    /// `days` days of plans from today.
    pub(super) fn plan_days(&self, now: Timestamp, days: u32) -> Result<Reply, ApiError> {
        if days == 0 || days > MAX_PLAN_DAYS {
            return Err(ApiError::new(
                ErrorCode::BadRequest,
                format!("plans can be shown for 1 to {MAX_PLAN_DAYS} days, not {days}"),
            ));
        }
        let planner = Planner::new(&self.config.plans, &self.tz).with_events(&self.calendar_events);
        let mut date = now.to_zoned(self.tz.clone()).date();
        let mut shown = Vec::with_capacity(days as usize);
        for _ in 0..days {
            let blocks = planner
                .focus_on(date)
                .into_iter()
                .map(|block| self.block_status(now, block))
                .collect();
            shown.push(PlanDay {
                date: date.to_string(),
                day_off: self.config.plans.days_off.contains(&date),
                work: planner
                    .hours()
                    .spans(date)
                    .into_iter()
                    .map(|(from, until)| TimeSpan { from, until })
                    .collect(),
                blocks,
                meetings: planner
                    .busy_on(date)
                    .iter()
                    .map(|busy| TimeSpan {
                        from: busy.from,
                        until: busy.until,
                    })
                    .collect(),
            });
            date = match date.tomorrow() {
                Ok(next) => next,
                Err(_) => break,
            };
        }
        Ok(Reply::Plan(shown))
    }
}

/// Whether the piece of planned focus named `piece` belongs to `block` (the part of a
/// block after a meeting is named "BLOCK from 10:30").
fn part_of(piece: &str, block: &str) -> bool {
    piece == block
        || piece
            .strip_prefix(block)
            .is_some_and(|rest| rest.starts_with(" from "))
}
