import { render, screen, waitFor } from "@testing-library/react";
import { api } from "../../src/api/client";
import type { ModelStatus } from "../../src/api/types";
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
});
