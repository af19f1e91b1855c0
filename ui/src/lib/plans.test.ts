import { describe, expect, it } from "vitest";
import type { PlanDay } from "../generated/api";
import { blockRows, blocksOf, weekGrid, type Box } from "./plans";

/** An instant at a local time of 2026-11-30 (+days), as the engine sends it. */
function at(time: string, days = 0): string {
  const [hours = 0, minutes = 0] = time.split(":").map(Number);
  return new Date(2026, 10, 30 + days, hours, minutes).toISOString();
}

const monday: PlanDay = {
  date: "2026-11-30",
  day_off: false,
  work: [{ from: at("09:00"), until: at("17:30") }],
  meetings: [{ from: at("09:55"), until: at("10:30") }],
  blocks: [
    { plan: "2026-11-30 09:00-11:30", span: { from: at("09:00"), until: at("11:30") }, state: "ran", title: null },
    { plan: "calendar x", span: { from: at("14:00"), until: at("15:00") }, state: "planned", title: "Writing" },
  ],
};

describe("the week grid", () => {
  it("covers 08:00 to 18:00 and places boxes by local time", () => {
    const grid = weekGrid([monday]);
    expect([grid.fromHour, grid.toHour]).toEqual([8, 18]);
    const [work, meeting, block, writing] = grid.columns[0]!.boxes as [Box, Box, Box, Box];
    expect(work.kind).toBe("work");
    expect(work.top).toBeCloseTo(10);
    expect(work.height).toBeCloseTo(85);
    expect(meeting.label).toBe("meeting 09:55–10:30");
    expect(block.label).toBe("focus 09:00–11:30 · done");
    expect(writing.label).toBe("Writing 14:00–15:00");
    expect(writing.plan).toBe("calendar x");
  });

  it("grows to show an early block and marks days off", () => {
    const early: PlanDay = {
      date: "2026-12-01",
      day_off: true,
      work: [],
      meetings: [],
      blocks: [{ plan: "b", span: { from: at("06:30", 1), until: at("07:30", 1) }, state: "skipped", title: null }],
    };
    const grid = weekGrid([monday, early]);
    expect(grid.fromHour).toBe(6);
    const tuesday = grid.columns[1]!;
    expect(tuesday.dayOff).toBe(true);
    expect(tuesday.boxes[0]!.top).toBeCloseTo((30 / 720) * 100);
    expect(tuesday.boxes[0]!.label).toBe("focus 06:30–07:30 · skipped");
  });
});

describe("focus block rows", () => {
  it("edit check-ins as one field and read back trimmed", () => {
    const blocks = [{ days: "mon-fri", from: "09:00", until: "11:30", check_ins: ["10:15", "11:00"] }];
    const rows = blockRows(blocks);
    const row = rows[0]!;
    expect(row.checkIns).toBe("10:15, 11:00");
    row.checkIns = " 10:30 ,, ";
    row.days = " mon,wed ";
    expect(blocksOf(rows)).toEqual([{ days: "mon,wed", from: "09:00", until: "11:30", check_ins: ["10:30"] }]);
  });
});
