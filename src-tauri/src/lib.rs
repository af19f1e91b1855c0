//! The Deepwork window: a Tauri 2 client of the engine, like the CLI.
//!
//! Its commands forward to the engine's socket API; the engine's event stream is
//! re-emitted to the page as `engine` events, so the page never polls. It starts a
//! resident when none runs, and exits when its window closes.

mod engine_link;

use crate::engine_link::{EngineLink, Repeat};
use deepwork_core::digest::{Digest, DigestId};
use deepwork_core::escalation::AckVia;
use deepwork_core::schedule::SessionPlan;
use deepwork_core::settings::Settings;
use deepwork_core::standup::{Intent, Outcome, PostTarget, StandupDraft, StandupEntry};
use deepwork_core::stats::{IsoWeek, WeeklyStats};
use deepwork_core::{Class, ItemId, SessionId};
use deepwork_engine::api::{PlanDay, SignInCode, Status, UiError};
use deepwork_engine::platforms::{self, PendingSignIn};
use deepwork_engine::server::load_config;
use deepwork_engine::{Paths, export};
use tauri::{Manager, State, WebviewUrl, WebviewWindowBuilder};
use tauri_plugin_clipboard_manager::ClipboardExt;
use tauri_plugin_opener::OpenerExt;

/// The views the window can open on, as `--view NAME` and the page's `#NAME`.
const VIEWS: [&str; 6] = ["now", "digest", "standup", "plans", "stats", "settings"];

#[tauri::command]
async fn status(link: State<'_, EngineLink>) -> Result<Status, UiError> {
    link.call(Repeat::Safe, |c| Box::pin(c.status())).await
}

#[tauri::command]
async fn start(
    link: State<'_, EngineLink>,
    plan: SessionPlan,
    intent: Option<String>,
) -> Result<Status, UiError> {
    link.call(Repeat::Once, |c| {
        Box::pin(c.start_for(plan, intent.clone()))
    })
    .await
}

/// Records how a session's intent went: the one-click answer at a session's end.
#[tauri::command]
async fn outcome(
    link: State<'_, EngineLink>,
    session: SessionId,
    outcome: Outcome,
    note: Option<String>,
) -> Result<Intent, UiError> {
    link.call(Repeat::Safe, |c| {
        Box::pin(c.outcome(Some(session), outcome, note.clone()))
    })
    .await
}

#[tauri::command]
async fn standup(link: State<'_, EngineLink>, fresh: bool) -> Result<StandupEntry, UiError> {
    link.call(Repeat::Safe, |c| Box::pin(c.standup(fresh)))
        .await
}

#[tauri::command]
async fn standups(link: State<'_, EngineLink>, limit: u32) -> Result<Vec<StandupEntry>, UiError> {
    let limit = limit.min(200);
    link.call(Repeat::Safe, |c| Box::pin(c.standups(limit)))
        .await
}

#[tauri::command]
async fn save_standup(
    link: State<'_, EngineLink>,
    draft: StandupDraft,
) -> Result<StandupEntry, UiError> {
    link.call(Repeat::Safe, |c| Box::pin(c.save_standup(draft.clone())))
        .await
}

/// Posts the standup where `[standup] post_to` says (or `to`); a post is never repeated
/// by a reconnect, since it may have landed.
#[tauri::command]
async fn post_standup(
    link: State<'_, EngineLink>,
    draft: StandupDraft,
    to: Option<PostTarget>,
) -> Result<StandupEntry, UiError> {
    link.call(Repeat::Once, |c| {
        Box::pin(c.post_standup(Some(draft.clone()), to.clone()))
    })
    .await
}

/// Copies the standup as Markdown to the clipboard, from Rust: the page gets no
/// clipboard permission of its own.
#[tauri::command]
fn copy_standup(app: tauri::AppHandle, draft: StandupDraft) -> Result<(), UiError> {
    app.clipboard()
        .write_text(draft.to_markdown())
        .map_err(|error| UiError::refused(format!("could not copy to the clipboard: {error}")))
}

