//! Deadlines stated in a message ("by 3pm", "before end of day", "EOD", "tomorrow
//! morning", "bis 15 Uhr"): when the sender needs an answer, if earlier than the class
//! would allow.

use jiff::civil::{Date, Time, Weekday};
use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan, Zoned};
use regex::{Regex, RegexBuilder};
use serde::{Deserialize, Serialize};
use std::sync::LazyLock;

/// When the working day is taken to end for "EOD" and "by tomorrow".
const END_OF_DAY: Time = Time::constant(17, 0, 0, 0);
/// When "tomorrow morning" is taken to begin the next day.
const MORNING: Time = Time::constant(9, 0, 0, 0);
/// When "this afternoon" is taken to mean.
const AFTERNOON: Time = Time::constant(15, 0, 0, 0);
/// "Tonight".
const EVENING: Time = Time::constant(20, 0, 0, 0);
const NOON: Time = Time::constant(12, 0, 0, 0);

/// A deadline found in a message.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatedDeadline {
    /// When it falls.
    pub at: Timestamp,
    /// The words that stated it, as written.
    pub phrase: String,
}

/// Words that introduce a deadline, in the languages the corpus covers.
const BEFORE: &str = r"by|before|until|till|til|no later than|not later than|due|due by|due at|deadline|latest|bis|vor|spätestens|avant|d'ici|antes de|antes de las|antes de la|hasta las|para las|entro|entro le|prima delle|voor|vóór|uiterlijk|até|até às|antes das";

/// A clock time: "3pm", "3:30 pm", "15:00", "15.30 Uhr", "15h", "15h30", "noon".
const CLOCK: &str = r"(?P<hour>\d{1,2})(?:(?P<separator>[:.h])(?P<minute>\d{2}))?\s*(?P<meridiem>a\.?m\.?|p\.?m\.?|uhr|h)?|(?P<noon>noon|midday|mittag|midi|mediod[ií]a)";

/// A relative day or part of a day.
const DAY_PART: &str = r"(?P<eod>end of (?:the )?(?:business )?day|end of business|close of business|eod|eob|cob|end of today|feierabend|tagesende|fin de (?:la )?journ[ée]e|fin del d[ií]a|final do dia|fine giornata)|(?P<tomorrow_morning>tomorrow morning|first thing tomorrow|morgen fr[üu]h|demain matin|mañana por la mañana|ma[ñn]ana temprano|amanh[ãa] de manh[ãa]|domani mattina|morgenochtend)|(?P<tomorrow>tomorrow|morgen|demain|ma[ñn]ana|amanh[ãa]|domani)|(?P<afternoon>this afternoon|heute nachmittag|cet apr[èe]s-midi|esta tarde)|(?P<tonight>tonight|heute abend|ce soir|esta noche)|(?P<today>today|heute|aujourd'hui|hoy|hoje|oggi|vandaag)|(?P<eow>end of (?:the )?week|eow|wochenende|fin de semaine|fin de semana)|(?P<weekday>monday|tuesday|wednesday|thursday|friday|montag|dienstag|mittwoch|donnerstag|freitag|lundi|mardi|mercredi|jeudi|vendredi|lunes|martes|mi[ée]rcoles|jueves|viernes)";

static AFTER_BEFORE: LazyLock<Regex> = LazyLock::new(|| {
    RegexBuilder::new(&format!(
        r"\b(?P<lead>{BEFORE})\s+(?:the\s+|our\s+|my\s+|your\s+|der\s+|den\s+|dem\s+|la\s+|le\s+|el\s+|o\s+|a\s+)?(?:(?:{DAY_PART})\b|(?:{CLOCK})(?:\b|\s|$))"
    ))
    .case_insensitive(true)
    .build()
    .expect("the deadline pattern is valid")
});

/// "EOD" and its kin need no preposition: "EOD please", "need it EOD".
static STANDALONE: LazyLock<Regex> = LazyLock::new(|| {
    RegexBuilder::new(r"\b(?P<eod>eod|eob|cob|asap today|end of day today)\b")
        .case_insensitive(true)
        .build()
        .expect("the standalone deadline pattern is valid")
});

