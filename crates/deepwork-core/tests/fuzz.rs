//! Fuzzing of the core's parsers and text cleaning: arbitrary and mutated input must
//! never panic. In the test suite each target is a short smoke run with a fixed seed;
//! `make fuzz` runs every target for
//! `DEEPWORK_FUZZ_SECONDS` (600 by default there); `cargo test -p deepwork-core --test
//! fuzz` alone is that smoke run. A failure prints the smallest input
//! found and the seed that replays the run (`DEEPWORK_FUZZ_SEED=…`).

use deepwork_core::config::{Config, Length};
use deepwork_core::held_notifications::plain_text;
use deepwork_core::resident::HotkeySetting;
use deepwork_core::schedule::ClockTime;
use deepwork_core::settings::Settings;
use deepwork_core::stats::IsoWeek;
use deepwork_core::text::{is_unsafe, one_line, plain, truncate, visible};
use deepwork_core::triage::{Triager, deadline, eval, says_not_urgent};
use deepwork_core::{NewItem, Urgency, away};
use deepwork_fuzzing::*;
use jiff::Timestamp;
use jiff::tz::TimeZone;
use proptest::prelude::*;
use std::sync::LazyLock;

// ---- the config parser ----

#[rustfmt::skip]
const TOML_TOKENS: &[&str] = &[
    "\n", " ", "=", "[", "]", "[[", "]]", "{", "}", ",", ".", "\"", "'", "'''", "\"\"\"", "#",
    "\\", "\\u", "\\U0010FFFF", "\\uD800", "true", "false", "0", "-1", "1e308", "-0.0", "nan",
    "inf", "+inf", "9223372036854775807", "-9223372036854775808", "18446744073709551616",
    "0x7f", "0o7", "0b1", "1_000", "1979-05-27T07:32:00Z", "1979-05-27", "07:32:00",
    "[session]", "[triage]", "[[triage.rules]]", "[response_windows]", "[stats]",
    "[notifications]", "[hold_notifications]", "[desktop]", "[status]", "[auto_reply]",
    "[storage]", "[adapters.matrix]", "[adapters.slack]", "[adapters.mattermost]",
    "[adapters.teams]", "[adapters.xmpp]", "[[adapters.plugins]]", "default_length",
    "check_in_slots", "vip_senders", "vip_class", "rules", "class", "name", "keywords",
    "pattern", "source", "sender", "channel", "builtin_model", "builtin_rules",
    "trusted_urgency_sources", "pre_ping_phrases", "my_names", "default_class", "emergency",
    "blocker", "update", "strategic", "pre_ping", "weekly_goal_hours", "keep_days", "enabled",
    "allow", "hold", "ignore", "do_not_disturb", "hotkey", "open_digest_at_check_in",
    "tray_icon", "template", "clock", "homeserver", "user_id", "auto_reply", "workspace", "api",
    "client_id", "server", "account", "tenant", "authority", "graph", "jid", "command",
    "\"50m\"", "\"1h30m\"", "\"12h\"", "\"12h1s\"", "\"0m\"", "\"-5m\"", "\"90 minutes\"",
    "\"99999999999h\"", "\"PT1H\"", "\"14:00\"", "\"24:00\"", "\"23:59:59.999999999\"",
    "\"2:00 PM\"", "\"Ctrl+Alt+D\"", "\"Super+F24\"", "\"Shift+A\"", "\"\"", "\"24h\"",
    "\"12h\"", "\"auto\"", "\"dark\"", "\"gnome\"", "\"{check_in}\"", "\"{until}\"",
    "\"{emergency}\"", "\"{nope}\"", "\"(\"", "\"a{999999}\"", "\"(?i)x\"", "\"\\\\b\"",
    "\"https://matrix.example.org\"", "\"@alice:example.org\"", "\"*\"",
];

