//! The engine proper: feeds the session machine, persists its effects, notifies.
//!
//! Synchronous and single-owner: the server calls it from one task, so the store has
//! one writer and the machine one driver. Time is passed in.

use crate::api::{
    AdapterHealth, ApiError, ErrorCode, Event, Explanation, PushAck, Reply, Request, Response,
    SessionStatus, Status,
};
use crate::calendars::CalendarValidators;
use crate::notify::Notifier;
use deepwork_core::config::Config;
use deepwork_core::digest::{self, Digest, DigestId, ItemRecord};
use deepwork_core::escalation::{Ladder, Step};
use deepwork_core::plans::WorkHours;
use deepwork_core::plans::calendar::CalendarEvent;
use deepwork_core::schedule::{self, SessionPlan};
use deepwork_core::session::{Effect, Held, Input, Machine, Session, SessionError, State};
use deepwork_core::settings::Settings;
use deepwork_core::standup::Intent;
use deepwork_core::stats::{self, IsoWeek, WeeklyStats};
use deepwork_core::triage::{Lesson, MAX_LESSONS, Triager};
use deepwork_core::{Class, Disposition, ItemId, NewItem, SessionId};
use deepwork_store::{CalendarCopy, DigestRow, SessionKind, Store, StoreError};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use tokio::sync::{broadcast, mpsc};

/// Weeks shown in the stats trend.
pub const TREND_WEEKS: usize = 8;
/// How long to wait before retrying a deadline whose write failed.
const RETRY_AFTER_FAILURE: SignedDuration = SignedDuration::from_secs(5);

mod chat;
mod effects;
mod escalation;
mod follow_through;
mod plans;
mod standup;

/// The focus engine.
pub struct Engine {
    config: Config,
    triager: Triager,
    tz: TimeZone,
    store: Store,
    machine: Machine,
    next_item: i64,
    next_session: i64,
    latest_digest: Option<DigestId>,
    retry_at: Option<Timestamp>,
    adapters: Vec<AdapterHealth>,
    notifier: Box<dyn Notifier>,
    events: broadcast::Sender<Event>,
    /// Where settings are saved; `None` refuses saving (tests without a file).
    config_file: Option<PathBuf>,
    /// When old message text is next forgotten (`[storage] keep_days`).
    next_forget: Timestamp,
    /// Emergencies with steps to take, or whose text reply may still acknowledge them.
    escalations: BTreeMap<ItemId, Ladder>,
    /// The steps a new emergency's ladder takes.
    escalation_plan: Vec<(Step, SignedDuration)>,
    /// The worker that sends texts, calls and commands, once connected.
    escalation_jobs: Option<mpsc::UnboundedSender<crate::escalate::Job>>,
    /// What limits escalation (no Twilio credentials), for status.
    escalation_problem: Option<String>,
    /// Since when the worker reads text replies, as last told.
    watching_replies: Option<Timestamp>,
    /// When the plans next want something else (a block starts, work hours begin or
    /// end); `None` while a session runs or without plans.
    next_plan: Option<Timestamp>,
    /// When the next reminder of a blocker still owed is due.
    next_reminder: Option<Timestamp>,
    /// When the day's standup is next drafted by itself (`[standup] at`).
    next_standup: Option<Timestamp>,
    /// The day of a standup drafted during a session, whose notice waits for its end.
    standup_waiting: Option<jiff::civil::Date>,
    /// The latest session's intent, and how it went, as kept.
    latest_intent: Option<Intent>,
    /// What the desktop shell last reported.
    desktop: Option<Box<crate::api::DesktopState>>,
    /// The last good copy of each calendar followed, by its configured address.
    calendar_copies: BTreeMap<String, CalendarCopy>,
    /// The calendars' events around now, by start.
    calendar_events: Vec<CalendarEvent>,
    /// Why a calendar could not be read, by its address (cleared by a good read).
    calendar_problems: BTreeMap<String, String>,
    /// The validator of each calendar copy kept, shared with the calendar reader so it
    /// asks "changed since?" of a version the engine accepted.
    calendar_validators: CalendarValidators,
    /// Why the plans could not be followed the last time (cleared when they could).
    plan_problem: Option<String>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("state", self.machine.state())
            .finish_non_exhaustive()
    }
}

