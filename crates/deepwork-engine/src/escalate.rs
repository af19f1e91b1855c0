//! The escalation worker: performs the ladder's steps that leave the machine (SMS and
//! calls through Twilio, the user's own command) and watches for text replies that
//! acknowledge. The engine decides what and when; this only does it and reports back.

use deepwork_adapters::twilio::{Twilio, TwilioCredentials, TwilioError};
use deepwork_core::ItemId;
use deepwork_core::escalation::{Dispatch, EscalationConfig, Outcome, Step};
use deepwork_core::text::{one_line, truncate};
use jiff::{SignedDuration, Timestamp};
use serde::Serialize;
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::sync::mpsc;

/// How often replies are read while one may acknowledge: Twilio has no push without a
/// public webhook, and an acknowledgement should stop the call that follows.
const REPLY_POLL: Duration = Duration::from_secs(5);
/// The user's command may take this long.
const COMMAND_WITHIN: Duration = Duration::from_secs(60);
/// Twilio's clock (whole seconds) and ours may disagree by this much when an earlier
/// attempt or a reply is looked for.
pub const CLOCK_MARGIN: SignedDuration = SignedDuration::from_secs(90);

/// What the emergency was, as a step tells it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Alert {
    /// The item.
    pub item: ItemId,
    /// Who sent it.
    pub sender: String,
    /// Its title.
    pub title: String,
    /// Where it came from.
    pub source: String,
    /// When it arrived.
    pub received_at: Timestamp,
}

/// Work for the worker.
#[derive(Clone, Debug)]
pub enum Job {
    /// Perform a step; `since` is when it was first handed over.
    Perform {
        /// The step.
        dispatch: Dispatch,
        /// When it was handed over, to find an earlier attempt.
        since: Timestamp,
        /// The emergency.
        alert: Alert,
    },
    /// Read text replies sent after this, or stop reading them.
    WatchReplies(Option<Timestamp>),
}

/// What the worker tells the engine.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Report {
    /// A step's attempt ended.
    Performed {
        /// Which.
        dispatch: Dispatch,
        /// How.
        outcome: Outcome,
    },
    /// The user texted back.
    Reply {
        /// When Twilio took it in.
        at: Timestamp,
        /// What they wrote.
        text: String,
    },
}

/// The name Twilio's credentials are stored under (`deepwork adapters token twilio`).
pub const TWILIO: &str = "twilio";
/// Where the Twilio credentials are kept in the keyring (service, account).
const KEYRING: (&str, &str) = (TWILIO, "escalation");

/// Twilio for `config`, and what limits escalation when something does: no phone set,
/// no credentials stored. Blocking (the keyring).
pub fn twilio_route(config: &EscalationConfig) -> (Option<Twilio>, Option<String>) {
    if config.phone.is_none() {
        return (
            None,
            Some("no [escalation] phone: emergencies alert only the desktop".into()),
        );
    }
    let stored =
        crate::secrets::Secrets::open().and_then(|secrets| secrets.token(KEYRING.0, KEYRING.1));
    let credentials = match stored {
        Ok(Some(text)) => text.parse::<TwilioCredentials>(),
        Ok(None) => Err("no Twilio credentials in the keyring".into()),
        Err(error) => Err(format!("the keyring cannot be read ({error})")),
    };
    let twilio = credentials.and_then(|credentials| {
        Twilio::new(&config.twilio_api, credentials).map_err(|e| e.to_string())
    });
    match twilio {
        Ok(twilio) => (Some(twilio), None),
        Err(why) => (
            None,
            Some(format!(
                "{why}: no SMS or calls; run `deepwork adapters token twilio`"
            )),
        ),
    }
}

/// Checks and keeps Twilio credentials (`ACCOUNT_SID:AUTH_TOKEN` or
/// `ACCOUNT_SID:API_KEY_SID:API_KEY_SECRET`) in the keyring. Blocking.
pub fn keep_twilio_credentials(text: &str) -> Result<(), String> {
    text.parse::<TwilioCredentials>()?;
    crate::secrets::Secrets::open()
        .and_then(|secrets| secrets.set_token(KEYRING.0, KEYRING.1, text.trim()))
        .map_err(|error| error.to_string())
}

/// Starts the worker; it stops when the sender it returns is dropped.
pub fn spawn(
    config: EscalationConfig,
    twilio: Option<Twilio>,
    reports: mpsc::UnboundedSender<Report>,
) -> mpsc::UnboundedSender<Job> {
    let (jobs, received) = mpsc::unbounded_channel();
    tokio::spawn(run(
        Arc::new(config),
        twilio.map(Arc::new),
        received,
        reports,
    ));
    jobs
}

