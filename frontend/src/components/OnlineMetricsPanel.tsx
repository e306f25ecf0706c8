import type { OnlineGroup } from "../api/types";
import { formatCount, formatPercent } from "../format";

/** What users did with the lists a model version served: CTR and rates with intervals. */
export function OnlineMetricsPanel({ group }: { group: OnlineGroup | null }) {
  if (!group) {
    return <p className="panel__hint">No impressions of this version in the last 30 days.</p>;
  }
  const rates: [string, number, number[]][] = [
    ["CTR", group.ctr, group.ctr_ci],
    ["Like rate", group.like_rate, group.like_rate_ci],
    ["Save rate", group.save_rate, group.save_rate_ci],
    ["Dislike rate", group.dislike_rate, group.dislike_rate_ci],
  ];
  return (
    <div className="stats" data-testid="online-metrics">
      <div className="stat">
        <span className="stat__label">Impressions</span>
        <span className="stat__value">{formatCount(group.impressions)}</span>
        <span className="stat__sub">{formatCount(group.users)} users</span>
      </div>
      {rates.map(([label, value, ci]) => (
        <div className="stat" key={label}>
          <span className="stat__label">{label}</span>
          <span className="stat__value">{formatPercent(value)}</span>
          <span className="stat__sub">
            95% CI {formatPercent(ci[0])}–{formatPercent(ci[1])}
          </span>
        </div>
      ))}
      <div className="stat">
        <span className="stat__label">MRR of first click</span>
        <span className="stat__value">{group.mrr.toFixed(3)}</span>
        <span className="stat__sub">coverage {formatPercent(group.coverage)}</span>
      </div>
    </div>
  );
}
