import type { ModelVersion } from "../api/types";
import { formatScore } from "../format";

/** Palette plus marker and dash per series, so lines stay distinguishable without colour. */
const SERIES_STYLES = [
  { color: "#4f46e5", marker: "circle", dash: "" },
  { color: "#db2777", marker: "square", dash: "6 4" },
  { color: "#0d9488", marker: "triangle", dash: "2 4" },
  { color: "#d97706", marker: "diamond", dash: "10 4 2 4" },
  { color: "#7c3aed", marker: "circle", dash: "1 3" },
  { color: "#2563eb", marker: "square", dash: "12 3" },
] as const;

type Marker = (typeof SERIES_STYLES)[number]["marker"];

const WIDTH = 640;
const HEIGHT = 260;
const PAD = { top: 16, right: 20, bottom: 40, left: 58 };

const MAX_X_LABELS = 5;

/** The end labels hug the plot edges so they are never cut off by the frame. */
function xAnchor(index: number, count: number): "start" | "middle" | "end" {
  if (count > 1 && index === 0) return "start";
  if (count > 1 && index === count - 1) return "end";
  return "middle";
}

function shortTime(iso: string): string {
  return new Date(iso).toLocaleString(undefined, {
    month: "short",
    day: "numeric",
    hour: "2-digit",
    minute: "2-digit",
  });
}

/** Metrics that live on a 0..1 scale share one axis; anything else stays in the table. */
export function chartableMetrics(versions: ModelVersion[]): string[] {
  const names = new Set<string>();
  for (const version of versions) for (const name of Object.keys(version.metrics)) names.add(name);
  return [...names]
    .filter((name) =>
      versions.every((version) => {
        const value = version.metrics[name];
        return value === undefined || (value >= 0 && value <= 1);
      }),
    )
    .sort();
}

function MarkerShape({
  shape,
  x,
  y,
  color,
}: {
  shape: Marker;
  x: number;
  y: number;
  color: string;
}) {
  const size = 5;
  switch (shape) {
    case "square":
      return <rect x={x - size} y={y - size} width={size * 2} height={size * 2} fill={color} />;
    case "triangle":
      return (
        <polygon
          points={`${x},${y - size - 1} ${x + size + 1},${y + size} ${x - size - 1},${y + size}`}
          fill={color}
        />
      );
    case "diamond":
      return (
        <polygon
          points={`${x},${y - size - 1} ${x + size + 1},${y} ${x},${y + size + 1} ${x - size - 1},${y}`}
          fill={color}
        />
      );
    default:
      return <circle cx={x} cy={y} r={size} fill={color} />;
  }
}

export function MetricsChart({ versions }: { versions: ModelVersion[] }) {
  const ordered = [...versions].sort((a, b) => a.created_at.localeCompare(b.created_at));
  const metrics = chartableMetrics(ordered);
  if (ordered.length === 0 || metrics.length === 0) {
    return <p className="muted">No metrics recorded yet.</p>;
  }
  const plotWidth = WIDTH - PAD.left - PAD.right;
  const plotHeight = HEIGHT - PAD.top - PAD.bottom;
  const x = (index: number) =>
    PAD.left + (ordered.length === 1 ? plotWidth / 2 : (index / (ordered.length - 1)) * plotWidth);
  const y = (value: number) => PAD.top + (1 - value) * plotHeight;
  const latest = ordered[ordered.length - 1];
  const summary = metrics.map((name) => `${name} ${formatScore(latest?.metrics[name])}`).join(", ");

  return (
    <figure className="chart">
      <svg
        viewBox={`0 0 ${WIDTH} ${HEIGHT}`}
        role="img"
        aria-label={`Metrics over ${ordered.length} model versions; latest: ${summary}`}
        className="chart__svg"
      >
        {[0, 0.25, 0.5, 0.75, 1].map((tick) => (
          <g key={tick} className="chart__grid">
            <line x1={PAD.left} x2={WIDTH - PAD.right} y1={y(tick)} y2={y(tick)} />
            <text x={PAD.left - 8} y={y(tick) + 4} textAnchor="end">
              {tick.toFixed(2)}
            </text>
          </g>
        ))}
        {ordered.map((version, index) => (
          <text
            key={version.version}
            className="chart__xlabel"
            x={x(index)}
            y={HEIGHT - PAD.bottom + 18}
            textAnchor={xAnchor(index, ordered.length)}
          >
            {ordered.length > MAX_X_LABELS && index % Math.ceil(ordered.length / MAX_X_LABELS) !== 0
              ? ""
              : shortTime(version.created_at)}
          </text>
        ))}
        {metrics.map((name, seriesIndex) => {
          const style = SERIES_STYLES[seriesIndex % SERIES_STYLES.length]!;
          const points = ordered
            .map((version, index) => ({ index, value: version.metrics[name], version }))
            .filter(
              (point): point is typeof point & { value: number } => point.value !== undefined,
            );
          return (
            <g key={name} className="chart__series" data-metric={name}>
              <polyline
                fill="none"
                stroke={style.color}
                strokeWidth={2.5}
                strokeDasharray={style.dash}
                points={points.map((point) => `${x(point.index)},${y(point.value)}`).join(" ")}
              />
              {points.map((point) => (
                <g key={point.version.version}>
                  <title>{`${name} = ${formatScore(point.value)} (${point.version.version})`}</title>
                  <MarkerShape
                    shape={style.marker}
                    x={x(point.index)}
                    y={y(point.value)}
                    color={style.color}
                  />
                </g>
              ))}
            </g>
          );
        })}
      </svg>
      <figcaption>
        <ul className="legend">
          {metrics.map((name, seriesIndex) => {
            const style = SERIES_STYLES[seriesIndex % SERIES_STYLES.length]!;
            return (
              <li key={name} className="legend__item">
                <svg width="28" height="14" aria-hidden="true">
                  <line
                    x1="0"
                    x2="28"
                    y1="7"
                    y2="7"
                    stroke={style.color}
                    strokeWidth="2.5"
                    strokeDasharray={style.dash}
                  />
                  <MarkerShape shape={style.marker} x={14} y={7} color={style.color} />
                </svg>
                <span className="legend__name">{name}</span>
                <span className="legend__value">{formatScore(latest?.metrics[name])}</span>
              </li>
            );
          })}
        </ul>
      </figcaption>
    </figure>
  );
}