/// Why the engine could not open.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The triage rules did not compile, or the model could not be read.
    #[error("config: {0}")]
    Triage(#[from] deepwork_core::triage::TriageError),
}

impl Engine {
    /// Opens the engine on `store`, resuming a session that was running, and delivers
    /// whatever fell due while it was down.
    pub fn open(
        config: Config,
        tz: TimeZone,
        store: Store,
        notifier: Box<dyn Notifier>,
        now: Timestamp,
    ) -> Result<Engine, OpenError> {
        let triager = triager_for(&config, &store)?;
        let (max_item, max_session) = store.max_ids()?;
        let latest_digest = store.digests(1)?.first().map(|d| d.id);
        let machine = restore(&store)?;
        let escalations = store
            .open_escalations()?
            .into_iter()
            .filter(|ladder| ladder.is_live(now))
            .map(|ladder| (ladder.item, ladder))
            .collect();
        let escalation_plan = config.escalation.plan(false);
        let followed: Vec<String> = config
            .plans
            .calendars
            .iter()
            .map(|c| c.url.to_string())
            .collect();
        let calendar_copies = store
            .calendar_copies()?
            .into_iter()
            .filter(|copy| followed.contains(&copy.url))
            .map(|copy| (copy.url.clone(), copy))
            .collect();
        let (events, _) = broadcast::channel(1024);
        let store_latest_intent = store.latest_intent()?;
        let mut engine = Engine {
            config,
            triager,
            tz,
            store,
            machine,
            next_item: max_item.0 + 1,
            next_session: max_session.0 + 1,
            latest_digest,
            retry_at: None,
            adapters: Vec::new(),
            notifier,
            events,
            config_file: None,
            next_forget: now,
            escalations,
            escalation_plan,
            escalation_jobs: None,
            escalation_problem: None,
            watching_replies: None,
            next_plan: None,
            next_reminder: None,
            next_standup: None,
            standup_waiting: None,
            latest_intent: store_latest_intent,
            desktop: None,
            calendar_validators: CalendarValidators::default(),
            calendar_copies,
            calendar_events: Vec::new(),
            calendar_problems: BTreeMap::new(),
            plan_problem: None,
        };
        engine.keep_only_followed_calendars(&followed);
        engine.read_calendar_copies(now);
        engine.plan_reminder(now);
        engine.plan_standup(now);
        engine.tick(now);
        Ok(engine)
    }

    /// Saves settings into `path` (the config file the engine was started from).
    pub fn set_config_file(&mut self, path: PathBuf) {
        self.config_file = Some(path);
    }

