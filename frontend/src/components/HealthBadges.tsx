import type { DependencyStatus, Health } from "../api/types";
import { dependencyLabel } from "../format";

const ORDER = ["database", "cache", "events", "model", "llm"];

const STATUS_TEXT: Record<DependencyStatus["status"], { icon: string; text: string }> = {
  ok: { icon: "✓", text: "OK" },
  degraded: { icon: "!", text: "Degraded" },
  down: { icon: "✕", text: "Down" },
};

function ordered(health: Health): [string, DependencyStatus][] {
  const entries = Object.entries(health.dependencies);
  return entries.sort(([a], [b]) => {
    const rank = (name: string) => (ORDER.includes(name) ? ORDER.indexOf(name) : ORDER.length);
    return rank(a) - rank(b) || a.localeCompare(b);
  });
}

function describe(name: string, dep: DependencyStatus): string {
  const parts = [
    `${dependencyLabel(name)}: ${STATUS_TEXT[dep.status].text}`,
    `backend ${dep.backend}`,
  ];
  if (dep.latency_ms !== null && dep.latency_ms !== undefined) {
    parts.push(`${dep.latency_ms.toFixed(1)} ms`);
  }
  if (dep.detail) parts.push(dep.detail);
  return parts.join(" · ");
}

/**
 * One badge per dependency: icon, name and status word, so it reads without colour. `stale` means
 * the last check failed: known badges fade, and with none known the API itself shows as down.
 */
export function HealthBadges({ health, stale }: { health: Health | null; stale: boolean }) {
  if (!health) {
    return (
      <ul className="health" aria-label="Service health">
        {stale ? (
          <li className="badge badge--down">
            <span className="badge__icon" aria-hidden="true">
              ✕
            </span>
            API unreachable
          </li>
        ) : (
          <li className="badge badge--unknown">
            <span aria-hidden="true">…</span> Checking health
          </li>
        )}
      </ul>
    );
  }
  return (
    <ul className={`health${stale ? " health--stale" : ""}`} aria-label="Service health">
      {ordered(health).map(([name, dep]) => (
        <li
          key={name}
          className={`badge badge--${dep.status}`}
          title={describe(name, dep)}
          data-dependency={name}
        >
          <span className="badge__icon" aria-hidden="true">
            {STATUS_TEXT[dep.status].icon}
          </span>
          <span className="badge__name">{dependencyLabel(name)}</span>
          <span className="badge__status">{STATUS_TEXT[dep.status].text}</span>
        </li>
      ))}
    </ul>
  );
}
