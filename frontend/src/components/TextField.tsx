import { type InputHTMLAttributes, useId } from "react";

type InputProps = Omit<
  InputHTMLAttributes<HTMLInputElement>,
  "id" | "className" | "value" | "onChange" | "aria-invalid" | "aria-describedby"
>;

interface Props extends InputProps {
  label: string;
  value: string;
  onChange: (value: string) => void;
  /** Validation: a message marks the input invalid; null marks it valid; omit for no checks. */
  error?: string | null;
  /** Take the toolbar's spare width. */
  grow?: boolean;
}

/** A labelled text input, wired for screen readers (label, invalid state, error message). */
export function TextField({ label, value, onChange, error, grow = false, ...input }: Props) {
  const id = useId();
  return (
    <div className={grow ? "field field--grow" : "field"}>
      <label htmlFor={id} className="field__label">
        {label}
      </label>
      <input
        {...input}
        id={id}
        className="field__control"
        value={value}
        onChange={(event) => onChange(event.target.value)}
        aria-invalid={error === undefined ? undefined : error !== null}
        aria-describedby={error ? `${id}-error` : undefined}
      />
      {error ? (
        <p id={`${id}-error`} className="field__error">
          {error}
        </p>
      ) : null}
    </div>
  );
}