#[rustfmt::skip]
const VALUE_TOKENS: &[&str] = &[
    "0", "1", "9", "59", "60", "99", "100", "9999999999999999999", "h", "m", "s", "ms", "us",
    "ns", "hours", "minutes", "min", "sec", "day", "days", "w", "week", ":", " ", ".", "-", "+",
    "PT", "P", "T", "H", "M", "S", "W", "am", "pm", "AM", "PM", "Ctrl", "Alt", "Shift", "Super",
    "F", "F0", "F25", "Space", "A", "z", "é", "\u{0}", "\u{202E}", "½", "٣", "２",
];

static CONFIG_SEEDS: LazyLock<Vec<String>> = LazyLock::new(|| {
    let mut seeds = vec![
        toml::to_string(&Config::default()).expect("the default config serializes"),
        String::new(),
        "[session]\ndefault_length = \"90m\"\ncheck_in_slots = [\"11:00\", \"14:00\", \"16:30\"]\n"
            .to_owned(),
        concat!(
            "[triage]\nvip_senders = [\"ceo@example.com\"]\n",
            "trusted_urgency_sources = [\"ci\", \"pagerduty\"]\nmy_names = [\"Alice\"]\n\n",
            "[[triage.rules]]\nname = \"incident channel\"\nclass = \"emergency\"\n",
            "channel = \"#incidents\"\n\n[[triage.rules]]\nclass = \"strategic\"\n",
            "pattern = 'offsite\\s+agenda'\n\n[[triage.rules]]\nclass = \"pre_ping\"\n",
            "keywords = [\"ping\", \"quick one\"]\nsource = \"slack\"\nsender = \"bob\"\n",
        )
        .to_owned(),
        concat!(
            "[adapters.matrix]\nhomeserver = \"https://matrix.example.org\"\n",
            "user_id = \"@alice:example.org\"\nauto_reply = true\n\n",
            "[adapters.slack]\nworkspace = \"acme.slack.com\"\napi = \"https://slack.com/api/\"\n",
            "client_id = \"123.456\"\n\n[adapters.mattermost]\nserver = \"https://chat.example.org\"\n\n",
            "[adapters.teams]\naccount = \"alice@contoso.com\"\nclient_id = \"0000-1111\"\n",
            "tenant = \"contoso.com\"\n\n[adapters.xmpp]\njid = \"alice@example.org\"\n",
            "server = \"xmpp.example.org:5222\"\n\n[[adapters.plugins]]\nname = \"pumble\"\n",
            "command = [\"/usr/local/bin/deepwork-pumble\", \"--quiet\"]\n",
        )
        .to_owned(),
        concat!(
            "[hold_notifications]\nallow = [\"gnome-calendar\"]\nhold = [\"ci-bot\"]\n",
            "ignore = [\"Spotify\"]\ndo_not_disturb = \"dunst\"\n\n[desktop]\n",
            "hotkey = \"Ctrl+Shift+F12\"\ntray_icon = \"light\"\n\n[status]\n",
            "template = \"Focusing until {until}, back at {check_in}\"\nclock = \"12h\"\n\n",
            "[auto_reply]\ntemplate = \"Back at {check_in}; {emergency}\"\n",
            "emergency = \"call me\"\n\n[storage]\nkeep_days = 0\n\n[stats]\n",
            "weekly_goal_hours = 12.5\n\n[response_windows]\nemergency = \"5m\"\n",
        )
        .to_owned(),
    ];
    // Every TOML example in the configuration reference.
    let docs = include_str!("../../../docs/configuration.md");
    for block in docs.split("```toml\n").skip(1) {
        if let Some((example, _)) = block.split_once("```") {
            seeds.push(example.to_owned());
        }
    }
    seeds
});

