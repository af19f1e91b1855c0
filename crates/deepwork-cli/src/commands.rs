//! What each command does: parse → one engine call → render. Exit codes: 0 done,
//! 1 something failed (no engine, storage), 2 the input was wrong.

use crate::args::{
    Cli, Command, ConfigCommand, EngineCommand, EscalationCommand, PlanArgs, PlanCommand, PushArgs,
};
use crate::render;
use deepwork_core::config::Config;
use deepwork_core::digest::DigestId;
use deepwork_core::escalation::AckVia;
use deepwork_core::schedule::{SessionEnd, SessionPlan};
use deepwork_core::standup::Outcome;
use deepwork_core::{ItemId, NewItem, SessionId};
use deepwork_engine::calendars;
use deepwork_engine::server::{self, StartError};
use deepwork_engine::{Client, ClientError, Paths};
use jiff::tz::TimeZone;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use tokio::sync::Notify;

/// Stops the session and prints its digest.
async fn stop(client: &mut Client, tz: &TimeZone) -> Result<(), Failure> {
    let status = client.stop().await?;
    let digest = client.digest(status.latest_digest).await?;
    println!("Deep work stopped.");
    if let Some(digest) = digest {
        print!("{}", render::digest(&digest, tz));
    }
    Ok(())
}

/// How a command failed.
pub(crate) enum Failure {
    /// The user's input was wrong.
    Usage(String),
    /// Something else went wrong.
    Runtime(String),
}

impl From<ClientError> for Failure {
    fn from(error: ClientError) -> Self {
        match &error {
            ClientError::Api(api) if api.code.is_user_error() => Failure::Usage(error.to_string()),
            _ => Failure::Runtime(error.to_string()),
        }
    }
}

/// A bad config is the user's to fix; anything else is a runtime failure.
impl From<server::StartError> for Failure {
    fn from(error: server::StartError) -> Self {
        if error.is_config_error() {
            Failure::Usage(error.to_string())
        } else {
            Failure::Runtime(error.to_string())
        }
    }
}

pub fn run(cli: Cli) -> ExitCode {
    let paths = Paths::resolve(cli.config.as_deref());
    let result = match cli.command {
        Command::Daemon { headless } => daemon(&paths, headless),
        Command::Config {
            command: ConfigCommand::Check { file },
        } => config_check(file.as_deref().unwrap_or(&paths.config)),
        Command::Adapters { command } => crate::adapters::run(&paths, command),
        Command::Triage { command } => crate::triage::run(&paths, command),
        Command::Escalation {
            command: EscalationCommand::Test,
        } => escalation_test(&paths),
        Command::Engine(command) => engine_command(&paths, command),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Usage(message)) => {
            eprintln!("deepwork: {}", shown(&message));
            ExitCode::from(2)
        }
        Err(Failure::Runtime(message)) => {
            eprintln!("deepwork: {}", shown(&message));
            ExitCode::from(1)
        }
    }
}

/// A failure's text as printed: it may quote a server, so nothing in it may move the
/// cursor or reorder the line; its own line breaks stay.
fn shown(message: &str) -> String {
    message
        .split('\n')
        .map(deepwork_core::text::visible)
        .collect::<Vec<_>>()
        .join("\n")
}

pub(crate) fn runtime() -> Result<tokio::runtime::Runtime, Failure> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::Runtime(format!("cannot start the async runtime: {e}")))
}

fn daemon(paths: &Paths, headless: bool) -> Result<(), Failure> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("DEEPWORK_LOG")
                .unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let desktop = !headless
        && ["DISPLAY", "WAYLAND_DISPLAY"]
            .iter()
            .any(|name| std::env::var_os(name).is_some_and(|value| !value.is_empty()));
    let quit = Arc::new(Notify::new());
    let stop = async {
        tokio::select! {
            () = shutdown_signal() => {}
            () = quit.notified() => {}
        }
    };
    let ready = |config: &Config| {
        if desktop {
            deepwork_tray::start(
                paths.socket.clone(),
                paths.config.clone(),
                config.clone(),
                quit.clone(),
            );
        }
    };
    runtime()?.block_on(async {
        server::serve_then(paths, stop, ready)
            .await
            .map_err(|error| match error {
                StartError::Config { .. } => Failure::Usage(error.to_string()),
                other => Failure::Runtime(other.to_string()),
            })
    })
}

async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    match (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) {
        (Ok(mut term), Ok(mut int)) => {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
        }
        _ => std::future::pending().await,
    }
    tracing::info!("stopping; a running session goes on when the engine starts again");
}

fn config_check(path: &Path) -> Result<(), Failure> {
    if !path.exists() {
        println!("{}: no file; every setting has its default", path.display());
        return Ok(());
    }
    match server::load_config(path) {
        Ok(_) => {
            println!("{}: OK", path.display());
            Ok(())
        }
        Err(error) => Err(error.into()),
    }
}