/// "within the hour", "in the next 30 minutes"; a bare "in 2 hours" is as often a
/// duration ("finished in 12 minutes") as a deadline.
static WITHIN: LazyLock<Regex> = LazyLock::new(|| {
    RegexBuilder::new(r"\b(?:within|in the next)\s+(?:(?P<the_hour>the hour|an hour|one hour|the next hour)|(?P<count>\d{1,3})\s*(?P<unit>minutes?|mins?|hours?|hrs?|h)\b)")
        .case_insensitive(true)
        .build()
        .expect("the relative deadline pattern is valid")
});

/// Compiles the patterns now rather than on the first message, so the first item after
/// a start is triaged as fast as the rest.
pub(crate) fn prepare() {
    LazyLock::force(&AFTER_BEFORE);
    LazyLock::force(&STANDALONE);
    LazyLock::force(&WITHIN);
}

/// The earliest deadline the text states, read in the time zone of its arrival.
pub fn stated_deadline(text: &str, received: &Zoned) -> Option<StatedDeadline> {
    let mut found: Vec<StatedDeadline> = Vec::new();
    for caps in AFTER_BEFORE.captures_iter(text) {
        // "up by 12.50%", "by 3.5x": a number, not a time.
        let next = text[caps[0].len() + caps.get(0).map_or(0, |m| m.start())..]
            .chars()
            .next();
        if matches!(next, Some('%' | 'x' | '×')) {
            continue;
        }
        if let Some(at) = resolve(&caps, received, &text[caps.get(0).map_or(0, |m| m.end())..]) {
            found.push(StatedDeadline {
                at,
                phrase: caps[0].trim().to_owned(),
            });
        }
    }
    for caps in STANDALONE.captures_iter(text) {
        if let Some(at) = at_time(received, received.date(), end_of_day_after(received)) {
            found.push(StatedDeadline {
                at,
                phrase: caps[0].to_owned(),
            });
        }
    }
    for caps in WITHIN.captures_iter(text) {
        let minutes: i64 = if caps.name("the_hour").is_some() {
            60
        } else {
            let Ok(count) = caps["count"].parse::<i64>() else {
                continue;
            };
            let unit = caps["unit"].to_lowercase();
            if unit.starts_with('m') {
                count
            } else {
                count * 60
            }
        };
        if let Ok(at) = received.timestamp().checked_add(minutes.minutes()) {
            found.push(StatedDeadline {
                at,
                phrase: caps[0].to_owned(),
            });
        }
    }
    found.into_iter().min_by_key(|d| d.at)
}

/// Whether the deadline falls on the day the message arrived.
pub fn is_same_day(deadline: Timestamp, received: &Zoned) -> bool {
    deadline.to_zoned(received.time_zone().clone()).date() == received.date()
}

fn resolve(caps: &regex::Captures<'_>, received: &Zoned, after: &str) -> Option<Timestamp> {
    let today = received.date();
    let tomorrow = today.tomorrow().ok()?;
    let lead = caps.name("lead").map(|m| m.as_str().to_lowercase());
    if caps.name("eod").is_some() {
        return at_time(received, today, end_of_day_after(received));
    }
    if caps.name("tomorrow_morning").is_some() {
        return at_time(received, tomorrow, MORNING);
    }
    if caps.name("tomorrow").is_some() {
        return at_time(received, tomorrow, END_OF_DAY);
    }
    if caps.name("afternoon").is_some() {
        return (received.time() < AFTERNOON).then(|| at_time(received, today, AFTERNOON))?;
    }
    if caps.name("tonight").is_some() {
        return (received.time() < EVENING).then(|| at_time(received, today, EVENING))?;
    }
    if caps.name("today").is_some() {
        // "until today we never…", "by today's standards": about today, not a deadline.
        let about_today = matches!(lead.as_deref(), Some("until" | "till" | "til" | "before"))
            || after.starts_with("'s")
            || after.starts_with("’s");
        return if about_today {
            None
        } else {
            at_time(received, today, end_of_day_after(received))
        };
    }
    if caps.name("eow").is_some() {
        return at_time(received, next_weekday(today, Weekday::Friday), END_OF_DAY);
    }
    if let Some(day) = caps.name("weekday") {
        let at = at_time(
            received,
            next_weekday(today, weekday(day.as_str())?),
            END_OF_DAY,
        )?;
        // "by Wednesday" said on a Wednesday evening means next week's.
        if at < received.timestamp() {
            return at_time(received, today.checked_add(7.days()).ok()?, END_OF_DAY);
        }
        return Some(at);
    }
    let time = if caps.name("noon").is_some() {
        NOON
    } else {
        clock_time(caps)?
    };
    let at = at_time(received, today, time)?;
    // A time already past ("by 9am" read at 10:00) means the next day's.
    if at < received.timestamp() {
        return at_time(received, tomorrow, time);
    }
    Some(at)
}

