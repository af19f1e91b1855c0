//! Calendars (iCalendar, RFC 5545): the events of a window, with recurrence (RRULE,
//! RDATE, EXDATE), moved and cancelled instances (RECURRENCE-ID) and time zones (IANA
//! names, or the file's own VTIMEZONE rules). Pure: text and a window in, events out.
//!
//! Parsing is `icalendar`'s, recurrence `rrule`'s. A rule is expanded on the local
//! clock of its DTSTART (as RFC 5545 defines it), then each local time becomes an
//! instant in its zone, so a 09:00 meeting stays at 09:00 across a DST change.

use icalendar::parser::{Component, Property, read_components, unfold};
use jiff::civil::{Date, DateTime};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Span, SpanRelativeTo, Timestamp};
use regex::Regex;
use std::cell::RefCell;
use std::collections::HashMap;

/// One instance of an event inside the window asked for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CalendarEvent {
    /// The event's UID (shared by all its instances).
    pub uid: String,
    /// Its title (SUMMARY).
    pub title: String,
    /// Its start.
    pub from: Timestamp,
    /// Its end.
    pub until: Timestamp,
    /// Its title or a category matches `focus_match`: a focus session.
    pub focus: bool,
}

/// Why a calendar could not be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CalendarError {
    /// Not iCalendar text.
    #[error("not an iCalendar file: {0}")]
    Syntax(String),
}

/// Recurrences expanded per event at most: a rule that never ends is read up to the
/// window, and this bounds a hostile file.
const MAX_INSTANCES: usize = 50_000;
/// Components nest this deep at most (VCALENDAR, VEVENT, VALARM is 3).
const MAX_DEPTH: usize = 16;

/// The busy (opaque, not cancelled) timed events of `text` that overlap
/// [`from`, `until`). All-day events are left out: they mark days, not meetings. Times
/// without a zone are read in `local`; so are zones the file names but neither the time
/// zone database nor a VTIMEZONE of the file defines.
pub fn events_between(
    text: &str,
    from: Timestamp,
    until: Timestamp,
    focus_match: &Regex,
    local: &TimeZone,
) -> Result<Vec<CalendarEvent>, CalendarError> {
    // The parser reads one component at a time, with lines ending in "\n" and none
    // blank, and it slows down with the square of a component's size: each event (or
    // time zone) is cut out of its VCALENDAR and read on its own. CalDAV servers send
    // one VCALENDAR per event, Outlook one for all. A component that cannot be read
    // costs itself, never the others.
    let mut objects: Vec<String> = Vec::new();
    let mut depth = 0usize;
    let mut outer = 0usize;
    let text = text.trim_start_matches('\u{feff}');
    for line in unfold(text).lines().map(str::trim_end) {
        if line.is_empty() {
            continue;
        }
        let starts = |prefix: &str| {
            line.get(..prefix.len())
                .is_some_and(|head| head.eq_ignore_ascii_case(prefix))
        };
        let wrapper = line
            .get(6..)
            .is_some_and(|name| name.eq_ignore_ascii_case("VCALENDAR"));
        if starts("BEGIN:") && wrapper {
            outer += 1;
            continue;
        }
        if starts("END:")
            && line
                .get(4..)
                .is_some_and(|n| n.eq_ignore_ascii_case("VCALENDAR"))
        {
            outer = outer.saturating_sub(1);
            continue;
        }
        if starts("BEGIN:") {
            if depth == 0 {
                objects.push(String::new());
            }
            depth += 1;
        }
        // The parser recurses per level: a file nested deeper than any calendar is
        // refused before it can exhaust the stack.
        if depth + outer > MAX_DEPTH {
            return Err(CalendarError::Syntax(format!(
                "components nested more than {MAX_DEPTH} deep"
            )));
        }
        if depth > 0
            && let Some(object) = objects.last_mut()
        {
            object.push_str(line);
            object.push('\n');
        }
        if starts("END:") {
            depth = depth.saturating_sub(1);
        }
    }
    if objects.is_empty() && !text.trim().is_empty() {
        return Err(CalendarError::Syntax(first_line(text.trim())));
    }
    let mut parsed = Vec::with_capacity(objects.len());
    let mut failure = None;
    for object in &objects {
        match read_components(object) {
            Ok(roots) => parsed.push(roots),
            Err(error) => failure = Some(first_line(&error)),
        }
    }
    if let (true, Some(failure)) = (parsed.is_empty(), failure) {
        return Err(CalendarError::Syntax(failure));
    }
    let mut events = Vec::new();
    let mut zones = HashMap::new();
    let mut stack: Vec<&Component<'_>> = parsed.iter().flatten().collect();
    while let Some(component) = stack.pop() {
        match component.name.as_str().to_ascii_uppercase().as_str() {
            "VEVENT" => events.push(component),
            "VTIMEZONE" => {
                if let Some(id) = prop(component, "TZID") {
                    let horizon = until
                        .checked_add(SignedDuration::from_hours(24 * 400))
                        .unwrap_or(until)
                        .to_zoned(TimeZone::UTC)
                        .datetime();
                    zones.insert(id.val.as_str().to_owned(), Rules::of(component, horizon));
                }
            }
            _ => stack.extend(component.components.iter()),
        }
    }
    let reader = Reader {
        zones,
        local,
        known: RefCell::new(HashMap::new()),
    };
    let mut moved: HashMap<(String, Timestamp), Option<CalendarEvent>> = HashMap::new();
    let mut found = Vec::new();
    for event in &events {
        let Some(parsed) = reader.event(event, focus_match) else {
            continue;
        };
        match parsed.recurrence_id {
            Some(original) => {
                moved.insert((parsed.instance.uid.clone(), original), parsed.kept());
            }
            None if parsed.cancelled => {}
            None => found.extend(reader.instances(&parsed, from, until)),
        }
    }
    let mut shown: Vec<CalendarEvent> = found
        .into_iter()
        .filter(|e| !moved.contains_key(&(e.uid.clone(), e.from)))
        .collect();
    shown.extend(moved.into_values().flatten());
    shown.retain(|e| e.from < until && e.until > from);
    shown.sort_by(|a, b| (a.from, &a.uid).cmp(&(b.from, &b.uid)));
    Ok(shown)
}

