import { render, screen } from "@testing-library/react";
import { chartableMetrics, MetricsChart } from "../../src/components/MetricsChart";
import { modelVersion } from "./fixtures";

const history = [
  modelVersion("v2", 2, { "ndcg@10": 0.31, auc: 0.84, loss: 3.2 }),
  modelVersion("v1", 1, { "ndcg@10": 0.25, auc: 0.8, loss: 4.1 }),
  modelVersion("v3", 3, { "ndcg@10": 0.33, auc: 0.86, "recall@10": 0.2, loss: 2.9 }),
];

describe("MetricsChart", () => {
  it("charts only metrics on a 0..1 scale", () => {
    expect(chartableMetrics(history)).toEqual(["auc", "ndcg@10", "recall@10"]);
  });

  it("draws one series per metric in version order and summarises the latest values", () => {
    const { container } = render(<MetricsChart versions={history} />);
    expect(
      screen.getByRole("img", {
        name: "Metrics over 3 model versions; latest: auc 0.86, ndcg@10 0.33, recall@10 0.20",
      }),
    ).toBeInTheDocument();
    const series = container.querySelectorAll("[data-metric]");
    expect([...series].map((node) => node.getAttribute("data-metric"))).toEqual([
      "auc",
      "ndcg@10",
      "recall@10",
    ]);
    const ndcg = container.querySelector('[data-metric="ndcg@10"] polyline')!;
    const ys = ndcg
      .getAttribute("points")!
      .split(" ")
      .map((point) => Number(point.split(",")[1]));
    expect(ys).toHaveLength(3);
    expect(ys[0]).toBeGreaterThan(ys[1]!);
    expect(ys[1]).toBeGreaterThan(ys[2]!);
    expect(container.querySelectorAll('[data-metric="recall@10"] title')).toHaveLength(1);
  });

  it("says so when there is nothing to chart", () => {
    render(<MetricsChart versions={[]} />);
    expect(screen.getByText("No metrics recorded yet.")).toBeInTheDocument();
  });
});
