import { type FormEvent, useState } from "react";
import type { CategoryCount } from "../api/types";
import { CategorySelect } from "./CategorySelect";
import { TextField } from "./TextField";

/** Same rule as the API's identifiers, so a typo is caught before a round trip. */
const USER_ID_PATTERN = /^[A-Za-z0-9_.:@-]{1,128}$/;

interface Props {
  categories: CategoryCount[];
  category: string | null;
  onCategoryChange: (category: string | null) => void;
  onSubmit: (userId: string) => void;
}

/** The user ID and category toolbar; submits only an identifier the API would accept. */
export function UserPicker({ categories, category, onCategoryChange, onSubmit }: Props) {
  const [draft, setDraft] = useState("");
  const [inputError, setInputError] = useState<string | null>(null);

  function submit(event: FormEvent) {
    event.preventDefault();
    const value = draft.trim();
    if (!USER_ID_PATTERN.test(value)) {
      setInputError("Use letters, digits and _ . : @ - (up to 128 characters).");
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
      <CategorySelect categories={categories} value={category} onChange={onCategoryChange} />
      <button type="submit" className="button button--primary">
        Fetch Recommendations
      </button>
    </form>
  );
}
