//! The page's TypeScript types, generated from the Rust types they mirror.
//!
//! The committed `ui/src/generated/api.ts` must equal what this renders, so a change to
//! the wire types that the page has not caught up with fails here. `make bindings`
//! rewrites the file (it sets DEEPWORK_UPDATE_BINDINGS).

use deepwork_core::config::Length;
use deepwork_core::digest::{Digest, DigestEntry, DigestGroup, DigestId, DoneBy};
use deepwork_core::escalation::{AckVia, TimelineEntry};
use deepwork_core::plans::{Days, FocusBlock, WorkSpan};
use deepwork_core::resident::HotkeySetting;
use deepwork_core::schedule::{ClockTime, SessionEnd, SessionPlan};
use deepwork_core::session::ClassCounts;
use deepwork_core::settings::{KeywordRule, Settings};
use deepwork_core::standup::{Intent, Outcome, PostTarget, Posted, StandupDraft, StandupEntry};
use deepwork_core::stats::{
    AnsweredInTime, DayFocus, IntentTally, IsoWeek, WeekTotal, WeeklyStats,
};
use deepwork_core::triage::Reason;
use deepwork_core::{Class, ItemId, SessionId};
use deepwork_engine::api::{
    AdapterHealth, AdapterState, ApiError, BlockState, BlockStatus, ConnectKind, DesktopState,
    ErrorCode, EscalationStatus, Event, PlanDay, SessionStatus, ShellPart, SignInCode, Status,
    TimeSpan, UiError, UiErrorCode, WindowCode,
};
use ts_rs::{Config, TS};

fn declarations() -> String {
    let config = Config::new();
    let mut out = String::from(
        "// Generated from the Rust types by src-tauri/tests/bindings.rs. Do not edit:\n\
         // run `make bindings` after changing them.\n",
    );
    macro_rules! declare {
        ($($type:ty),* $(,)?) => {
            $(out.push_str(&format!("\nexport {}\n", <$type as TS>::decl(&config)));)*
        };
    }
    declare!(
        Class,
        ClassCounts,
        ItemId,
        SessionId,
        DigestId,
        Reason,
        TimelineEntry,
        AckVia,
        DoneBy,
        DigestEntry,
        DigestGroup,
        Digest,
        ClockTime,
        Length,
        SessionEnd,
        SessionPlan,
        IsoWeek,
        DayFocus,
        WeekTotal,
        AnsweredInTime,
        IntentTally,
        WeeklyStats,
        ErrorCode,
        ApiError,
        WindowCode,
        UiErrorCode,
        UiError,
        AdapterState,
        ConnectKind,
        AdapterHealth,
        SessionStatus,
        EscalationStatus,
        TimeSpan,
        BlockState,
        BlockStatus,
        PlanDay,
        ShellPart,
        DesktopState,
        Status,
        SignInCode,
        Event,
        HotkeySetting,
        KeywordRule,
        WorkSpan,
        Days,
        FocusBlock,
        Settings,
        Outcome,
        Intent,
        PostTarget,
        Posted,
        StandupDraft,
        StandupEntry,
    );
    out
}

