import type { InteractionType, Recommendation, Recommendations, Subject } from "../api/types";
import type { PendingInteraction } from "../hooks/useRecommendations";
import type { Resource } from "../hooks/useResource";
import { RecommendationCard } from "./RecommendationCard";
import { EmptyState, ErrorState, Loading } from "./States";

interface Props {
  subject: Subject | null;
  /** How the subject is named on screen ("user_001", "anonymous visitor"). */
  label: string | null;
  /** Categories the list is restricted to, if any. */
  categories: string[];
  recommendations: Resource<Recommendations>;
  pending: PendingInteraction | null;
  onInteract: (item: Recommendation, type: InteractionType) => void;
}

/** The cards, or what to show instead: a prompt, a skeleton, an error or an empty list. */
/** Whether a fetched list is the subject's (and not the previous subject's). */
function belongsTo(data: Recommendations | null, subject: Subject): boolean {
  return (subject.kind === "user" ? data?.user_id : data?.session_id) === subject.id;
}

export function RecommendationList({
  subject,
  label,
  categories,
  recommendations,
  pending,
  onInteract,
}: Props) {
  if (!subject) {
    return (
      <EmptyState title="Whose recommendations?">
        Enter a user ID such as <code>user_001</code> and press Fetch Recommendations, or browse
        anonymously as a visitor who has not logged in.
      </EmptyState>
    );
  }
  // A list stays up while refreshing the same subject, never while switching subjects.
  if (recommendations.loading && !belongsTo(recommendations.data, subject)) {
    return <Loading label="Loading recommendations" rows={4} />;
  }
  if (recommendations.error) {
    return <ErrorState error={recommendations.error} onRetry={recommendations.reload} />;
  }
  const items = recommendations.data?.items ?? [];
  if (items.length === 0) {
    return (
      <EmptyState title="No recommendations to show.">
        {categories.length > 0
          ? `Nothing left in ${categories.map((c) => `“${c}”`).join(", ")} for ${label}. Try other categories.`
          : `${label} has seen everything we would suggest.`}
      </EmptyState>
    );
  }
  return (
    <div
      className={`rec-grid${recommendations.loading ? " rec-grid--refreshing" : ""}`}
      aria-busy={recommendations.loading}
      aria-label={`Recommendations for ${label}`}
      role="region"
    >
      {items.map((item, index) => (
        <RecommendationCard
          key={item.content_id}
          item={item}
          rank={index + 1}
          pending={pending?.contentId === item.content_id ? pending.type : null}
          onInteract={onInteract}
        />
      ))}
    </div>
  );
}