fn first_line(text: &str) -> String {
    text.lines()
        .next()
        .unwrap_or_default()
        .chars()
        .take(200)
        .collect()
}

fn prop<'c>(component: &'c Component<'_>, name: &str) -> Option<&'c Property<'c>> {
    component
        .properties
        .iter()
        .find(|p| p.name.as_str().eq_ignore_ascii_case(name))
}

fn props<'c>(component: &'c Component<'_>, name: &str) -> impl Iterator<Item = &'c Property<'c>> {
    component
        .properties
        .iter()
        .filter(move |p| p.name.as_str().eq_ignore_ascii_case(name))
}

fn param<'p>(property: &'p Property<'_>, key: &str) -> Option<&'p str> {
    property
        .params
        .iter()
        .find(|p| p.key.as_str().eq_ignore_ascii_case(key))
        .and_then(|p| p.val.as_ref())
        .map(|v| v.as_str().trim_matches('"'))
}

/// A date-time value as written: a local clock reading in some zone, or a date.
enum Written {
    At {
        local: DateTime,
        utc: bool,
        tzid: Option<String>,
    },
    Day,
}

fn written(property: &Property<'_>, value: &str) -> Option<Written> {
    let value = value.trim();
    if param(property, "VALUE").is_some_and(|v| v.eq_ignore_ascii_case("DATE")) || value.len() == 8
    {
        return Date::strptime("%Y%m%d", value).ok().map(|_| Written::Day);
    }
    let (digits, utc) = match value.strip_suffix(['Z', 'z']) {
        Some(rest) => (rest, true),
        None => (value, false),
    };
    let local = DateTime::strptime("%Y%m%dT%H%M%S", digits).ok()?;
    Some(Written::At {
        local,
        utc,
        tzid: param(property, "TZID").map(str::to_owned),
    })
}

/// A VTIMEZONE, as the onsets of its observances on the local clock with the offset
/// each switches to, sorted: computed once per file, so converting a time is a search.
#[derive(Clone, Debug, Default)]
struct Rules {
    transitions: Vec<(DateTime, SignedDuration)>,
}

