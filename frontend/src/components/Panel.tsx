import { type ReactNode, useId } from "react";

interface Props {
  title: ReactNode;
  /** A line beside the title: provenance, counts, progress. Nothing when null. */
  hint?: ReactNode;
  /** Layout slot: the main column, the side column, or the full width. */
  variant: "main" | "side" | "wide";
  /** An aside for supporting content, a section otherwise. */
  aside?: boolean;
  children: ReactNode;
}

/** A titled region of a view; the title names the region for assistive technology. */
export function Panel({ title, hint = null, variant, aside = false, children }: Props) {
  const headingId = useId();
  const Region = aside ? "aside" : "section";
  return (
    <Region className={`panel panel--${variant}`} aria-labelledby={headingId}>
      <div className="panel__header">
        <h2 id={headingId} className="panel__title">
          {title}
        </h2>
        {hint !== null ? <p className="panel__hint">{hint}</p> : null}
      </div>
      {children}
    </Region>
  );
}