fn plan(args: PlanArgs) -> SessionPlan {
    let end = match (args.length, args.until) {
        (Some(length), _) => Some(SessionEnd::For(length)),
        (None, Some(until)) => Some(SessionEnd::Until(until)),
        (None, None) => None,
    };
    SessionPlan {
        end,
        check_in: args.check_in,
    }
}

fn new_item(args: PushArgs) -> Result<NewItem, Failure> {
    let item = NewItem {
        source: args.source,
        sender: args.sender,
        title: args.title,
        body: args.body,
        url: args.url,
        channel: args.channel,
        urgency: args.urgency.map(Into::into),
        message_id: args.id,
        source_class: None,
        conversation: None,
    };
    item.validate()
        .map_err(|e| Failure::Usage(format!("cannot push: {e}")))?;
    Ok(item)
}

/// Keeps a calendar's password in the keyring; the calendar reader picks it up at its
/// next round.
fn calendar_password(paths: &Paths, url: &str) -> Result<(), Failure> {
    let config = server::load_config(&paths.config).map_err(|e| Failure::Usage(e.to_string()))?;
    let Some(calendar) = config
        .plans
        .calendars
        .iter()
        .find(|c| c.url.as_str() == url.trim())
    else {
        return Err(Failure::Usage(format!(
            "{url} is not a calendar of [[plans.calendars]] in {}",
            paths.config.display()
        )));
    };
    let password = crate::adapters::read_secret(
        &format!("Paste the password for {} and press Enter:", calendar.url),
        "password",
    )?;
    let password = password.trim_end_matches(['\r', '\n']);
    if password.is_empty() {
        return Err(Failure::Usage("no password given on standard input".into()));
    }
    crate::adapters::secrets()?
        .set_token(calendars::KEYRING, calendar.url.as_str(), password)
        .map_err(|e| Failure::Runtime(e.to_string()))?;
    println!(
        "Stored the password for {} in the keyring; the calendar is read with it within 15 minutes.",
        calendar.url
    );
    Ok(())
}