impl Rules {
    /// The onsets up to `horizon` (a yearly rule from 1601 to 2030 gives 430 of them).
    fn of(component: &Component<'_>, horizon: DateTime) -> Rules {
        let mut transitions = Vec::new();
        for observance in &component.components {
            let Some(start) = prop(observance, "DTSTART")
                .and_then(|p| DateTime::strptime("%Y%m%dT%H%M%S", p.val.as_str().trim()).ok())
            else {
                continue;
            };
            let Some(offset) =
                prop(observance, "TZOFFSETTO").and_then(|p| utc_offset(p.val.as_str()))
            else {
                continue;
            };
            transitions.push((start, offset));
            if let Some(rule) = prop(observance, "RRULE") {
                transitions.extend(
                    expand(start, rule.val.as_str(), start, horizon)
                        .into_iter()
                        .map(|onset| (onset, offset)),
                );
            }
            transitions.extend(
                props(observance, "RDATE")
                    .flat_map(|p| {
                        p.val
                            .as_str()
                            .split(',')
                            .map(str::to_owned)
                            .collect::<Vec<_>>()
                    })
                    .filter_map(|d| DateTime::strptime("%Y%m%dT%H%M%S", d.trim()).ok())
                    .map(|onset| (onset, offset)),
            );
        }
        transitions.sort_by_key(|(onset, _)| *onset);
        Rules { transitions }
    }

    /// The offset in force at the local clock reading `at`: that of the latest onset
    /// before it.
    fn offset_at(&self, at: DateTime) -> Option<SignedDuration> {
        let after = self.transitions.partition_point(|(onset, _)| *onset <= at);
        after
            .checked_sub(1)
            .and_then(|last| self.transitions.get(last))
            .map(|(_, offset)| *offset)
    }
}

/// "+0100", "-0530", "+013000".
fn utc_offset(text: &str) -> Option<SignedDuration> {
    let text = text.trim();
    let (sign, digits) = match text.as_bytes().first()? {
        b'+' => (1, &text[1..]),
        b'-' => (-1, &text[1..]),
        _ => return None,
    };
    let number = |range: std::ops::Range<usize>| -> Option<i64> {
        digits.get(range).map_or(Some(0), |d| d.parse().ok())
    };
    if digits.len() != 4 && digits.len() != 6 {
        return None;
    }
    let seconds = number(0..2)? * 3600 + number(2..4)? * 60 + number(4..6)?;
    Some(SignedDuration::from_secs(sign * seconds))
}

/// The local clock readings of `rule` from `start`, between `low` and `high` (both
/// inclusive), at most [`MAX_INSTANCES`]. An unreadable rule gives none.
fn expand(start: DateTime, rule: &str, low: DateTime, high: DateTime) -> Vec<DateTime> {
    let floating = |at: DateTime| at.strftime("%Y%m%dT%H%M%SZ").to_string();
    // UNTIL is written in UTC beside a zoned DTSTART. On the floating local clock it is
    // read a day later, so no zone's offset loses the last instance; the instances past
    // the real UNTIL are dropped once they are instants (`Reader::instances`).
    let rule: String = rule
        .split(';')
        .map(|part| match part.split_once('=') {
            Some((key, value)) if key.eq_ignore_ascii_case("UNTIL") => {
                let until = written_until(value).map_or_else(|| value.to_owned(), floating);
                format!("UNTIL={until}")
            }
            _ => part.to_owned(),
        })
        .collect::<Vec<_>>()
        .join(";");
    let text = format!("DTSTART:{}\nRRULE:{rule}", floating(start));
    let Ok(set) = text.parse::<rrule::RRuleSet>() else {
        return Vec::new();
    };
    // Limited: a rule that never matches (February 30th) gives up instead of searching
    // to the year 9999.
    set.limit()
        .into_iter()
        .take(MAX_INSTANCES)
        .filter_map(|at| civil_of(&at))
        .skip_while(|at| *at < low)
        .take_while(|at| *at <= high)
        .collect()
}

