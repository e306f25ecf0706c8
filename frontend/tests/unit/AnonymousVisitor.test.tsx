import { fireEvent, render, screen, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { ApiError, api } from "../../src/api/client";
import type { Recommendations } from "../../src/api/types";
import { RecommendationsView } from "../../src/views/RecommendationsView";
import { profile, recommendation } from "./fixtures";

const CATEGORIES = [
  { category: "music", count: 12 },
  { category: "news", count: 7 },
  { category: "art", count: 3 },
];

function page(
  who: { user_id: string } | { session_id: string },
  titles: string[],
  personalized = true,
): Recommendations {
  return {
    recommendation_id: "r1",
    user_id: null,
    session_id: null,
    ...who,
    items: titles.map((title, index) => recommendation({ content_id: `content_${index}`, title })),
    personalized,
    model_version: "v7",
    llm_provider: null,
    cached: false,
  };
}

beforeEach(() => window.localStorage.clear());
afterEach(() => vi.restoreAllMocks());

describe("anonymous visitor mode", () => {
  it("keeps a session in the browser, records as it, and merges it on log in", async () => {
    window.localStorage.setItem("contextiq.sessionId", "visitor-abc");
    const fetched = vi
      .spyOn(api, "recommendations")
      .mockImplementation(async (query) =>
        query.session_id
          ? page({ session_id: query.session_id }, ["First", "Second"], false)
          : page({ user_id: query.user_id! }, ["Third"]),
      );
    const interact = vi
      .spyOn(api, "interact")
      .mockResolvedValue({ event_id: "e1", status: "accepted" });
    const merge = vi
      .spyOn(api, "merge")
      .mockResolvedValue({ user_id: "user_042", session_id: "visitor-abc", moved: 2 });
    vi.spyOn(api, "profile").mockResolvedValue(profile({ user_id: "user_042", total: 9 }));

    render(<RecommendationsView categories={[]} />);
    await userEvent.click(screen.getByRole("button", { name: "Browse anonymously" }));
    const list = await screen.findByRole("region", {
      name: "Recommendations for anonymous visitor",
    });
    expect(fetched).toHaveBeenLastCalledWith(
      expect.objectContaining({ session_id: "visitor-abc" }),
      expect.anything(),
    );
    expect(fetched.mock.calls[0]?.[0]).not.toHaveProperty("user_id");
    expect(screen.getByText(/Popular picks \(new visitor\)/)).toBeInTheDocument();
    expect(screen.getByText("visitor-abc")).toBeInTheDocument();
    expect(screen.getByText(/An anonymous visit has no profile/)).toBeInTheDocument();

    const first = within(list).getByRole("article", { name: "First" });
    await userEvent.click(within(first).getByRole("button", { name: "Like" }));
    expect(interact).toHaveBeenCalledWith({
      session_id: "visitor-abc",
      content_id: "content_0",
      interaction_type: "like",
    });

    const visitor = screen.getByRole("form", { name: "Anonymous visitor" });
    await userEvent.type(within(visitor).getByLabelText("Log in as user"), "user_042");
    await userEvent.click(within(visitor).getByRole("button", { name: "Log in" }));
    expect(merge).toHaveBeenCalledWith("user_042", "visitor-abc");
    expect(
      await screen.findByText("Logged in as user_042: 2 interactions from this visit moved."),
    ).toBeInTheDocument();
    expect(
      await screen.findByRole("region", { name: "Recommendations for user_042" }),
    ).toBeVisible();
    expect(fetched).toHaveBeenLastCalledWith(
      expect.objectContaining({ user_id: "user_042" }),
      expect.anything(),
    );
    expect(screen.queryByRole("form", { name: "Anonymous visitor" })).not.toBeInTheDocument();
    // The merged visit is over: the next anonymous visit is a new session.
    const next = window.localStorage.getItem("contextiq.sessionId");
    expect(next).toMatch(/^visitor-/);
    expect(next).not.toBe("visitor-abc");
  });

  it("says why a log in failed and stays anonymous", async () => {
    vi.spyOn(api, "recommendations").mockResolvedValue(
      page({ session_id: "visitor-x" }, ["First"], false),
    );
    vi.spyOn(api, "merge").mockRejectedValue(new ApiError(403, "forbidden", "not allowed"));
    render(<RecommendationsView categories={[]} />);
    await userEvent.click(screen.getByRole("button", { name: "Browse anonymously" }));
    const visitor = await screen.findByRole("form", { name: "Anonymous visitor" });
    await userEvent.type(within(visitor).getByLabelText("Log in as user"), "bad id!");
    await userEvent.click(within(visitor).getByRole("button", { name: "Log in" }));
    expect(within(visitor).getByText(/Use letters, digits/)).toBeInTheDocument();
    expect(api.merge).not.toHaveBeenCalled();
    await userEvent.clear(within(visitor).getByLabelText("Log in as user"));
    await userEvent.type(within(visitor).getByLabelText("Log in as user"), "user_001");
    await userEvent.click(within(visitor).getByRole("button", { name: "Log in" }));
    expect(
      await screen.findByText("Could not log in as user_001: not allowed"),
    ).toBeInTheDocument();
    expect(screen.getByRole("form", { name: "Anonymous visitor" })).toBeInTheDocument();
  });
});

describe("recommendation filters", () => {
  it("sends picked categories, the diversity and disliked items as exclude", async () => {
    const fetched = vi
      .spyOn(api, "recommendations")
      .mockResolvedValue(page({ user_id: "user_001" }, ["First", "Second"]));
    vi.spyOn(api, "profile").mockResolvedValue(profile());
    vi.spyOn(api, "interact").mockResolvedValue({ event_id: "e1", status: "accepted" });
    const last = () => fetched.mock.lastCall![0];

    render(<RecommendationsView categories={CATEGORIES} />);
    await userEvent.type(screen.getByLabelText("User ID"), "user_001");
    await userEvent.click(screen.getByRole("button", { name: "Fetch Recommendations" }));
    const list = await screen.findByRole("region", { name: "Recommendations for user_001" });
    expect(last()).toMatchObject({ user_id: "user_001", categories: [], exclude: [] });
    expect(last().diversity).toBeNull();

    await userEvent.click(screen.getByRole("checkbox", { name: /music/ }));
    await userEvent.click(screen.getByRole("checkbox", { name: /art/ }));
    expect(last().categories).toEqual(["music", "art"]);
    expect(screen.getByText("(2 picked)")).toBeInTheDocument();

    const slider = screen.getByRole("slider", { name: /Diversity/ });
    fireEvent.change(slider, { target: { value: "0.3" } }); // jsdom moves no range by keys
    expect(screen.getByText("0.3")).toBeInTheDocument();
    expect(last().diversity).toBeCloseTo(0.3);
    await userEvent.click(screen.getByRole("button", { name: "Default" }));
    expect(last().diversity).toBeNull();

    const second = within(list).getByRole("article", { name: "Second" });
    await userEvent.click(within(second).getByRole("button", { name: "Dislike" }));
    expect(api.interact).toHaveBeenCalledWith(
      expect.objectContaining({ content_id: "content_1", interaction_type: "dislike" }),
    );
    expect(await screen.findByText("1 excluded from the next list.")).toBeInTheDocument();
    expect(last().exclude).toEqual(["content_1"]);

    await userEvent.click(screen.getByRole("checkbox", { name: "Exclude disliked items" }));
    expect(last().exclude).toEqual([]);
    await userEvent.click(screen.getByRole("checkbox", { name: "Exclude disliked items" }));
    expect(last().exclude).toEqual(["content_1"]);
    await userEvent.click(screen.getByRole("button", { name: "Clear" }));
    expect(last().exclude).toEqual([]);
    expect(screen.getByText("Nothing disliked yet.")).toBeInTheDocument();
  });
});
