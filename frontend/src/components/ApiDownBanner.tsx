interface Props {
  message: string;
  onRetry: () => void;
}

/** Shown while /health fails, so an outage reads as an outage rather than an empty page. */
export function ApiDownBanner({ message, onRetry }: Props) {
  return (
    <div className="banner" role="alert">
      <span className="banner__icon" aria-hidden="true">
        ⚠
      </span>
      <p className="banner__text">
        <strong>The API is down.</strong> {message} Retrying every 10 seconds.
      </p>
      <button type="button" className="button button--light" onClick={onRetry}>
        Retry now
      </button>
    </div>
  );
}
