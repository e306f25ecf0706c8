import { render, screen, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { ApiError, api } from "../../src/api/client";
import type { Recommendations } from "../../src/api/types";
import { RecommendationsView } from "../../src/views/RecommendationsView";
import { profile, recommendation } from "./fixtures";

function page(userId: string, titles: string[]): Recommendations {
  return {
    recommendation_id: `r-${userId}`,
    user_id: userId,
    items: titles.map((title, index) => recommendation({ content_id: `content_${index}`, title })),
    personalized: true,
    model_version: "v7",
    llm_provider: null,
    cached: false,
  };
}

afterEach(() => vi.restoreAllMocks());

describe("RecommendationsView", () => {
  it("rejects a malformed user ID before asking the API", async () => {
    const fetched = vi.spyOn(api, "recommendations");
    render(<RecommendationsView categories={[]} />);
    await userEvent.type(screen.getByLabelText("User ID"), "not valid!");
    await userEvent.click(screen.getByRole("button", { name: "Fetch Recommendations" }));
    expect(screen.getByText(/Use letters, digits/)).toBeInTheDocument();
    expect(screen.getByLabelText("User ID")).toHaveAttribute("aria-invalid", "true");
    expect(fetched).not.toHaveBeenCalled();
  });

  it("records an interaction, refetches, and polls the profile until the worker counted it", async () => {
    vi.spyOn(api, "recommendations")
      .mockResolvedValueOnce(page("user_001", ["First", "Second"]))
      .mockResolvedValue(page("user_001", ["Second"]));
    // The worker lags: the first reload after the like still shows the old total.
    vi.spyOn(api, "profile")
      .mockResolvedValueOnce(profile({ total: 7 }))
      .mockResolvedValueOnce(profile({ total: 7 }))
      .mockResolvedValue(profile({ total: 8 }));
    const interact = vi
      .spyOn(api, "interact")
      .mockResolvedValue({ event_id: "e1", status: "accepted" });

    render(<RecommendationsView categories={[]} />);
    await userEvent.type(screen.getByLabelText("User ID"), " user_001 ");
    await userEvent.click(screen.getByRole("button", { name: "Fetch Recommendations" }));
    const list = await screen.findByRole("region", { name: "Recommendations for user_001" });
    expect(screen.getByText("Personalized · model v7")).toBeInTheDocument();
    // Each panel is a landmark named by its title.
    expect(screen.getByRole("region", { name: "Recommendations" })).toBeInTheDocument();
    expect(screen.getByRole("complementary", { name: /^Profile.*user_001$/ })).toBeInTheDocument();
    expect(await screen.findByText("7")).toBeInTheDocument();

    const first = within(list).getByRole("article", { name: "First" });
    await userEvent.click(within(first).getByRole("button", { name: "Like" }));

    expect(interact).toHaveBeenCalledWith({
      user_id: "user_001",
      content_id: "content_0",
      interaction_type: "like",
    });
    expect(await screen.findByText("Liked “First”: recorded.")).toBeInTheDocument();
    expect(await screen.findByText("8")).toBeInTheDocument();
    expect(screen.queryByRole("article", { name: "First" })).not.toBeInTheDocument();
    expect(api.profile).toHaveBeenCalledTimes(3);
  });

  it("asks for another model family only once one is picked", async () => {
    const fetched = vi.spyOn(api, "recommendations").mockResolvedValue(page("user_001", ["First"]));
    vi.spyOn(api, "profile").mockResolvedValue(profile({ total: 7 }));
    render(<RecommendationsView categories={[]} families={["blend-next"]} />);
    await userEvent.type(screen.getByLabelText("User ID"), "user_001");
    await userEvent.click(screen.getByRole("button", { name: "Fetch Recommendations" }));
    await screen.findByRole("region", { name: "Recommendations for user_001" });
    expect(fetched).toHaveBeenLastCalledWith(
      expect.objectContaining({ user_id: "user_001", model_family: null }),
      expect.anything(),
    );
    await userEvent.selectOptions(screen.getByLabelText("Model family"), "blend-next");
    expect(fetched).toHaveBeenLastCalledWith(
      expect.objectContaining({ user_id: "user_001", model_family: "blend-next" }),
      expect.anything(),
    );
  });

  it("offers no model family picker when there is only the serving model", () => {
    render(<RecommendationsView categories={[]} />);
    expect(screen.queryByLabelText("Model family")).not.toBeInTheDocument();
  });

  it("says a new user has no history yet", async () => {
    vi.spyOn(api, "recommendations").mockResolvedValue({
      ...page("new_user", ["Popular"]),
      personalized: false,
    });
    vi.spyOn(api, "profile").mockRejectedValue(new ApiError(404, "not_found", "no such user"));
    render(<RecommendationsView categories={[]} />);
    await userEvent.type(screen.getByLabelText("User ID"), "new_user");
    await userEvent.click(screen.getByRole("button", { name: "Fetch Recommendations" }));
    expect(await screen.findByText("No history yet.")).toBeInTheDocument();
    expect(screen.getByText(/Popular picks \(new user\)/)).toBeInTheDocument();
  });
});