fn written_until(value: &str) -> Option<DateTime> {
    let digits = value.trim().trim_end_matches(['Z', 'z']);
    if digits.len() == 8 {
        return Date::strptime("%Y%m%d", digits)
            .ok()
            .map(|d| d.at(23, 59, 59, 0));
    }
    DateTime::strptime("%Y%m%dT%H%M%S", digits)
        .ok()
        .and_then(|d| d.checked_add(SignedDuration::from_hours(24)).ok())
}

fn civil_of(at: &chrono::DateTime<rrule::Tz>) -> Option<DateTime> {
    use chrono::{Datelike, Timelike};
    DateTime::new(
        i16::try_from(at.year()).ok()?,
        i8::try_from(at.month()).ok()?,
        i8::try_from(at.day()).ok()?,
        i8::try_from(at.hour()).ok()?,
        i8::try_from(at.minute()).ok()?,
        i8::try_from(at.second()).ok()?,
        0,
    )
    .ok()
}

struct Reader<'a> {
    zones: HashMap<String, Rules>,
    local: &'a TimeZone,
    /// Each TZID looked up in the time zone database once: a name it lacks (Outlook's
    /// "W. Europe Standard Time") costs a search of the disk each time.
    known: RefCell<HashMap<String, Option<TimeZone>>>,
}

struct Parsed {
    instance: CalendarEvent,
    /// The start on its own clock, and its zone, for recurrence.
    start: DateTime,
    tzid: Option<String>,
    utc: bool,
    length: SignedDuration,
    rules: Vec<String>,
    extra: Vec<Timestamp>,
    excluded: Vec<Timestamp>,
    recurrence_id: Option<Timestamp>,
    cancelled: bool,
}

impl Parsed {
    /// A moved instance as it now is; `None` when it was cancelled or made free.
    fn kept(self) -> Option<CalendarEvent> {
        (!self.cancelled).then_some(self.instance)
    }
}