#[tauri::command]
async fn stop(link: State<'_, EngineLink>) -> Result<Status, UiError> {
    link.call(Repeat::Once, |c| Box::pin(c.stop())).await
}

#[tauri::command]
async fn check_in(link: State<'_, EngineLink>) -> Result<Status, UiError> {
    link.call(Repeat::Once, |c| Box::pin(c.check_in())).await
}

#[tauri::command]
async fn digest(
    link: State<'_, EngineLink>,
    id: Option<DigestId>,
) -> Result<Option<Digest>, UiError> {
    link.call(Repeat::Safe, |c| Box::pin(c.digest(id))).await
}

#[tauri::command]
async fn digests(link: State<'_, EngineLink>, limit: u32) -> Result<Vec<Digest>, UiError> {
    let limit = limit.min(200);
    link.call(Repeat::Safe, |c| Box::pin(c.digests(limit)))
        .await
}

#[tauri::command]
async fn done(link: State<'_, EngineLink>, item: ItemId, done: bool) -> Result<(), UiError> {
    link.call(Repeat::Safe, |c| Box::pin(c.done(item, done)))
        .await
}

/// Acknowledges one emergency, or every open one: its escalation stops.
#[tauri::command]
async fn acknowledge(
    link: State<'_, EngineLink>,
    item: Option<ItemId>,
) -> Result<Vec<ItemId>, UiError> {
    link.call(Repeat::Safe, |c| {
        Box::pin(c.acknowledge(item, AckVia::Window))
    })
    .await
}

/// The plans of the coming days: work hours, focus blocks, meetings.
#[tauri::command]
async fn plan(link: State<'_, EngineLink>, days: u32) -> Result<Vec<PlanDay>, UiError> {
    link.call(Repeat::Safe, |c| Box::pin(c.plan(days))).await
}

/// Skips a planned focus block (the running one stops).
#[tauri::command]
async fn skip_block(link: State<'_, EngineLink>, plan: Option<String>) -> Result<Status, UiError> {
    link.call(Repeat::Once, |c| Box::pin(c.skip_block(plan.clone())))
        .await
}

#[tauri::command]
async fn teach(link: State<'_, EngineLink>, item: ItemId, class: Class) -> Result<(), UiError> {
    link.call(Repeat::Safe, |c| Box::pin(c.teach(item, class)))
        .await
}

#[tauri::command]
async fn stats(link: State<'_, EngineLink>, week: Option<IsoWeek>) -> Result<WeeklyStats, UiError> {
    link.call(Repeat::Safe, |c| Box::pin(c.stats(week))).await
}

/// Saves a week's focus per day as CSV where downloads go, and says where.
#[tauri::command]
async fn save_stats_csv(link: State<'_, EngineLink>, week: IsoWeek) -> Result<String, UiError> {
    let stats = link
        .call(Repeat::Safe, |c| Box::pin(c.stats(Some(week))))
        .await?;
    export::save_week_csv(week, &stats)
        .map(|path| path.display().to_string())
        .map_err(UiError::refused)
}

/// Saves the week's review as Markdown where downloads go, and says where.
#[tauri::command]
async fn save_stats_review(link: State<'_, EngineLink>, week: IsoWeek) -> Result<String, UiError> {
    let stats = link
        .call(Repeat::Safe, |c| Box::pin(c.stats(Some(week))))
        .await?;
    export::save_week_review(week, &stats)
        .map(|path| path.display().to_string())
        .map_err(UiError::refused)
}

#[tauri::command]
async fn settings(link: State<'_, EngineLink>) -> Result<Settings, UiError> {
    link.call(Repeat::Safe, |c| Box::pin(c.settings())).await
}

/// Saves settings into config.toml through the engine, which validates them, keeps the
/// rest of the file, and uses them at once (the tray and hotkey follow).
#[tauri::command]
async fn save_settings(
    link: State<'_, EngineLink>,
    settings: Settings,
) -> Result<Settings, UiError> {
    link.call(Repeat::Safe, |c| {
        Box::pin(c.save_settings(settings.clone()))
    })
    .await
}

