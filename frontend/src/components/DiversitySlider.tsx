import { useId } from "react";

interface Props {
  /** 0..1; null leaves the server's default (CONTEXTIQ_DIVERSITY). */
  value: number | null;
  onChange: (value: number | null) => void;
}

/** How much the list trades relevance for variety (`diversity=`, maximal marginal relevance). */
export function DiversitySlider({ value, onChange }: Props) {
  const id = useId();
  return (
    <div className="field slider">
      <label htmlFor={id} className="field__label">
        Diversity{" "}
        <output htmlFor={id} className="muted small">
          {value === null ? "server default" : value.toFixed(1)}
        </output>
      </label>
      <div className="slider__row">
        <input
          id={id}
          type="range"
          className="slider__input"
          min={0}
          max={1}
          step={0.1}
          value={value ?? 0}
          onChange={(event) => onChange(Number(event.target.value))}
        />
        {value !== null ? (
          <button type="button" className="button button--ghost" onClick={() => onChange(null)}>
            Default
          </button>
        ) : null}
      </div>
    </div>
  );
}
