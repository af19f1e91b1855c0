//! The command line, declared with clap.

use clap::{Args, Parser, Subcommand, ValueEnum};
use deepwork_core::Urgency;
use deepwork_core::config::Length;
use deepwork_core::schedule::ClockTime;
use deepwork_core::stats::IsoWeek;
use std::path::PathBuf;

/// Deepwork: hold messages and notifications while you focus, see them at check-in.
#[derive(Debug, Parser)]
#[command(
    name = "deepwork",
    version,
    about,
    after_help = "Files: config in $XDG_CONFIG_HOME/deepwork/config.toml (DEEPWORK_CONFIG), data in $XDG_DATA_HOME/deepwork (DEEPWORK_DATA_DIR), socket in $XDG_RUNTIME_DIR/deepwork (DEEPWORK_SOCKET)."
)]
pub struct Cli {
    /// Config file to use instead of the default.
    #[arg(long, global = true, env = "DEEPWORK_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the engine in the foreground: the resident, with its tray icon and hotkey where
    /// there is a display.
    Daemon {
        /// No tray icon and no hotkey, even with a display.
        #[arg(long)]
        headless: bool,
    },
    /// Check the configuration.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// Connected chat platforms.
    Adapters {
        #[command(subcommand)]
        command: AdaptersCommand,
    },
    /// How messages are classed: explain one, correct one, evaluate on a labelled file.
    Triage {
        #[command(subcommand)]
        command: TriageCommand,
    },
    /// What follows an unacknowledged emergency: SMS and calls through Twilio.
    Escalation {
        #[command(subcommand)]
        command: EscalationCommand,
    },
    #[command(flatten)]
    Engine(EngineCommand),
}

#[derive(Debug, Subcommand)]
pub enum EscalationCommand {
    /// Send one test SMS to [escalation] phone and print Twilio's answer.
    Test,
}

#[derive(Debug, Subcommand)]
pub enum TriageCommand {
    /// Print the class a message would get and why; nothing is stored.
    Explain {
        /// The message.
        text: String,
        /// Its sender.
        #[arg(long, default_value = "someone")]
        from: String,
        /// Its channel or room; a direct message without it.
        #[arg(long)]
        channel: Option<String>,
        /// Where it came from.
        #[arg(long, default_value = "chat")]
        source: String,
    },
    /// Correct an item's class; messages like it go the same way from now on.
    Teach {
        /// The item's id, as shown in the digest.
        item: i64,
        /// Its class: emergency, blocker, update, strategic or pre-ping.
        class: String,
    },
    /// Print a confusion matrix and per-class precision and recall for a labelled file:
    /// one JSON object a line with "from", "channel", "text" and "expected". Messages are
    /// read as if they arrived on Wednesday 2026-11-25 at 10:00 local time, so stated
    /// deadlines give the same result on every run.
    Eval {
        /// The .jsonl file.
        file: PathBuf,
        /// List the messages classed wrong.
        #[arg(long)]
        misses: bool,
    },
}

