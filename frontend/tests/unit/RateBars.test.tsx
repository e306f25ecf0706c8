import { render, screen } from "@testing-library/react";
import { RateBars, type RatePoint } from "../../src/components/RateBars";

function day(group: string, series: string): RatePoint {
  return { group, series, rate: 0.1, low: 0.05, high: 0.2 };
}

describe("RateBars", () => {
  it.each([1, 2, 30])("draws %i day(s) of two arms at their own scale, never enlarged", (days) => {
    const points = Array.from({ length: days }, (_, d) =>
      ["control", "light"].map((arm) => day(`2026-12-${String(d + 1).padStart(2, "0")}`, arm)),
    ).flat();
    render(<RateBars points={points} label="CTR per day" />);
    const svg = screen.getByRole("img", { name: "CTR per day" });
    const [, , width] = (svg.getAttribute("viewBox") ?? "").split(" ").map(Number);
    // Shown at most as wide as it is drawn: text and whiskers keep their size.
    expect(svg.style.maxWidth).toBe(`${width}px`);
    expect(width).toBeGreaterThanOrEqual(320);
  });
});
