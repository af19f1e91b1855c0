import { describe, expect, it } from "vitest";
import type { StandupDraft } from "../generated/api";
import { dayText, isEdited, linesOf, postedText, textsOf, withTexts } from "./standup";

const draft: StandupDraft = {
  date: "2026-11-25",
  since: "2026-11-24",
  shipped: ["Merged the billing RFC", "Fixed PAY-12"],
  today: ["Review the Q4 plan"],
  blockers: [],
};

describe("standup lines", () => {
  it("are one entry a line, trimmed, without blank lines", () => {
    expect(linesOf("  one \n\n two\r\n   \nthree")).toEqual(["one", "two", "three"]);
    expect(linesOf("")).toEqual([]);
    expect(linesOf(" \n \n")).toEqual([]);
  });

  it("go into the textareas and back unchanged", () => {
    const texts = textsOf(draft);
    expect(texts).toEqual({ shipped: "Merged the billing RFC\nFixed PAY-12", today: "Review the Q4 plan", blockers: "" });
    expect(withTexts(draft, texts)).toEqual(draft);
  });

  it("replace the sections and keep the dates", () => {
    const edited = withTexts(draft, { shipped: "Merged the billing RFC\n", today: "Plan\n\nWrite", blockers: " Waiting on ops " });
    expect(edited).toEqual({ ...draft, shipped: ["Merged the billing RFC"], today: ["Plan", "Write"], blockers: ["Waiting on ops"] });
    expect(draft.today).toEqual(["Review the Q4 plan"]);
  });

  it("count as edited only when an entry changes", () => {
    const texts = textsOf(draft);
    expect(isEdited(draft, texts)).toBe(false);
    expect(isEdited(draft, { ...texts, shipped: ` ${texts.shipped}\n\n` })).toBe(false);
    expect(isEdited(draft, { ...texts, blockers: "Waiting on ops" })).toBe(true);
    expect(isEdited(draft, { ...texts, today: "" })).toBe(true);
  });
});

describe("standup wording", () => {
  it("names the day as a local date", () => {
    expect(dayText("2026-11-25")).toBe("Wed 25 Nov");
  });

  it("says where and when it was posted, in local time", () => {
    const now = new Date(2026, 10, 25, 10, 0);
    const at = new Date(2026, 10, 25, 9, 32).toISOString();
    expect(postedText({ to: "matrix:#standup:example.org", at, link: null }, now)).toBe(
      "Posted to matrix:#standup:example.org at 09:32",
    );
    const before = new Date(2026, 10, 24, 9, 5).toISOString();
    expect(postedText({ to: "slack:#team", at: before, link: null }, now)).toBe("Posted to slack:#team at Tue 09:05");
  });
});