impl Reader<'_> {
    /// The instant a local clock reading stands for in `tzid` (or UTC, or `local`).
    fn instant(&self, at: DateTime, utc: bool, tzid: Option<&str>) -> Option<Timestamp> {
        if utc {
            return at.to_zoned(TimeZone::UTC).ok().map(|z| z.timestamp());
        }
        if let Some(zone) = tzid.and_then(|id| self.named_zone(id)) {
            return zone.to_ambiguous_timestamp(at).compatible().ok();
        }
        if let Some(rules) = tzid.and_then(|id| self.zones.get(id))
            && let Some(offset) = rules.offset_at(at)
        {
            let as_utc = at.to_zoned(TimeZone::UTC).ok()?.timestamp();
            return as_utc.checked_sub(offset).ok();
        }
        self.local.to_ambiguous_timestamp(at).compatible().ok()
    }

    fn named_zone(&self, tzid: &str) -> Option<TimeZone> {
        if let Some(known) = self.known.borrow().get(tzid) {
            return known.clone();
        }
        let zone = TimeZone::get(tzid.trim_start_matches('/')).ok();
        self.known
            .borrow_mut()
            .insert(tzid.to_owned(), zone.clone());
        zone
    }

    fn point(&self, property: &Property<'_>, value: &str) -> Option<Timestamp> {
        match written(property, value)? {
            Written::At { local, utc, tzid } => self.instant(local, utc, tzid.as_deref()),
            Written::Day => None,
        }
    }

    fn points(&self, component: &Component<'_>, name: &str) -> Vec<Timestamp> {
        props(component, name)
            .flat_map(|p| {
                p.val
                    .as_str()
                    .split(',')
                    .filter_map(|v| self.point(p, v))
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    fn event(&self, event: &Component<'_>, focus_match: &Regex) -> Option<Parsed> {
        let start_prop = prop(event, "DTSTART")?;
        let Written::At { local, utc, tzid } = written(start_prop, start_prop.val.as_str())? else {
            return None;
        };
        let from = self.instant(local, utc, tzid.as_deref())?;
        let until = match (prop(event, "DTEND"), prop(event, "DURATION")) {
            (Some(end), _) => self.point(end, end.val.as_str())?,
            (None, Some(length)) => from.checked_add(duration(length.val.as_str())?).ok()?,
            (None, None) => from,
        };
        let length = until.duration_since(from).max(SignedDuration::ZERO);
        let title = prop(event, "SUMMARY")
            .map(|p| p.val.clone().unescape_text().as_str().trim().to_owned())
            .unwrap_or_default();
        let categories: Vec<String> = props(event, "CATEGORIES")
            .flat_map(|p| {
                p.val
                    .as_str()
                    .split(',')
                    .map(str::to_owned)
                    .collect::<Vec<_>>()
            })
            .collect();
        let focus =
            focus_match.is_match(&title) || categories.iter().any(|c| focus_match.is_match(c));
        let status = prop(event, "STATUS").map(|p| p.val.as_str().to_ascii_uppercase());
        let free = prop(event, "TRANSP")
            .is_some_and(|p| p.val.as_str().eq_ignore_ascii_case("TRANSPARENT"));
        Some(Parsed {
            instance: CalendarEvent {
                uid: prop(event, "UID")
                    .map(|p| p.val.as_str().to_owned())
                    .unwrap_or_else(|| format!("{from}")),
                title,
                from,
                until: from.checked_add(length).ok()?,
                focus,
            },
            start: local,
            tzid,
            utc,
            length,
            rules: props(event, "RRULE")
                .map(|p| p.val.as_str().to_owned())
                .collect(),
            extra: self.points(event, "RDATE"),
            excluded: self.points(event, "EXDATE"),
            recurrence_id: prop(event, "RECURRENCE-ID").and_then(|p| self.point(p, p.val.as_str())),
            cancelled: status.as_deref() == Some("CANCELLED") || (free && !focus),
        })
    }

    /// The instant a rule's UNTIL stands for: UTC when written so, else on the event's
    /// clock (a date means its whole day).
    fn rule_until(&self, rule: &str, event: &Parsed) -> Option<Timestamp> {
        let value = rule.split(';').find_map(|part| {
            let (key, value) = part.split_once('=')?;
            key.eq_ignore_ascii_case("UNTIL").then_some(value.trim())
        })?;
        let (digits, utc) = match value.strip_suffix(['Z', 'z']) {
            Some(rest) => (rest, true),
            None => (value, false),
        };
        let local = if digits.len() == 8 {
            Date::strptime("%Y%m%d", digits).ok()?.at(23, 59, 59, 0)
        } else {
            DateTime::strptime("%Y%m%dT%H%M%S", digits).ok()?
        };
        self.instant(local, utc, event.tzid.as_deref())
    }

    /// Every instance of a master event overlapping [`from`, `until`).
    fn instances(&self, event: &Parsed, from: Timestamp, until: Timestamp) -> Vec<CalendarEvent> {
        let mut starts = vec![event.instance.from];
        if !event.rules.is_empty() {
            // The window on the event's own clock, widened by a day for zone offsets.
            let day = SignedDuration::from_hours(24);
            let clock = |at: Timestamp| {
                at.checked_sub(event.length + day)
                    .unwrap_or(at)
                    .to_zoned(TimeZone::UTC)
                    .datetime()
            };
            let low = clock(from);
            let high = until
                .checked_add(day)
                .unwrap_or(until)
                .to_zoned(TimeZone::UTC)
                .datetime();
            for rule in &event.rules {
                let last = self.rule_until(rule, event);
                starts.extend(
                    expand(event.start, rule, low, high)
                        .into_iter()
                        .filter_map(|at| self.instant(at, event.utc, event.tzid.as_deref()))
                        .filter(|at| last.is_none_or(|last| *at <= last)),
                );
            }
        }
        starts.extend(&event.extra);
        starts.sort();
        starts.dedup();
        starts
            .into_iter()
            .filter(|start| !event.excluded.contains(start))
            .filter_map(|start| {
                let end = start.checked_add(event.length).ok()?;
                (start < until && end > from).then(|| CalendarEvent {
                    from: start,
                    until: end,
                    ..event.instance.clone()
                })
            })
            .collect()
    }
}

/// "PT1H30M", "P1D", "P1W": an RFC 5545 duration (days of 24 hours).
fn duration(text: &str) -> Option<SignedDuration> {
    let span: Span = text.trim().parse().ok()?;
    span.to_duration(SpanRelativeTo::days_are_24_hours()).ok()
}

#[cfg(test)]
mod tests;
