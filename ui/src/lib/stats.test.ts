import { describe, expect, it } from "vitest";
import { answeredText, axisHours, intentsText, hoursText, plural, layoutBars, lineY, mondayOf, niceMax, shiftWeek, weekOf, weekRange, weekdayShort } from "./stats";

describe("ISO weeks", () => {
  it("find their Monday, also where week 1 starts in December", () => {
    expect(mondayOf("2026-W48")).toEqual(new Date(2026, 10, 23));
    expect(mondayOf("2026-W01")).toEqual(new Date(2025, 11, 29));
    expect(mondayOf("2020-W53")).toEqual(new Date(2020, 11, 28));
  });

  it("are found for any date, across year ends", () => {
    expect(weekOf(new Date(2026, 10, 25))).toBe("2026-W48");
    expect(weekOf(new Date(2026, 10, 29))).toBe("2026-W48");
    expect(weekOf(new Date(2025, 11, 29))).toBe("2026-W01");
    expect(weekOf(new Date(2021, 0, 3))).toBe("2020-W53");
  });

  it("step back and forth", () => {
    expect(shiftWeek("2026-W48", -1)).toBe("2026-W47");
    expect(shiftWeek("2026-W01", -1)).toBe("2025-W52");
    expect(shiftWeek("2020-W53", 1)).toBe("2021-W01");
  });

  it("read as date ranges and weekdays", () => {
    expect(weekRange("2026-W48")).toBe("23–29 Nov");
    expect(weekRange("2026-W01")).toBe("29 Dec – 4 Jan");
    expect(weekdayShort("2026-11-23")).toBe("Mon");
  });
});

describe("the chart", () => {
  it("picks a round top above every bar and line", () => {
    expect(niceMax([2.4, 3])).toBe(5);
    expect(niceMax([0, 0])).toBe(1);
    expect(niceMax([11.7, 15])).toBe(20);
    expect(niceMax([0.3])).toBe(1);
  });

  it("scales bars and lines to its height", () => {
    const bars = layoutBars([0, 2.5, 5], 5, 300, 100);
    expect(bars.map((b) => b.height)).toEqual([0, 50, 100]);
    expect(bars[2]?.y).toBe(0);
    expect(bars[1]?.x).toBeGreaterThan(100);
    expect(lineY(2.5, 5, 100)).toBe(50);
    expect(lineY(50, 5, 100)).toBe(0);
  });

  it("writes hours people read", () => {
    expect(hoursText(0)).toBe("0 h");
    expect(hoursText(0.75)).toBe("45 min");
    expect(hoursText(2.345)).toBe("2.3 h");
    expect(axisHours(2.5)).toBe("2.5 h");
    expect(axisHours(5)).toBe("5 h");
    expect(plural(1, "interruption")).toBe("1 interruption");
    expect(plural(0, "interruption")).toBe("0 interruptions");
  });
});

describe("answered within the window", () => {
  it("reads per class, in the order given", () => {
    expect(
      answeredText([
        { class: "blocker", in_time: 9, items: 10 },
        { class: "update", in_time: 1, items: 1 },
      ]),
    ).toBe("Blockers 9/10 · Update 1/1");
    expect(answeredText([])).toBe("");
  });
});

describe("intents of the week", () => {
  it("count how they went, leaving out what did not happen", () => {
    expect(intentsText({ done: 3, partly: 1, not_done: 1, unsaid: 1 })).toBe("3 done · 1 partly · 1 not done · 1 not said");
    expect(intentsText({ done: 2, partly: 0, not_done: 0, unsaid: 1 })).toBe("2 done · 1 not said");
    expect(intentsText({ done: 0, partly: 0, not_done: 0, unsaid: 0 })).toBe("");
  });
});
