// Week arithmetic and chart geometry for the Stats view: pure, tested with vitest.

import type { AnsweredInTime, IntentTally } from "../generated/api";
import { classLabel } from "./format";

/** Monday (local midnight) of an ISO week written "2026-W48". */
export function mondayOf(week: string): Date {
  const match = /^(\d{4})-W(\d{2})$/.exec(week);
  if (!match) throw new Error(`not an ISO week: ${week}`);
  const year = Number(match[1]);
  const number = Number(match[2]);
  // 4 January is always in week 1.
  const jan4 = new Date(year, 0, 4);
  const mondayOfWeek1 = new Date(year, 0, 4 - ((jan4.getDay() + 6) % 7));
  return new Date(mondayOfWeek1.getFullYear(), mondayOfWeek1.getMonth(), mondayOfWeek1.getDate() + (number - 1) * 7);
}

/** The ISO week containing a local date. */
export function weekOf(date: Date): string {
  const thursday = new Date(date.getFullYear(), date.getMonth(), date.getDate() + 3 - ((date.getDay() + 6) % 7));
  const year = thursday.getFullYear();
  const jan4 = new Date(year, 0, 4);
  const mondayOfWeek1 = new Date(year, 0, 4 - ((jan4.getDay() + 6) % 7));
  const days = Math.round((thursday.getTime() - mondayOfWeek1.getTime()) / 86_400_000);
  const number = Math.floor(days / 7) + 1;
  return `${year}-W${String(number).padStart(2, "0")}`;
}

export function shiftWeek(week: string, delta: number): string {
  const monday = mondayOf(week);
  return weekOf(new Date(monday.getFullYear(), monday.getMonth(), monday.getDate() + 7 * delta));
}

/** "23–29 Nov", or "29 Dec – 4 Jan" across months. */
export function weekRange(week: string): string {
  const monday = mondayOf(week);
  const sunday = new Date(monday.getFullYear(), monday.getMonth(), monday.getDate() + 6);
  const month = (d: Date) => d.toLocaleDateString("en-GB", { month: "short" });
  return monday.getMonth() === sunday.getMonth()
    ? `${monday.getDate()}–${sunday.getDate()} ${month(sunday)}`
    : `${monday.getDate()} ${month(monday)} – ${sunday.getDate()} ${month(sunday)}`;
}

export function weekdayShort(isoDate: string): string {
  const [y, m, d] = isoDate.split("-").map(Number);
  return new Date(y ?? 1970, (m ?? 1) - 1, d ?? 1).toLocaleDateString("en-GB", { weekday: "short" });
}

/** "2.5 h"; under an hour in minutes. */
export function hoursText(hours: number): string {
  if (hours <= 0) return "0 h";
  if (hours < 1) return `${Math.round(hours * 60)} min`;
  return `${hours.toFixed(1)} h`;
}

/** The chart's top: the smallest 1-2-5 step at or above every value and line. */
export function niceMax(values: number[]): number {
  const top = Math.max(1, ...values);
  const magnitude = 10 ** Math.floor(Math.log10(top));
  for (const step of [1, 2, 2.5, 5, 10]) {
    if (step * magnitude >= top) return step * magnitude;
  }
  return 10 * magnitude;
}

export interface Bar {
  x: number;
  y: number;
  width: number;
  height: number;
}

/** Bars for `values` in a chart `width` × `height` scaled to `max`, with gaps between. */
export function layoutBars(values: number[], max: number, width: number, height: number): Bar[] {
  const slot = width / Math.max(1, values.length);
  const barWidth = slot * 0.62;
  return values.map((value, index) => {
    const barHeight = max > 0 ? (Math.max(0, value) / max) * height : 0;
    return { x: index * slot + (slot - barWidth) / 2, y: height - barHeight, width: barWidth, height: barHeight };
  });
}

/** Height in the chart of a reference line at `value`. */
export function lineY(value: number, max: number, height: number): number {
  return height - (Math.min(value, max) / max) * height;
}

/** An axis label: "5 h", "2.5 h". */
export function axisHours(value: number): string {
  return `${Number.isInteger(value) ? value : value.toFixed(1)} h`;
}

/** "1 interruption", "3 interruptions". */
export function plural(count: number, word: string): string {
  return `${count} ${word}${count === 1 ? "" : "s"}`;
}

/** "blockers 9/10 · updates 20/22": items done within their reply-by, per class. */
export function answeredText(answered: AnsweredInTime[]): string {
  return answered.map((a) => `${classLabel(a.class, a.items)} ${a.in_time}/${a.items}`).join(" · ");
}

/** "3 done · 1 partly · 1 not done · 1 not said", leaving out what did not happen. */
export function intentsText(tally: IntentTally): string {
  const parts: [number, string][] = [
    [tally.done, "done"],
    [tally.partly, "partly"],
    [tally.not_done, "not done"],
    [tally.unsaid, "not said"],
  ];
  return parts
    .filter(([count]) => count > 0)
    .map(([count, label]) => `${count} ${label}`)
    .join(" · ");
}
