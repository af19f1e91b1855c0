//! Evaluating triage on labelled messages: `deepwork triage eval`, the held-out floor
//! in the tests, and the trainer's report.

use super::Triager;
use crate::item::{Class, NewItem};
use jiff::Zoned;
use serde::Deserialize;
use std::fmt::{self, Write as _};

/// One labelled message, as a line of a `.jsonl` file.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Labelled {
    /// Where it came from; "chat" when not given.
    #[serde(default)]
    pub source: Option<String>,
    /// The sender.
    pub from: String,
    /// The channel or room; `null` for a direct message.
    #[serde(default)]
    pub channel: Option<String>,
    /// The text.
    pub text: String,
    /// The class it belongs to.
    #[serde(deserialize_with = "class_name")]
    pub expected: Class,
    /// The situation it was written for, when its author wrote one situation in several
    /// variants or languages: the trainer keeps a family within one fold, and the corpus
    /// keeps it on one side of the held-out split.
    #[serde(default)]
    pub family: Option<String>,
}

fn class_name<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Class, D::Error> {
    let name = String::deserialize(d)?;
    parse_class(&name).ok_or_else(|| {
        serde::de::Error::custom(format!(
            "unknown class {name:?}: expected emergency, blocker, update, strategic or pre-ping"
        ))
    })
}

/// A class by name, as users write it ("pre-ping" or "pre_ping").
pub fn parse_class(name: &str) -> Option<Class> {
    Class::parse(&name.trim().to_lowercase().replace('-', "_"))
}

impl Labelled {
    /// The message as an item to triage.
    pub fn to_item(&self) -> NewItem {
        NewItem {
            source: self.source.clone().unwrap_or_else(|| "chat".to_owned()),
            sender: self.from.clone(),
            title: self.text.clone(),
            body: None,
            url: None,
            channel: self.channel.clone(),
            urgency: None,
            message_id: None,
            source_class: None,
            conversation: None,
        }
    }
}

/// A line that is not a labelled message.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct LabelledError {
    /// The line, from 1.
    pub line: usize,
    /// What is wrong with it.
    pub message: String,
}

/// Reads labelled messages, one JSON object a line; blank lines are skipped.
pub fn parse_labelled(jsonl: &str) -> Result<Vec<Labelled>, LabelledError> {
    jsonl
        .lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(index, line)| {
            serde_json::from_str(line).map_err(|e| LabelledError {
                line: index + 1,
                message: e.to_string(),
            })
        })
        .collect()
}

/// Counts of expected against given classes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Confusion {
    counts: [[usize; 5]; 5],
}

impl Confusion {
    /// Counts one decision.
    pub fn add(&mut self, expected: Class, got: Class) {
        self.counts[expected.index()][got.index()] += 1;
    }

    /// How many messages of class `expected` were classed `got`.
    pub fn count(&self, expected: Class, got: Class) -> usize {
        self.counts[expected.index()][got.index()]
    }

    /// Messages counted.
    pub fn total(&self) -> usize {
        self.counts.iter().flatten().sum()
    }

    /// Share of the messages classed `class` that belong to it; `None` when none was.
    pub fn precision(&self, class: Class) -> Option<f64> {
        let given: usize = Class::ALL.iter().map(|e| self.count(*e, class)).sum();
        (given > 0).then(|| self.count(class, class) as f64 / given as f64)
    }

    /// Share of the messages of `class` classed so; `None` when there were none.
    pub fn recall(&self, class: Class) -> Option<f64> {
        let expected: usize = Class::ALL.iter().map(|g| self.count(class, *g)).sum();
        (expected > 0).then(|| self.count(class, class) as f64 / expected as f64)
    }

    /// Share of the messages not of `class` that were classed so: for emergencies, how
    /// often a message that could have waited broke through.
    pub fn false_alarm_rate(&self, class: Class) -> Option<f64> {
        let others: usize = Class::ALL
            .iter()
            .filter(|e| **e != class)
            .map(|e| Class::ALL.iter().map(|g| self.count(*e, *g)).sum::<usize>())
            .sum();
        let alarms: usize = Class::ALL
            .iter()
            .filter(|e| **e != class)
            .map(|e| self.count(*e, class))
            .sum();
        (others > 0).then(|| alarms as f64 / others as f64)
    }

    /// Share of all messages classed right.
    pub fn accuracy(&self) -> f64 {
        let right: usize = Class::ALL.iter().map(|c| self.count(*c, *c)).sum();
        right as f64 / self.total().max(1) as f64
    }
}

impl fmt::Display for Confusion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut header = format!("{:<12}", "expected \\ got");
        for class in Class::ALL {
            write!(header, "{:>11}", class.label())?;
        }
        writeln!(f, "{header}")?;
        for expected in Class::ALL {
            write!(f, "{:<14}", expected.label())?;
            for got in Class::ALL {
                write!(f, "{:>11}", self.count(expected, got))?;
            }
            writeln!(f)?;
        }
        writeln!(f)?;
        writeln!(f, "{:<14}{:>11}{:>11}", "class", "precision", "recall")?;
        let percent = |v: Option<f64>| v.map_or("-".to_owned(), |v| format!("{:.1}%", v * 100.0));
        for class in Class::ALL {
            writeln!(
                f,
                "{:<14}{:>11}{:>11}",
                class.label(),
                percent(self.precision(class)),
                percent(self.recall(class))
            )?;
        }
        writeln!(
            f,
            "emergency false alarms: {} of the other messages",
            percent(self.false_alarm_rate(Class::Emergency))
        )?;
        write!(
            f,
            "accuracy {:.1}% of {} messages",
            self.accuracy() * 100.0,
            self.total()
        )
    }
}

