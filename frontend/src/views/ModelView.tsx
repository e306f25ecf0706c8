import { type FormEvent, useEffect, useRef, useState } from "react";
import { api } from "../api/client";
import type { ModelStatus, ModelVersion } from "../api/types";
import { MetricsChart } from "../components/MetricsChart";
import { OnlineMetricsPanel } from "../components/OnlineMetricsPanel";
import { Panel } from "../components/Panel";
import { EmptyState, ErrorState, Loading } from "../components/States";
import { TextField } from "../components/TextField";
import { formatCount, formatDateTime, formatRelative, formatScore, titleCase } from "../format";
import { useResource } from "../hooks/useResource";

/** While a retrain runs, poll this often so the new version shows up without a reload. */
const TRAINING_POLL_MS = 3000;

function metricNames(history: ModelVersion[]): string[] {
  const names = new Set<string>();
  for (const version of history) for (const name of Object.keys(version.metrics)) names.add(name);
  return [...names].sort();
}

function ActiveModel({ status }: { status: ModelStatus }) {
  const active = status.active;
  return (
    <div className="stats">
      <div className="stat stat--hero">
        <span className="stat__label">Active version</span>
        <span className="stat__value" data-testid="active-version">
          {active ? active.version : "none"}
        </span>
        {active ? (
          <span className="stat__sub">
            {active.family ?? "model"} · trained {formatDateTime(active.created_at)}
          </span>
        ) : null}
      </div>
      <div className="stat">
        <span className="stat__label">Last training</span>
        <span className="stat__value">{formatRelative(status.last_trained_at)}</span>
        <span className="stat__sub">{formatDateTime(status.last_trained_at)}</span>
      </div>
      <div className="stat">
        <span className="stat__label">Events since training</span>
        <span className="stat__value">{formatCount(status.events_since_training)}</span>
        <span className="stat__sub">{status.training ? "training now…" : "idle"}</span>
      </div>
      {active ? (
        <div className="stat">
          <span className="stat__label">Trained on</span>
          <span className="stat__value">{formatCount(active.n_interactions)}</span>
          <span className="stat__sub">
            interactions · {formatCount(active.n_users)} users · {formatCount(active.n_items)} items
            · {active.train_seconds.toFixed(1)} s
          </span>
        </div>
      ) : null}
    </div>
  );
}

function HistoryTable({ history }: { history: ModelVersion[] }) {
  const names = metricNames(history);
  const rows = [...history].sort((a, b) => b.created_at.localeCompare(a.created_at));
  return (
    <div className="table-wrap" tabIndex={0} role="region" aria-label="Training history table">
      <table className="table">
        <thead>
          <tr>
            <th scope="col">Version</th>
            <th scope="col">Status</th>
            <th scope="col">Family</th>
            <th scope="col">Trained</th>
            {names.map((name) => (
              <th key={name} scope="col" className="num">
                {name}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {rows.map((version) => (
            <tr key={version.version}>
              <th scope="row">
                <code>{version.version}</code>
              </th>
              <td>
                <span className={`status status--${version.status}`}>
                  {titleCase(version.status)}
                </span>
              </td>
              <td>{version.family ?? "—"}</td>
              <td>{formatDateTime(version.created_at)}</td>
              {names.map((name) => (
                <td key={name} className="num">
                  {formatScore(version.metrics[name])}
                </td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function RetrainForm({ onStarted }: { onStarted: () => void }) {
  const [adminKey, setAdminKey] = useState("");
  const [state, setState] = useState<{ kind: "idle" | "busy" | "done" | "error"; text?: string }>({
    kind: "idle",
  });

  async function submit(event: FormEvent) {
    event.preventDefault();
    setState({ kind: "busy" });
    try {
      const result = await api.retrain(adminKey);
      setState({
        kind: "done",
        text:
          result.status === "requested"
            ? "Retraining requested: a worker starts it now. A new version appears here once it is evaluated."
            : "A training round is already running.",
      });
      onStarted();
    } catch (cause) {
      setState({ kind: "error", text: (cause as Error).message });
    }
  }

  return (
    <form className="toolbar toolbar--retrain" onSubmit={submit}>
      <TextField
        label="Admin key"
        grow
        type="password"
        value={adminKey}
        autoComplete="off"
        required
        onChange={setAdminKey}
      />
      <button
        type="submit"
        className="button button--primary"
        disabled={state.kind === "busy" || !adminKey}
      >
        {state.kind === "busy" ? "Starting…" : "Retrain"}
      </button>
      <p className="toolbar__status" role="status" aria-live="polite">
        {state.kind === "done" ? (
          <span className="notice notice--success">✓ {state.text}</span>
        ) : null}
        {state.kind === "error" ? (
          <span className="notice notice--error">✕ {state.text}</span>
        ) : null}
      </p>
    </form>
  );
}

/** `active` is whether the view is on screen: each return to it fetches a fresh status. */
export function ModelView({ active }: { active: boolean }) {
  const [poll, setPoll] = useState(0);
  const shownBefore = useRef(active);
  useEffect(() => {
    if (active && !shownBefore.current) setPoll((n) => n + 1);
    shownBefore.current = active;
  }, [active]);
  const models = useResource(`models|${poll}`, (signal) => api.models(signal));
  const online = useResource(`online|${poll}`, (signal) =>
    api.onlineMetrics("model_version", signal),
  );
  const training = models.data?.training ?? false;

  useEffect(() => {
    if (!training) return;
    const timer = window.setTimeout(() => setPoll((n) => n + 1), TRAINING_POLL_MS);
    return () => window.clearTimeout(timer);
  }, [training, poll]);

  const status = models.data;
  return (
    <Panel
      title="Model"
      variant="wide"
      hint={
        status?.training ? (
          <>
            <span className="spinner" aria-hidden="true" /> Training in progress
          </>
        ) : null
      }
    >
      {models.loading && !status ? (
        <Loading label="Loading model status" rows={3} />
      ) : models.error ? (
        <ErrorState error={models.error} onRetry={models.reload} />
      ) : status ? (
        <>
          <ActiveModel status={status} />
          {status.retrain_enabled ? <RetrainForm onStarted={() => setPoll((n) => n + 1)} /> : null}
          <h3 className="panel__subtitle">Online metrics of the serving version (30 days)</h3>
          {/* "No impressions" only once the metrics are read: not while they load or when the
              read failed. */}
          {online.error ? (
            <ErrorState error={online.error} onRetry={online.reload} />
          ) : !online.data ? (
            <Loading label="Loading online metrics" rows={1} />
          ) : (
            <OnlineMetricsPanel
              group={
                online.data.groups.find(
                  (g) => g.key.model_version === (status.active?.version ?? ""),
                ) ?? null
              }
            />
          )}
          <h3 className="panel__subtitle">Metrics over versions</h3>
          {status.history.length === 0 ? (
            <EmptyState title="No trained versions yet." />
          ) : (
            <>
              <MetricsChart versions={status.history} />
              <h3 className="panel__subtitle">Training history</h3>
              <HistoryTable history={status.history} />
            </>
          )}
        </>
      ) : null}
    </Panel>
  );
}
