import { useEffect, useId, useState } from "react";
import { setApiKey } from "../api/client";

const STORAGE_KEY = "contextiq.apiKey";

/** Needed when the server checks keys (on writes, or on everything with auth required); kept for this browser tab. */
export function ApiKeySettings() {
  const inputId = useId();
  const [key, setKey] = useState(() => window.sessionStorage.getItem(STORAGE_KEY) ?? "");

  useEffect(() => {
    setApiKey(key);
    if (key) window.sessionStorage.setItem(STORAGE_KEY, key);
    else window.sessionStorage.removeItem(STORAGE_KEY);
  }, [key]);

  return (
    <details className="settings">
      <summary>API key{key ? " (set)" : ""}</summary>
      <div className="field">
        <label htmlFor={inputId} className="field__label">
          API key or user token (sent with every request)
        </label>
        <input
          id={inputId}
          type="password"
          className="field__control"
          value={key}
          autoComplete="off"
          onChange={(event) => setKey(event.target.value)}
        />
      </div>
    </details>
  );
}
