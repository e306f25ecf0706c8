import { render, screen, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { RecommendationCard } from "../../src/components/RecommendationCard";
import { recommendation } from "./fixtures";

describe("RecommendationCard", () => {
  it("shows title, category, tags, reason and the three labelled scores", () => {
    render(
      <RecommendationCard item={recommendation()} rank={1} pending={null} onInteract={() => {}} />,
    );
    const card = screen.getByRole("article", { name: "Deep Learning for Cooks" });
    expect(within(card).getByText("technology")).toBeInTheDocument();
    expect(within(card).getByText("#ml")).toBeInTheDocument();
    expect(within(card).getByText("Because you liked Pasta Physics")).toBeInTheDocument();
    expect(within(card).getByRole("meter", { name: "ML score" })).toHaveAttribute(
      "aria-valuetext",
      "0.82",
    );
    expect(within(card).getByRole("meter", { name: "LLM score" })).toHaveAttribute(
      "aria-valuetext",
      "0.61",
    );
    expect(within(card).getByRole("meter", { name: "Blended score" })).toHaveAttribute(
      "aria-valuetext",
      "0.74",
    );
  });

  it("shows n/a for a missing LLM score", () => {
    render(
      <RecommendationCard
        item={recommendation({ llm_score: null })}
        rank={1}
        pending={null}
        onInteract={() => {}}
      />,
    );
    expect(screen.getByText("n/a")).toBeInTheDocument();
  });

  it("reports each action with the item, keyboard included", async () => {
    const user = userEvent.setup();
    const calls: string[] = [];
    const item = recommendation();
    render(
      <RecommendationCard
        item={item}
        rank={1}
        pending={null}
        onInteract={(got, type) => calls.push(`${got.content_id}:${type}`)}
      />,
    );
    await user.click(screen.getByRole("button", { name: "Like" }));
    await user.click(screen.getByRole("button", { name: "Save" }));
    screen.getByRole("button", { name: "Share" }).focus();
    await user.keyboard("{Enter}");
    await user.tab({ shift: true });
    await user.tab({ shift: true });
    await user.tab({ shift: true });
    expect(screen.getByRole("button", { name: "View" })).toHaveFocus();
    await user.keyboard(" ");
    expect(calls).toEqual([
      "content_0001:like",
      "content_0001:save",
      "content_0001:share",
      "content_0001:view",
    ]);
  });

  it("disables the actions while one is being recorded", () => {
    render(
      <RecommendationCard item={recommendation()} rank={1} pending="like" onInteract={() => {}} />,
    );
    for (const name of ["View", "Like", "Save", "Share"]) {
      expect(screen.getByRole("button", { name })).toBeDisabled();
    }
    expect(screen.getByRole("button", { name: "Like" })).toHaveAttribute("aria-busy", "true");
  });
});
