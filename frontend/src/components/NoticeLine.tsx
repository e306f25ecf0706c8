import type { Notice } from "../hooks/useNotice";

/** A polite live region, always present, so screen readers announce each new notice. */
export function NoticeLine({ notice }: { notice: Notice | null }) {
  return (
    <div className="notice-area" aria-live="polite" role="status">
      {notice ? (
        <p className={`notice notice--${notice.kind}`}>
          <span aria-hidden="true">{notice.kind === "success" ? "✓ " : "✕ "}</span>
          {notice.text}
        </p>
      ) : null}
    </div>
  );
}
