import { type FormEvent, useState } from "react";
import { USER_ID_PATTERN, USER_ID_RULE } from "../identifiers";
import { TextField } from "./TextField";

interface Props {
  onSubmit: (userId: string) => void;
  /** Switches to this browser's anonymous visit. */
  onAnonymous: () => void;
}

/** Whose list: a user ID (only one the API would accept), or an anonymous visitor. */
export function UserPicker({ onSubmit, onAnonymous }: Props) {
  const [draft, setDraft] = useState("");
  const [inputError, setInputError] = useState<string | null>(null);

  function submit(event: FormEvent) {
    event.preventDefault();
    const value = draft.trim();
    if (!USER_ID_PATTERN.test(value)) {
      setInputError(USER_ID_RULE);
      return;
    }
    setInputError(null);
    onSubmit(value);
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
