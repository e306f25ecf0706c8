import type { InteractionType, Recommendation, Recommendations } from "../api/types";
import type { PendingInteraction } from "../hooks/useRecommendations";
import type { Resource } from "../hooks/useResource";
import { RecommendationCard } from "./RecommendationCard";
import { EmptyState, ErrorState, Loading } from "./States";

interface Props {
  userId: string | null;
  category: string | null;
  recommendations: Resource<Recommendations>;
  pending: PendingInteraction | null;
  onInteract: (item: Recommendation, type: InteractionType) => void;
}

/** The cards, or what to show instead: a prompt, a skeleton, an error or an empty list. */
export function RecommendationList({
  userId,
  category,
  recommendations,
  pending,
  onInteract,
}: Props) {
  if (!userId) {
    return (
      <EmptyState title="Whose recommendations?">
        Enter a user ID such as <code>user_001</code> and press Fetch Recommendations.
      </EmptyState>
    );
  }
  // Another user's list stays up while refreshing the same user, never while switching users.
  if (recommendations.loading && recommendations.data?.user_id !== userId) {
    return <Loading label="Loading recommendations" rows={4} />;
  }
  if (recommendations.error) {
    return <ErrorState error={recommendations.error} onRetry={recommendations.reload} />;
  }
  const items = recommendations.data?.items ?? [];
  if (items.length === 0) {
    return (
      <EmptyState title="No recommendations to show.">
        {category
          ? `Nothing left in “${category}” for ${userId}. Try another category.`
          : `${userId} has seen everything we would suggest.`}
      </EmptyState>
    );
  }
  return (
    <div
      className={`rec-grid${recommendations.loading ? " rec-grid--refreshing" : ""}`}
      aria-busy={recommendations.loading}
      aria-label={`Recommendations for ${userId}`}
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
