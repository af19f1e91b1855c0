// Generated from the Rust types by src-tauri/tests/bindings.rs. Do not edit:
// run `make bindings` after changing them.

export type Class = "emergency" | "blocker" | "update" | "strategic" | "pre_ping";

export type ClassCounts = { 
/**
 * Emergencies (only held if they arrive while breaking through is impossible).
 */
emergency: number, 
/**
 * Blockers.
 */
blocker: number, 
/**
 * Updates.
 */
update: number, 
/**
 * Strategic items.
 */
strategic: number, 
/**
 * Pre-pings.
 */
pre_ping: number, };

export type ItemId = number;

export type SessionId = number;

export type DigestId = number;

export type Reason = { "kind": "source_urgency", 
/**
 * The trusted source.
 */
source: string, } | { "kind": "source_class", 
/**
 * The source.
 */
source: string, } | { "kind": "vip_sender", 
/**
 * The VIP.
 */
sender: string, } | { "kind": "rule", 
/**
 * What the rule matched, e.g. "keyword 'outage'" or "channel '#incidents'".
 */
matched: string, 
/**
 * The rule's name when the user gave one.
 */
name: string | null, } | { "kind": "pre_ping", 
/**
 * The text, shortened.
 */
text: string, } | { "kind": "model", 
/**
 * The phrases that weighed most for the class, strongest first.
 */
evidence: Array<string>, 
/**
 * The model's probability for the class, in percent.
 */
confidence: number, } | { "kind": "not_urgent", 
/**
 * The words that said so.
 */
phrase: string, } | { "kind": "deadline_today", 
/**
 * The words that stated it.
 */
phrase: string, } | { "kind": "lesson", 
/**
 * The start of the corrected message.
 */
example: string, 
/**
 * How alike the two are, in percent.
 */
similarity: number, } | { "kind": "emergency_word" } | { "kind": "corrected" } | { "kind": "default" };

export type TimelineEntry = { 
/**
 * When.
 */
at: string, 
/**
 * What happened: "shown", "SMS", "acknowledged by SMS", "SMS failed: …".
 */
what: string, };

export type AckVia = "notification" | "tray" | "window" | "command" | "sms";

export type DoneBy = "you" | "answer";

export type DigestEntry = { 
/**
 * Its id (for `deepwork done`).
 */
id: ItemId, 
/**
 * Who sent it.
 */
sender: string, 
/**
 * Where it came from.
 */
source: string, 
/**
 * The channel or room.
 */
channel: string | null, 
/**
 * Its title.
 */
title: string, 
/**
 * The start of its body, on one line.
 */
snippet: string | null, 
/**
 * A link back to it.
 */
url: string | null, 
/**
 * When it arrived.
 */
received_at: string, 
/**
 * When it should be answered by: the response matrix's window, or the deadline the
 * message stated when that is earlier.
 */
reply_by: string, 
/**
 * The words that stated a deadline earlier than the class's window ("by 3pm").
 */
stated_deadline: string | null, 
/**
 * For an emergency that broke through: when it was shown. It is listed so that a
 * missed popup loses nothing.
 */
shown_at: string | null, 
/**
 * For an emergency: what followed it, oldest first ("SMS 09:17", "acknowledged
 * 09:19 by SMS"); filled in by the engine from the escalation.
 */
escalation?: Array<TimelineEntry>, 
/**
 * Why it was classed so, readable.
 */
why: string, 
/**
 * Why it was classed so, typed.
 */
reason: Reason, 
/**
 * Whether it is done.
 */
done: boolean, 
/**
 * How it came to be done: marked by the user, or answered where it lives.
 */
done_by: DoneBy | null, };

export type DigestGroup = { 
/**
 * The class.
 */
class: Class, 
/**
 * Its items, soonest reply-by first.
 */
items: Array<DigestEntry>, };

export type Digest = { 
/**
 * Its id.
 */
id: DigestId, 
/**
 * The session it belongs to.
 */
session: SessionId, 
/**
 * When it was delivered.
 */
delivered_at: string, 
/**
 * Held items per class. Emergencies that broke through are listed in `groups`
 * but not counted here: they were not held.
 */
counts: ClassCounts, 
/**
 * "9 held: 1 blocker, 6 updates, 2 pre-pings".
 */
summary: string, 
/**
 * The items, most urgent class first.
 */
groups: Array<DigestGroup>, };

export type ClockTime = string;

export type Length = string;

export type SessionEnd = { "for": Length } | { "until": ClockTime };

