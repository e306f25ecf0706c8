import { formatPercent } from "../format";

/** One bar per series with its 95 % interval drawn as a whisker, grouped by `group`. */
export interface RatePoint {
  group: string;
  series: string;
  rate: number;
  low: number;
  high: number;
}

const COLORS = ["#4f46e5", "#db2777", "#0d9488", "#d97706", "#7c3aed", "#2563eb"];
const HEIGHT = 200;
const PAD = { top: 12, right: 12, bottom: 34, left: 52 };
const BAR = 18;
const GAP = 16;
/** The narrowest the chart is drawn: a few days widen the drawing, never scale it up (a day or
 * two stretched to this width would blow text and whiskers up to several times their size). */
const MIN_WIDTH = 320;

export function RateBars({ points, label }: { points: RatePoint[]; label: string }) {
  const groups = [...new Set(points.map((p) => p.group))];
  const series = [...new Set(points.map((p) => p.series))];
  const top = Math.max(0.01, ...points.map((p) => p.high)) * 1.1;
  const groupWidth = series.length * BAR + GAP;
  const width = Math.max(MIN_WIDTH, PAD.left + PAD.right + Math.max(1, groups.length) * groupWidth);
  const plot = HEIGHT - PAD.top - PAD.bottom;
  const y = (v: number) => PAD.top + plot * (1 - v / top);
  const ticks = [0, top / 2, top];
  return (
    <figure className="rate-bars">
      <svg
        viewBox={`0 0 ${width} ${HEIGHT}`}
        width="100%"
        role="img"
        aria-label={label}
        preserveAspectRatio="xMinYMin meet"
        style={{ maxWidth: `${width}px` }}
      >
        {ticks.map((t) => (
          <g key={t}>
            <line x1={PAD.left} x2={width - PAD.right} y1={y(t)} y2={y(t)} stroke="#e5e7eb" />
            <text x={PAD.left - 6} y={y(t) + 4} textAnchor="end" fontSize="10" fill="#6b7280">
              {formatPercent(t)}
            </text>
          </g>
        ))}
        {groups.map((group, g) => (
          <g key={group}>
            {series.map((name, s) => {
              const point = points.find((p) => p.group === group && p.series === name);
              if (!point) return null;
              const x = PAD.left + g * groupWidth + GAP / 2 + s * BAR;
              const middle = x + BAR / 2 - 1;
              return (
                <g key={name}>
                  <title>{`${group} · ${name}: ${formatPercent(point.rate)} (95% CI ${formatPercent(point.low)} to ${formatPercent(point.high)})`}</title>
                  <rect
                    x={x}
                    y={y(point.rate)}
                    width={BAR - 2}
                    height={Math.max(0, y(0) - y(point.rate))}
                    fill={COLORS[s % COLORS.length]}
                    opacity={0.75}
                  />
                  <line
                    x1={middle}
                    x2={middle}
                    y1={y(point.low)}
                    y2={y(point.high)}
                    stroke="#111827"
                  />
                  <line
                    x1={middle - 4}
                    x2={middle + 4}
                    y1={y(point.low)}
                    y2={y(point.low)}
                    stroke="#111827"
                  />
                  <line
                    x1={middle - 4}
                    x2={middle + 4}
                    y1={y(point.high)}
                    y2={y(point.high)}
                    stroke="#111827"
                  />
                </g>
              );
            })}
            <text
              x={PAD.left + g * groupWidth + groupWidth / 2}
              y={HEIGHT - PAD.bottom + 16}
              textAnchor="middle"
              fontSize="10"
              fill="#6b7280"
            >
              {group}
            </text>
          </g>
        ))}
      </svg>
      <figcaption className="rate-bars__legend">
        {series.map((name, s) => (
          <span key={name}>
            <span
              className="rate-bars__swatch"
              style={{ background: COLORS[s % COLORS.length] }}
              aria-hidden="true"
            />
            {name}
          </span>
        ))}
      </figcaption>
    </figure>
  );
}