fn clock_time(caps: &regex::Captures<'_>) -> Option<Time> {
    let mut hour: i8 = caps.name("hour")?.as_str().parse().ok()?;
    let minute: i8 = match caps.name("minute") {
        Some(m) => m.as_str().parse().ok()?,
        None => 0,
    };
    let meridiem = caps
        .name("meridiem")
        .map(|m| m.as_str().to_lowercase().replace('.', ""));
    // "1.20 seconds", "the 2.14 build": a dot makes a time only with a unit after it.
    if caps.name("separator").is_some_and(|m| m.as_str() == ".") && meridiem.is_none() {
        return None;
    }
    match meridiem.as_deref() {
        Some("pm") if hour < 12 => hour += 12,
        Some("am") if hour == 12 => hour = 0,
        Some("am" | "pm" | "uhr" | "h") => {}
        // A bare number is a time only with minutes ("by 15:00", "by 3:30"); an hour
        // under 8 then means the afternoon.
        _ if caps.name("minute").is_none() => return None,
        _ if hour < 8 => hour += 12,
        _ => {}
    }
    Time::new(hour, minute, 0, 0).ok()
}

fn end_of_day_after(received: &Zoned) -> Time {
    if received.time() < END_OF_DAY {
        END_OF_DAY
    } else {
        Time::constant(23, 59, 0, 0)
    }
}

fn at_time(received: &Zoned, date: Date, time: Time) -> Option<Timestamp> {
    let tz: &TimeZone = received.time_zone();
    date.to_datetime(time)
        .to_zoned(tz.clone())
        .ok()
        .map(|z| z.timestamp())
}

fn next_weekday(from: Date, day: Weekday) -> Date {
    let ahead = (day.to_monday_zero_offset() - from.weekday().to_monday_zero_offset() + 7) % 7;
    from.checked_add(i64::from(ahead).days()).unwrap_or(from)
}

