import { render, screen, within } from "@testing-library/react";
import { api } from "../../src/api/client";
import type { ArmReport, ExperimentReport } from "../../src/api/types";
import { ExperimentsView } from "../../src/views/ExperimentsView";

function arm(name: string, overrides: Partial<ArmReport> = {}): ArmReport {
  return {
    name,
    weight: 1,
    config: {},
    users: 900,
    impressions: 1200,
    clicks: 120,
    ctr: 0.1,
    ctr_ci: [0.083, 0.117],
    lift: null,
    lift_ci: null,
    p_value: null,
    ...overrides,
  };
}

const REPORT: ExperimentReport = {
  name: "blend",
  status: "running",
  interleaving: false,
  control: "control",
  starts_at: "2026-11-30T00:00:00Z",
  ends_at: null,
  stopped_at: null,
  promoted: null,
  arms: [
    arm("control"),
    arm("light", {
      config: { ml_weight: 0.3 },
      clicks: 180,
      ctr: 0.15,
      ctr_ci: [0.13, 0.17],
      lift: 0.5,
      lift_ci: [0.2, 0.87],
      p_value: 0.0003,
    }),
  ],
  winner: "light",
  verdict: "light wins: CTR 15.00% against 10.00% for control, lift +50.0%, p = 0.0003.",
  winner_now: "light",
  verdict_now: "light wins: CTR 15.00% against 10.00% for control, lift +50.0%, p = 0.0003.",
  srm_p_value: 0.5,
  min_impressions: 1000,
  alpha: 0.01,
  timeline: [],
};

afterEach(() => vi.restoreAllMocks());

describe("ExperimentsView", () => {
  it("shows the verdict and each arm's CTR, interval and lift", async () => {
    vi.spyOn(api, "experiments").mockResolvedValue({ experiments: [REPORT] });
    vi.spyOn(api, "experiment").mockResolvedValue(REPORT);
    render(<ExperimentsView active />);
    expect(await screen.findByTestId("verdict")).toHaveTextContent("Winner: light.");
    const arms = screen.getByRole("region", { name: "Arms" });
    const light = within(arms).getByRole("row", { name: /light/ });
    expect(light).toHaveTextContent("15.00% (13.00%–17.00%)");
    expect(light).toHaveTextContent("+50.0% (+20.0% to +87.0%)");
    expect(screen.getByText("No impressions yet.")).toBeInTheDocument();
    expect(screen.getByRole("button", { name: "Stop experiment" })).toBeDisabled();
  });

  it("shows the verdict an experiment ended with, and the current one when late events moved it", async () => {
    const ended: ExperimentReport = {
      ...REPORT,
      status: "finished",
      stopped_at: "2026-12-01T00:00:00Z",
      winner_now: null,
      verdict_now:
        "No significant difference in CTR (smallest p = 0.0400, threshold 0.01): no winner.",
    };
    vi.spyOn(api, "experiments").mockResolvedValue({ experiments: [ended] });
    vi.spyOn(api, "experiment").mockResolvedValue(ended);
    render(<ExperimentsView active />);
    expect(await screen.findByTestId("verdict")).toHaveTextContent("Winner: light.");
    expect(screen.getByTestId("verdict-now")).toHaveTextContent(
      "on the data as it is now (late events counted): no winner. No significant difference",
    );
  });

  it("shows one verdict while the current one agrees", async () => {
    vi.spyOn(api, "experiments").mockResolvedValue({ experiments: [REPORT] });
    vi.spyOn(api, "experiment").mockResolvedValue(REPORT);
    render(<ExperimentsView active />);
    await screen.findByTestId("verdict");
    expect(screen.queryByTestId("verdict-now")).not.toBeInTheDocument();
  });

  it("calls only the control arm control, not another arm that has no lift yet", async () => {
    // No clicks on the control yet: a lift over a CTR of 0 is undefined, so the API sends none.
    const early: ExperimentReport = {
      ...REPORT,
      arms: [
        arm("control", { clicks: 0, ctr: 0 }),
        arm("light", { clicks: 0, ctr: 0, p_value: 1 }),
      ],
      winner: null,
      winner_now: null,
    };
    vi.spyOn(api, "experiments").mockResolvedValue({ experiments: [early] });
    vi.spyOn(api, "experiment").mockResolvedValue(early);
    render(<ExperimentsView active />);
    const arms = await screen.findByRole("region", { name: "Arms" });
    const cells = (name: RegExp) =>
      within(within(arms).getByRole("row", { name })).getAllByRole("cell");
    expect(cells(/^control/)[5]).toHaveTextContent(/^control$/);
    expect(cells(/^light/)[5]).toHaveTextContent(/^—$/);
  });

  it("says how to start when there is no experiment", async () => {
    vi.spyOn(api, "experiments").mockResolvedValue({ experiments: [] });
    render(<ExperimentsView active />);
    expect(await screen.findByText(/No experiments yet/)).toBeInTheDocument();
  });
});
