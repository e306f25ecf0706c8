import { useCallback, useEffect, useEffectEvent, useState, useSyncExternalStore } from "react";
import { ApiError, credentialsVersion, onCredentialsChange } from "../api/client";

export interface Resource<T> {
  data: T | null;
  error: Error | null;
  loading: boolean;
  reload: () => void;
}

/** What the last finished request for `key` (at reload `generation`) brought back. */
interface Outcome<T> {
  key: string | null;
  generation: number;
  data: T | null;
  error: Error | null;
}

/**
 * Loads data whenever `key` changes, cancelling stale requests so a slow answer never
 * overwrites a newer one. A null key means "nothing to load yet". While a new request runs the
 * last data stays, so a refresh never blanks the screen; `loading` is derived, not stored.
 */
export function useResource<T>(
  key: string | null,
  load: (signal: AbortSignal) => Promise<T>,
): Resource<T> {
  const [generation, setGeneration] = useState(0);
  const [outcome, setOutcome] = useState<Outcome<T>>({
    key: null,
    generation: 0,
    data: null,
    error: null,
  });
  const fetchFor = useEffectEvent(load);

  // Nothing to load: forget the last answer (adjusting state while rendering, as React advises).
  if (key === null && (outcome.data !== null || outcome.error !== null)) {
    setOutcome({ key: null, generation, data: null, error: null });
  }

  // A read the server refused (401, 403) is read again once the API key changes: what reads it
  // once (the category list, say) has no "Try again" and would stay empty until a page reload.
  const credentials = useSyncExternalStore(onCredentialsChange, credentialsVersion);
  const [triedWith, setTriedWith] = useState(credentials);
  if (credentials !== triedWith) {
    setTriedWith(credentials);
    const refused = outcome.error instanceof ApiError && [401, 403].includes(outcome.error.status);
    if (refused) setGeneration((n) => n + 1);
  }

  useEffect(() => {
    if (key === null) return;
    const controller = new AbortController();
    fetchFor(controller.signal)
      .then((value) => {
        if (controller.signal.aborted) return;
        setOutcome({ key, generation, data: value, error: null });
      })
      .catch((cause: unknown) => {
        if (controller.signal.aborted) return;
        const error = cause instanceof Error ? cause : new Error(String(cause));
        setOutcome((last) => ({ key, generation, data: last.data, error }));
      });
    return () => controller.abort();
  }, [key, generation]);

  const reload = useCallback(() => setGeneration((n) => n + 1), []);
  if (key === null) return { data: null, error: null, loading: false, reload };
  const loading = outcome.key !== key || outcome.generation !== generation;
  return { data: outcome.data, error: loading ? null : outcome.error, loading, reload };
}