/// One of the window's commands as the page calls it.
struct Command {
    name: &'static str,
    args: Vec<(&'static str, String)>,
    answer: String,
}

/// The window's commands (src/lib.rs), with the Rust types of what the page passes
/// and gets; their TypeScript comes from the types, and `every_command_has_a_binding`
/// checks the list against the app's handler.
fn commands() -> Vec<Command> {
    let config = Config::new();
    macro_rules! command {
        ($name:ident($($arg:ident: $type:ty),*) -> $answer:ty) => {
            Command {
                name: stringify!($name),
                args: vec![$((stringify!($arg), <$type as TS>::name(&config))),*],
                answer: <$answer as TS>::name(&config),
            }
        };
    }
    vec![
        command!(status() -> Status),
        command!(start(plan: SessionPlan, intent: Option<String>) -> Status),
        command!(outcome(session: SessionId, outcome: Outcome, note: Option<String>) -> Intent),
        command!(standup(fresh: bool) -> StandupEntry),
        command!(standups(limit: u32) -> Vec<StandupEntry>),
        command!(save_standup(draft: StandupDraft) -> StandupEntry),
        command!(post_standup(draft: StandupDraft, to: Option<PostTarget>) -> StandupEntry),
        command!(copy_standup(draft: StandupDraft) -> ()),
        command!(stop() -> Status),
        command!(check_in() -> Status),
        command!(digest(id: Option<DigestId>) -> Option<Digest>),
        command!(digests(limit: u32) -> Vec<Digest>),
        command!(done(item: ItemId, done: bool) -> ()),
        command!(acknowledge(item: Option<ItemId>) -> Vec<ItemId>),
        command!(plan(days: u32) -> Vec<PlanDay>),
        command!(skip_block(plan: Option<String>) -> Status),
        command!(teach(item: ItemId, class: Class) -> ()),
        command!(open_link(url: String) -> ()),
        command!(stats(week: Option<IsoWeek>) -> WeeklyStats),
        command!(save_stats_csv(week: IsoWeek) -> String),
        command!(save_stats_review(week: IsoWeek) -> String),
        command!(settings() -> Settings),
        command!(save_settings(settings: Settings) -> Settings),
        command!(connect_adapter(name: String, token: String) -> Status),
        command!(begin_sign_in(name: String) -> SignInCode),
        command!(finish_sign_in(name: String) -> Status),
        command!(page_painted() -> ()),
    ]
}

fn camel(snake: &str) -> String {
    let mut out = String::new();
    let mut upper = false;
    for c in snake.chars() {
        match c {
            '_' => upper = true,
            c if upper => {
                out.extend(c.to_uppercase());
                upper = false;
            }
            c => out.push(c),
        }
    }
    out
}

/// A parameter name TypeScript accepts (`class` is a reserved word).
fn parameter(name: &str) -> String {
    let reserved = ["class", "function", "default", "delete", "new", "in"];
    let name = camel(name);
    if reserved.contains(&name.as_str()) {
        format!("{name}Value")
    } else {
        name
    }
}

fn command_declarations() -> String {
    let mut types = std::collections::BTreeSet::new();
    let mut body = String::new();
    for command in commands() {
        for (_, ts) in &command.args {
            types.insert(ts.clone());
        }
        types.insert(command.answer.clone());
        let params: Vec<String> = command
            .args
            .iter()
            .map(|(arg, ts)| format!("{}: {ts}", parameter(arg)))
            .collect();
        let passed: Vec<String> = command
            .args
            .iter()
            .map(|(arg, _)| format!("{}: {}", camel(arg), parameter(arg)))
            .collect();
        let call = if passed.is_empty() {
            format!("invoke<{}>({:?})", command.answer, command.name)
        } else {
            format!(
                "invoke<{}>({:?}, {{ {} }})",
                command.answer,
                command.name,
                passed.join(", ")
            )
        };
        body.push_str(&format!(
            "  {}: ({}) => {call},\n",
            camel(command.name),
            params.join(", ")
        ));
    }
    let named: Vec<String> = types
        .iter()
        .flat_map(|ts| {
            ts.split(|c: char| !c.is_alphanumeric())
                .filter(|word| {
                    word.starts_with(|c: char| c.is_ascii_uppercase()) && *word != "Array"
                })
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    format!(
        "// Generated from the window's commands by src-tauri/tests/bindings.rs. Do not edit:\n\
         // run `make bindings` after changing them.\n\
         import {{ invoke }} from \"@tauri-apps/api/core\";\n\
         import type {{ {} }} from \"./api\";\n\n\
         export const commands = {{\n{body}}};\n",
        named.join(", ")
    )
}

/// Compares `fresh` with the committed file, or writes it with DEEPWORK_UPDATE_BINDINGS.
fn check_generated(file: &str, fresh: &str) {
    let path = format!("{}/../ui/src/generated/{file}", env!("CARGO_MANIFEST_DIR"));
    if std::env::var_os("DEEPWORK_UPDATE_BINDINGS").is_some() {
        std::fs::write(&path, fresh).unwrap_or_else(|e| panic!("write {path}: {e}"));
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == fresh,
        "ui/src/generated/{file} does not match the Rust side: run `make bindings` and commit it"
    );
}

#[test]
fn typescript_bindings_match_the_rust_types() {
    check_generated("api.ts", &declarations());
}

#[test]
fn typescript_commands_match_the_windows_commands() {
    check_generated("commands.ts", &command_declarations());
}

#[test]
fn every_command_has_a_binding() {
    let source = include_str!("../src/lib.rs");
    let handler = source
        .split("generate_handler![")
        .nth(1)
        .and_then(|rest| rest.split(']').next())
        .expect("the app registers its commands with generate_handler!");
    let mut registered: Vec<&str> = handler
        .split(',')
        .map(str::trim)
        .filter(|name| !name.is_empty())
        .collect();
    let mut bound: Vec<&str> = commands().iter().map(|c| c.name).collect();
    registered.sort_unstable();
    bound.sort_unstable();
    assert_eq!(
        registered, bound,
        "a command without a binding, or a binding without a command"
    );
}