export type SessionPlan = { 
/**
 * The end; the configured default length when absent.
 */
end: SessionEnd | null, 
/**
 * An explicit check-in; the configured slots apply when absent.
 */
check_in: ClockTime | null, };

export type IsoWeek = string;

export type DayFocus = { 
/**
 * The day.
 */
date: string, 
/**
 * Hours of focus.
 */
hours: number, 
/**
 * Hours of focus planned (focus blocks and calendar focus events, less meetings).
 */
planned_hours: number, };

export type WeekTotal = { 
/**
 * The week.
 */
week: IsoWeek, 
/**
 * Hours of focus.
 */
hours: number, };

export type AnsweredInTime = { 
/**
 * The class.
 */
class: Class, 
/**
 * Done by their reply-by.
 */
in_time: number, 
/**
 * All of them.
 */
items: number, };

export type IntentTally = { 
/**
 * Done.
 */
done: number, 
/**
 * Partly done.
 */
partly: number, 
/**
 * Not done.
 */
not_done: number, 
/**
 * Not said yet.
 */
unsaid: number, };

export type WeeklyStats = { 
/**
 * The week.
 */
week: IsoWeek, 
/**
 * Focus per day, Monday first.
 */
days: Array<DayFocus>, 
/**
 * Focus hours in the week.
 */
total_hours: number, 
/**
 * The user's goal.
 */
goal_hours: number, 
/**
 * The 11.7 h reference.
 */
reference_hours: number, 
/**
 * Focus hours planned in the week.
 */
planned_hours: number, 
/**
 * Sessions started this week.
 */
sessions: number, 
/**
 * Of them, those a plan started (a focus block or calendar event); the rest were
 * started by hand.
 */
planned_sessions: number, 
/**
 * Their average length in minutes (0 with none).
 */
average_session_minutes: number, 
/**
 * Those stopped before their end.
 */
early_stops: number, 
/**
 * Emergencies that broke through.
 */
interruptions: number, 
/**
 * Items held.
 */
items_held: number, 
/**
 * Held non-emergency items, arrivals within 2 minutes counted once.
 */
interruptions_avoided: number, 
/**
 * Interruptions avoided × 23 min, capped by each session's length.
 */
recovery_minutes_saved: number, 
/**
 * Totals of this week and the ones before it, oldest first.
 */
trend: Array<WeekTotal>, 
/**
 * Per class with items, how many of its sessions' items were done (answered where
 * they live, or marked) within their reply-by.
 */
answered_in_time: Array<AnsweredInTime>, 
/**
 * How the intents of the week's sessions went.
 */
intents: IntentTally, 
/**
 * The longest stretch of a session no breakthrough or absence cut, in minutes.
 */
longest_block_minutes: number, 
/**
 * Time inside the week's sessions when the user was away from the computer, not
 * counted as focus.
 */
away_hours: number, };

export type ErrorCode = "bad_request" | "too_large" | "invalid_item" | "invalid_plan" | "already_focusing" | "not_focusing" | "not_found" | "invalid_settings" | "storage" | "not_posted";

export type ApiError = { 
/**
 * Stable code.
 */
code: ErrorCode, 
/**
 * For people.
 */
message: string, };

export type WindowCode = "refused" | "unreachable" | "protocol";

export type UiErrorCode = ErrorCode | WindowCode;

export type UiError = { 
/**
 * What kind of failure.
 */
code: UiErrorCode, 
/**
 * What happened, for people.
 */
message: string, };

export type AdapterState = { "state": "ok" } | { "state": "retrying", 
/**
 * The last error.
 */
error: string, } | { "state": "needs_attention", 
/**
 * What to do.
 */
fix: string, };

export type ConnectKind = "none" | "token" | "sign_in" | "token_or_sign_in";

export type AdapterHealth = { 
/**
 * The adapter, as in config.
 */
name: string, 
/**
 * Its state.
 */
state: AdapterState, 
/**
 * How it is connected, from the platform registry.
 */
connect: ConnectKind, };

export type SessionStatus = { 
/**
 * Its id.
 */
id: SessionId, 
/**
 * When it started.
 */
started_at: string, 
/**
 * When it ends.
 */
ends_at: string, 
/**
 * The next check-in.
 */
next_check_in: string, 
/**
 * Every check-in still to come.
 */
check_ins: string[], 
/**
 * Seconds until it ends.
 */
remaining_seconds: bigint, 
/**
 * The planned block it runs for; `None` when started by hand.
 */
plan: string | null, 
/**
 * What it is for, when the user said.
 */
intent: string | null, };

