//! The engine's transport types: everything that crosses the socket.
//!
//! The wire is newline-delimited JSON. A client sends one [`Request`] per line and reads
//! one [`Response`] line back; after [`Request::Subscribe`] the connection carries only
//! [`Event`] lines. Later clients (the tray, the window) use these same types.

use deepwork_core::digest::{Digest, DigestId};
use deepwork_core::escalation::{AckVia, TimelineEntry};
use deepwork_core::schedule::SessionPlan;
use deepwork_core::session::ClassCounts;
use deepwork_core::settings::Settings;
use deepwork_core::standup::{Intent, Outcome, PostTarget, StandupDraft, StandupEntry};
use deepwork_core::stats::{IsoWeek, WeeklyStats};
use deepwork_core::triage::Triager;
use deepwork_core::triage::deadline::StatedDeadline;
use deepwork_core::{Class, Disposition, ItemId, NewItem, SessionId};
use jiff::{Timestamp, Zoned};
use serde::{Deserialize, Serialize};

/// Longest request line accepted, in bytes.
pub const MAX_REQUEST_BYTES: usize = 256 * 1024;

/// What a client asks of the engine.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "method", content = "params", rename_all = "snake_case")]
pub enum Request {
    /// The current state (counts only, never content).
    Status,
    /// Start a session.
    Start {
        /// Its end and check-in.
        plan: SessionPlan,
        /// What it is for ("Finish the billing RFC").
        #[serde(default, skip_serializing_if = "Option::is_none")]
        intent: Option<String>,
    },
    /// Move the running session's end.
    Extend {
        /// The new end and check-in.
        plan: SessionPlan,
    },
    /// End the running session early.
    Stop,
    /// Deliver the digest now.
    CheckIn,
    /// Hand in an item.
    Push {
        /// The item.
        item: NewItem,
    },
    /// One digest: the latest when `id` is absent.
    Digest {
        /// Which one.
        #[serde(default)]
        id: Option<DigestId>,
    },
    /// The newest digests, newest first.
    Digests {
        /// At most this many.
        limit: u32,
    },
    /// Mark an item handled (or not).
    Done {
        /// The item.
        item: ItemId,
        /// Done or not done.
        done: bool,
    },
    /// Re-class an item by hand; triage learns from it for messages like it.
    Teach {
        /// The item.
        item: ItemId,
        /// Its class.
        class: Class,
    },
    /// How an item would be classed and why, with the user's rules and lessons; nothing
    /// is stored.
    Explain {
        /// The item.
        item: NewItem,
    },
    /// Weekly stats: the current week when `week` is absent.
    Stats {
        /// Which week.
        #[serde(default)]
        week: Option<IsoWeek>,
    },
    /// The settings the window edits.
    Settings,
    /// Save settings into the config file and use them from now on.
    SaveSettings {
        /// All of them.
        settings: Settings,
    },
    /// Forget the text of handled items received before `before` (what `[storage]
    /// keep_days` does on its own).
    Forget {
        /// Items received before this.
        before: Timestamp,
    },
    /// Acknowledge an emergency (or every open one): its escalation stops.
    Acknowledge {
        /// The emergency; all open ones when absent.
        #[serde(default)]
        item: Option<ItemId>,
        /// Where the user acknowledged.
        via: AckVia,
    },
    /// The plans of the coming days: work hours and focus blocks.
    Plan {
        /// How many days, from today.
        days: u32,
    },
    /// Skip a planned focus block: the running one (its session stops), else the next
    /// one today, or the one named.
    SkipBlock {
        /// The block (as in [`BlockStatus::plan`]); the running or next one today when
        /// absent.
        #[serde(default)]
        plan: Option<String>,
    },
    /// How a session's intent went: the latest session with an intent when `session`
    /// is absent.
    Outcome {
        /// The session.
        #[serde(default)]
        session: Option<SessionId>,
        /// How it went.
        outcome: Outcome,
        /// A note on it.
        #[serde(default)]
        note: Option<String>,
    },
    /// Today's standup: as kept, or drafted now. `fresh` drafts it again from what is
    /// known now (kept only once saved).
    Standup {
        /// Draft again, ignoring the kept one's lines.
        #[serde(default)]
        fresh: bool,
    },
    /// Keep an edited standup (the day is the draft's).
    SaveStandup {
        /// The lines as the user left them.
        draft: StandupDraft,
    },
    /// Post a standup (today's as kept or drafted when `draft` is absent) to `to`, or
    /// to `[standup] post_to`; it is kept, with where it went.
    PostStandup {
        /// The lines to post.
        #[serde(default)]
        draft: Option<StandupDraft>,
        /// Where.
        #[serde(default)]
        to: Option<PostTarget>,
    },
    /// The kept standups, newest first.
    Standups {
        /// At most this many.
        limit: u32,
    },
    /// The resident's desktop shell says what it could set up (tray icon, hotkey).
    Desktop {
        /// What works and what does not.
        state: DesktopState,
    },
    /// The resident's desktop shell saw the user leave the computer (the screen locked,
    /// or no input for `[desktop] away_after`) or come back. Check-ins that fall while
    /// they are away wait for them, and the time is not counted as focus.
    Presence {
        /// When they left; `None`: they are at the computer.
        away_since: Option<Timestamp>,
    },
    /// Read the configured chat platforms and their tokens again and reconnect them,
    /// e.g. after a token was stored; a running session's status carries over.
    ReloadAdapters,
    /// Turn this connection into a stream of [`Event`]s.
    Subscribe,
}