/// Commands answered by the running engine.
#[derive(Debug, Subcommand)]
pub enum EngineCommand {
    /// Start deep work.
    Start(StartArgs),
    /// Change the running session's end: --for counts from now.
    Extend(PlanArgs),
    /// End deep work early and get the digest.
    Stop,
    /// Start deep work (default length) if none runs, else stop it: bind it as a system
    /// shortcut where the built-in hotkey cannot grab keys (Wayland).
    Toggle,
    /// Say how the latest session's intent went: done, partly or not-done.
    Intent {
        /// done, partly or not-done.
        #[arg(value_parser = ["done", "partly", "not-done"])]
        outcome: String,
        /// A note on it.
        #[arg(long)]
        note: Option<String>,
        /// The session, when not the latest with an intent.
        #[arg(long)]
        session: Option<i64>,
    },
    /// Today's written standup: shipped since the last working day, today's plan,
    /// blockers. As kept (drafted at `[standup] at`, edited in the window, posted), or
    /// drafted now.
    Standup {
        /// Print JSON.
        #[arg(long)]
        json: bool,
        /// Draft it again from what is known now, not as kept.
        #[arg(long)]
        fresh: bool,
        /// Post it, to `--to` or to `[standup] post_to`.
        #[arg(long)]
        post: bool,
        /// Where to post: "slack:#team", "mattermost:team/channel",
        /// "matrix:#standup:example.org" or "teams:TEAM_ID/CHANNEL_ID".
        #[arg(long, requires = "post")]
        to: Option<deepwork_core::standup::PostTarget>,
        /// Show the last N kept standups instead.
        #[arg(long, value_name = "N", conflicts_with_all = ["fresh", "post"])]
        history: Option<u32>,
    },
    /// Show the state: time left, next check-in, held counts (never content).
    Status {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Hand an item to Deepwork (scripts, CI pipelines).
    Push(PushArgs),
    /// Check in now: deliver the digest; the session goes on.
    #[command(alias = "check-in")]
    Checkin,
    /// Show the latest digest.
    Digest {
        /// Show every digest, newest first.
        #[arg(long, conflicts_with = "id")]
        all: bool,
        /// Show this digest.
        #[arg(long)]
        id: Option<i64>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Acknowledge an emergency: what would follow it (alerts, SMS, a call) stops.
    Ack {
        /// The emergency's id, as shown in status and the digest; every open one when
        /// left out.
        item: Option<i64>,
    },
    /// Mark an item handled.
    Done {
        /// The item's id, as shown in the digest.
        item: i64,
        /// Mark it not done again.
        #[arg(long)]
        undo: bool,
    },
    /// Forget the text of handled items received before a day (what `[storage] keep_days`
    /// does on its own); classes and times stay for the stats.
    Forget {
        /// The first day to keep, like 2026-09-01 (local time).
        #[arg(long, value_name = "DATE")]
        before: jiff::civil::Date,
    },
    /// The plans of the coming week: work hours and focus blocks, with what became of
    /// each block.
    Plan {
        /// How many days, from today.
        #[arg(long, default_value_t = 7)]
        days: u32,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        #[command(subcommand)]
        command: Option<PlanCommand>,
    },
    /// Weekly focus statistics.
    Stats {
        /// The ISO week, like 2026-W48; this week by default.
        #[arg(long)]
        week: Option<IsoWeek>,
        /// Print JSON.
        #[arg(long, conflicts_with_all = ["csv", "markdown"])]
        json: bool,
        /// Print one CSV row per day.
        #[arg(long, conflicts_with = "markdown")]
        csv: bool,
        /// Print the weekly review as Markdown: focus, intents, replies in time,
        /// interruptions avoided, the longest uninterrupted block.
        #[arg(long)]
        markdown: bool,
        /// Save the CSV or the review where downloads go (as the window does), and
        /// print where.
        #[arg(long)]
        save: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum PlanCommand {
    /// Skip a focus block: the running one (its session stops) or the next one today.
    Skip {
        /// The block, as `deepwork plan --json` names it (e.g. "2026-11-30 09:00-11:30").
        plan: Option<String>,
    },
    /// Store the password of a calendar of [[plans.calendars]] in the OS keyring, read
    /// from standard input.
    Password {
        /// The calendar's url, as in the config.
        url: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Validate a config file (the one in use by default).
    Check {
        /// The file to check.
        file: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
pub enum AdaptersCommand {
    /// List the configured platforms: account, token, state.
    List,
    /// Store a platform's access token in the OS keyring, read from standard input.
    Token {
        /// The platform, as in the config (`matrix`).
        name: String,
        /// Slack only: the app-level token (`xapp-…`) that has messages pushed over
        /// Socket Mode instead of polled.
        #[arg(long)]
        app_level: bool,
    },
    /// Sign in to a platform that has a sign-in flow (`teams`: a code to enter at
    /// microsoft.com/devicelogin; `slack`: Slack's consent page in the browser) and
    /// keep the sign-in in the OS keyring.
    Connect {
        /// The platform, as in the config (`teams`).
        name: String,
    },
    /// Check that a platform answers with the stored token.
    Test {
        /// The platform, as in the config (`matrix`).
        name: String,
    },
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    /// How long, like 90m, 2h or 1h30m (at most 12h).
    #[arg(long = "for", value_name = "LENGTH", conflicts_with = "until")]
    pub length: Option<Length>,
    /// Until a local time, like 11:30 (the next one to come).
    #[arg(long, value_name = "HH:MM")]
    pub until: Option<ClockTime>,
    /// Check in at this local time instead of the configured slots.
    #[arg(long = "check-in", value_name = "HH:MM")]
    pub check_in: Option<ClockTime>,
}

#[derive(Debug, Args)]
pub struct StartArgs {
    #[command(flatten)]
    pub plan: PlanArgs,
    /// What the session is for, like "Finish the billing RFC".
    #[arg(long)]
    pub intent: Option<String>,
}

#[derive(Debug, Args)]
pub struct PushArgs {
    /// Where it comes from, like ci or cron.
    #[arg(long)]
    pub source: String,
    /// Who sends it.
    #[arg(long = "from")]
    pub sender: String,
    /// One line saying what it is.
    #[arg(long)]
    pub title: String,
    /// More text.
    #[arg(long)]
    pub body: Option<String>,
    /// A link back to it (http or https).
    #[arg(long)]
    pub url: Option<String>,
    /// The channel it belongs to.
    #[arg(long)]
    pub channel: Option<String>,
    /// Its urgency, trusted for sources in triage.trusted_urgency_sources.
    #[arg(long, value_enum)]
    pub urgency: Option<UrgencyArg>,
    /// The source's own id for it: pushing the same source and id again (a retry after
    /// a lost answer) answers with the item stored the first time.
    #[arg(long)]
    pub id: Option<String>,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum UrgencyArg {
    Emergency,
    Blocker,
    Update,
    Strategic,
}

impl From<UrgencyArg> for Urgency {
    fn from(arg: UrgencyArg) -> Self {
        match arg {
            UrgencyArg::Emergency => Urgency::Emergency,
            UrgencyArg::Blocker => Urgency::Blocker,
            UrgencyArg::Update => Urgency::Update,
            UrgencyArg::Strategic => Urgency::Strategic,
        }
    }
}