/// Keeps a platform's token in the OS keyring (under the account its config names) and
/// has the engine reconnect, so it is used at once. The token goes from the page to the
/// keyring and nowhere else.
#[tauri::command]
async fn connect_adapter(
    link: State<'_, EngineLink>,
    paths: State<'_, Paths>,
    name: String,
    token: String,
) -> Result<Status, UiError> {
    let token = token.trim().to_owned();
    if token.is_empty() {
        return Err(UiError::refused("paste the token first"));
    }
    keep(&paths, name, token).await?;
    link.call(Repeat::Safe, |c| Box::pin(c.reload_adapters()))
        .await
}

/// Keeps a credential in the keyring, off the async runtime (the keyring blocks).
async fn keep(paths: &Paths, name: String, secret: String) -> Result<(), UiError> {
    let config = paths.config.clone();
    tauri::async_runtime::spawn_blocking(move || platforms::keep_token_for(&config, &name, &secret))
        .await
        .map_err(|error| UiError::refused(error.to_string()))?
        .map_err(UiError::refused)
}

#[derive(Default)]
struct SignIns(tokio::sync::Mutex<Option<PendingSignIn>>);

/// Starts a sign-in: for Teams the code to enter and where; for Slack the consent page,
/// which opens in the browser (`user_code` is empty).
#[tauri::command]
async fn begin_sign_in(
    app: tauri::AppHandle,
    paths: State<'_, Paths>,
    sign_ins: State<'_, SignIns>,
    name: String,
) -> Result<SignInCode, UiError> {
    let config = load_config(&paths.config).map_err(|error| UiError::refused(error.to_string()))?;
    let (code, pending) = platforms::start_sign_in(&config.adapters, &name)
        .await
        .map_err(|error| UiError::refused(error.to_string()))?;
    if code.user_code.is_empty() {
        open_link(app, code.verification_uri.clone())?;
    }
    *sign_ins.0.lock().await = Some(pending);
    Ok(code)
}

/// Waits for the person to finish the sign-in begun, keeps it, and reconnects.
#[tauri::command]
async fn finish_sign_in(
    link: State<'_, EngineLink>,
    paths: State<'_, Paths>,
    sign_ins: State<'_, SignIns>,
    name: String,
) -> Result<Status, UiError> {
    let pending = sign_ins
        .0
        .lock()
        .await
        .take()
        .ok_or_else(|| UiError::refused("no sign-in is waiting; start it again"))?;
    let secret = pending
        .finish()
        .await
        .map_err(|error| UiError::refused(error.to_string()))?;
    keep(&paths, name, secret).await?;
    link.call(Repeat::Safe, |c| Box::pin(c.reload_adapters()))
        .await
}

/// Opens an item's link in the user's browser. Only http and https: a `javascript:`,
/// `file:` or `data:` address from a message is refused, never handed to the desktop.
#[tauri::command]
fn open_link(app: tauri::AppHandle, url: String) -> Result<(), UiError> {
    let parsed = tauri::Url::parse(&url)
        .map_err(|_| UiError::refused(format!("{url:?} is not a web address")))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(UiError::refused(format!(
            "only http and https links are opened, not {}:",
            parsed.scheme()
        )));
    }
    app.opener()
        .open_url(parsed.as_str(), None::<&str>)
        .map_err(|error| UiError::refused(format!("cannot open the link: {error}")))
}

/// The page calls this once it has painted its first data. The window is created
/// hidden so nobody sees an empty white frame while WebKit starts.
#[tauri::command]
fn page_painted(window: tauri::WebviewWindow) {
    if !window.is_visible().unwrap_or(false) {
        tracing::info!(
            since_start_ms = started().elapsed().as_millis() as u64,
            "window painted; showing it"
        );
        show(&window);
    }
}