async fn run(
    config: Arc<EscalationConfig>,
    twilio: Option<Arc<Twilio>>,
    mut jobs: mpsc::UnboundedReceiver<Job>,
    reports: mpsc::UnboundedSender<Report>,
) {
    let mut watching: Option<Timestamp> = None;
    let mut seen = HashSet::new();
    let mut poll = tokio::time::interval(REPLY_POLL);
    poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            job = jobs.recv() => match job {
                None => return,
                Some(Job::WatchReplies(since)) => {
                    if since.is_some() && watching.is_none() {
                        poll.reset_immediately();
                    }
                    watching = since;
                }
                Some(Job::Perform { dispatch, since, alert }) => {
                    let (config, twilio, reports) = (config.clone(), twilio.clone(), reports.clone());
                    // Each step on its own: a slow call never holds up another's SMS.
                    tokio::spawn(async move {
                        let outcome = perform(&config, twilio.as_deref(), dispatch, since, &alert).await;
                        let _ = reports.send(Report::Performed { dispatch, outcome });
                    });
                }
            },
            // Only armed while a reply may acknowledge: no wakeups otherwise.
            _ = poll.tick(), if watching.is_some() && twilio.is_some() => {
                let (Some(since), Some(twilio)) = (watching, twilio.as_deref()) else { continue };
                match replies(&config, twilio, since).await {
                    Ok(found) => {
                        for message in found {
                            if seen.insert(message.sid) {
                                let _ = reports.send(Report::Reply { at: message.date_created, text: message.body });
                            }
                        }
                    }
                    Err(error) => tracing::warn!(%error, "could not read text replies from Twilio"),
                }
            }
        }
    }
}

async fn replies(
    config: &EscalationConfig,
    twilio: &Twilio,
    since: Timestamp,
) -> Result<Vec<deepwork_adapters::twilio::TextMessage>, TwilioError> {
    let phone = config.phone.as_deref().unwrap_or_default();
    // Replies go to the number that texted; a Messaging Service has several.
    let to = config
        .from
        .as_deref()
        .filter(|f| EscalationConfig::is_e164(f));
    let earliest = since - CLOCK_MARGIN;
    let listed = twilio.messages(Some(phone), to, Some(earliest)).await?;
    Ok(listed
        .into_iter()
        .filter(|m| m.direction == "inbound" && m.date_created >= earliest)
        .collect())
}

async fn perform(
    config: &EscalationConfig,
    twilio: Option<&Twilio>,
    dispatch: Dispatch,
    since: Timestamp,
    alert: &Alert,
) -> Outcome {
    let result = match dispatch.step {
        Step::Sms | Step::Call => {
            let (Some(twilio), Some(phone), Some(from)) =
                (twilio, config.phone.as_deref(), config.from.as_deref())
            else {
                return Outcome::Refused {
                    reason: "no Twilio credentials or [escalation] phone and from".into(),
                };
            };
            if dispatch.step == Step::Sms {
                sms(twilio, phone, from, dispatch, since, alert).await
            } else {
                call(twilio, phone, from, dispatch, since, alert).await
            }
        }
        Step::Command => return command(&config.command, dispatch, alert).await,
        Step::Renotify => {
            return Outcome::Refused {
                reason: "the desktop alert is the engine's own".into(),
            };
        }
    };
    match result {
        Ok(()) => Outcome::Sent,
        Err(TwilioError::Retry {
            reason,
            retry_after,
        }) => Outcome::Retry {
            reason,
            retry_after: retry_after.and_then(|wait| SignedDuration::try_from(wait).ok()),
        },
        Err(TwilioError::Refused { reason, .. }) => Outcome::Refused { reason },
    }
}

/// The text of an emergency's SMS: the same for every attempt, so an earlier one can be
/// recognised in Twilio's list.
pub fn sms_text(alert: &Alert) -> String {
    format!(
        "Deepwork emergency from {} ({}): {}\nReply ACK to acknowledge.",
        one_line(truncate(&alert.sender, 60)),
        one_line(truncate(&alert.source, 30)),
        one_line(truncate(&alert.title, 200)),
    )
}

async fn sms(
    twilio: &Twilio,
    phone: &str,
    from: &str,
    dispatch: Dispatch,
    since: Timestamp,
    alert: &Alert,
) -> Result<(), TwilioError> {
    let text = sms_text(alert);
    if dispatch.check_first {
        let earliest = since - CLOCK_MARGIN;
        // Not by day: an attempt moments ago may still be queued, undated.
        let earlier = twilio.messages(None, Some(phone), None).await?;
        if earlier.iter().any(|m| {
            m.direction.starts_with("outbound") && m.body == text && m.date_created >= earliest
        }) {
            return Ok(());
        }
    }
    twilio.send_sms(phone, from, &text).await.map(drop)
}

/// What the call says, as TwiML; message text is escaped, never markup.
pub fn call_twiml(alert: &Alert) -> String {
    let said = format!(
        "Deepwork emergency from {}. {}. To acknowledge, reply ACK to the text message, or click I'm on it on your computer.",
        one_line(truncate(&alert.sender, 60)),
        one_line(truncate(&alert.title, 200)),
    );
    // The same five entities notifications escape; numeric `&#39;` is valid XML too.
    let said = crate::notify::escape_markup(&said);
    format!("<Response><Say>{said}</Say><Pause length=\"1\"/><Say>{said}</Say></Response>")
}

