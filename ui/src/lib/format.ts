// View logic of the window, kept free of the DOM and of Tauri so vitest covers it.
import type {
  AdapterHealth,
  Class,
  ClassCounts,
  DigestGroup,
  EscalationStatus,
  TimelineEntry,
} from "../generated/api";

/** Classes in the order the digest and the counts show them. */
export const CLASS_ORDER: Class[] = ["emergency", "blocker", "pre_ping", "update", "strategic"];

const CLASS_LABELS: Record<Class, [string, string]> = {
  emergency: ["Emergency", "Emergencies"],
  blocker: ["Blocker", "Blockers"],
  pre_ping: ["Pre-ping", "Pre-pings"],
  update: ["Update", "Updates"],
  strategic: ["Strategic", "Strategic"],
};

export function classLabel(cls: Class, count = 2): string {
  const [one, many] = CLASS_LABELS[cls];
  return count === 1 ? one : many;
}

/** Non-zero counts, in display order. */
export function countsList(counts: ClassCounts): { cls: Class; count: number }[] {
  return CLASS_ORDER.map((cls) => ({ cls, count: counts[cls] })).filter((c) => c.count > 0);
}

export function heldTotal(counts: ClassCounts): number {
  return CLASS_ORDER.reduce((sum, cls) => sum + counts[cls], 0);
}

/** "47 min", "1 h", "2 h 5 min": whole minutes rounded up, as the tray shows them. */
export function lengthText(milliseconds: number): string {
  const minutes = Math.ceil(Math.max(0, milliseconds) / 60_000);
  const hours = Math.floor(minutes / 60);
  const rest = minutes % 60;
  if (hours === 0) return `${rest} min`;
  return rest === 0 ? `${hours} h` : `${hours} h ${rest} min`;
}

/** "1 h 50 min" for a span given in minutes, rounded to the nearest minute. */
export function minutesText(minutes: number): string {
  return lengthText(Math.round(minutes) * 60_000);
}

/** Milliseconds until the rounded-up minute count changes; the countdown redraws then. */
export function untilNextMinute(leftMs: number): number {
  if (leftMs <= 0) return 60_000;
  const into = leftMs % 60_000;
  return into === 0 ? 60_000 : into;
}

function sameDay(a: Date, b: Date): boolean {
  return a.getFullYear() === b.getFullYear() && a.getMonth() === b.getMonth() && a.getDate() === b.getDate();
}

/** "14:00" today, "Thu 09:00" on another day: 24-hour local time. */
export function clockText(iso: string, now: Date): string {
  const at = new Date(iso);
  const hh = String(at.getHours()).padStart(2, "0");
  const mm = String(at.getMinutes()).padStart(2, "0");
  if (sameDay(at, now)) return `${hh}:${mm}`;
  const day = at.toLocaleDateString("en-GB", { weekday: "short" });
  return `${day} ${hh}:${mm}`;
}

export function replyByText(replyBy: string, now: Date): string {
  const at = new Date(replyBy);
  return at.getTime() < now.getTime()
    ? `reply overdue since ${clockText(replyBy, now)}`
    : `reply by ${clockText(replyBy, now)}`;
}

/** An emergency's story: "shown 09:12 · SMS 09:17". */
export function timelineText(timeline: TimelineEntry[], now: Date): string {
  return timeline.map((entry) => `${entry.what} ${clockText(entry.at, now)}`).join(" · ");
}

/** One waiting emergency, steps and times only: "shown 09:12 · SMS 09:17 · next: call at 09:22". */
export function escalationText(escalation: EscalationStatus, now: Date): string {
  const story = timelineText(escalation.timeline, now);
  if (escalation.next_step === null) return story;
  const [step, at] = escalation.next_step;
  return `${story} · next: ${step} at ${clockText(at, now)}`;
}

export function adapterText(health: AdapterHealth): string {
  switch (health.state.state) {
    case "ok":
      return "connected";
    case "retrying":
      return `retrying: ${health.state.error}`;
    case "needs_attention":
      return `needs attention: ${health.state.fix}`;
  }
}

/** Groups sorted for display, each with its items still to do before the done ones. */
export function orderedGroups(groups: DigestGroup[]): DigestGroup[] {
  return [...groups]
    .sort((a, b) => CLASS_ORDER.indexOf(a.class) - CLASS_ORDER.indexOf(b.class))
    .map((group) => ({
      ...group,
      items: [...group.items].sort((a, b) => Number(a.done) - Number(b.done)),
    }));
}

/** Only http(s) links are offered; anything else (javascript:, file:, data:) is not a link. */
export function safeLink(url: string | null): string | null {
  if (url === null) return null;
  try {
    const parsed = new URL(url);
    return parsed.protocol === "https:" || parsed.protocol === "http:" ? parsed.href : null;
  } catch {
    return null;
  }
}

/** "90m" from minutes, as the engine's lengths are written. */
export function lengthArg(minutes: number): string {
  return `${minutes}m`;
}

/**
 * Whole minutes of a length as the engine writes it ("50m", "1h 30m", "2h"); null for
 * anything else, so a surprise falls back to the window's own default.
 */
export function lengthMinutes(length: string): number | null {
  const parts = length.trim().match(/^(?:(\d+)h)?\s*(?:(\d+)m)?$/);
  if (!parts || (parts[1] === undefined && parts[2] === undefined)) return null;
  const minutes = Number(parts[1] ?? 0) * 60 + Number(parts[2] ?? 0);
  return minutes > 0 ? minutes : null;
}

/** The length choices offered: the usual ones plus the configured default, in order. */
export function lengthChoices(usual: number[], configured: number | null): number[] {
  const all = configured === null ? usual : [...usual, configured];
  return [...new Set(all)].sort((a, b) => a - b);
}
