import type { CategoryCount } from "../api/types";
import { CategoryMultiSelect } from "./CategoryMultiSelect";
import { DiversitySlider } from "./DiversitySlider";

interface Props {
  categories: CategoryCount[];
  picked: string[];
  onPick: (categories: string[]) => void;
  diversity: number | null;
  onDiversity: (value: number | null) => void;
  /** Model families a request may name; the picker shows only when there are any. */
  families: string[];
  family: string | null;
  onFamily: (family: string | null) => void;
  excludeDisliked: boolean;
  onExcludeDisliked: (on: boolean) => void;
  excluded: string[];
  onClearExcluded: () => void;
}

/** What the next list may contain: categories, variety, the model family, and items disliked
 * here left out. */
export function RecommendationFilters(props: Props) {
  const count = props.excluded.length;
  return (
    <div className="toolbar toolbar--filters" role="group" aria-label="Filters">
      <CategoryMultiSelect
        categories={props.categories}
        value={props.picked}
        onChange={props.onPick}
      />
      <DiversitySlider value={props.diversity} onChange={props.onDiversity} />
      {props.families.length > 0 ? (
        <div className="field">
          <label htmlFor="model-family">Model family</label>
          <select
            id="model-family"
            value={props.family ?? ""}
            onChange={(event) => props.onFamily(event.target.value || null)}
          >
            <option value="">Serving model</option>
            {props.families.map((name) => (
              <option key={name} value={name}>
                {name}
              </option>
            ))}
          </select>
        </div>
      ) : null}
      <div className="field">
        <label className="check">
          <input
            type="checkbox"
            checked={props.excludeDisliked}
            onChange={(event) => props.onExcludeDisliked(event.target.checked)}
          />
          Exclude disliked items
        </label>
        <p className="muted small" aria-live="polite">
          {count === 0 ? "Nothing disliked yet." : `${count} excluded from the next list.`}
          {count > 0 ? (
            <>
              {" "}
              <button type="button" className="button-link" onClick={props.onClearExcluded}>
                Clear
              </button>
            </>
          ) : null}
        </p>
      </div>
    </div>
  );
}