async fn call(
    twilio: &Twilio,
    phone: &str,
    from: &str,
    dispatch: Dispatch,
    since: Timestamp,
    alert: &Alert,
) -> Result<(), TwilioError> {
    if dispatch.check_first {
        let earliest = since - CLOCK_MARGIN;
        if twilio
            .calls_to(phone)
            .await?
            .iter()
            .any(|c| c.date_created >= earliest)
        {
            return Ok(());
        }
    }
    twilio.call(phone, from, &call_twiml(alert)).await.map(drop)
}

/// What the user's command reads on stdin (documented in docs/escalation.md).
#[derive(Serialize)]
struct CommandInput<'a> {
    /// The same for every attempt of this step, so a repeat can be recognised.
    id: String,
    attempt: u32,
    #[serde(flatten)]
    alert: &'a Alert,
    acknowledge: String,
}

async fn command(argv: &[String], dispatch: Dispatch, alert: &Alert) -> Outcome {
    let Some((program, args)) = argv.split_first() else {
        return Outcome::Refused {
            reason: "no [escalation] command".into(),
        };
    };
    let input = CommandInput {
        id: format!("deepwork-{}-command", alert.item),
        attempt: dispatch.attempt,
        alert,
        acknowledge: format!("deepwork ack {}", alert.item),
    };
    let input = match serde_json::to_vec(&input) {
        Ok(input) => input,
        Err(error) => {
            return Outcome::Refused {
                reason: error.to_string(),
            };
        }
    };
    let child = tokio::process::Command::new(program)
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn();
    let mut child = match child {
        Ok(child) => child,
        Err(error) => {
            return Outcome::Refused {
                reason: format!("cannot run {program:?}: {error}"),
            };
        }
    };
    if let Some(mut stdin) = child.stdin.take() {
        // A command that does not read its input still runs; its exit decides.
        let _ = stdin.write_all(&input).await;
    }
    match tokio::time::timeout(COMMAND_WITHIN, child.wait_with_output()).await {
        Ok(Ok(output)) if output.status.success() => Outcome::Sent,
        Ok(Ok(output)) => {
            let said = String::from_utf8_lossy(&output.stderr);
            Outcome::Retry {
                reason: format!(
                    "{program:?} failed ({}): {}",
                    output.status,
                    one_line(truncate(said.trim(), 200))
                ),
                retry_after: None,
            }
        }
        Ok(Err(error)) => Outcome::Retry {
            reason: format!("{program:?}: {error}"),
            retry_after: None,
        },
        Err(_) => Outcome::Retry {
            reason: format!("{program:?} did not finish within a minute"),
            retry_after: None,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alert(sender: &str, title: &str) -> Alert {
        Alert {
            item: ItemId(12),
            sender: sender.into(),
            title: title.into(),
            source: "slack".into(),
            received_at: Timestamp::from_second(1_800_000_000).unwrap(),
        }
    }

    #[test]
    fn texts_and_calls_carry_sender_and_title_and_nothing_hostile() {
        let hostile = alert("eve</Say><Play>x</Play>", "db down\u{202e}\nrm -rf & more");
        let text = sms_text(&hostile);
        assert!(
            text.starts_with(
                "Deepwork emergency from eve</Say><Play>x</Play> (slack): db down rm -rf & more"
            ),
            "{text}"
        );
        assert!(text.ends_with("Reply ACK to acknowledge."));
        let twiml = call_twiml(&hostile);
        assert!(
            !twiml.contains("<Play>") && twiml.contains("&lt;/Say&gt;"),
            "{twiml}"
        );
        assert!(twiml.contains("&amp; more") && !twiml.contains('\u{202e}'));
        assert_eq!(sms_text(&hostile), text, "the same text every attempt");
    }

    #[tokio::test]
    async fn the_users_command_reads_the_emergency_and_its_exit_decides() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("got.json");
        let dispatch = Dispatch {
            item: ItemId(12),
            step: Step::Command,
            attempt: 1,
            check_first: false,
        };
        let script = format!("cat > {}", out.display());
        let sent = command(
            &["sh".into(), "-c".into(), script],
            dispatch,
            &alert("ana", "site down"),
        )
        .await;
        assert_eq!(sent, Outcome::Sent);
        let got: serde_json::Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
        assert_eq!(got["id"], "deepwork-12-command");
        assert_eq!(got["title"], "site down");
        assert_eq!(got["acknowledge"], "deepwork ack 12");
        let failed = command(
            &["sh".into(), "-c".into(), "echo nope >&2; exit 3".into()],
            dispatch,
            &alert("a", "b"),
        )
        .await;
        assert!(matches!(failed, Outcome::Retry { reason, .. } if reason.contains("nope")));
        let missing = command(&["/no/such/program".into()], dispatch, &alert("a", "b")).await;
        assert!(
            matches!(missing, Outcome::Refused { reason, .. } if reason.contains("/no/such/program"))
        );
    }
}
