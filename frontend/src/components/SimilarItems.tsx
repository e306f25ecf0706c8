import { api } from "../api/client";
import { useResource } from "../hooks/useResource";
import { ScoreBar } from "./ScoreBar";
import { EmptyState, ErrorState, Loading } from "./States";

export function SimilarItems({ contentId }: { contentId: string }) {
  const similar = useResource(contentId, (signal) => api.similar(contentId, 5, signal));
  if (similar.loading || (!similar.data && !similar.error)) {
    return <Loading label="Loading similar items" rows={2} />;
  }
  if (similar.error) return <ErrorState error={similar.error} onRetry={similar.reload} />;
  const items = similar.data?.items ?? [];
  if (items.length === 0) return <EmptyState title="No similar items found." />;
  // Similarity has no fixed scale, so bars are relative to the closest match; the number is raw.
  const top = Math.max(...items.map((item) => item.score), Number.EPSILON);
  return (
    <ol className="similar" aria-label="Similar items">
      {items.map((item) => (
        <li key={item.content_id} className="similar__item">
          <div className="similar__text">
            <span className="similar__title">{item.title}</span>
            <span className="pill pill--category">{item.category}</span>
          </div>
          <ScoreBar
            label="Similarity"
            kind="ml"
            value={item.score / top}
            text={item.score.toFixed(2)}
          />
        </li>
      ))}
    </ol>
  );
}
