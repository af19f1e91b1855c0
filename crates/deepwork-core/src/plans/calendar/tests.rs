use super::*;

fn berlin() -> TimeZone {
    TimeZone::get("Europe/Berlin").unwrap()
}

fn local(text: &str) -> Timestamp {
    text.parse::<DateTime>()
        .unwrap()
        .to_zoned(berlin())
        .unwrap()
        .timestamp()
}

fn focus() -> Regex {
    Regex::new("(?i)focus|deep work").unwrap()
}

fn calendar(events: &str) -> String {
    format!(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\n{}END:VCALENDAR\r\n",
        events.replace('\n', "\r\n")
    )
}

fn read(text: &str, from: &str, until: &str) -> Vec<CalendarEvent> {
    events_between(text, local(from), local(until), &focus(), &berlin()).unwrap()
}

fn starts(events: &[CalendarEvent]) -> Vec<Timestamp> {
    events.iter().map(|e| e.from).collect()
}

#[test]
fn a_zoned_event_and_a_focus_block_by_title_or_category() {
    let text = calendar(
        "BEGIN:VEVENT
UID:1
DTSTART;TZID=Europe/Berlin:20261130T090000
DTEND;TZID=Europe/Berlin:20261130T113000
SUMMARY:Focus: billing RFC
END:VEVENT
BEGIN:VEVENT
UID:2
DTSTART:20261130T130000Z
DURATION:PT45M
SUMMARY:Design review\\, round 2
CATEGORIES:Meeting,Design
END:VEVENT
BEGIN:VEVENT
UID:3
DTSTART;TZID=Europe/Berlin:20261130T160000
DTEND;TZID=Europe/Berlin:20261130T170000
SUMMARY:Writing
CATEGORIES:Deep Work
END:VEVENT
",
    );
    let events = read(&text, "2026-11-30T00:00", "2026-12-01T00:00");
    assert_eq!(events.len(), 3);
    assert_eq!(
        (events[0].from, events[0].until, events[0].focus),
        (local("2026-11-30T09:00"), local("2026-11-30T11:30"), true)
    );
    assert_eq!(events[1].title, "Design review, round 2");
    assert_eq!(
        (events[1].from, events[1].until, events[1].focus),
        (local("2026-11-30T14:00"), local("2026-11-30T14:45"), false)
    );
    assert!(events[2].focus, "a category matches too");
}

#[test]
fn a_weekly_meeting_keeps_its_local_time_across_both_dst_changes() {
    let text = calendar(
        "BEGIN:VEVENT
UID:weekly
DTSTART;TZID=Europe/Berlin:20270315T090000
DTEND;TZID=Europe/Berlin:20270315T093000
RRULE:FREQ=WEEKLY;BYDAY=MO
SUMMARY:Standup
END:VEVENT
",
    );
    // 2027-03-28 and 2027-10-31 are the last Sundays of March and October.
    let spring = read(&text, "2027-03-20T00:00", "2027-04-01T00:00");
    assert_eq!(
        starts(&spring),
        [local("2027-03-22T09:00"), local("2027-03-29T09:00")]
    );
    assert_eq!(
        spring[1].from.to_zoned(TimeZone::UTC).hour(),
        7,
        "09:00 summer time is 07:00 UTC"
    );
    let autumn = read(&text, "2027-10-24T00:00", "2027-11-05T00:00");
    assert_eq!(
        starts(&autumn),
        [local("2027-10-25T09:00"), local("2027-11-01T09:00")]
    );
    assert_eq!(autumn[1].from.to_zoned(TimeZone::UTC).hour(), 8);
}

#[test]
fn exdates_moved_and_cancelled_instances() {
    let text = calendar(
        "BEGIN:VEVENT
UID:daily
DTSTART;TZID=Europe/Berlin:20261130T100000
DTEND;TZID=Europe/Berlin:20261130T101500
RRULE:FREQ=DAILY;COUNT=5
EXDATE;TZID=Europe/Berlin:20261201T100000
SUMMARY:Sync
END:VEVENT
BEGIN:VEVENT
UID:daily
RECURRENCE-ID;TZID=Europe/Berlin:20261202T100000
DTSTART;TZID=Europe/Berlin:20261202T150000
DTEND;TZID=Europe/Berlin:20261202T151500
SUMMARY:Sync (moved)
END:VEVENT
BEGIN:VEVENT
UID:daily
RECURRENCE-ID:20261203T090000Z
DTSTART:20261203T090000Z
DTEND:20261203T091500Z
STATUS:CANCELLED
SUMMARY:Sync
END:VEVENT
",
    );
    let events = read(&text, "2026-11-30T00:00", "2026-12-10T00:00");
    assert_eq!(
        starts(&events),
        [
            local("2026-11-30T10:00"),
            local("2026-12-02T15:00"),
            local("2026-12-04T10:00"),
        ],
        "Dec 1 excluded, Dec 2 moved to 15:00, Dec 3 cancelled, COUNT=5 ends on Dec 4"
    );
    assert_eq!(events[1].title, "Sync (moved)");
}