    /// Writes `settings` into the config file, keeping everything else in it, and uses
    /// them from now on: triage rules for the next item, the status text at the next
    /// refresh, defaults for the next session. Nothing changes when they are invalid.
    fn save_settings(&mut self, settings: &Settings) -> Result<Reply, ApiError> {
        let path = self.config_file.clone().ok_or_else(|| {
            ApiError::new(
                ErrorCode::InvalidSettings,
                "this engine has no config file to save into",
            )
        })?;
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(error) => {
                return Err(ApiError::new(
                    ErrorCode::Storage,
                    format!("cannot read {}: {error}", path.display()),
                ));
            }
        };
        let (written, config) = settings
            .apply(&text)
            .map_err(|error| ApiError::new(ErrorCode::InvalidSettings, error.to_string()))?;
        let triager = triager_for(&config, &self.store).map_err(|error| match error {
            OpenError::Store(error) => storage_error(error),
            OpenError::Triage(error) => {
                ApiError::new(ErrorCode::InvalidSettings, error.to_string())
            }
        })?;
        write_replacing(&path, &written).map_err(|error| {
            ApiError::new(
                ErrorCode::Storage,
                format!("cannot write {}: {error}", path.display()),
            )
        })?;
        tracing::info!(file = %path.display(), "settings saved");
        self.config = config;
        self.triager = triager;
        let _ = self.events.send(Event::ConfigChanged);
        Ok(Reply::Settings(Box::new(Settings::from_config(
            &self.config,
        ))))
    }

    /// A receiver of every event from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.events.subscribe()
    }

    /// The sender events go out on (the server hands receivers to subscribers).
    pub fn events(&self) -> broadcast::Sender<Event> {
        self.events.clone()
    }

    /// When [`Engine::tick`] must next run; `None` when nothing is due ever.
    pub fn next_deadline(&self) -> Option<Timestamp> {
        let forget = (self.config.storage.keep_days > 0).then_some(self.next_forget);
        let next = [
            self.machine.next_deadline(),
            forget,
            self.next_escalation(),
            self.next_plan,
            self.next_reminder,
            self.next_standup,
        ]
        .into_iter()
        .flatten()
        .min()?;
        // After a failed write nothing is tried again before the retry: a deadline left
        // in the past would spin.
        Some(self.retry_at.map_or(next, |retry| next.max(retry)))
    }

    /// Fires whatever is due at `now`.
    pub fn tick(&mut self, now: Timestamp) {
        if self.next_forget <= now {
            self.forget_old_text(now);
        }
        self.escalate(now);
        if self.machine.next_deadline().is_some_and(|d| d <= now) {
            match self.step(now, vec![Input::Tick], HashMap::new(), None) {
                Ok(_) => self.retry_at = None,
                Err(error) => {
                    tracing::error!(%error, "could not record a check-in; retrying shortly");
                    self.retry_at = now.checked_add(RETRY_AFTER_FAILURE).ok();
                    return;
                }
            }
        }
        self.follow_plans(now);
        self.remind(now);
        self.draft_standup_when_due(now);
    }

    /// Forgets the text of handled items older than `[storage] keep_days`; again a day
    /// later. A failure is logged and tried at the next round: nothing is lost by it.
    fn forget_old_text(&mut self, now: Timestamp) {
        self.next_forget = now
            .checked_add(SignedDuration::from_hours(24))
            .unwrap_or(Timestamp::MAX);
        let days = self.config.storage.keep_days;
        if days == 0 {
            return;
        }
        let Ok(before) = now.checked_sub(SignedDuration::from_hours(24 * i64::from(days))) else {
            return;
        };
        match self.store.write(|w| w.forget_before(before)) {
            Ok(0) => {}
            Ok(count) => tracing::info!(count, days, "forgot the text of handled items"),
            Err(error) => tracing::warn!(%error, "could not forget old message text"),
        }
    }

    /// Answers a batch of requests in order. Consecutive pushes share one transaction.
    pub fn handle_batch(&mut self, now: Timestamp, requests: Vec<Request>) -> Vec<Response> {
        self.tick(now);
        let mut responses = Vec::with_capacity(requests.len());
        let mut pushes = Vec::new();
        for request in requests {
            match request {
                Request::Push { item } => pushes.push(item),
                other => {
                    if !pushes.is_empty() {
                        responses.extend(self.push_batch(now, std::mem::take(&mut pushes)));
                    }
                    responses.push(self.handle(now, other));
                }
            }
        }
        if !pushes.is_empty() {
            responses.extend(self.push_batch(now, pushes));
        }
        responses
    }

    /// Drops what is known of the chat platforms named, before they are reconnected
    /// (they report afresh; one no longer configured is no longer shown).
    pub fn forget_adapters(&mut self, names: &[String]) {
        self.adapters.retain(|a| !names.contains(&a.name));
    }

    fn handle(&mut self, now: Timestamp, request: Request) -> Response {
        let result = match request {
            Request::Status => Ok(Reply::Status(self.status(now))),
            // The server swaps the platforms; here the platforms are not the engine's.
            Request::ReloadAdapters => Ok(Reply::Status(self.status(now))),
            Request::Start { plan, intent } => self.start(now, &plan, intent.as_deref()),
            Request::Outcome {
                session,
                outcome,
                note,
            } => self.outcome(session, outcome, note.as_deref()),
            Request::Standup { fresh } => self.standup(now, fresh).map(Reply::Standup),
            Request::SaveStandup { draft } => self.save_standup(now, draft).map(Reply::Standup),
            Request::Standups { limit } => self.standups(limit),
            Request::Desktop { state } => {
                if self.desktop.as_deref() != Some(&state) {
                    self.desktop = Some(Box::new(state));
                    let _ = self.events.send(Event::DesktopChanged);
                }
                Ok(Reply::Status(self.status(now)))
            }
            Request::Presence { away_since } => self.presence(now, away_since),
            Request::PostStandup { .. } => Err(ApiError::new(
                ErrorCode::BadRequest,
                "post_standup is handled by the server, which holds the platforms",
            )),
            Request::Extend { plan } => self.extend(now, &plan),
            Request::Stop => self.stop(now),
            Request::CheckIn => self.session_input(now, Input::CheckInNow),
            Request::Push { item } => return self.push_batch(now, vec![item]).remove(0),
            Request::Digest { id } => self.digest(id).map(Reply::Digest),
            Request::Digests { limit } => self.digests(limit).map(Reply::Digests),
            Request::Done { item, done } => self.done(now, item, done),
            Request::Teach { item, class } => self.teach(now, item, class),
            Request::Forget { before } => self
                .store
                .write(|w| w.forget_before(before))
                .map(Reply::Forgotten)
                .map_err(storage_error),
            Request::Explain { item } => Ok(Reply::Explained(self.explain(now, &item))),
            Request::Stats { week } => self.stats(now, week).map(Reply::Stats),
            Request::Settings => Ok(Reply::Settings(Box::new(Settings::from_config(
                &self.config,
            )))),
            Request::SaveSettings { settings } => {
                let saved = self.save_settings(&settings);
                // New hours or blocks may want another state at once.
                self.follow_plans(now);
                self.plan_standup(now);
                saved
            }
            Request::Acknowledge { item, via } => self.acknowledge(now, item, via),
            Request::Plan { days } => self.plan_days(now, days),
            Request::SkipBlock { plan } => self.skip_block(now, plan),
            Request::Subscribe => Err(ApiError::new(
                ErrorCode::BadRequest,
                "subscribe is handled by the connection",
            )),
        };
        match result {
            Ok(reply) => Response::Ok(reply),
            Err(error) => Response::Error(error),
        }
    }

    /// The state, counts only.
    pub fn status(&self, now: Timestamp) -> Status {
        Status {
            now,
            session: self.machine.session().map(|s| {
                Box::new(SessionStatus {
                    id: s.id,
                    started_at: s.started_at,
                    ends_at: s.ends_at,
                    next_check_in: s.next_check_in(),
                    check_ins: s.check_ins.clone(),
                    remaining_seconds: s.ends_at.duration_since(now).as_secs().max(0),
                    plan: s.plan.clone(),
                    intent: self
                        .latest_intent
                        .as_ref()
                        .filter(|intent| intent.session == s.id)
                        .map(|intent| intent.text.clone()),
                })
            }),
            unsaid_intent: self.unsaid_intent(now),
            desktop: self.desktop.clone(),
            away_since: self.machine.away_since(),
            check_in_waiting: self.machine.waiting_for_return(),
            held: self
                .machine
                .holding()
                .map(Session::held_counts)
                .unwrap_or_default(),
            latest_digest: self.latest_digest,
            adapters: self.adapters.clone(),
            escalations: self.escalation_status(),
            escalation_problem: self.escalation_problem.clone(),
            off_hours_until: self.machine.off_hours().map(|hold| hold.ends_at),
            plan_problems: self
                .plan_problem
                .iter()
                .chain(self.calendar_problems.values())
                .cloned()
                .collect(),
            next_block: self.next_block_status(now).map(Box::new),
        }
    }

    fn start(
        &mut self,
        now: Timestamp,
        plan: &SessionPlan,
        intent: Option<&str>,
    ) -> Result<Reply, ApiError> {
        if let Some(session) = self.machine.session() {
            return Err(session_error(
                SessionError::AlreadyFocusing {
                    until: session.ends_at,
                },
                &self.tz,
            ));
        }
        let resolved = self.resolve(now, now, plan)?;
        let id = SessionId(self.next_session);
        self.next_session += 1;
        self.session_input(
            now,
            Input::Start {
                id,
                until: resolved.until,
                check_ins: resolved.check_ins,
                plan: None,
            },
        )?;
        if let Some(intent) = intent.and_then(deepwork_core::standup::clean_intent) {
            // The session is recorded; an intent that cannot be is only not kept.
            match self.store.write(|w| w.set_intent(id, &intent)) {
                Ok(_) => {
                    self.latest_intent = Some(Intent {
                        session: id,
                        started_at: now,
                        text: intent,
                        outcome: None,
                        note: None,
                    });
                }
                Err(error) => tracing::warn!(%error, "could not keep the session's intent"),
            }
        }
        // A meeting in the calendar ends it early, with a check-in before the meeting.
        self.follow_plans(now);
        Ok(Reply::Status(self.status(now)))
    }

    fn extend(&mut self, now: Timestamp, plan: &SessionPlan) -> Result<Reply, ApiError> {
        let Some(session) = self.machine.session() else {
            return Err(session_error(SessionError::NotFocusing, &self.tz));
        };
        let resolved = self.resolve(now, session.started_at, plan)?;
        self.session_input(
            now,
            Input::Extend {
                until: resolved.until,
                check_ins: resolved.check_ins,
            },
        )?;
        // An end moved past a meeting is brought back before it now, not at some tick.
        self.follow_plans(now);
        Ok(Reply::Status(self.status(now)))
    }

    fn resolve(
        &self,
        now: Timestamp,
        since: Timestamp,
        plan: &SessionPlan,
    ) -> Result<schedule::ResolvedPlan, ApiError> {
        let session = &self.config.session;
        schedule::resolve_plan(
            now,
            since,
            &self.tz,
            plan,
            session.default_length,
            &session.check_in_slots,
        )
        .map_err(|e| ApiError::new(ErrorCode::InvalidPlan, e.to_string()))
    }

    fn presence(
        &mut self,
        now: Timestamp,
        away_since: Option<Timestamp>,
    ) -> Result<Reply, ApiError> {
        let before = self.machine.away_since();
        let input = match away_since {
            Some(since) => Input::Away { since },
            None => Input::Back,
        };
        let reply = self.session_input(now, input)?;
        if self.machine.away_since() != before {
            tracing::info!(away_since = ?self.machine.away_since(), "presence changed");
            let _ = self.events.send(Event::SessionChanged {
                status: self.status(now),
            });
        }
        Ok(reply)
    }

    fn session_input(&mut self, now: Timestamp, input: Input) -> Result<Reply, ApiError> {
        let mut outcome = self
            .step(now, vec![input], HashMap::new(), None)
            .map_err(storage_error)?;
        outcome
            .results
            .remove(0)
            .map_err(|e| session_error(e, &self.tz))?;
        Ok(Reply::Status(self.status(now)))
    }

    /// Validates, triages and records pushed items; each is durable when its ack is built.
    pub fn push_batch(&mut self, now: Timestamp, items: Vec<NewItem>) -> Vec<Response> {
        let count = items.len();
        self.push_batch_with(now, items, None)
            .unwrap_or_else(|error| vec![Response::Error(storage_error(error)); count])
    }

    /// [`Engine::push_batch`], also recording `cursor` in the same transaction. An item
    /// whose source and message id were stored before is answered with what it became
    /// then, and not stored again.
    fn push_batch_with(
        &mut self,
        now: Timestamp,
        items: Vec<NewItem>,
        cursor: Option<CursorSave<'_>>,
    ) -> Result<Vec<Response>, StoreError> {
        let mut slots: Vec<Result<ItemId, ApiError>> = Vec::with_capacity(items.len());
        let mut known: HashMap<ItemId, PushAck> = HashMap::new();
        let mut in_batch: HashMap<(String, String), ItemId> = HashMap::new();
        let mut inputs = Vec::new();
        let mut records = HashMap::new();
        let mut whys = HashMap::new();
        for item in items {
            if let Err(error) = item.validate() {
                slots.push(Err(ApiError::new(
                    ErrorCode::InvalidItem,
                    error.to_string(),
                )));
                continue;
            }
            if let Some(message_id) = &item.message_id {
                let key = (item.source.clone(), message_id.clone());
                if let Some(id) = in_batch.get(&key) {
                    slots.push(Ok(*id));
                    continue;
                }
                if let Some(stored) = self.store.item_by_message(&item.source, message_id)? {
                    let title = deepwork_core::text::plain(&item.title);
                    let body = item.body.as_deref().map(deepwork_core::text::plain);
                    if stored.title != title || stored.body != body {
                        self.store
                            .write(|w| w.update_waiting_text(stored.id, &title, body.as_deref()))?;
                    }
                    known.insert(
                        stored.id,
                        PushAck {
                            id: stored.id,
                            class: stored.class,
                            disposition: stored.disposition,
                            why: stored.reason.to_string(),
                        },
                    );
                    in_batch.insert(key, stored.id);
                    slots.push(Ok(stored.id));
                    continue;
                }
                in_batch.insert(key, ItemId(self.next_item));
            }
            let item = NewItem {
                title: deepwork_core::text::plain(&item.title),
                body: item.body.as_deref().map(deepwork_core::text::plain),
                ..item
            };
            let triage = self.triager.triage(&item, &now.to_zoned(self.tz.clone()));
            let id = ItemId(self.next_item);
            self.next_item += 1;
            inputs.push(Input::Item {
                id,
                class: triage.class,
            });
            whys.insert(id, (triage.class, triage.reason.to_string()));
            records.insert(id, record(id, now, item, triage));
            slots.push(Ok(id));
        }
        let outcome = self.step(now, inputs, records, cursor)?;
        let dispositions: HashMap<ItemId, Disposition> = outcome
            .effects
            .iter()
            .filter_map(|effect| match effect {
                Effect::Hold { item, .. } => Some((*item, Disposition::Held)),
                Effect::BreakThrough { item, .. } => Some((*item, Disposition::BrokeThrough)),
                Effect::Show { item } => Some((*item, Disposition::Shown)),
                Effect::SessionStarted { .. }
                | Effect::SessionRescheduled { .. }
                | Effect::OffHoursStarted { .. }
                | Effect::OffHoursEnded { .. }
                | Effect::DeliverDigest { .. }
                | Effect::Away { .. }
                | Effect::SessionEnded { .. } => None,
            })
            .collect();
        Ok(slots
            .into_iter()
            .map(|slot| match slot {
                Err(error) => Response::Error(error),
                Ok(id) => Response::Ok(Reply::Pushed(known.get(&id).cloned().unwrap_or_else(
                    || {
                        let (class, why) = whys
                            .get(&id)
                            .cloned()
                            .unwrap_or((Class::Update, String::new()));
                        let disposition =
                            dispositions.get(&id).copied().unwrap_or(Disposition::Shown);
                        PushAck {
                            id,
                            class,
                            disposition,
                            why,
                        }
                    },
                ))),
            })
            .collect())
    }

    fn digest(&self, id: Option<DigestId>) -> Result<Option<Digest>, ApiError> {
        let row = match id {
            None => self
                .store
                .digests(1)
                .map_err(storage_error)?
                .into_iter()
                .next(),
            Some(id) => match self.store.digest_row(id).map_err(storage_error)? {
                Some(row) => Some(row),
                None => {
                    return Err(ApiError::new(
                        ErrorCode::NotFound,
                        format!("no digest {}", id.0),
                    ));
                }
            },
        };
        row.map(|row| self.build_digest(row)).transpose()
    }

    fn digests(&self, limit: u32) -> Result<Vec<Digest>, ApiError> {
        let rows = self.store.digests(limit).map_err(storage_error)?;
        rows.into_iter().map(|row| self.build_digest(row)).collect()
    }

    fn build_digest(&self, row: DigestRow) -> Result<Digest, ApiError> {
        let items = self.store.digest_items(row.id).map_err(storage_error)?;
        self.with_escalations(digest::build_digest(
            row.id,
            row.session,
            row.delivered_at,
            items,
            &self.config.response_windows,
            &WorkHours::new(&self.config.plans, &self.tz),
        ))
    }

    fn done(&mut self, now: Timestamp, item: ItemId, done: bool) -> Result<Reply, ApiError> {
        let found = self
            .store
            .write(|w| w.set_done(item, done.then_some(now)))
            .map_err(storage_error)?;
        if !found {
            return Err(ApiError::new(
                ErrorCode::NotFound,
                format!("no item {item}"),
            ));
        }
        let _ = self.events.send(Event::ItemDone { item, done });
        self.plan_reminder(now);
        Ok(Reply::Done)
    }

    fn teach(&mut self, now: Timestamp, item: ItemId, class: Class) -> Result<Reply, ApiError> {
        let Some(record) = self.store.item(item).map_err(storage_error)? else {
            return Err(ApiError::new(
                ErrorCode::NotFound,
                format!("no item {item}"),
            ));
        };
        self.store
            .write(|w| w.teach(item, class, now))
            .map_err(storage_error)?;
        self.triager
            .learn(Lesson::new(&record.to_new_item(), class));
        tracing::info!(%item, class = class.as_str(), "item re-classed by the user");
        Ok(Reply::Taught)
    }

    fn explain(&self, now: Timestamp, item: &NewItem) -> Explanation {
        Explanation::of(&self.triager, item, &now.to_zoned(self.tz.clone()))
    }

    fn stats(&self, now: Timestamp, week: Option<IsoWeek>) -> Result<WeeklyStats, ApiError> {
        let week = week.unwrap_or_else(|| IsoWeek::at(now, &self.tz));
        let (week_start, week_end) = stats::week_bounds(week, &self.tz);
        let mut oldest = week;
        for _ in 1..TREND_WEEKS {
            oldest = oldest.previous();
        }
        let (trend_start, _) = stats::week_bounds(oldest, &self.tz);
        let mut sessions = self
            .store
            .sessions_between(trend_start, week_end)
            .map_err(storage_error)?;
        // An absence still going on is not in the store until the user is back.
        if let (Some(running), Some(since)) = (self.machine.session(), self.machine.away_since())
            && let Some(record) = sessions.iter_mut().find(|s| s.id == running.id)
            && now > since.max(running.started_at)
        {
            record.away.push((since.max(running.started_at), now));
        }
        let items = self
            .store
            .item_facts(week_start, week_end)
            .map_err(storage_error)?;
        let intents = self
            .store
            .intents_since(week_start)
            .map_err(storage_error)?;
        let planned = self.planned_focus(week);
        let hours = WorkHours::new(&self.config.plans, &self.tz);
        let windows = &self.config.response_windows;
        let reply_by = |item: &stats::ItemFact| {
            let by_class =
                deepwork_core::plans::reply_by(item.received_at, item.class, windows, &hours);
            item.deadline
                .map_or(by_class, |stated| stated.clamp(item.received_at, by_class))
        };
        Ok(stats::weekly_stats(
            week,
            &self.tz,
            now,
            &sessions,
            &items,
            &intents,
            &planned,
            self.config.stats.weekly_goal_hours,
            TREND_WEEKS,
            reply_by,
        ))
    }
}

