import { useId } from "react";
import type { CategoryCount } from "../api/types";
import { formatCount } from "../format";

interface Props {
  categories: CategoryCount[];
  value: string | null;
  onChange: (category: string | null) => void;
}

export function CategorySelect({ categories, value, onChange }: Props) {
  const id = useId();
  return (
    <div className="field">
      <label htmlFor={id} className="field__label">
        Category
      </label>
      <select
        id={id}
        className="field__control"
        value={value ?? ""}
        onChange={(event) => onChange(event.target.value || null)}
      >
        <option value="">All categories</option>
        {categories.map((entry) => (
          <option key={entry.category} value={entry.category}>
            {entry.category} ({formatCount(entry.count)})
          </option>
        ))}
      </select>
    </div>
  );
}
