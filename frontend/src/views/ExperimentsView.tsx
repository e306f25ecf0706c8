import { type FormEvent, useEffect, useRef, useState } from "react";
import { api } from "../api/client";
import type { ArmReport, ExperimentReport, ExperimentSummary } from "../api/types";
import { Panel } from "../components/Panel";
import { RateBars } from "../components/RateBars";
import { EmptyState, ErrorState, Loading } from "../components/States";
import { TextField } from "../components/TextField";
import { formatCount, formatDateTime, formatLift, formatPercent, titleCase } from "../format";
import { useResource } from "../hooks/useResource";

/** A running experiment's report refreshes this often while the view is on screen. */
const REFRESH_MS = 10_000;

/** `control` names the arm the others are measured against; another arm without a lift (the
 * control's CTR is still 0, say) shows a dash, not "control". */
function ArmsTable({ arms, control }: { arms: ArmReport[]; control: string }) {
  return (
    <div className="table-wrap" tabIndex={0} role="region" aria-label="Arms">
      <table className="table">
        <thead>
          <tr>
            <th scope="col">Arm</th>
            <th scope="col">Config</th>
            <th scope="col" className="num">
              Users
            </th>
            <th scope="col" className="num">
              Impressions
            </th>
            <th scope="col" className="num">
              Clicks
            </th>
            <th scope="col" className="num">
              CTR (95% CI)
            </th>
            <th scope="col" className="num">
              Lift (95% CI)
            </th>
            <th scope="col" className="num">
              p
            </th>
          </tr>
        </thead>
        <tbody>
          {arms.map((arm) => (
            <tr key={arm.name}>
              <th scope="row">{arm.name}</th>
              <td>
                <code>{JSON.stringify(arm.config)}</code>
              </td>
              <td className="num">{formatCount(arm.users)}</td>
              <td className="num">{formatCount(arm.impressions)}</td>
              <td className="num">
                {formatCount(arm.clicks)}
                {arm.wins !== null && arm.wins !== undefined
                  ? ` · ${formatCount(arm.wins)} won`
                  : ""}
              </td>
              <td className="num">
                {formatPercent(arm.ctr)} ({formatPercent(arm.ctr_ci[0])}–
                {formatPercent(arm.ctr_ci[1])})
              </td>
              <td className="num">
                {arm.name === control
                  ? "control"
                  : arm.lift === null || arm.lift === undefined
                    ? "—"
                    : `${formatLift(arm.lift)}${arm.lift_ci ? ` (${formatLift(arm.lift_ci[0])} to ${formatLift(arm.lift_ci[1])})` : ""}`}
              </td>
              <td className="num">
                {arm.p_value === null || arm.p_value === undefined ? "" : arm.p_value.toFixed(4)}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function StopForm({ name, onStopped }: { name: string; onStopped: () => void }) {
  const [adminKey, setAdminKey] = useState("");
  const [promote, setPromote] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  async function submit(event: FormEvent) {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await api.stopExperiment(name, adminKey, promote);
      onStopped();
    } catch (cause) {
      setError((cause as Error).message);
    } finally {
      setBusy(false);
    }
  }

  return (
    <form className="toolbar" onSubmit={submit}>
      <TextField
        label="Admin key"
        type="password"
        value={adminKey}
        autoComplete="off"
        required
        onChange={setAdminKey}
      />
      <label>
        <input type="checkbox" checked={promote} onChange={(e) => setPromote(e.target.checked)} />{" "}
        promote the winner
      </label>
      <button type="submit" className="button" disabled={busy || !adminKey}>
        {busy ? "Stopping…" : "Stop experiment"}
      </button>
      <p className="toolbar__status" role="status" aria-live="polite">
        {error ? <span className="notice notice--error">✕ {error}</span> : null}
      </p>
    </form>
  );
}

export function ExperimentReportPanel({
  report,
  onStopped,
}: {
  report: ExperimentReport;
  onStopped: () => void;
}) {
  const points = report.timeline.map((t) => ({
    group: t.day,
    series: t.arm,
    rate: t.ctr,
    low: t.ctr_ci[0] ?? t.ctr,
    high: t.ctr_ci[1] ?? t.ctr,
  }));
  return (
    <div>
      <p className={`verdict${report.winner ? " verdict--winner" : ""}`} data-testid="verdict">
        <strong>{report.winner ? `Winner: ${report.winner}. ` : "No winner. "}</strong>
        {report.verdict}
      </p>
      {report.winner_now !== report.winner || report.verdict_now !== report.verdict ? (
        <p className="panel__hint" data-testid="verdict-now">
          It ended with the verdict above; on the data as it is now (late events counted):{" "}
          {report.winner_now ? `winner: ${report.winner_now}. ` : "no winner. "}
          {report.verdict_now}
        </p>
      ) : null}
      <p className="panel__hint">
        {titleCase(report.status)}
        {report.interleaving ? " · team-draft interleaving" : ""} · since{" "}
        {formatDateTime(report.starts_at)}
        {report.stopped_at ? ` · stopped ${formatDateTime(report.stopped_at)}` : ""} · verdict after{" "}
        {formatCount(report.min_impressions)}
        {report.interleaving ? " decided lists" : " impressions per arm"}, α = {report.alpha}
      </p>
      <ArmsTable arms={report.arms} control={report.control} />
      <h3 className="panel__subtitle">CTR per day with 95% intervals</h3>
      {points.length === 0 ? (
        <EmptyState title="No impressions yet." />
      ) : (
        <RateBars points={points} label={`CTR per day and arm of ${report.name}`} />
      )}
      {report.status !== "finished" ? <StopForm name={report.name} onStopped={onStopped} /> : null}
    </div>
  );
}

/** `active` is whether the view is on screen: it refreshes only then. */
export function ExperimentsView({ active }: { active: boolean }) {
  const [tick, setTick] = useState(0);
  const [chosen, setChosen] = useState<string | null>(null);
  const shownBefore = useRef(active);
  useEffect(() => {
    if (active && !shownBefore.current) setTick((n) => n + 1);
    shownBefore.current = active;
  }, [active]);
  useEffect(() => {
    if (!active) return;
    const timer = window.setInterval(() => setTick((n) => n + 1), REFRESH_MS);
    return () => window.clearInterval(timer);
  }, [active]);

  const list = useResource(`experiments|${tick}`, (signal) => api.experiments(signal));
  const experiments: ExperimentSummary[] = list.data?.experiments ?? [];
  const name = chosen ?? experiments[0]?.name ?? null;
  const report = useResource(name ? `experiment|${name}|${tick}` : null, (signal) =>
    api.experiment(name!, signal),
  );

  return (
    <Panel title="Experiments" variant="wide">
      {list.loading && !list.data ? (
        <Loading label="Loading experiments" rows={3} />
      ) : list.error ? (
        <ErrorState error={list.error} onRetry={list.reload} />
      ) : experiments.length === 0 ? (
        <EmptyState title="No experiments yet. Create one with POST /api/v1/experiments (docs/experiments.md)." />
      ) : (
        <>
          <div className="experiment-list" role="group" aria-label="Experiments">
            {experiments.map((e) => (
              <button
                key={e.name}
                type="button"
                className={`button${e.name === name ? " button--primary" : ""}`}
                aria-pressed={e.name === name}
                onClick={() => setChosen(e.name)}
              >
                {e.name} · {e.status}
              </button>
            ))}
          </div>
          {report.data ? (
            <ExperimentReportPanel report={report.data} onStopped={() => setTick((n) => n + 1)} />
          ) : report.error ? (
            <ErrorState error={report.error} onRetry={report.reload} />
          ) : (
            <Loading label="Loading the report" rows={3} />
          )}
        </>
      )}
    </Panel>
  );
}