/// What the resident's desktop shell could set up, for the window to tell the user.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct DesktopState {
    /// The tray icon.
    pub tray: ShellPart,
    /// The global hotkey.
    pub hotkey: ShellPart,
    /// Seeing when the user is away (screen locked or idle).
    #[serde(default = "ShellPart::unknown")]
    pub presence: ShellPart,
}

/// One part of the desktop shell: whether it works, and how or why not, in a sentence.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ShellPart {
    /// It works.
    pub working: bool,
    /// How it works ("X11 grab of Ctrl+Alt+D"), or why not and what to do.
    pub how: String,
}

impl ShellPart {
    /// A part a shell did not report on (one from before it had the part).
    pub fn unknown() -> ShellPart {
        ShellPart {
            working: false,
            how: "not reported by the desktop shell".into(),
        }
    }
}

/// What a person is asked to do to sign in to a platform with a device code (Teams):
/// open `verification_uri` and enter `user_code`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct SignInCode {
    /// The code to enter.
    pub user_code: String,
    /// Where to enter it.
    pub verification_uri: String,
    /// The platform's own instructions.
    pub message: String,
}

/// A successful reply.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reply {
    /// For `status`, `start`, `extend`, `stop` and `check_in`.
    Status(Status),
    /// For `push`.
    Pushed(PushAck),
    /// For `digest`.
    Digest(Option<Digest>),
    /// For `digests`.
    Digests(Vec<Digest>),
    /// For `outcome`: the intent as it now stands.
    Intent(Intent),
    /// For `standup`, `save_standup` and `post_standup`.
    Standup(StandupEntry),
    /// For `standups`.
    Standups(Vec<StandupEntry>),
    /// For `done`.
    Done,
    /// For `teach`.
    Taught,
    /// For `forget`: how many items' text was forgotten.
    Forgotten(usize),
    /// For `explain`.
    Explained(Explanation),
    /// For `stats`.
    Stats(WeeklyStats),
    /// For `settings` and `save_settings`: the settings in use.
    Settings(Box<Settings>),
    /// For `acknowledge`: the emergencies it stopped escalating.
    Acknowledged(Vec<ItemId>),
    /// For `plan`: one entry a day.
    Plan(Vec<PlanDay>),
    /// For `subscribe`: events follow.
    Subscribed,
}

/// One response line.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Response {
    /// It worked.
    Ok(Reply),
    /// It did not.
    Error(ApiError),
}

/// What the UI gets on failure: a code to branch on and a message to show.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{message}")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ApiError {
    /// Stable code.
    pub code: ErrorCode,
    /// For people.
    pub message: String,
}