fn record(
    id: ItemId,
    now: Timestamp,
    item: NewItem,
    triage: deepwork_core::triage::Triage,
) -> ItemRecord {
    ItemRecord {
        id,
        session: None,
        received_at: now,
        source: item.source,
        sender: item.sender,
        channel: item.channel,
        title: item.title,
        body: item.body,
        url: item.url,
        class: triage.class,
        reason: triage.reason,
        deadline: triage.deadline,
        disposition: Disposition::Shown,
        digest: None,
        done_at: None,
        done_by: None,
        message_id: item.message_id,
        conversation: item.conversation,
    }
}

/// Triage as configured, taught the user's corrections (oldest first, so the newest
/// weighs last).
pub(crate) fn triager_for(config: &Config, store: &Store) -> Result<Triager, OpenError> {
    let mut triager = Triager::new(&config.triage)?;
    for (item, class) in store.lessons(MAX_LESSONS)?.into_iter().rev() {
        triager.learn(Lesson::new(&item, class));
    }
    Ok(triager)
}

/// Rebuilds the machine from the store: the running session or after-hours hold and
/// its undelivered items.
fn restore(store: &Store) -> Result<Machine, StoreError> {
    let Some(running) = store.running_session()? else {
        return Ok(Machine::new(State::Idle));
    };
    let ends_at = running.record.planned_end;
    let mut check_ins: Vec<Timestamp> = running
        .check_ins
        .into_iter()
        .filter(|at| *at <= ends_at)
        .collect();
    if check_ins.last() != Some(&ends_at) {
        check_ins.push(ends_at);
    }
    let session = Session {
        id: running.record.id,
        started_at: running.record.started_at,
        ends_at,
        check_ins,
        held: Held::new(running.held),
        plan: running.plan,
    };
    Ok(Machine::new(match running.kind {
        SessionKind::Focus => State::Focusing(session),
        SessionKind::OffHours => State::OffHours(session),
    }))
}