fn config_text() -> impl Strategy<Value = String> {
    prop_oneof![
        2 => text(TOML_TOKENS),
        5 => mutated(CONFIG_SEEDS.clone(), TOML_TOKENS),
        1 => nested(&[("a=[", "]"), ("a={b=", "}"), ("[", "]"), ("a=[{b=[", "]}]"), ("[a.", "]")]),
        2 => (
            prop::sample::select(&["[session]\ndefault_length = \"", "[session]\ncheck_in_slots = [\"",
                "[desktop]\nhotkey = \"", "[response_windows]\nblocker = \"",
                "[status]\ntemplate = \"", "[triage]\nvip_class = \""][..]),
            soup(VALUE_TOKENS, 12),
        ).prop_map(|(head, value)| format!("{head}{}\"{}\n", value.replace(['"', '\\', '\n'], ""),
            if head.ends_with("[\"") { "]" } else { "" })),
    ]
}

#[test]
fn config_parser_never_panics() {
    fuzz("config parser", 512, config_text(), |text| {
        match Config::from_toml_str(&text) {
            Err(error) => {
                let _ = error.to_string();
            }
            Ok(config) => {
                // What the engine does next with a config it accepted.
                let _ = Triager::new(&config.triage);
                let settings = Settings::from_config(&config);
                // Saving the window's settings unchanged into the file they came from
                // must work: the file was valid.
                let saved = settings.apply(&text);
                prop_assert!(
                    saved.is_ok(),
                    "settings from a valid config cannot be saved back: {:?}",
                    saved.err()
                );
            }
        }
        Ok(())
    });
}

#[test]
fn config_values_never_panic() {
    fuzz("config values", 2048, soup(VALUE_TOKENS, 16), |value| {
        let _ = value.parse::<Length>();
        let _ = value.parse::<ClockTime>();
        let _ = value.parse::<IsoWeek>();
        let _ = value.parse::<HotkeySetting>();
        let _ = eval::parse_class(&value);
        let _ = deepwork_core::Class::parse(&value);
        let _ = deepwork_core::Disposition::parse(&value);
        Ok(())
    });
}

// ---- notification markup and text cleaning ----

#[rustfmt::skip]
const MARKUP_TOKENS: &[&str] = &[
    "<", ">", "</", "/>", "<b>", "</b>", "<i>", "<u>", "<a href=\"", "\">", "</a>",
    "<img src=\"x\"/>", "<br>", "<br/>", "&", "&amp;", "&lt;", "&gt;", "&quot;", "&apos;",
    "&amp", "&#60;", "&nbsp;", "\n", "\r\n", "\t", "\u{0}", "\u{7}", "\u{1b}[31m", "\u{85}",
    "\u{9b}", "\u{202E}", "\u{2066}", "\u{200F}", "\u{061C}", "\u{FEFF}", "\u{FFFD}", "é",
    "e\u{301}", "👩‍💻", "中文", " ", "a", "<<", "<a", "a<b", "&<", "<&", "<1>", "</>", "<-", "<b",
    "b>",
];

#[test]
fn notification_markup_never_panics() {
    fuzz(
        "held_notifications::plain_text",
        2048,
        text(MARKUP_TOKENS),
        |markup| {
            let text = plain_text(&markup);
            prop_assert!(
                !text
                    .chars()
                    .any(|c| c.is_control() && c != '\n' && c != '\t'),
                "a control character survived: {text:?}"
            );
            prop_assert!(text.len() <= markup.len(), "the text grew: {text:?}");
            Ok(())
        },
    );
}

#[test]
fn text_cleaning_never_panics() {
    let strategy = (text(MARKUP_TOKENS), 0usize..300, 0usize..80);
    fuzz(
        "text::{plain, one_line, visible, truncate}",
        2048,
        strategy,
        |(text, max, chars)| {
            let plain_text = plain(&text);
            prop_assert!(
                !plain_text
                    .chars()
                    .any(|c| is_unsafe(c) && c != '\n' && c != '\t')
            );
            let line = one_line(&text);
            prop_assert!(!line.chars().any(|c| is_unsafe(c) || c == '\n' || c == '\r'));
            prop_assert!(!visible(&text).chars().any(is_unsafe));
            let cut = truncate(&text, max);
            prop_assert!(cut.len() <= max && text.starts_with(cut));
            let fitted = away::fit(&text, chars);
            prop_assert!(fitted.chars().count() <= chars.max(1));
            let _ = away::unknown_placeholder(&text);
            Ok(())
        },
    );
}