impl ApiError {
    /// An error with `code` and `message`.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ApiError {
            code,
            message: message.into(),
        }
    }
}

/// Stable error codes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum ErrorCode {
    /// The request line was not a request.
    BadRequest,
    /// The request line was too long.
    TooLarge,
    /// A pushed item was refused.
    InvalidItem,
    /// The session times make no sense.
    InvalidPlan,
    /// A session is already running.
    AlreadyFocusing,
    /// No session is running.
    NotFocusing,
    /// No such item or digest.
    NotFound,
    /// Settings that cannot be saved: what and which.
    InvalidSettings,
    /// The database (or the config file) failed; nothing was changed.
    Storage,
    /// A post did not reach its platform (not connected, refused, unreachable); it is
    /// kept, and can be posted again.
    NotPosted,
}

/// Why one of the window's commands failed where the engine had no say.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum WindowCode {
    /// The window refused the request itself (an empty token, a link that is not http).
    Refused,
    /// The engine cannot be reached.
    Unreachable,
    /// The engine answered something the window does not understand.
    Protocol,
}

/// A window command's failure code: the engine's, or the window's own.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum UiErrorCode {
    /// The engine refused.
    Engine(ErrorCode),
    /// The window could not get an answer.
    Window(WindowCode),
}

/// How a window command fails: a stable code and a sentence to show.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct UiError {
    /// What kind of failure.
    pub code: UiErrorCode,
    /// What happened, for people.
    pub message: String,
}

impl UiError {
    /// The window refuses, saying why.
    pub fn refused(message: impl Into<String>) -> UiError {
        UiError {
            code: UiErrorCode::Window(WindowCode::Refused),
            message: message.into(),
        }
    }
}

impl From<crate::ClientError> for UiError {
    fn from(error: crate::ClientError) -> UiError {
        let code = match &error {
            crate::ClientError::Api(api) => {
                return UiError {
                    code: UiErrorCode::Engine(api.code),
                    message: api.message.clone(),
                };
            }
            crate::ClientError::Protocol(_) => WindowCode::Protocol,
            crate::ClientError::NotRunning { .. } | crate::ClientError::Io(_) => {
                WindowCode::Unreachable
            }
        };
        UiError {
            code: UiErrorCode::Window(code),
            message: error.to_string(),
        }
    }
}

impl ErrorCode {
    /// Whether the request itself was at fault (exit code 2 in the CLI).
    pub fn is_user_error(self) -> bool {
        match self {
            ErrorCode::BadRequest
            | ErrorCode::TooLarge
            | ErrorCode::InvalidItem
            | ErrorCode::InvalidPlan
            | ErrorCode::AlreadyFocusing
            | ErrorCode::NotFocusing
            | ErrorCode::NotFound
            | ErrorCode::InvalidSettings => true,
            ErrorCode::Storage | ErrorCode::NotPosted => false,
        }
    }
}

/// The engine's state as clients see it: counts, never content.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Status {
    /// The engine's clock when this was taken.
    #[cfg_attr(feature = "ts", ts(type = "string"))]
    pub now: Timestamp,
    /// The running session, if any.
    pub session: Option<Box<SessionStatus>>,
    /// Items held since the last check-in, per class.
    pub held: ClassCounts,
    /// The latest digest, if any.
    pub latest_digest: Option<DigestId>,
    /// Each connected chat platform's state.
    #[serde(default)]
    pub adapters: Vec<AdapterHealth>,
    /// Emergencies not yet acknowledged: being escalated, or past their last step
    /// (for two hours after they came, an acknowledgement still counts).
    #[serde(default)]
    pub escalations: Vec<EscalationStatus>,
    /// What keeps emergencies from reaching the phone, if anything does.
    #[serde(default)]
    pub escalation_problem: Option<String>,
    /// Outside work hours, items are held until this (the next working start).
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(type = "string | null"))]
    pub off_hours_until: Option<Timestamp>,
    /// The planned focus block running now or coming next (within a week).
    #[serde(default)]
    pub next_block: Option<Box<BlockStatus>>,
    /// What keeps the plans from applying: a calendar that could not be read (and which
    /// copy still applies), a planned session that could not start.
    #[serde(default)]
    pub plan_problems: Vec<String>,
    /// The latest session's intent, once it ended, until the user says how it went
    /// (for a day).
    #[serde(default)]
    pub unsaid_intent: Option<Box<Intent>>,
    /// What the resident's tray and hotkey could set up; `None` without a desktop shell
    /// (headless).
    #[serde(default)]
    pub desktop: Option<Box<DesktopState>>,
    /// Since when the user is away from the computer, as the desktop shell saw it.
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(type = "string | null"))]
    pub away_since: Option<Timestamp>,
    /// A check-in is due and waits for the user to come back.
    #[serde(default)]
    pub check_in_waiting: bool,
}

