import { describe, expect, it } from "vitest";
import type { DigestGroup, DigestEntry } from "../generated/api";
import {
  adapterText,
  classLabel,
  clockText,
  countsList,
  escalationText,
  heldTotal,
  lengthText,
  lengthMinutes,
  lengthChoices,
  minutesText,
  orderedGroups,
  replyByText,
  safeLink,
  untilNextMinute,
} from "./format";

const counts = { emergency: 0, blocker: 1, update: 6, strategic: 0, pre_ping: 2 };

function entry(id: number, done: boolean): DigestEntry {
  return {
    id,
    sender: "bob",
    source: "slack",
    channel: null,
    title: `item ${id}`,
    snippet: null,
    url: null,
    received_at: "2026-11-25T09:00:00Z",
    reply_by: "2026-11-25T13:00:00Z",
    stated_deadline: null,
    shown_at: null,
    why: "default",
    reason: { kind: "default" },
    done,
    done_by: null,
  };
}

describe("counts", () => {
  it("lists non-zero classes, most urgent first", () => {
    expect(countsList(counts)).toEqual([
      { cls: "blocker", count: 1 },
      { cls: "pre_ping", count: 2 },
      { cls: "update", count: 6 },
    ]);
    expect(heldTotal(counts)).toBe(9);
  });

  it("names classes in singular and plural", () => {
    expect(classLabel("pre_ping", 1)).toBe("Pre-ping");
    expect(classLabel("pre_ping", 2)).toBe("Pre-pings");
    expect(classLabel("emergency")).toBe("Emergencies");
  });
});

describe("time", () => {
  it("rounds time left up to whole minutes", () => {
    expect(lengthText(47 * 60_000 + 1)).toBe("48 min");
    expect(lengthText(60 * 60_000)).toBe("1 h");
    expect(lengthText(125 * 60_000)).toBe("2 h 5 min");
    expect(lengthText(-5)).toBe("0 min");
  });

  it("writes spans of minutes like the weekly review does", () => {
    expect(minutesText(110)).toBe("1 h 50 min");
    expect(minutesText(140.4)).toBe("2 h 20 min");
    expect(minutesText(59.6)).toBe("1 h");
    expect(minutesText(0)).toBe("0 min");
  });

  it("redraws the countdown exactly when its minute changes", () => {
    expect(untilNextMinute(47 * 60_000)).toBe(60_000);
    expect(untilNextMinute(46 * 60_000 + 39_500)).toBe(39_500);
    expect(untilNextMinute(0)).toBe(60_000);
  });

  it("shows 24-hour local times, with the weekday when not today", () => {
    const now = new Date(2026, 10, 25, 9, 0);
    expect(clockText(new Date(2026, 10, 25, 14, 5).toISOString(), now)).toBe("14:05");
    expect(clockText(new Date(2026, 10, 26, 9, 0).toISOString(), now)).toBe("Thu 09:00");
    expect(replyByText(new Date(2026, 10, 25, 8, 0).toISOString(), now)).toBe("reply overdue since 08:00");
    expect(replyByText(new Date(2026, 10, 25, 13, 0).toISOString(), now)).toBe("reply by 13:00");
  });
});

describe("digest", () => {
  it("orders groups by urgency and puts done items last", () => {
    const groups: DigestGroup[] = [
      { class: "update", items: [entry(1, true), entry(2, false)] },
      { class: "blocker", items: [entry(3, false)] },
    ];
    const ordered = orderedGroups(groups);
    expect(ordered.map((g) => g.class)).toEqual(["blocker", "update"]);
    expect(ordered[1]?.items.map((i) => i.id)).toEqual([2, 1]);
    expect(groups[0]?.items.map((i) => i.id)).toEqual([1, 2]);
  });

  it("offers only http and https links", () => {
    expect(safeLink("https://ci.example.org/run/7")).toBe("https://ci.example.org/run/7");
    expect(safeLink("javascript:alert(1)")).toBeNull();
    expect(safeLink("JaVaScRiPt:alert(1)")).toBeNull();
    expect(safeLink("file:///etc/passwd")).toBeNull();
    expect(safeLink("data:text/html,<script>alert(1)</script>")).toBeNull();
    expect(safeLink("not a url")).toBeNull();
    expect(safeLink(null)).toBeNull();
  });
});

describe("adapters", () => {
  it("says what each state means", () => {
    expect(adapterText({ name: "matrix", state: { state: "ok" }, connect: "token" })).toBe(
      "connected",
    );
    expect(
      adapterText({
        name: "slack",
        state: { state: "retrying", error: "HTTP 503" },
        connect: "token_or_sign_in",
      }),
    ).toBe("retrying: HTTP 503");
    expect(
      adapterText({
        name: "teams",
        state: { state: "needs_attention", fix: "sign in again" },
        connect: "sign_in",
      }),
    ).toBe("needs attention: sign in again");
  });
});

describe("lengthMinutes", () => {
  it("reads the engine's lengths", () => {
    expect(lengthMinutes("50m")).toBe(50);
    expect(lengthMinutes("1h 30m")).toBe(90);
    expect(lengthMinutes("2h")).toBe(120);
  });
  it("refuses what it cannot read", () => {
    expect(lengthMinutes("")).toBeNull();
    expect(lengthMinutes("0m")).toBeNull();
    expect(lengthMinutes("90s")).toBeNull();
    expect(lengthMinutes("1 day")).toBeNull();
  });
});

describe("lengthChoices", () => {
  it("adds the configured length among the usual ones", () => {
    expect(lengthChoices([25, 50, 90, 120], 45)).toEqual([25, 45, 50, 90, 120]);
    expect(lengthChoices([25, 50, 90, 120], 90)).toEqual([25, 50, 90, 120]);
    expect(lengthChoices([25, 50, 90, 120], null)).toEqual([25, 50, 90, 120]);
  });
});

describe("escalationText", () => {
  it("tells an emergency's story and what comes next, in local time", () => {
    const now = new Date(2026, 10, 25, 9, 20);
    const local = (h: number, m: number) => new Date(2026, 10, 25, h, m).toISOString();
    const escalation = {
      item: 7,
      opened_at: local(9, 12),
      next_step: ["call", local(9, 22)] as [string, string],
      timeline: [
        { at: local(9, 12), what: "shown" },
        { at: local(9, 17), what: "SMS" },
      ],
    };
    expect(escalationText(escalation, now)).toBe("shown 09:12 · SMS 09:17 · next: call at 09:22");
    expect(escalationText({ ...escalation, next_step: null }, now)).toBe("shown 09:12 · SMS 09:17");
  });
});