fn engine_command(paths: &Paths, command: EngineCommand) -> Result<(), Failure> {
    if let EngineCommand::Plan {
        command: Some(PlanCommand::Password { url }),
        ..
    } = &command
    {
        return calendar_password(paths, url);
    }
    let tz = TimeZone::try_system().unwrap_or(TimeZone::UTC);
    runtime()?.block_on(async {
        match command {
            EngineCommand::Push(args) => {
                // Checked before looking for the engine, so a bad item is reported as such.
                let item = new_item(args)?;
                let ack = connect(paths).await?.push(item).await?;
                println!("{}", render::push_ack(&ack));
            }
            EngineCommand::Start(args) => {
                let status = connect(paths)
                    .await?
                    .start_for(plan(args.plan), args.intent)
                    .await?;
                println!("{}", render::status(&status, &tz));
            }
            EngineCommand::Intent {
                outcome,
                note,
                session,
            } => {
                let outcome = Outcome::parse(&outcome).ok_or_else(|| {
                    Failure::Usage(format!("{outcome:?} is not done, partly or not-done"))
                })?;
                let intent = connect(paths)
                    .await?
                    .outcome(session.map(SessionId), outcome, note)
                    .await?;
                println!("{}", render::intent(&intent));
            }
            EngineCommand::Standup {
                json,
                fresh,
                post,
                to,
                history,
            } => {
                let mut client = connect(paths).await?;
                let entries = match history {
                    Some(limit) => client.standups(limit).await?,
                    None if post => {
                        let draft = match fresh {
                            true => Some(client.standup(true).await?.draft),
                            false => None,
                        };
                        vec![client.post_standup(draft, to).await?]
                    }
                    None => vec![client.standup(fresh).await?],
                };
                if json {
                    match history {
                        Some(_) => println!("{}", render::json(&entries)?),
                        None => println!("{}", render::json(&entries[0])?),
                    }
                } else {
                    print!("{}", render::standups(&entries, &tz));
                }
            }
            EngineCommand::Extend(args) => {
                let status = connect(paths).await?.extend(plan(args)).await?;
                println!("{}", render::status(&status, &tz));
            }
            EngineCommand::Stop => stop(&mut connect(paths).await?, &tz).await?,
            EngineCommand::Toggle => {
                let mut client = connect(paths).await?;
                if client.status().await?.session.is_some() {
                    stop(&mut client, &tz).await?;
                } else {
                    let status = client.start(SessionPlan::default()).await?;
                    println!("{}", render::status(&status, &tz));
                }
            }
            EngineCommand::Checkin => {
                let mut client = connect(paths).await?;
                let status = client.check_in().await?;
                if let Some(digest) = client.digest(status.latest_digest).await? {
                    print!("{}", render::digest(&digest, &tz));
                }
            }
            EngineCommand::Status { json } => {
                let status = connect(paths).await?.status().await?;
                if json {
                    println!("{}", render::json(&status)?);
                } else {
                    println!("{}", render::status(&status, &tz));
                }
            }
            EngineCommand::Digest { all, id, json } => {
                let mut client = connect(paths).await?;
                let digests = if all {
                    client.digests(u32::MAX).await?
                } else {
                    client.digest(id.map(DigestId)).await?.into_iter().collect()
                };
                if json {
                    if all {
                        println!("{}", render::json(&digests)?);
                    } else {
                        println!("{}", render::json(&digests.first())?);
                    }
                } else if digests.is_empty() {
                    println!(
                        "No digest yet: one is delivered at each check-in of a deep work session."
                    );
                } else {
                    let text: Vec<String> =
                        digests.iter().map(|d| render::digest(d, &tz)).collect();
                    print!("{}", text.join("\n"));
                }
            }
            EngineCommand::Plan {
                days,
                json,
                command: None,
            } => {
                let days = connect(paths).await?.plan(days).await?;
                if json {
                    println!("{}", render::json(&days)?);
                } else {
                    print!("{}", render::plan(&days, &tz));
                }
            }
            EngineCommand::Plan {
                command: Some(PlanCommand::Password { .. }),
                ..
            } => unreachable!("handled without the engine, above"),
            EngineCommand::Plan {
                command: Some(PlanCommand::Skip { plan }),
                ..
            } => {
                let status = connect(paths).await?.skip_block(plan).await?;
                println!("Skipped.\n{}", render::status(&status, &tz));
            }
            EngineCommand::Ack { item } => {
                let acknowledged = connect(paths)
                    .await?
                    .acknowledge(item.map(ItemId), AckVia::Command)
                    .await?;
                println!("{}", render::acknowledged(&acknowledged));
            }
            EngineCommand::Done { item, undo } => {
                connect(paths).await?.done(ItemId(item), !undo).await?;
                println!(
                    "Item {item} marked {}.",
                    if undo { "not done" } else { "done" }
                );
            }
            EngineCommand::Forget { before } => {
                let tz = jiff::tz::TimeZone::system();
                let start = before
                    .to_zoned(tz)
                    .map_err(|e| Failure::Usage(format!("--before {before}: {e}")))?;
                let count = connect(paths).await?.forget(start.timestamp()).await?;
                println!(
                    "Forgot the text of {count} handled item{} received before {before}.",
                    if count == 1 { "" } else { "s" }
                );
            }
            EngineCommand::Stats {
                week,
                json,
                csv,
                markdown,
                save,
            } => {
                if save && !csv && !markdown {
                    return Err(Failure::Usage(
                        "--save saves the --csv or the --markdown review; name one".into(),
                    ));
                }
                let stats = connect(paths).await?.stats(week).await?;
                let saved = match (save, markdown) {
                    (false, _) => None,
                    (true, false) => {
                        Some(deepwork_engine::export::save_week_csv(stats.week, &stats))
                    }
                    (true, true) => Some(deepwork_engine::export::save_week_review(
                        stats.week, &stats,
                    )),
                };
                if let Some(saved) = saved {
                    println!("Saved {}", saved.map_err(Failure::Runtime)?.display());
                } else if json {
                    println!("{}", render::json(&stats)?);
                } else if csv {
                    print!("{}", stats.to_csv());
                } else if markdown {
                    print!("{}", stats.to_markdown());
                } else {
                    print!("{}", render::stats(&stats));
                }
            }
        }
        Ok(())
    })
}

pub(crate) async fn connect(paths: &Paths) -> Result<Client, Failure> {
    Client::connect(&paths.socket).await.map_err(Failure::from)
}

impl From<serde_json::Error> for Failure {
    fn from(error: serde_json::Error) -> Self {
        Failure::Runtime(format!("cannot print JSON: {error}"))
    }
}

/// Sends one SMS through the configured route, so the user knows the phone is reached
/// before an emergency needs it.
fn escalation_test(paths: &Paths) -> Result<(), Failure> {
    let config = server::load_config(&paths.config).map_err(|e| Failure::Usage(e.to_string()))?;
    let escalation = &config.escalation;
    let (Some(phone), Some(from)) = (escalation.phone.as_deref(), escalation.from.as_deref())
    else {
        return Err(Failure::Usage(format!(
            "set [escalation] phone and from in {} first",
            paths.config.display()
        )));
    };
    let (twilio, problem) = deepwork_engine::escalate::twilio_route(escalation);
    let Some(twilio) = twilio else {
        return Err(Failure::Usage(problem.unwrap_or_default()));
    };
    let text = "Deepwork test: emergencies reach this phone. Nothing to do.";
    let sid = runtime()?
        .block_on(twilio.send_sms(phone, from, text))
        .map_err(|e| Failure::Runtime(format!("Twilio did not send it: {e}")))?;
    println!("Twilio accepted the test SMS to {phone} ({sid}).");
    Ok(())
}