fn show(window: &tauri::WebviewWindow) {
    let _ = window.unminimize();
    let _ = window.show();
    let _ = window.set_focus();
}

/// When the process started, as near as the app can tell.
fn started() -> std::time::Instant {
    static STARTED: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    *STARTED.get_or_init(std::time::Instant::now)
}

/// How long the window waits for the page's first paint before showing anyway, so a
/// page that fails to load is still seen (with its error) rather than never.
const SHOW_AT_THE_LATEST: std::time::Duration = std::time::Duration::from_secs(3);

/// The view named by `--view NAME` among `args`, if it is one.
fn requested_view(args: &[String]) -> Option<&'static str> {
    let name = args
        .windows(2)
        .find(|pair| pair[0] == "--view")
        .map(|pair| pair[1].as_str())?;
    VIEWS.into_iter().find(|view| *view == name)
}

/// Runs the window until it is closed.
pub fn run() {
    started();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("DEEPWORK_LOG")
                .unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let args: Vec<String> = std::env::args().collect();
    let first_view = requested_view(&args).unwrap_or("now");
    let paths = Paths::resolve(None);
    let result = tauri::Builder::default()
        .plugin(tauri_plugin_opener::init())
        .plugin(tauri_plugin_clipboard_manager::init())
        .plugin(tauri_plugin_single_instance::init(|app, args, _cwd| {
            // A second launch brings this window forward, on the view it asked for.
            if let Some(window) = app.get_webview_window("main") {
                if let Some(view) = requested_view(&args) {
                    let _ = window.eval(format!("location.hash = {view:?}"));
                }
                show(&window);
            }
        }))
        .manage(EngineLink::new(paths.socket.clone()))
        .manage(paths.clone())
        .manage(SignIns::default())
        .invoke_handler(tauri::generate_handler![
            status,
            start,
            outcome,
            standup,
            standups,
            save_standup,
            post_standup,
            copy_standup,
            stop,
            check_in,
            digest,
            digests,
            done,
            acknowledge,
            plan,
            skip_block,
            teach,
            open_link,
            stats,
            save_stats_csv,
            save_stats_review,
            settings,
            save_settings,
            connect_adapter,
            begin_sign_in,
            finish_sign_in,
            page_painted
        ])
        .setup(move |app| {
            let link = app.state::<EngineLink>();
            if let Err(error) = engine_link::ensure_resident(&paths) {
                tracing::warn!(%error, "no engine yet; the window shows it and keeps trying");
            }
            link.forward_events(app.handle().clone());
            let url = WebviewUrl::App(format!("index.html#{first_view}").into());
            WebviewWindowBuilder::new(app, "main", url)
                .title("Deepwork")
                .inner_size(980.0, 720.0)
                .min_inner_size(640.0, 480.0)
                // The page never leaves the app: links open in the browser through
                // `open_link` (the opener plugin, from Rust), and any other navigation
                // is refused here.
                .on_navigation(|url| {
                    url.scheme() == "tauri" || url.host_str() == Some("tauri.localhost")
                })
                .visible(false)
                .build()?;
            let handle = app.handle().clone();
            tauri::async_runtime::spawn(async move {
                tokio::time::sleep(SHOW_AT_THE_LATEST).await;
                if let Some(window) = handle.get_webview_window("main")
                    && !window.is_visible().unwrap_or(true)
                {
                    tracing::warn!("the page did not report a paint; showing the window anyway");
                    show(&window);
                }
            });
            Ok(())
        })
        .run(tauri::generate_context!());
    if let Err(error) = result {
        eprintln!("deepwork-app: {error}");
        std::process::exit(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_known_views_are_opened() {
        let args = |list: &[&str]| list.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            requested_view(&args(&["app", "--view", "digest"])),
            Some("digest")
        );
        assert_eq!(
            requested_view(&args(&["app", "--view", "javascript:alert(1)"])),
            None
        );
        assert_eq!(requested_view(&args(&["app", "--view"])), None);
        assert_eq!(requested_view(&args(&["app"])), None);
    }
}
