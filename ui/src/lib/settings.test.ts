import { describe, expect, it } from "vitest";
import { joinList, optionalText, splitList } from "./settings";

describe("list fields", () => {
  it("split on commas and lines, trimming and dropping empties and repeats", () => {
    expect(splitList(" 11:00, 14:00 ,,\n16:30\n")).toEqual(["11:00", "14:00", "16:30"]);
    expect(splitList("alice\nbob\nalice")).toEqual(["alice", "bob"]);
    expect(splitList("   ")).toEqual([]);
  });

  it("join back for editing", () => {
    expect(joinList(["11:00", "14:00"])).toBe("11:00, 14:00");
    expect(joinList(["alice", "bob"], "\n")).toBe("alice\nbob");
  });
});

describe("optional fields", () => {
  it("are trimmed, and empty means none", () => {
    expect(optionalText(" 09:15 ")).toBe("09:15");
    expect(optionalText("slack:#team")).toBe("slack:#team");
    expect(optionalText("   ")).toBeNull();
    expect(optionalText("")).toBeNull();
  });
});