#[test]
fn a_zone_defined_only_by_the_files_vtimezone() {
    let text = calendar(
        "BEGIN:VTIMEZONE
TZID:W. Europe Standard Time
BEGIN:STANDARD
DTSTART:16010101T030000
TZOFFSETFROM:+0200
TZOFFSETTO:+0100
RRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=10
END:STANDARD
BEGIN:DAYLIGHT
DTSTART:16010101T020000
TZOFFSETFROM:+0100
TZOFFSETTO:+0200
RRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=3
END:DAYLIGHT
END:VTIMEZONE
BEGIN:VEVENT
UID:outlook
DTSTART;TZID=W. Europe Standard Time:20270322T090000
DTEND;TZID=W. Europe Standard Time:20270322T100000
RRULE:FREQ=WEEKLY;UNTIL=20270329T070000Z
SUMMARY:Planning
END:VEVENT
",
    );
    // Read with a local zone of New York, so only the file's rules can give Berlin's.
    let new_york = TimeZone::get("America/New_York").unwrap();
    let events = events_between(
        &text,
        local("2027-03-20T00:00"),
        local("2027-04-30T00:00"),
        &focus(),
        &new_york,
    )
    .unwrap();
    assert_eq!(
        starts(&events),
        [local("2027-03-22T09:00"), local("2027-03-29T09:00")],
        "the file's own DST rules, and UNTIL keeps its last instance"
    );
}

#[test]
fn all_day_free_and_floating_events() {
    let text = calendar(
        "BEGIN:VEVENT
UID:holiday
DTSTART;VALUE=DATE:20261130
DTEND;VALUE=DATE:20261201
SUMMARY:Company offsite
END:VEVENT
BEGIN:VEVENT
UID:free
DTSTART;TZID=Europe/Berlin:20261130T120000
DTEND;TZID=Europe/Berlin:20261130T130000
TRANSP:TRANSPARENT
SUMMARY:Lunch (tentative)
END:VEVENT
BEGIN:VEVENT
UID:floating
DTSTART:20261130T150000
DTEND:20261130T153000
SUMMARY:Call with Ana
END:VEVENT
",
    );
    let events = read(&text, "2026-11-30T00:00", "2026-12-01T00:00");
    assert_eq!(
        events.iter().map(|e| e.uid.as_str()).collect::<Vec<_>>(),
        ["floating"],
        "all-day and free events are no meetings"
    );
    assert_eq!(
        events[0].from,
        local("2026-11-30T15:00"),
        "floating is local"
    );
}

#[test]
fn a_rule_that_never_ends_is_read_to_the_window_only() {
    let text = calendar(
        "BEGIN:VEVENT
UID:forever
DTSTART:19900101T080000Z
DURATION:PT1H
RRULE:FREQ=DAILY
SUMMARY:Forever
END:VEVENT
",
    );
    let events = read(&text, "2026-11-30T00:00", "2026-12-03T00:00");
    assert_eq!(events.len(), 3);
}

#[test]
fn garbage_is_refused_with_a_reason() {
    let error = events_between(
        "<html>not a calendar</html>",
        local("2026-11-30T00:00"),
        local("2026-12-01T00:00"),
        &focus(),
        &berlin(),
    );
    assert!(matches!(error, Err(CalendarError::Syntax(_))), "{error:?}");
}

#[test]
fn several_calendar_objects_one_after_another_as_caldav_sends_them() {
    let one = calendar(
        "BEGIN:VEVENT
UID:a
DTSTART:20261130T090000Z
DURATION:PT1H
SUMMARY:A
END:VEVENT
",
    );
    let two = calendar(
        "BEGIN:VEVENT
UID:b
DTSTART:20261130T110000Z
DURATION:PT1H
SUMMARY:B
END:VEVENT
",
    );
    for joined in [
        format!("{one}\r\n{two}"),
        format!(
            "{}\n\n{}",
            one.replace("\r\n", "\n"),
            two.replace("\r\n", "\n")
        ),
    ] {
        let events = read(&joined, "2026-11-30T00:00", "2026-12-01T00:00");
        assert_eq!(events.len(), 2, "{joined:?}");
    }
}

#[test]
fn until_ends_a_series_west_of_utc_where_it_says() {
    let text = calendar(
        "BEGIN:VEVENT
UID:ny
DTSTART;TZID=America/New_York:20261101T100000
DURATION:PT30M
RRULE:FREQ=DAILY;UNTIL=20261110T150000Z
SUMMARY:Standup
END:VEVENT
",
    );
    let new_york = TimeZone::get("America/New_York").unwrap();
    let events = events_between(
        &text,
        local("2026-11-08T00:00"),
        local("2026-11-14T00:00"),
        &focus(),
        &new_york,
    )
    .unwrap();
    let last = events.last().unwrap().from.to_zoned(new_york);
    assert_eq!(
        (events.len(), last.day()),
        (3, 10),
        "Nov 8, 9 and 10 at 10:00 New York; none on the 11th"
    );
}

#[test]
fn hostile_calendars_are_refused_or_read_quickly() {
    let nested = format!(
        "{}{}",
        "BEGIN:X\r\n".repeat(100_000),
        "END:X\r\n".repeat(100_000)
    );
    let error = events_between(
        &nested,
        local("2026-11-30T00:00"),
        local("2026-12-01T00:00"),
        &focus(),
        &berlin(),
    );
    assert!(
        matches!(error, Err(CalendarError::Syntax(ref e)) if e.contains("nested")),
        "{error:?}"
    );
    let never = calendar(
        "BEGIN:VEVENT
UID:never
DTSTART:20261130T090000Z
DURATION:PT1H
RRULE:FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30
SUMMARY:Never
END:VEVENT
",
    );
    // Unlimited, this rule searches day by day to the year 9999.
    let events = read(&never, "2026-11-30T00:00", "2026-12-10T00:00");
    assert_eq!(events.len(), 1, "only DTSTART itself");
    let with_bom = format!(
        "\u{feff}{}",
        calendar(
            "BEGIN:VEVENT\nUID:b\nDTSTART:20261130T090000Z\nDURATION:PT1H\nSUMMARY:B\nEND:VEVENT\n"
        )
    );
    assert_eq!(
        read(&with_bom, "2026-11-30T00:00", "2026-12-01T00:00").len(),
        1
    );
}
