import { useEffect, useState } from "react";
import { setApiKey } from "../api/client";
import { TextField } from "./TextField";

const STORAGE_KEY = "contextiq.apiKey";

/** Needed when the server checks keys (on writes, or on everything with auth required); kept for this browser tab. */
export function ApiKeySettings() {
  const [key, setKey] = useState(() => window.sessionStorage.getItem(STORAGE_KEY) ?? "");

  useEffect(() => {
    setApiKey(key);
    if (key) window.sessionStorage.setItem(STORAGE_KEY, key);
    else window.sessionStorage.removeItem(STORAGE_KEY);
  }, [key]);

  return (
    <details className="settings">
      <summary>API key{key ? " (set)" : ""}</summary>
      <TextField
        label="API key or user token (sent with every request)"
        type="password"
        value={key}
        autoComplete="off"
        onChange={setKey}
      />
    </details>
  );
}
