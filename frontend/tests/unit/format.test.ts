import { dependencyLabel, formatRelative, formatScore, unitFraction } from "../../src/format";

describe("format", () => {
  it("prints scores with two decimals and n/a for missing ones", () => {
    expect(formatScore(0.5)).toBe("0.50");
    expect(formatScore(null)).toBe("n/a");
  });

  it("clamps fractions", () => {
    expect(unitFraction(-0.2)).toBe(0);
    expect(unitFraction(2)).toBe(1);
    expect(unitFraction(null)).toBe(0);
  });

  it("names dependencies for people", () => {
    expect(dependencyLabel("llm")).toBe("Language model");
    expect(dependencyLabel("vector_index")).toBe("Vector Index");
  });

  it("describes recent times relatively", () => {
    const now = new Date("2026-11-26T12:00:00Z");
    expect(formatRelative("2026-11-26T11:59:50Z", now)).toBe("just now");
    expect(formatRelative("2026-11-26T11:30:00Z", now)).toBe("30 min ago");
    expect(formatRelative("2026-11-26T09:00:00Z", now)).toBe("3 h ago");
    expect(formatRelative(null, now)).toBe("never");
  });
});