/// One day of plans.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct PlanDay {
    /// The date, `YYYY-MM-DD`.
    pub date: String,
    /// A day off (listed in `days_off`).
    pub day_off: bool,
    /// Working time.
    pub work: Vec<TimeSpan>,
    /// Focus blocks and calendar focus events.
    pub blocks: Vec<BlockStatus>,
    /// Calendar meetings, merged where they overlap.
    pub meetings: Vec<TimeSpan>,
}

/// A span of time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct TimeSpan {
    /// Its start.
    #[cfg_attr(feature = "ts", ts(type = "string"))]
    pub from: Timestamp,
    /// Its end.
    #[cfg_attr(feature = "ts", ts(type = "string"))]
    pub until: Timestamp,
}

/// A planned focus block on one day.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct BlockStatus {
    /// Names it (`"2026-11-30 09:00-11:30"`), for skipping.
    pub plan: String,
    /// When it starts and ends.
    pub span: TimeSpan,
    /// What became of it.
    pub state: BlockState,
    /// A calendar event's title; `None` for a block of `[plans]`.
    #[serde(default)]
    pub title: Option<String>,
}

/// Where a planned block stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum BlockState {
    /// To come.
    Planned,
    /// Its session runs now.
    Running,
    /// Its session ran.
    Ran,
    /// The user skipped it.
    Skipped,
    /// It passed without a session (the computer was off, or another session ran).
    Missed,
}

/// An unacknowledged emergency's escalation: steps and times only, never the message.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct EscalationStatus {
    /// The emergency.
    pub item: ItemId,
    /// When it arrived.
    #[cfg_attr(feature = "ts", ts(type = "string"))]
    pub opened_at: Timestamp,
    /// The next step and when it falls due.
    #[cfg_attr(feature = "ts", ts(type = "[string, string] | null"))]
    pub next_step: Option<(String, Timestamp)>,
    /// What happened so far.
    pub timeline: Vec<TimelineEntry>,
}

/// How a chat platform is doing.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct AdapterHealth {
    /// The adapter, as in config.
    pub name: String,
    /// Its state.
    pub state: AdapterState,
    /// How it is connected, from the platform registry.
    #[serde(default)]
    pub connect: ConnectKind,
}

/// How a platform is connected, so the window offers the right way.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum ConnectKind {
    /// Nothing to connect (the desktop's notifications).
    #[default]
    None,
    /// A pasted token or password.
    Token,
    /// A sign-in in the browser.
    SignIn,
    /// Either.
    TokenOrSignIn,
}

/// The state of a chat platform.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum AdapterState {
    /// Working.
    Ok,
    /// Failing for now; being retried.
    Retrying {
        /// The last error.
        error: String,
    },
    /// Retrying will not help until the user acts.
    NeedsAttention {
        /// What to do.
        fix: String,
    },
}

