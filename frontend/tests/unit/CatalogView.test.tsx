import { render, screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { api } from "../../src/api/client";
import type { Content, ContentPage } from "../../src/api/types";
import { CatalogView } from "../../src/views/CatalogView";

function item(n: number): Content {
  return {
    content_id: `content_${n}`,
    title: `Item ${n}`,
    category: "music",
    description: "",
    tags: [],
    created_at: "2026-11-30T00:00:00Z",
    metadata: {},
    available_from: null,
    available_until: null,
    hidden: false,
  };
}

function page(first: number, count: number, next: string | null, total: number): ContentPage {
  const items = Array.from({ length: count }, (_, i) => item(first + i));
  return { items, total, limit: 12, offset: 0, next_cursor: next };
}

afterEach(() => vi.restoreAllMocks());

describe("CatalogView", () => {
  it("pages by the listing's cursor, forward and back, as deep as the catalogue goes", async () => {
    const content = vi
      .spyOn(api, "content")
      .mockImplementation(({ cursor }) =>
        Promise.resolve(
          cursor === "after-12"
            ? page(13, 12, "after-24", 100_000)
            : page(1, 12, "after-12", 100_000),
        ),
      );
    const user = userEvent.setup();
    render(<CatalogView categories={[]} />);

    expect(await screen.findByText("Item 1")).toBeInTheDocument();
    expect(screen.getByText("Page 1 of 8,334")).toBeInTheDocument();
    await user.click(screen.getByRole("button", { name: "Next →" }));
    expect(await screen.findByText("Item 13")).toBeInTheDocument();
    expect(content).toHaveBeenLastCalledWith(
      expect.objectContaining({ cursor: "after-12" }),
      expect.anything(),
    );
    expect(content.mock.lastCall?.[0]).not.toHaveProperty("offset");
    expect(screen.getByText("Page 2 of 8,334")).toBeInTheDocument();
    expect(screen.getByText("Showing 13–24 of 100,000")).toBeInTheDocument();

    await user.click(screen.getByRole("button", { name: "← Previous" }));
    expect(await screen.findByText("Item 1")).toBeInTheDocument();
    expect(content.mock.lastCall?.[0].cursor ?? null).toBeNull();
  });

  it("offers no next page when the listing gives no cursor, whatever the count said", async () => {
    // Items deleted since the count was read: the count says 30, the listing has ended.
    vi.spyOn(api, "content").mockResolvedValue(page(1, 12, null, 30));
    render(<CatalogView categories={[]} />);

    expect(await screen.findByText("Item 1")).toBeInTheDocument();
    expect(screen.getByRole("button", { name: "Next →" })).toBeDisabled();
  });
});