// ---- what every platform's text becomes: items, triage and deadlines ----

fn item() -> impl Strategy<Value = NewItem> {
    let field = || text(MARKUP_TOKENS);
    let long = prop_oneof![
        4 => field(),
        1 => (field(), 1usize..5000).prop_map(|(s, n)| s.repeat(n.min(70_000 / s.len().max(1)))),
    ];
    let urgency = prop::option::of(prop::sample::select(vec![
        Urgency::Emergency,
        Urgency::Blocker,
        Urgency::Update,
        Urgency::Strategic,
    ]));
    (
        (field(), field(), long.clone(), prop::option::of(long)),
        (
            prop::option::of(field()),
            prop::option::of(field()),
            urgency,
            prop::option::of(field()),
        ),
    )
        .prop_map(
            |((source, sender, title, body), (url, channel, urgency, message_id))| NewItem {
                source,
                sender,
                title,
                body,
                url,
                channel,
                urgency,
                message_id,
                source_class: None,
                conversation: None,
            },
        )
}

#[test]
fn sanitized_items_are_always_valid() {
    fuzz("NewItem::sanitized", 1024, item(), |item| {
        let _ = item.validate();
        let clean = item.sanitized();
        prop_assert!(
            clean.validate().is_ok(),
            "{:?} for {clean:?}",
            clean.validate()
        );
        Ok(())
    });
}

#[rustfmt::skip]
const TRIAGE_TOKENS: &[&str] = &[
    " ", "\n", "by ", "before ", "until ", "bis ", "avant ", "antes de las ", "by 3pm",
    "by 15:30", "by 25:99", "by 3.5x", "by 12.50%", "by 99999999999", "EOD", "COB", "noon",
    "tomorrow", "tomorrow morning", "tonight", "this afternoon", "by Friday", "end of week",
    "within the hour", "in the next 30 minutes", "within 999 hours", "in the next 0 minutes",
    "EMERGENCY", "not an EMERGENCY", "no rush", "RESOLVED:", "acknowledged by", "hi", "hey",
    "got a sec?", "Uhr", "h", "14h30", ":", "am", "pm", "12", "0", "00", "prod is down",
    "returning 500s", "every customer", "İ", "ß", "ﬀ", "Σ", "\u{0}", "é", "日本語", "🔥",
];

static TRIAGER: LazyLock<Triager> =
    LazyLock::new(|| Triager::new(&Config::default().triage).expect("the default triage compiles"));

const ZONES: &[&str] = &[
    "UTC",
    "Europe/Berlin",
    "America/New_York",
    "Pacific/Kiritimati",
    "Pacific/Pago_Pago",
    "Asia/Kathmandu",
    "Australia/Lord_Howe",
];

#[test]
fn triage_never_panics() {
    let received = (
        // 1970 to 2200, and the very ends of what a timestamp holds.
        prop_oneof![
            8 => 0i64..7_258_118_400,
            1 => Just(Timestamp::MIN.as_second() + 1),
            1 => Just(Timestamp::MAX.as_second() - 1),
        ],
        prop::sample::select(ZONES),
    );
    let message = soup(TRIAGE_TOKENS, 30);
    fuzz(
        "triage",
        512,
        (item(), message, received),
        |(mut item, message, (at, zone))| {
            item.title = message.clone();
            let Ok(at) = Timestamp::from_second(at) else {
                return Ok(());
            };
            let Ok(tz) = TimeZone::get(zone) else {
                return Ok(());
            };
            let zoned = at.to_zoned(tz);
            // The engine triages pushed items that validate and platforms' items sanitized.
            if item.validate().is_ok() {
                let _ = TRIAGER.triage(&item, &zoned).reason.to_string();
            }
            let triage = TRIAGER.triage(&item.clone().sanitized(), &zoned);
            let _ = triage.reason.to_string();
            let _ = deadline::stated_deadline(&message, &zoned);
            let _ = says_not_urgent(&message);
            let _ = TRIAGER.model_scores(&item);
            let line =
                serde_json::json!({ "from": item.sender, "text": message, "expected": "update" });
            let _ = eval::parse_labelled(&format!("{line}\n{message}\n"));
            Ok(())
        },
    );
}

