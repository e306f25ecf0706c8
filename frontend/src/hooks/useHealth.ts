import { useCallback, useEffect, useState } from "react";
import { api } from "../api/client";
import type { Health } from "../api/types";

export interface HealthState {
  health: Health | null;
  error: Error | null;
  checkedAt: Date | null;
  refresh: () => void;
}

/** Polls /health so the header badges and the API-down banner stay live. */
export function useHealth(intervalMs = 10_000): HealthState {
  const [health, setHealth] = useState<Health | null>(null);
  const [error, setError] = useState<Error | null>(null);
  const [checkedAt, setCheckedAt] = useState<Date | null>(null);
  const [tick, setTick] = useState(0);

  useEffect(() => {
    const controller = new AbortController();
    api
      .health(controller.signal)
      .then((value) => {
        setHealth(value);
        setError(null);
      })
      .catch((cause: unknown) => {
        if (controller.signal.aborted) return;
        setError(cause instanceof Error ? cause : new Error(String(cause)));
      })
      .finally(() => {
        if (!controller.signal.aborted) setCheckedAt(new Date());
      });
    const timer = window.setTimeout(() => setTick((n) => n + 1), intervalMs);
    return () => {
      controller.abort();
      window.clearTimeout(timer);
    };
  }, [tick, intervalMs]);

  const refresh = useCallback(() => setTick((n) => n + 1), []);
  return { health, error, checkedAt, refresh };
}