export type EscalationStatus = { 
/**
 * The emergency.
 */
item: ItemId, 
/**
 * When it arrived.
 */
opened_at: string, 
/**
 * The next step and when it falls due.
 */
next_step: [string, string] | null, 
/**
 * What happened so far.
 */
timeline: Array<TimelineEntry>, };

export type TimeSpan = { 
/**
 * Its start.
 */
from: string, 
/**
 * Its end.
 */
until: string, };

export type BlockState = "planned" | "running" | "ran" | "skipped" | "missed";

export type BlockStatus = { 
/**
 * Names it (`"2026-11-30 09:00-11:30"`), for skipping.
 */
plan: string, 
/**
 * When it starts and ends.
 */
span: TimeSpan, 
/**
 * What became of it.
 */
state: BlockState, 
/**
 * A calendar event's title; `None` for a block of `[plans]`.
 */
title: string | null, };

export type PlanDay = { 
/**
 * The date, `YYYY-MM-DD`.
 */
date: string, 
/**
 * A day off (listed in `days_off`).
 */
day_off: boolean, 
/**
 * Working time.
 */
work: Array<TimeSpan>, 
/**
 * Focus blocks and calendar focus events.
 */
blocks: Array<BlockStatus>, 
/**
 * Calendar meetings, merged where they overlap.
 */
meetings: Array<TimeSpan>, };

export type ShellPart = { 
/**
 * It works.
 */
working: boolean, 
/**
 * How it works ("X11 grab of Ctrl+Alt+D"), or why not and what to do.
 */
how: string, };

export type DesktopState = { 
/**
 * The tray icon.
 */
tray: ShellPart, 
/**
 * The global hotkey.
 */
hotkey: ShellPart, 
/**
 * Seeing when the user is away (screen locked or idle).
 */
presence: ShellPart, };

export type Status = { 
/**
 * The engine's clock when this was taken.
 */
now: string, 
/**
 * The running session, if any.
 */
session: SessionStatus | null, 
/**
 * Items held since the last check-in, per class.
 */
held: ClassCounts, 
/**
 * The latest digest, if any.
 */
latest_digest: DigestId | null, 
/**
 * Each connected chat platform's state.
 */
adapters: Array<AdapterHealth>, 
/**
 * Emergencies not yet acknowledged: being escalated, or past their last step
 * (for two hours after they came, an acknowledgement still counts).
 */
escalations: Array<EscalationStatus>, 
/**
 * What keeps emergencies from reaching the phone, if anything does.
 */
escalation_problem: string | null, 
/**
 * Outside work hours, items are held until this (the next working start).
 */
off_hours_until: string | null, 
/**
 * The planned focus block running now or coming next (within a week).
 */
next_block: BlockStatus | null, 
/**
 * What keeps the plans from applying: a calendar that could not be read (and which
 * copy still applies), a planned session that could not start.
 */
plan_problems: Array<string>, 
/**
 * The latest session's intent, once it ended, until the user says how it went
 * (for a day).
 */
unsaid_intent: Intent | null, 
/**
 * What the resident's tray and hotkey could set up; `None` without a desktop shell
 * (headless).
 */
desktop: DesktopState | null, 
/**
 * Since when the user is away from the computer, as the desktop shell saw it.
 */
away_since: string | null, 
/**
 * A check-in is due and waits for the user to come back.
 */
check_in_waiting: boolean, };

export type SignInCode = { 
/**
 * The code to enter.
 */
user_code: string, 
/**
 * Where to enter it.
 */
verification_uri: string, 
/**
 * The platform's own instructions.
 */
message: string, };

export type Event = { "event": "session_changed", 
/**
 * The state now.
 */
status: Status, } | { "event": "item_held", 
/**
 * The item.
 */
item: ItemId, 
/**
 * Its class.
 */
class: Class, 
/**
 * Held counts now.
 */
held: ClassCounts, } | { "event": "broke_through", 
/**
 * The item.
 */
item: ItemId, } | { "event": "item_shown", 
/**
 * The item.
 */
item: ItemId, } | { "event": "check_in", 
/**
 * The digest.
 */
digest: DigestId, 
/**
 * Its summary.
 */
summary: string, 
/**
 * Its counts.
 */
counts: ClassCounts, } | { "event": "session_ended", 
/**
 * The session.
 */
session: SessionId, 
/**
 * Stopped early.
 */
early: boolean, } | { "event": "adapter_changed", 
/**
 * Its state now.
 */
health: AdapterHealth, } | { "event": "lagged", 
/**
 * How many.
 */
missed: bigint, } | { "event": "open_digest" } | { "event": "standup_drafted", 
/**
 * Its day.
 */
date: string, } | { "event": "open_standup" } | { "event": "desktop_changed" } | { "event": "config_changed" } | { "event": "acknowledged", 
/**
 * The emergency.
 */
item: ItemId, } | { "event": "item_done", 
/**
 * The item.
 */
item: ItemId, 
/**
 * Its new state.
 */
done: boolean, };

