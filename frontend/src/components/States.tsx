import type { ReactNode } from "react";
import { ApiError } from "../api/client";

export function Loading({ label, rows = 3 }: { label: string; rows?: number }) {
  return (
    <div className="loading" role="status" aria-live="polite">
      <span className="visually-hidden">{label}</span>
      {Array.from({ length: rows }, (_, index) => (
        <div key={index} className="skeleton" aria-hidden="true" />
      ))}
    </div>
  );
}

export function EmptyState({ title, children }: { title: string; children?: ReactNode }) {
  return (
    <div className="empty">
      <div className="empty__icon" aria-hidden="true">
        ◎
      </div>
      <p className="empty__title">{title}</p>
      {children ? <div className="empty__body">{children}</div> : null}
    </div>
  );
}

/** Shows the API's own message and code, so a 4xx reads as "what to fix", not "something broke". */
export function ErrorState({
  error,
  onRetry,
  title,
  children,
}: {
  error: Error;
  onRetry?: () => void;
  title?: string;
  /** What to do about it, below the message. */
  children?: ReactNode;
}) {
  const code = error instanceof ApiError ? error.code : null;
  return (
    <div className="error-state" role="alert">
      <span className="error-state__icon" aria-hidden="true">
        !
      </span>
      <div>
        <p className="error-state__title">
          {title ??
            (error instanceof ApiError && error.unreachable
              ? "The API is unreachable"
              : "Request failed")}
        </p>
        <p className="error-state__message">
          {error.message}
          {code ? <code className="error-state__code">{code}</code> : null}
        </p>
        {children ? <p className="error-state__message">{children}</p> : null}
      </div>
      {onRetry ? (
        <button type="button" className="button button--ghost" onClick={onRetry}>
          Try again
        </button>
      ) : null}
    </div>
  );
}
