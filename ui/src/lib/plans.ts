// The Plans view's week grid and its editing rows: pure, tested with vitest.
import type { BlockState, FocusBlock, PlanDay, TimeSpan } from "../generated/api";

export type BoxKind = "work" | "meeting" | "block";

/** One box in a day column, placed by minutes of the visible range. */
export interface Box {
  kind: BoxKind;
  /** Percent from the top of the column. */
  top: number;
  /** Percent of the column's height. */
  height: number;
  label: string;
  state: BlockState | null;
  plan: string | null;
}

export interface DayColumn {
  date: string;
  heading: string;
  dayOff: boolean;
  boxes: Box[];
}

export interface WeekGrid {
  /** First and last hour shown (local), whole hours. */
  fromHour: number;
  toHour: number;
  columns: DayColumn[];
}

const DEFAULT_FROM = 8;
const DEFAULT_TO = 18;

function midnight(date: string): Date {
  const [year = 1970, month = 1, day = 1] = date.split("-").map(Number);
  return new Date(year, month - 1, day);
}

/**
 * Minutes after the local midnight of `date` on the wall clock (so on a DST day 10:00
 * sits at 600 like on any other, where the grid's hour lines are).
 */
function minutesInto(date: string, at: string): number {
  const time = new Date(at);
  const day = new Date(time.getFullYear(), time.getMonth(), time.getDate());
  const days = Math.round((day.getTime() - midnight(date).getTime()) / 86_400_000);
  return days * 24 * 60 + time.getHours() * 60 + time.getMinutes();
}

export function clock(at: string): string {
  const time = new Date(at);
  return `${String(time.getHours()).padStart(2, "0")}:${String(time.getMinutes()).padStart(2, "0")}`;
}

function spanText(span: TimeSpan): string {
  return `${clock(span.from)}–${clock(span.until)}`;
}

const STATE_TEXT: Record<BlockState, string> = {
  planned: "",
  running: " · now",
  ran: " · done",
  skipped: " · skipped",
  missed: " · missed",
};

/** Lays out the days: the hours shown cover everything planned (08:00–18:00 at least). */
export function weekGrid(days: PlanDay[]): WeekGrid {
  let first = DEFAULT_FROM * 60;
  let last = DEFAULT_TO * 60;
  for (const day of days) {
    for (const span of [...day.work, ...day.meetings, ...day.blocks.map((b) => b.span)]) {
      first = Math.min(first, Math.max(0, minutesInto(day.date, span.from)));
      last = Math.max(last, Math.min(24 * 60, minutesInto(day.date, span.until)));
    }
  }
  const fromHour = Math.floor(first / 60);
  const toHour = Math.ceil(last / 60);
  const range = (toHour - fromHour) * 60;
  const place = (date: string, span: TimeSpan) => {
    const start = Math.max(fromHour * 60, minutesInto(date, span.from));
    const end = Math.min(toHour * 60, minutesInto(date, span.until));
    return {
      top: ((start - fromHour * 60) / range) * 100,
      height: (Math.max(0, end - start) / range) * 100,
    };
  };
  const columns = days.map((day) => {
    const boxes: Box[] = [
      ...day.work.map((span) => ({ kind: "work" as const, ...place(day.date, span), label: `work ${spanText(span)}`, state: null, plan: null })),
      ...day.meetings.map((span) => ({ kind: "meeting" as const, ...place(day.date, span), label: `meeting ${spanText(span)}`, state: null, plan: null })),
      ...day.blocks.map((block) => ({
        kind: "block" as const,
        ...place(day.date, block.span),
        label: `${block.title ?? "focus"} ${spanText(block.span)}${STATE_TEXT[block.state]}`,
        state: block.state,
        plan: block.plan,
      })),
    ].filter((box) => box.height > 0);
    const heading = midnight(day.date).toLocaleDateString(undefined, { weekday: "short", day: "numeric", month: "short" });
    return { date: day.date, heading, dayOff: day.day_off, boxes };
  });
  return { fromHour, toHour, columns };
}

/** A focus block as the form edits it: check-ins as one comma-separated field. */
export interface BlockRow {
  days: string;
  from: string;
  until: string;
  checkIns: string;
}

export function blockRows(blocks: FocusBlock[]): BlockRow[] {
  return blocks.map((block) => ({
    days: block.days,
    from: block.from,
    until: block.until,
    checkIns: block.check_ins.join(", "),
  }));
}

export function blocksOf(rows: BlockRow[]): FocusBlock[] {
  return rows.map((row) => ({
    days: row.days.trim(),
    from: row.from.trim(),
    until: row.until.trim(),
    check_ins: row.checkIns
      .split(",")
      .map((at) => at.trim())
      .filter((at) => at !== ""),
  }));
}
