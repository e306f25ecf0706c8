import { render, screen } from "@testing-library/react";
import { ProfileSummary } from "../../src/components/ProfilePanel";
import { profile } from "./fixtures";

describe("ProfileSummary", () => {
  it("lists counts per type, zeros included, top categories and recent items", () => {
    render(<ProfileSummary profile={profile()} />);
    expect(screen.getByTestId("count-like")).toHaveTextContent("2");
    expect(screen.getByTestId("count-dislike")).toHaveTextContent("0");
    expect(screen.getByText("technology")).toBeInTheDocument();
    expect(screen.getByText("Pasta Physics")).toBeInTheDocument();
    expect(screen.getByText("Liked")).toBeInTheDocument();
  });

  it("explains an empty history", () => {
    render(
      <ProfileSummary
        profile={profile({ total: 0, counts: {}, top_categories: [], recent: [] })}
      />,
    );
    expect(screen.getByText(/No category signal yet/)).toBeInTheDocument();
    expect(screen.getByText(/Nothing yet/)).toBeInTheDocument();
  });
});
