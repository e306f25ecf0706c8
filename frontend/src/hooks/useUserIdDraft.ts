import { useState } from "react";
import { USER_ID_PATTERN, USER_ID_RULE } from "../identifiers";

/** A user-ID text field's draft, checked against the API's rule before any round trip. */
export function useUserIdDraft() {
  const [draft, setDraft] = useState("");
  const [inputError, setInputError] = useState<string | null>(null);

  /** The trimmed ID when it is valid; otherwise shows the rule and returns null. */
  function checked(): string | null {
    const value = draft.trim();
    if (!USER_ID_PATTERN.test(value)) {
      setInputError(USER_ID_RULE);
      return null;
    }
    setInputError(null);
    return value;
  }

  return { draft, setDraft, inputError, checked };
}
