import { type FormEvent, useState } from "react";
import { useUserIdDraft } from "../hooks/useUserIdDraft";
import { TextField } from "./TextField";

interface Props {
  sessionId: string;
  onLogIn: (userId: string) => Promise<void>;
}

/** Anonymous mode: the visit's session, and "log in", which merges the visit into a user. */
export function VisitorBar({ sessionId, onLogIn }: Props) {
  const { draft, setDraft, inputError, checked } = useUserIdDraft();
  const [busy, setBusy] = useState(false);

  async function submit(event: FormEvent) {
    event.preventDefault();
    const value = checked();
    if (value === null) return;
    setBusy(true);
    try {
      await onLogIn(value);
      setDraft("");
    } finally {
      setBusy(false);
    }
  }

  return (
    <form className="toolbar visitor" onSubmit={submit} noValidate aria-label="Anonymous visitor">
      <p className="visitor__who">
        <span className="pill pill--visitor">Anonymous visitor</span>{" "}
        <span className="muted small">
          session <code>{sessionId}</code>
        </span>
      </p>
      <TextField
        label="Log in as user"
        grow
        value={draft}
        onChange={setDraft}
        error={inputError}
        placeholder="e.g. user_001"
        autoComplete="off"
        spellCheck={false}
      />
      <button type="submit" className="button button--primary" disabled={busy} aria-busy={busy}>
        Log in
      </button>
    </form>
  );
}
