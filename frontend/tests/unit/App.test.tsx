import { render, screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { api } from "../../src/api/client";
import type { ExperimentReport, ModelStatus } from "../../src/api/types";
import { App } from "../../src/App";
import { health, modelVersion } from "./fixtures";

function status(families: Record<string, string>): ModelStatus {
  return {
    active: { ...modelVersion("v1", 1, {}), status: "active", family: "blend" },
    events_since_training: 0,
    families,
    history: [],
    last_trained_at: null,
    retrain_enabled: true,
    training: false,
  };
}

function go(route: string) {
  window.location.hash = `#/${route}`;
  window.dispatchEvent(new HashChangeEvent("hashchange"));
}

afterEach(() => {
  vi.restoreAllMocks();
  window.location.hash = "";
});

describe("App", () => {
  it("offers a family trained after the page loaded when the recommendations view reopens", async () => {
    vi.spyOn(api, "health").mockResolvedValue(health());
    vi.spyOn(api, "categories").mockResolvedValue({ categories: [] });
    vi.spyOn(api, "experiments").mockResolvedValue({ experiments: [] });
    const models = vi
      .spyOn(api, "models")
      .mockResolvedValueOnce(status({ blend: "v1" }))
      .mockResolvedValue(status({ blend: "v1", "blend-next": "v2" }));

    render(<App />);
    await waitFor(() => expect(models).toHaveBeenCalledTimes(1));
    expect(screen.queryByLabelText("Model family")).not.toBeInTheDocument();

    go("experiments");
    go("catalog");
    // Other views leave the status alone; the Model view reads it itself.
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(models).toHaveBeenCalledTimes(1);
    go("recommendations");
    expect(await screen.findByLabelText("Model family")).toBeInTheDocument();
    expect(models).toHaveBeenCalledTimes(2);
  });

  it("shows a view that fails to render as an error with a retry and keeps the other tabs", async () => {
    vi.spyOn(api, "health").mockResolvedValue(health());
    vi.spyOn(api, "categories").mockResolvedValue({ categories: [] });
    vi.spyOn(api, "models").mockResolvedValue(status({ blend: "v1" }));
    vi.spyOn(api, "content").mockResolvedValue({
      items: [],
      total: 0,
      limit: 12,
      offset: 0,
      next_cursor: null,
    });
    vi.spyOn(api, "experiments").mockResolvedValue({
      experiments: [
        {
          name: "odd",
          status: "running",
          interleaving: false,
          control: "a",
          starts_at: "2026-11-30T00:00:00Z",
          ends_at: null,
          stopped_at: null,
          promoted: null,
        },
      ],
    });
    // A report this UI cannot read (a server of another version, say): rendering it throws.
    const broken = { name: "odd", status: "running" } as unknown as ExperimentReport;
    const report = vi.spyOn(api, "experiment").mockResolvedValue(broken);
    vi.spyOn(console, "error").mockImplementation(() => undefined); // React reports the error

    go("experiments");
    render(<App />);
    const failed = await screen.findByRole("alert");
    expect(failed).toHaveTextContent("The Experiments view failed to show");
    expect(screen.getByRole("navigation", { name: "Views" })).toBeInTheDocument();

    go("catalog");
    expect(await screen.findByText("No content matches.")).toBeVisible();

    go("experiments");
    report.mockResolvedValue({
      ...broken,
      interleaving: false,
      control: "a",
      starts_at: "2026-11-30T00:00:00Z",
      ends_at: null,
      stopped_at: null,
      promoted: null,
      arms: [],
      timeline: [],
      verdict: "Too early.",
      winner: null,
      alpha: 0.05,
      min_impressions: 1000,
      srm_p_value: null,
    });
    await userEvent.click(await within(failed).findByRole("button", { name: "Try again" }));
    expect(await screen.findByTestId("verdict")).toHaveTextContent("Too early.");
  });
});