// ---- calendars ----

#[rustfmt::skip]
const CALENDAR_TOKENS: &[&str] = &[
    "\r\n", "\n", " ", "BEGIN:VCALENDAR", "END:VCALENDAR", "BEGIN:VEVENT", "END:VEVENT",
    "BEGIN:VTIMEZONE", "END:VTIMEZONE", "BEGIN:STANDARD", "END:STANDARD", "BEGIN:DAYLIGHT",
    "END:DAYLIGHT", "TZID:X", "TZOFFSETFROM:+0100", "TZOFFSETTO:+0200", "TZOFFSETTO:-2400",
    "TZOFFSETTO:+99", "UID:a", "UID:b", "SUMMARY:Focus", "SUMMARY:Sync\\, 2", "CATEGORIES:Deep work",
    "DTSTART:20261130T090000Z", "DTSTART:20261130T090000", "DTSTART;TZID=Europe/Berlin:20261130T090000",
    "DTSTART;TZID=X:20261130T090000", "DTSTART;TZID=Nowhere/Else:20261130T090000",
    "DTSTART;VALUE=DATE:20261130", "DTSTART:16010101T030000", "DTSTART:99991231T235959Z",
    "DTSTART:00000101T000000Z", "DTSTART:2026113", "DTEND:20261130T100000Z", "DTEND:20251130T100000Z",
    "DURATION:PT1H", "DURATION:P1D", "DURATION:-PT5M", "DURATION:P999999W", "DURATION:PT",
    "RRULE:FREQ=DAILY", "RRULE:FREQ=SECONDLY", "RRULE:FREQ=MINUTELY;INTERVAL=1",
    "RRULE:FREQ=WEEKLY;BYDAY=MO,WE", "RRULE:FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30",
    "RRULE:FREQ=MONTHLY;BYDAY=-1SU", "RRULE:FREQ=DAILY;COUNT=3", "RRULE:FREQ=DAILY;UNTIL=20261201T000000Z",
    "RRULE:FREQ=DAILY;UNTIL=20261201", "RRULE:FREQ=WEEKLY;INTERVAL=0", "RRULE:FREQ=NEVER",
    "RRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=10", "RRULE:", "RDATE:20261205T090000Z",
    "EXDATE:20261201T090000Z", "EXDATE;TZID=Europe/Berlin:20261201T100000,20261202T100000",
    "RECURRENCE-ID:20261202T090000Z", "STATUS:CANCELLED", "TRANSP:TRANSPARENT", ";", ":", ",",
    "=", "\"", "\\", "\u{0}", "\u{202E}", "é",
];

#[test]
fn calendar_reader_never_panics() {
    use deepwork_core::plans::calendar::events_between;
    let focus = regex::Regex::new("(?i)focus|deep work").expect("a valid expression");
    let from = Timestamp::from_second(1_795_000_000).expect("in range");
    let until = Timestamp::from_second(1_796_300_000).expect("in range");
    let berlin = TimeZone::get("Europe/Berlin").expect("tzdb");
    fuzz(
        "plans::calendar::events_between",
        512,
        soup(CALENDAR_TOKENS, 60),
        |text| {
            if let Ok(events) = events_between(&text, from, until, &focus, &berlin) {
                for event in events {
                    prop_assert!(
                        event.from < until && event.until > from,
                        "{event:?} is outside the window"
                    );
                    prop_assert!(event.until >= event.from, "{event:?} ends before it starts");
                }
            }
            Ok(())
        },
    );
}