/// A running session.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct SessionStatus {
    /// Its id.
    pub id: SessionId,
    /// When it started.
    #[cfg_attr(feature = "ts", ts(type = "string"))]
    pub started_at: Timestamp,
    /// When it ends.
    #[cfg_attr(feature = "ts", ts(type = "string"))]
    pub ends_at: Timestamp,
    /// The next check-in.
    #[cfg_attr(feature = "ts", ts(type = "string"))]
    pub next_check_in: Timestamp,
    /// Every check-in still to come.
    #[cfg_attr(feature = "ts", ts(type = "string[]"))]
    pub check_ins: Vec<Timestamp>,
    /// Seconds until it ends.
    pub remaining_seconds: i64,
    /// The planned block it runs for; `None` when started by hand.
    #[serde(default)]
    pub plan: Option<String>,
    /// What it is for, when the user said.
    #[serde(default)]
    pub intent: Option<String>,
}

/// How triage reads a message (`deepwork triage explain`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Explanation {
    /// The class it would get.
    pub class: Class,
    /// Why, in one line.
    pub why: String,
    /// The deadline it states, when it states one.
    pub deadline: Option<StatedDeadline>,
    /// The model's probability per class, most probable first; empty when the built-in
    /// model is off.
    pub model: Vec<(Class, f32)>,
    /// The probability from which the model says emergency.
    pub emergency_threshold: Option<f32>,
}

impl Explanation {
    /// How `triager` reads `item`, as if it arrived at `received`.
    pub fn of(triager: &Triager, item: &NewItem, received: &Zoned) -> Explanation {
        let triage = triager.triage(item, received);
        let mut model: Vec<(Class, f32)> = triager
            .model_scores(item)
            .map(|s| Class::ALL.iter().map(|c| (*c, s.probability(*c))).collect())
            .unwrap_or_default();
        model.sort_by(|a, b| b.1.total_cmp(&a.1));
        Explanation {
            class: triage.class,
            why: triage.reason.to_string(),
            deadline: triage.deadline,
            model,
            emergency_threshold: triager.emergency_threshold(),
        }
    }
}

/// What happened to a pushed item. Durable when this is sent.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushAck {
    /// Its id.
    pub id: ItemId,
    /// Its class.
    pub class: Class,
    /// Held, broke through, or shown.
    pub disposition: Disposition,
    /// Why it got its class.
    pub why: String,
}

/// What the engine tells subscribers.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum Event {
    /// A session started, or its end or check-ins changed.
    SessionChanged {
        /// The state now.
        status: Status,
    },
    /// An item was held.
    ItemHeld {
        /// The item.
        item: ItemId,
        /// Its class.
        class: Class,
        /// Held counts now.
        held: ClassCounts,
    },
    /// An emergency broke through.
    BrokeThrough {
        /// The item.
        item: ItemId,
    },
    /// An item arrived outside a session and was shown.
    ItemShown {
        /// The item.
        item: ItemId,
    },
    /// A check-in delivered a digest.
    CheckIn {
        /// The digest.
        digest: DigestId,
        /// Its summary.
        summary: String,
        /// Its counts.
        counts: ClassCounts,
    },
    /// The session ended.
    SessionEnded {
        /// The session.
        session: SessionId,
        /// Stopped early.
        early: bool,
    },
    /// A chat platform's state changed.
    AdapterChanged {
        /// Its state now.
        health: AdapterHealth,
    },
    /// This subscriber fell behind and missed events: re-read the status.
    Lagged {
        /// How many.
        missed: u64,
    },
    /// The user asked, from the check-in notification, to see the digest.
    OpenDigest,
    /// The day's standup was drafted at `[standup] at`.
    StandupDrafted {
        /// Its day.
        #[cfg_attr(feature = "ts", ts(type = "string"))]
        date: jiff::civil::Date,
    },
    /// From the standup's notice, the user asked to see it.
    OpenStandup,
    /// The desktop shell's state changed (`Status.desktop`).
    DesktopChanged,
    /// Settings were saved: clients re-read what they show from the config.
    ConfigChanged,
    /// An emergency was acknowledged.
    Acknowledged {
        /// The emergency.
        item: ItemId,
    },
    /// An item was marked done or not done.
    ItemDone {
        /// The item.
        item: ItemId,
        /// Its new state.
        done: bool,
    },
}
