import type { CategoryCount } from "../api/types";
import { CategoryMultiSelect } from "./CategoryMultiSelect";
import { DiversitySlider } from "./DiversitySlider";

interface Props {
  categories: CategoryCount[];
  picked: string[];
  onPick: (categories: string[]) => void;
  diversity: number | null;
  onDiversity: (value: number | null) => void;
  excludeDisliked: boolean;
  onExcludeDisliked: (on: boolean) => void;
  excluded: string[];
  onClearExcluded: () => void;
}

/** What the next list may contain: categories, variety, and items disliked here left out. */
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
