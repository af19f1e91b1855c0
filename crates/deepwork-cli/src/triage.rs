//! `deepwork triage`: explain a message's class, correct an item's, evaluate triage on a
//! labelled file.

use crate::args::TriageCommand;
use crate::commands::{Failure, connect, runtime};
use crate::render::{day_clock, safe};
use deepwork_core::triage::Triager;
use deepwork_core::triage::eval::{evaluate, parse_class, parse_labelled, reference_arrival};
use deepwork_core::{ItemId, NewItem};
use deepwork_engine::api::Explanation;
use deepwork_engine::server;
use deepwork_engine::{Client, ClientError, Paths};
use jiff::Timestamp;
use jiff::tz::TimeZone;
use std::path::Path;

pub fn run(paths: &Paths, command: TriageCommand) -> Result<(), Failure> {
    let tz = TimeZone::try_system().unwrap_or(TimeZone::UTC);
    match command {
        TriageCommand::Explain {
            text,
            from,
            channel,
            source,
        } => {
            let item = NewItem {
                source,
                sender: from,
                title: text,
                body: None,
                url: None,
                channel,
                urgency: None,
                message_id: None,
                source_class: None,
                conversation: None,
            };
            item.validate()
                .map_err(|e| Failure::Usage(format!("cannot explain: {e}")))?;
            let asked = runtime()?.block_on(async {
                match Client::connect(&paths.socket).await {
                    Ok(mut engine) => Ok(Some(engine.explain(item.clone()).await?)),
                    Err(ClientError::NotRunning { .. }) => Ok(None),
                    Err(error) => Err(Failure::from(error)),
                }
            })?;
            let explanation = match asked {
                Some(explanation) => explanation,
                None => {
                    eprintln!(
                        "(no engine is running: read here with your config and stored corrections)"
                    );
                    let received = Timestamp::now().to_zoned(tz.clone());
                    let triager = server::triager_without_engine(paths)?;
                    Explanation::of(&triager, &item, &received)
                }
            };
            println!("{}: {}", explanation.class.label(), safe(&explanation.why));
            if let Some(deadline) = &explanation.deadline {
                println!(
                    "deadline: {} ('{}')",
                    day_clock(deadline.at, &tz),
                    safe(&deadline.phrase)
                );
            }
            if !explanation.model.is_empty() {
                let probabilities: Vec<String> = explanation
                    .model
                    .iter()
                    .map(|(class, p)| format!("{} {p:.2}", class.label()))
                    .collect();
                let threshold = explanation
                    .emergency_threshold
                    .map(|t| format!(" (emergency from {t:.3})"))
                    .unwrap_or_default();
                println!("model: {}{threshold}", probabilities.join(", "));
            }
            Ok(())
        }
        TriageCommand::Teach { item, class } => {
            let class = parse_class(&class).ok_or_else(|| {
                Failure::Usage(format!(
                    "unknown class {class:?}: use emergency, blocker, update, strategic or pre-ping"
                ))
            })?;
            runtime()?.block_on(async {
                Ok::<_, Failure>(connect(paths).await?.teach(ItemId(item), class).await?)
            })?;
            println!(
                "Item {item} is now {}; messages like it will be too.",
                class.label()
            );
            Ok(())
        }
        TriageCommand::Eval { file, misses } => eval(paths, &file, misses, &tz),
    }
}

/// Evaluates the configured triage (rules, VIPs, the built-in model) without an engine.
fn eval(paths: &Paths, file: &Path, show_misses: bool, tz: &TimeZone) -> Result<(), Failure> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| Failure::Usage(format!("cannot read {}: {e}", file.display())))?;
    let messages =
        parse_labelled(&text).map_err(|e| Failure::Usage(format!("{}: {e}", file.display())))?;
    let config = server::load_config(&paths.config)?;
    let triager = Triager::new(&config.triage).map_err(|e| Failure::Runtime(e.to_string()))?;
    let (confusion, missed) = evaluate(&triager, &messages, &reference_arrival(tz));
    println!("{confusion}");
    if show_misses {
        println!();
        for miss in missed {
            println!(
                "{} → {}: {} ({})",
                miss.message.expected.label(),
                miss.got.label(),
                safe(&miss.message.text),
                safe(&miss.why)
            );
        }
    }
    Ok(())
}