/// Where a platform's next read starts, recorded with the batch it follows.
struct CursorSave<'a> {
    adapter: &'a str,
    session: SessionId,
    cursor: &'a str,
}

fn storage_error(error: StoreError) -> ApiError {
    ApiError::new(ErrorCode::Storage, format!("nothing was changed: {error}"))
}

fn local_clock(at: Timestamp, tz: &TimeZone) -> String {
    at.to_zoned(tz.clone()).strftime("%H:%M").to_string()
}

fn session_error(error: SessionError, tz: &TimeZone) -> ApiError {
    let code = match error {
        SessionError::AlreadyFocusing { .. } => ErrorCode::AlreadyFocusing,
        SessionError::NotFocusing | SessionError::AlreadyHolding => ErrorCode::NotFocusing,
        SessionError::EndNotInFuture
        | SessionError::TooLong
        | SessionError::CheckInInPast
        | SessionError::CheckInAfterEnd => ErrorCode::InvalidPlan,
    };
    let message = match error {
        SessionError::AlreadyFocusing { until } => {
            format!(
                "a deep work session is already running (until {}); stop it or extend it",
                local_clock(until, tz)
            )
        }
        other => other.to_string(),
    };
    ApiError::new(code, message)
}

/// Replaces `path` with `text` all at once: written beside it, synced, then renamed over
/// it, so a crash leaves the old file or the new one, never half of one.
fn write_replacing(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let staging = path.with_extension("toml.saving");
    let mut file = std::fs::File::create(&staging)?;
    if let Ok(existing) = std::fs::metadata(path) {
        file.set_permissions(existing.permissions())?;
    }
    file.write_all(text.as_bytes())?;
    file.sync_all()?;
    std::fs::rename(&staging, path)
}
