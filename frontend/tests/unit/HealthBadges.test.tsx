import { render, screen, within } from "@testing-library/react";
import { HealthBadges } from "../../src/components/HealthBadges";
import { health } from "./fixtures";

describe("HealthBadges", () => {
  it("shows one badge per dependency in a fixed order, with status in words", () => {
    render(<HealthBadges health={health()} stale={false} />);
    const badges = within(screen.getByRole("list", { name: "Service health" })).getAllByRole(
      "listitem",
    );
    expect(badges.map((badge) => badge.textContent)).toEqual([
      "✓DatabaseOK",
      "✓CacheOK",
      "✕EventsDown",
      "✓ModelOK",
      "!Language modelDegraded",
    ]);
    expect(badges[2]).toHaveAttribute("title", "Events: Down · backend kafka · no broker");
  });

  it("says it is checking before the first answer", () => {
    render(<HealthBadges health={null} stale={false} />);
    expect(screen.getByText("Checking health")).toBeInTheDocument();
  });

  it("shows the API itself as down when no check has ever succeeded", () => {
    render(<HealthBadges health={null} stale={true} />);
    expect(screen.getByText("API unreachable")).toBeInTheDocument();
  });
});