export type HotkeySetting = string;

export type KeywordRule = { 
/**
 * Shown in the digest's "why".
 */
name: string | null, 
/**
 * The class it gives.
 */
class: Class, 
/**
 * Whole words or phrases, any of which matches.
 */
keywords: Array<string>, };

export type WorkSpan = string;

export type Days = string;

export type FocusBlock = { 
/**
 * The days it recurs on.
 */
days: Days, 
/**
 * When its session starts.
 */
from: ClockTime, 
/**
 * When its session ends, later the same day.
 */
until: ClockTime, 
/**
 * Check-ins inside it; the `[session] check_in_slots` apply when empty.
 */
check_ins: Array<ClockTime>, };

export type Settings = { 
/**
 * `session.default_length`.
 */
default_length: Length, 
/**
 * `session.check_in_slots`.
 */
check_in_slots: Array<ClockTime>, 
/**
 * `stats.weekly_goal_hours`.
 */
weekly_goal_hours: number, 
/**
 * `desktop.hotkey`; empty for none.
 */
hotkey: HotkeySetting, 
/**
 * `status.template`.
 */
status_template: string, 
/**
 * `triage.vip_senders`.
 */
vip_senders: Array<string>, 
/**
 * The `triage.rules` that only match keywords; the others are kept as written.
 */
keyword_rules: Array<KeywordRule>, 
/**
 * How many other rules config.toml has (regex, source, sender or channel rules).
 */
other_rules: number, 
/**
 * `auto_reply.template`.
 */
auto_reply_template: string, 
/**
 * `auto_reply.emergency`.
 */
auto_reply_emergency: string, 
/**
 * `plans.work_hours`.
 */
work_hours: Array<WorkSpan>, 
/**
 * `plans.days_off`.
 */
days_off: string[], 
/**
 * `plans.hold_after_hours`.
 */
hold_after_hours: boolean, 
/**
 * `plans.blocks`.
 */
focus_blocks: Array<FocusBlock>, 
/**
 * `plans.after_hours_status`.
 */
after_hours_status: string, 
/**
 * `auto_reply.after_hours`.
 */
auto_reply_after_hours: string, 
/**
 * `status.intent_template`; empty keeps intents private.
 */
status_intent_template: string, 
/**
 * `standup.at`; none drafts only when asked.
 */
standup_at: ClockTime | null, 
/**
 * `standup.days`.
 */
standup_days: Days, 
/**
 * `standup.post_to`.
 */
standup_post_to: PostTarget | null, };

export type Outcome = "done" | "partly" | "not_done";

export type Intent = { 
/**
 * The session.
 */
session: SessionId, 
/**
 * When it started.
 */
started_at: string, 
/**
 * What it was for ("Finish the billing RFC").
 */
text: string, 
/**
 * How it went, once the user said.
 */
outcome: Outcome | null, 
/**
 * The user's note on it.
 */
note: string | null, };

export type PostTarget = string;

export type Posted = { 
/**
 * Where.
 */
to: PostTarget, 
/**
 * When.
 */
at: string, 
/**
 * A link to the message, where the platform gives one.
 */
link: string | null, };

export type StandupDraft = { 
/**
 * The day it is for.
 */
date: string, 
/**
 * The working day it looks back on.
 */
since: string, 
/**
 * What was shipped.
 */
shipped: Array<string>, 
/**
 * What is planned today.
 */
today: Array<string>, 
/**
 * What is blocking.
 */
blockers: Array<string>, };

export type StandupEntry = { 
/**
 * The draft.
 */
draft: StandupDraft, 
/**
 * Whether it is kept (drafted at the standup time, edited or posted); a fresh
 * draft is not until then.
 */
kept: boolean, 
/**
 * When the user last edited it.
 */
edited_at: string | null, 
/**
 * Where and when it was posted.
 */
posted: Posted | null, };
