import { formatScore, unitFraction } from "../format";

export type ScoreKind = "ml" | "llm" | "blended";

interface Props {
  label: string;
  value: number | null;
  kind: ScoreKind;
  /** Printed instead of the value when the bar shows a rescaled number. */
  text?: string;
}

/** One labelled 0..1 bar; the number is always printed, so the colour is never the only cue. */
export function ScoreBar({ label, value, kind, text = formatScore(value) }: Props) {
  const missing = value === null;
  return (
    <div className={`score score--${kind}${missing ? " score--missing" : ""}`}>
      <span className="score__label">{label}</span>
      <div
        className="score__track"
        role="meter"
        aria-label={`${label} score`}
        aria-valuemin={0}
        aria-valuemax={1}
        aria-valuenow={missing ? undefined : unitFraction(value)}
        aria-valuetext={missing ? "not available" : text}
      >
        <div className="score__fill" style={{ width: `${unitFraction(value) * 100}%` }} />
      </div>
      <span className="score__value">{text}</span>
    </div>
  );
}
