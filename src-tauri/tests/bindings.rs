//! The page's TypeScript types, generated from the Rust types they mirror.
//!
//! The committed `ui/src/generated/api.ts` must equal what this renders, so a change to
//! the wire types that the page has not caught up with fails here. `make bindings`
//! rewrites the file (it sets DEEPWORK_UPDATE_BINDINGS).

use deepwork_core::config::Length;
use deepwork_core::desktop::HotkeySetting;
use deepwork_core::digest::{Digest, DigestEntry, DigestGroup, DigestId};
use deepwork_core::schedule::{ClockTime, SessionEnd, SessionPlan};
use deepwork_core::session::ClassCounts;
use deepwork_core::settings::{KeywordRule, Settings};
use deepwork_core::stats::{DayFocus, IsoWeek, WeekTotal, WeeklyStats};
use deepwork_core::triage::Reason;
use deepwork_core::{Class, ItemId, SessionId};
use deepwork_engine::api::{
    AdapterHealth, AdapterState, ApiError, ConnectKind, ErrorCode, Event, SessionStatus,
    SignInCode, Status,
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
        WeeklyStats,
        ErrorCode,
        ApiError,
        AdapterState,
        ConnectKind,
        AdapterHealth,
        SessionStatus,
        Status,
        SignInCode,
        Event,
        HotkeySetting,
        KeywordRule,
        Settings,
    );
    out
}

#[test]
fn typescript_bindings_match_the_rust_types() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../ui/src/generated/api.ts");
    let fresh = declarations();
    if std::env::var_os("DEEPWORK_UPDATE_BINDINGS").is_some() {
        std::fs::write(path, &fresh).expect("write ui/src/generated/api.ts");
        return;
    }
    let committed = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        committed == fresh,
        "ui/src/generated/api.ts does not match the Rust types: run `make bindings` and commit it"
    );
}
