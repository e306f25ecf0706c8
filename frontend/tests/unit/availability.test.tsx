import { render, screen } from "@testing-library/react";
import { availabilityOf } from "../../src/availability";
import { AvailabilityBadge } from "../../src/components/AvailabilityBadge";

const NOW = new Date("2026-06-01T12:00:00Z");

describe("availability", () => {
  it.each([
    [{}, "always"],
    [{ hidden: true, available_until: "2030-01-01T00:00:00Z" }, "hidden"],
    [{ available_from: "2026-07-01T00:00:00Z" }, "scheduled"],
    [{ available_until: "2026-05-01T00:00:00Z" }, "expired"],
    [
      { available_from: "2026-05-01T00:00:00Z", available_until: "2026-07-01T00:00:00Z" },
      "limited",
    ],
    [{ available_from: null, available_until: null, hidden: false }, "always"],
  ])("%j is %s", (item, state) => {
    expect(availabilityOf(item, NOW).state).toBe(state);
  });

  it("shows a badge only for an item that is not always available", () => {
    const { container, rerender } = render(<AvailabilityBadge item={{}} />);
    expect(container).toBeEmptyDOMElement();
    rerender(<AvailabilityBadge item={{ hidden: true }} />);
    expect(screen.getByText("Hidden")).toHaveAttribute("data-availability", "hidden");
    rerender(<AvailabilityBadge item={{ available_until: "2000-01-01T00:00:00Z" }} />);
    expect(screen.getByText(/^Expired /)).toHaveAttribute("data-availability", "expired");
  });
});