/// A message classed wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Miss {
    /// The message.
    pub message: Labelled,
    /// The class it got.
    pub got: Class,
    /// Why it got it.
    pub why: String,
}

/// When labelled messages are taken to arrive, in the local time zone: a Wednesday
/// morning, so that "by 3pm" is today and "by Friday" is not, on every run.
pub fn reference_arrival(tz: &jiff::tz::TimeZone) -> Zoned {
    jiff::civil::date(2026, 11, 25)
        .at(10, 0, 0, 0)
        .to_zoned(tz.clone())
        .unwrap_or_else(|_| Zoned::new(jiff::Timestamp::UNIX_EPOCH, tz.clone()))
}

/// Classes every message as if it arrived at `received`.
pub fn evaluate(
    triager: &Triager,
    messages: &[Labelled],
    received: &Zoned,
) -> (Confusion, Vec<Miss>) {
    let mut confusion = Confusion::default();
    let mut misses = Vec::new();
    for message in messages {
        let triage = triager.triage(&message.to_item(), received);
        confusion.add(message.expected, triage.class);
        if triage.class != message.expected {
            misses.push(Miss {
                message: message.clone(),
                got: triage.class,
                why: triage.reason.to_string(),
            });
        }
    }
    (confusion, misses)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_name_their_fault() {
        let good = r#"{"from": "ana", "channel": null, "text": "hi", "expected": "pre-ping"}"#;
        let parsed = parse_labelled(&format!("{good}\n\n{good}")).expect("valid");
        assert_eq!(parsed.len(), 2);
        assert_eq!(parsed[0].expected, Class::PrePing);
        let bad = format!("{good}\n{{\"from\": \"a\", \"text\": \"x\", \"expected\": \"panic\"}}");
        let err = parse_labelled(&bad).expect_err("unknown class");
        assert_eq!(err.line, 2);
        assert!(err.message.contains("unknown class \"panic\""), "{err}");
    }

    fn read_labelled(file: &std::path::Path) -> Vec<Labelled> {
        let text = std::fs::read_to_string(file).expect("a readable labelled file");
        parse_labelled(&text).unwrap_or_else(|e| panic!("{}: {e}", file.display()))
    }

    /// The held-out split (`triage/heldout/*.jsonl`): the trainer never reads it.
    fn held_out() -> Vec<Labelled> {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("triage/heldout");
        let mut files: Vec<_> = std::fs::read_dir(&dir)
            .expect("the held-out folder is there")
            .map(|entry| entry.expect("a folder entry").path())
            .filter(|path| path.extension().is_some_and(|x| x == "jsonl"))
            .collect();
        files.sort();
        files.iter().flat_map(|file| read_labelled(file)).collect()
    }

    /// Fails when the shipped triage does worse on `messages` than any floor, given as
    /// (emergency recall, emergency precision, pre-ping recall, accuracy).
    fn assert_floors(messages: &[Labelled], [recall, precision, pre_ping, accuracy]: [f64; 4]) {
        let triager =
            Triager::new(&crate::config::TriageConfig::default()).expect("the shipped model loads");
        let received = "2026-11-25T10:00:00[Europe/Berlin]"
            .parse()
            .expect("a time");
        let (confusion, _) = evaluate(&triager, messages, &received);
        let floors = [
            (
                "emergency recall",
                confusion.recall(Class::Emergency),
                recall,
            ),
            (
                "emergency precision",
                confusion.precision(Class::Emergency),
                precision,
            ),
            (
                "pre-ping recall",
                confusion.recall(Class::PrePing),
                pre_ping,
            ),
            ("accuracy", Some(confusion.accuracy()), accuracy),
        ];
        for (figure, value, floor) in floors {
            let value = value.expect("every class is in the set");
            assert!(
                value >= floor,
                "{figure} fell to {:.1}% (floor {:.0}%):\n{confusion}",
                value * 100.0,
                floor * 100.0
            );
        }
    }

    /// A floor under the shipped model's figures on the held-out split, so a retrained
    /// model or a changed guard rail that does worse fails here. The floors are the
    /// figures reached when they were set, not yet the goals (emergency recall 100%,
    /// emergency precision 90%, accuracy 95%): raise them as the model gets there.
    #[test]
    fn the_shipped_triage_holds_its_floor_on_the_held_out_split() {
        let messages = held_out();
        assert!(
            messages.len() >= 500,
            "{} held-out messages",
            messages.len()
        );
        assert_floors(&messages, [0.97, 0.80, 0.97, 0.90]);
    }

    /// Messages by other authors who never saw the corpus must meet the goals
    /// themselves: every emergency caught, 90% emergency precision, 95% pre-ping recall
    /// and accuracy, in each set.
    #[test]
    fn the_shipped_triage_meets_the_goals_on_other_authors_messages() {
        for name in ["unseen.jsonl", "unseen-2.jsonl"] {
            let file = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("triage")
                .join(name);
            let messages = read_labelled(&file);
            assert!(messages.len() >= 300, "{name}: {} messages", messages.len());
            assert_floors(&messages, [1.0, 0.90, 0.95, 0.95]);
        }
    }

    #[test]
    fn precision_and_recall_count_the_right_cells() {
        let mut c = Confusion::default();
        c.add(Class::Emergency, Class::Emergency);
        c.add(Class::Update, Class::Emergency);
        c.add(Class::Emergency, Class::Blocker);
        c.add(Class::Update, Class::Update);
        assert_eq!(c.precision(Class::Emergency), Some(0.5));
        assert_eq!(c.recall(Class::Emergency), Some(0.5));
        assert_eq!(c.precision(Class::Strategic), None);
        assert_eq!(c.accuracy(), 0.5);
        assert_eq!(c.false_alarm_rate(Class::Emergency), Some(0.5));
        assert!(c.to_string().contains("accuracy 50.0% of 4 messages"));
    }
}