fn weekday(name: &str) -> Option<Weekday> {
    let name = name.to_lowercase();
    let days: [(&[&str], Weekday); 5] = [
        (&["monday", "montag", "lundi", "lunes"], Weekday::Monday),
        (
            &["tuesday", "dienstag", "mardi", "martes"],
            Weekday::Tuesday,
        ),
        (
            &[
                "wednesday",
                "mittwoch",
                "mercredi",
                "miércoles",
                "miercoles",
            ],
            Weekday::Wednesday,
        ),
        (
            &["thursday", "donnerstag", "jeudi", "jueves"],
            Weekday::Thursday,
        ),
        (
            &["friday", "freitag", "vendredi", "viernes"],
            Weekday::Friday,
        ),
    ];
    days.into_iter()
        .find(|(names, _)| names.contains(&name.as_str()))
        .map(|(_, day)| day)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A Wednesday morning in Berlin.
    fn received() -> Zoned {
        "2026-11-25T09:40:00[Europe/Berlin]".parse().expect("valid")
    }

    fn deadline(text: &str) -> Option<(String, String)> {
        stated_deadline(text, &received()).map(|d| {
            let local = d.at.to_zoned(received().time_zone().clone());
            (local.strftime("%a %H:%M").to_string(), d.phrase)
        })
    }

    fn at(text: &str) -> Option<String> {
        deadline(text).map(|(at, _)| at)
    }

    #[test]
    fn clock_times_in_several_forms() {
        assert_eq!(at("can you review by 3pm?"), Some("Wed 15:00".into()));
        assert_eq!(
            at("need it before 3:30 p.m. please"),
            Some("Wed 15:30".into())
        );
        assert_eq!(at("review before the 2pm call"), Some("Wed 14:00".into()));
        assert_eq!(at("bis 15 Uhr bitte freigeben"), Some("Wed 15:00".into()));
        assert_eq!(at("avant 14h30 svp"), Some("Wed 14:30".into()));
        assert_eq!(at("antes de las 17:00"), Some("Wed 17:00".into()));
        assert_eq!(at("by noon"), Some("Wed 12:00".into()));
        assert_eq!(
            at("by 4:30"),
            Some("Wed 16:30".into()),
            "an hour under 8 is pm"
        );
    }

    #[test]
    fn a_time_already_past_is_the_next_days() {
        assert_eq!(at("send it by 9am"), Some("Thu 09:00".into()));
    }

    #[test]
    fn days_and_parts_of_days() {
        assert_eq!(
            at("need your sign-off before end of day"),
            Some("Wed 17:00".into())
        );
        assert_eq!(at("EOD pls"), Some("Wed 17:00".into()));
        assert_eq!(
            at("can you have it by tomorrow morning?"),
            Some("Thu 09:00".into())
        );
        assert_eq!(at("by tomorrow"), Some("Thu 17:00".into()));
        assert_eq!(at("by Friday"), Some("Fri 17:00".into()));
        assert_eq!(at("bis morgen früh"), Some("Thu 09:00".into()));
        assert_eq!(at("within the hour"), Some("Wed 10:40".into()));
        assert_eq!(at("in the next 30 minutes"), Some("Wed 10:10".into()));
    }

    #[test]
    fn a_day_or_part_of_a_day_already_past_is_not_today() {
        let evening: Zoned = "2026-11-25T20:30:00[Europe/Berlin]".parse().expect("valid");
        let at = |text: &str| {
            stated_deadline(text, &evening).map(|d| {
                d.at.to_zoned(evening.time_zone().clone())
                    .strftime("%a %d %H:%M")
                    .to_string()
            })
        };
        assert_eq!(
            at("by Wednesday"),
            Some("Wed 02 17:00".into()),
            "next week's"
        );
        assert_eq!(at("by this afternoon"), None);
        assert_eq!(at("by tonight"), None);
    }

    #[test]
    fn the_earliest_of_several_wins_and_keeps_its_words() {
        assert_eq!(
            deadline("draft by Friday, but the numbers by 11am"),
            Some(("Wed 11:00".into(), "by 11am".into()))
        );
    }

    #[test]
    fn numbers_that_are_not_times_are_not_deadlines() {
        for text in [
            "PR 481 is up",
            "500 errors by region",
            "we grew by 15 percent",
            "down by 3",
            "due diligence starts next quarter",
            "in 2026 we want to",
            "latency improved by 1.20 seconds",
            "revenue is up by 12.50% this week",
            "the latest 2.14 build crashes on start",
            "until today we never had this problem",
            "never seen this before today",
            "by today's standards it is fine",
            "the deploy finished in 12 minutes",
            "page loads in 5 min now",
        ] {
            assert_eq!(at(text), None, "{text:?} states no deadline");
        }
    }

    #[test]
    fn same_day_is_read_in_the_local_zone() {
        let r = received();
        let today = stated_deadline("by 5pm", &r).expect("found").at;
        let tomorrow = stated_deadline("by tomorrow", &r).expect("found").at;
        assert!(is_same_day(today, &r));
        assert!(!is_same_day(tomorrow, &r));
    }
}
