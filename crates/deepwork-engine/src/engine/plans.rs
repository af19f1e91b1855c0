//! The engine's side of `[plans]`: focus blocks start and end sessions by themselves,
//! and outside work hours what arrives is held for the next working morning.

use super::{Engine, storage_error};
use crate::api::{ApiError, BlockState, BlockStatus, ErrorCode, PlanDay, Reply, TimeSpan};
use deepwork_core::SessionId;
use deepwork_core::plans::{Occurrence, Planned, Planner};
use deepwork_core::schedule;
use deepwork_core::session::Input;
use deepwork_store::PlanFate;
use jiff::{SignedDuration, Timestamp};

/// The most days `plan` shows.
const MAX_PLAN_DAYS: u32 = 62;

impl Engine {
    /// Does what the plans want at `now` unless a session runs: start a focus block,
    /// begin or end the after-hours hold. Remembers when to look again.
    pub(super) fn follow_plans(&mut self, now: Timestamp) {
        if self.machine.session().is_some() {
            // A running session is never cut short by a plan; its end brings a tick.
            self.next_plan = None;
            return;
        }
        let planner = Planner::new(&self.config.plans, &self.tz);
        let planned = planner.planned_at(now, |plan| self.block_taken(plan));
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
        if let Err(error) = self.session_input(now, input) {
            tracing::error!(%error, "could not follow the plans; trying again shortly");
            self.next_plan = now.checked_add(super::RETRY_AFTER_FAILURE).ok();
        }
    }

    /// A block ran or was skipped. A store that cannot say counts it as taken: a block
    /// not started is better than one started twice.
    fn block_taken(&self, plan: &str) -> bool {
        self.store.plan_fate(plan).map_or_else(
            |error| {
                tracing::warn!(%error, plan, "could not read whether a block ran");
                true
            },
            |fate| fate.is_some(),
        )
    }

    fn planned_start(&mut self, now: Timestamp, block: Occurrence) -> Input {
        let slots = if block.check_ins.is_empty() {
            &self.config.session.check_in_slots
        } else {
            &block.check_ins
        };
        let mut check_ins = schedule::slot_check_ins(now, block.until, &self.tz, slots);
        check_ins.push(block.until);
        let id = SessionId(self.next_session);
        self.next_session += 1;
        Input::Start {
            id,
            until: block.until,
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
        let chosen = match plan {
            Some(plan) => plan,
            None => today
                .iter()
                .find(|block| now < block.until && !self.block_taken(&block.key))
                .or_else(|| {
                    let running = self.machine.session()?.plan.as_deref()?;
                    today.iter().find(|block| block.key == running)
                })
                .map(|block| block.key.clone())
                .ok_or_else(|| {
                    ApiError::new(ErrorCode::NotFound, "no focus block is left today")
                })?,
        };
        self.store
            .write(|w| w.skip_plan(&chosen, now))
            .map_err(storage_error)?;
        let running_it = self
            .machine
            .session()
            .is_some_and(|session| session.plan.as_deref() == Some(chosen.as_str()));
        if running_it {
            self.session_input(now, Input::Stop)?;
        }
        self.follow_plans(now);
        Ok(Reply::Status(self.status(now)))
    }

    fn blocks_on_day_of(&self, at: Timestamp) -> Vec<Occurrence> {
        let planner = Planner::new(&self.config.plans, &self.tz);
        planner.blocks_on(at.to_zoned(self.tz.clone()).date())
    }

    /// Where a block stands at `now`.
    fn block_status(&self, now: Timestamp, block: Occurrence) -> BlockStatus {
        let running = self
            .machine
            .session()
            .is_some_and(|session| session.plan.as_deref() == Some(block.key.as_str()));
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
        }
    }

    /// The block running now, or the next one to come within a week.
    pub(super) fn next_block_status(&self, now: Timestamp) -> Option<BlockStatus> {
        let planner = Planner::new(&self.config.plans, &self.tz);
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

    /// `days` days of plans from today.
    pub(super) fn plan_days(&self, now: Timestamp, days: u32) -> Result<Reply, ApiError> {
        if days == 0 || days > MAX_PLAN_DAYS {
            return Err(ApiError::new(
                ErrorCode::BadRequest,
                format!("plans can be shown for 1 to {MAX_PLAN_DAYS} days, not {days}"),
            ));
        }
        let planner = Planner::new(&self.config.plans, &self.tz);
        let mut date = now.to_zoned(self.tz.clone()).date();
        let mut shown = Vec::with_capacity(days as usize);
        for _ in 0..days {
            let blocks = planner
                .blocks_on(date)
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
            });
            date = match date.tomorrow() {
                Ok(next) => next,
                Err(_) => break,
            };
        }
        Ok(Reply::Plan(shown))
    }
}
