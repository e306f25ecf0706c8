import { render, screen, within } from "@testing-library/react";
import { api } from "../../src/api/client";
import type { Availability } from "../../src/api/types";
import { availabilityOf } from "../../src/availability";
import { AvailabilityBadge } from "../../src/components/AvailabilityBadge";
import { CatalogView } from "../../src/views/CatalogView";

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

describe("the catalogue", () => {
  afterEach(() => vi.restoreAllMocks());

  it("marks hidden and expired items, and says nothing of always-available ones", async () => {
    const item = (id: string, extra: Availability) => ({
      content_id: id,
      title: `Title ${id}`,
      category: "news",
      description: "",
      tags: [],
      created_at: "2026-01-01T00:00:00Z",
      metadata: {},
      available_from: null,
      available_until: null,
      hidden: false,
      ...extra,
    });
    vi.spyOn(api, "content").mockResolvedValue({
      items: [
        item("c1", { hidden: true }),
        item("c2", { available_until: "2001-01-01T00:00:00Z" }),
        item("c3", {}),
      ],
      total: 3,
      limit: 12,
      offset: 0,
      next_cursor: null,
    });
    render(<CatalogView categories={[]} />);
    const hidden = await screen.findByRole("article", { name: "Title c1" });
    expect(within(hidden).getByText("Hidden")).toBeInTheDocument();
    expect(hidden).toHaveClass("content-card--hidden");
    const expired = screen.getByRole("article", { name: "Title c2" });
    expect(within(expired).getByText(/^Expired /)).toBeInTheDocument();
    const always = screen.getByRole("article", { name: "Title c3" });
    expect(always.querySelector("[data-availability]")).toBeNull();
  });
});
