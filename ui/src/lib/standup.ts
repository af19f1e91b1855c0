// The Standup view's editing and wording: pure, tested with vitest.

import type { Posted, StandupDraft } from "../generated/api";
import { clockText } from "./format";

/** The three sections of a standup, in the order they are shown and posted. */
export const SECTIONS = [
  { key: "shipped", label: "Shipped" },
  { key: "today", label: "Today" },
  { key: "blockers", label: "Blockers" },
] as const;

export type SectionKey = (typeof SECTIONS)[number]["key"];

/** A standup's sections as the textareas hold them: one entry a line. */
export type SectionTexts = Record<SectionKey, string>;

/** The entries of a textarea: one a line, trimmed, blank lines dropped. */
export function linesOf(text: string): string[] {
  return text
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== "");
}

export function textsOf(draft: StandupDraft): SectionTexts {
  return { shipped: draft.shipped.join("\n"), today: draft.today.join("\n"), blockers: draft.blockers.join("\n") };
}

/** The draft with its sections as edited; its dates stay as the engine gave them. */
export function withTexts(draft: StandupDraft, texts: SectionTexts): StandupDraft {
  return { ...draft, shipped: linesOf(texts.shipped), today: linesOf(texts.today), blockers: linesOf(texts.blockers) };
}

/** Whether the edits change an entry; whitespace and blank lines alone do not. */
export function isEdited(draft: StandupDraft, texts: SectionTexts): boolean {
  const edited = withTexts(draft, texts);
  return SECTIONS.some(({ key }) => edited[key].join("\n") !== draft[key].join("\n"));
}

/** "Wed 25 Nov" for a `YYYY-MM-DD` day, read as a local date. */
export function dayText(isoDate: string): string {
  const [y, m, d] = isoDate.split("-").map(Number);
  return new Date(y ?? 1970, (m ?? 1) - 1, d ?? 1).toLocaleDateString("en-GB", {
    weekday: "short",
    day: "numeric",
    month: "short",
  });
}

/** "Posted to slack:#team at 09:32" (with the weekday when not today). */
export function postedText(posted: Posted, now: Date): string {
  return `Posted to ${posted.to} at ${clockText(posted.at, now)}`;
}
