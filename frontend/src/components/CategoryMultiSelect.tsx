import type { CategoryCount } from "../api/types";
import { formatCount } from "../format";

interface Props {
  categories: CategoryCount[];
  value: string[];
  onChange: (categories: string[]) => void;
}

/** Any of several categories (`categories=a,b`); none picked means all of them. */
export function CategoryMultiSelect({ categories, value, onChange }: Props) {
  function toggle(category: string, on: boolean) {
    onChange(on ? [...value, category] : value.filter((c) => c !== category));
  }
  return (
    <fieldset className="field chips">
      <legend className="field__label">
        Categories{" "}
        <span className="muted small">
          {value.length === 0 ? "(all)" : `(${value.length} picked)`}
        </span>
      </legend>
      <div className="chips__list">
        {categories.map((entry) => {
          const on = value.includes(entry.category);
          return (
            <label key={entry.category} className={`chip${on ? " chip--on" : ""}`}>
              <input
                type="checkbox"
                className="chip__box"
                value={entry.category}
                checked={on}
                onChange={(event) => toggle(entry.category, event.target.checked)}
              />
              {entry.category}
              <span className="chip__count"> {formatCount(entry.count)}</span>
            </label>
          );
        })}
        {value.length > 0 ? (
          <button type="button" className="button button--ghost" onClick={() => onChange([])}>
            All categories
          </button>
        ) : null}
      </div>
    </fieldset>
  );
}
