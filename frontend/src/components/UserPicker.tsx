import type { FormEvent } from "react";
import { useUserIdDraft } from "../hooks/useUserIdDraft";
import { TextField } from "./TextField";

interface Props {
  onSubmit: (userId: string) => void;
  /** Switches to this browser's anonymous visit. */
  onAnonymous: () => void;
}

/** Whose list: a user ID (only one the API would accept), or an anonymous visitor. */
export function UserPicker({ onSubmit, onAnonymous }: Props) {
  const { draft, setDraft, inputError, checked } = useUserIdDraft();

  function submit(event: FormEvent) {
    event.preventDefault();
    const value = checked();
    if (value !== null) onSubmit(value);
  }

  return (
    <form className="toolbar" onSubmit={submit} noValidate>
      <TextField
        label="User ID"
        grow
        value={draft}
        onChange={setDraft}
        error={inputError}
        placeholder="e.g. user_001"
        autoComplete="off"
        spellCheck={false}
      />
      <button type="submit" className="button button--primary">
        Fetch Recommendations
      </button>
      <button type="button" className="button button--ghost" onClick={onAnonymous}>
        Browse anonymously
      </button>
    </form>
  );
}
