import { useCallback, useEffect, useRef, useState } from "react";

export interface Notice {
  kind: "success" | "error";
  text: string;
}

/** A status line that clears itself after `visibleMs`, restarting the clock on each new one. */
export function useNotice(visibleMs = 5000): [Notice | null, (next: Notice) => void] {
  const [notice, setNotice] = useState<Notice | null>(null);
  const timer = useRef<number | undefined>(undefined);

  useEffect(() => () => window.clearTimeout(timer.current), []);

  const show = useCallback(
    (next: Notice) => {
      setNotice(next);
      window.clearTimeout(timer.current);
      timer.current = window.setTimeout(() => setNotice(null), visibleMs);
    },
    [visibleMs],
  );
  return [notice, show];
}
