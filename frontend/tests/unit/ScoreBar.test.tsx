import { render, screen } from "@testing-library/react";
import { ScoreBar } from "../../src/components/ScoreBar";

describe("ScoreBar", () => {
  it("prints the value next to a bar sized by it", () => {
    const { container } = render(<ScoreBar label="ML" kind="ml" value={0.823} />);
    expect(screen.getByText("0.82")).toBeInTheDocument();
    const meter = screen.getByRole("meter", { name: "ML score" });
    expect(meter).toHaveAttribute("aria-valuenow", "0.823");
    expect(container.querySelector<HTMLElement>(".score__fill")?.style.width).toBe("82.3%");
  });

  it("says n/a and draws an empty bar when the score is missing", () => {
    const { container } = render(<ScoreBar label="LLM" kind="llm" value={null} />);
    expect(screen.getByText("n/a")).toBeInTheDocument();
    expect(screen.getByRole("meter", { name: "LLM score" })).toHaveAttribute(
      "aria-valuetext",
      "not available",
    );
    expect(container.querySelector<HTMLElement>(".score__fill")?.style.width).toBe("0%");
  });

  it("clamps out-of-range scores to the track", () => {
    const { container } = render(<ScoreBar label="Blended" kind="blended" value={1.7} />);
    expect(container.querySelector<HTMLElement>(".score__fill")?.style.width).toBe("100%");
  });
});
