import { useEffect, useState } from "react";
import { getApiKey, setApiKey } from "../api/client";
import { TextField } from "./TextField";

/** Needed when the server checks keys (on writes, or on everything with auth required); kept for this browser tab. */
export function ApiKeySettings() {
  const [key, setKey] = useState(getApiKey);

  useEffect(() => setApiKey(key), [key]);

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
