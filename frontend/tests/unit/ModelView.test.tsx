import { render, screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { api, ApiError } from "../../src/api/client";
import type { ModelStatus } from "../../src/api/types";
import { ModelView } from "../../src/views/ModelView";
import { modelVersion } from "./fixtures";

const ACTIVE = { ...modelVersion("v2", 2, { "ndcg@10": 0.2 }), status: "active" as const };
const STATUS: ModelStatus = {
  active: ACTIVE,
  events_since_training: 12,
  families: {},
  history: [ACTIVE],
  last_trained_at: ACTIVE.created_at,
  retrain_enabled: false,
  training: false,
};

afterEach(() => vi.restoreAllMocks());

describe("ModelView", () => {
  it("says the online metrics could not be read, not that there were no impressions", async () => {
    vi.spyOn(api, "models").mockResolvedValue(STATUS);
    const online = vi
      .spyOn(api, "onlineMetrics")
      .mockRejectedValueOnce(new ApiError(504, "timeout", "The gateway gave up."))
      .mockResolvedValue({
        by: "model_version",
        catalogue_size: 2000,
        groups: [],
        since: "2026-11-02T00:00:00Z",
        until: "2026-12-02T00:00:00Z",
      });
    render(<ModelView active />);

    expect(await screen.findByText("The gateway gave up.")).toBeInTheDocument();
    expect(screen.queryByText(/No impressions of this version/)).not.toBeInTheDocument();
    await userEvent.setup().click(screen.getByRole("button", { name: "Try again" }));
    expect(await screen.findByText(/No impressions of this version/)).toBeInTheDocument();
    expect(online).toHaveBeenCalledTimes(2);
  });
});
