import type { CategoryCount, Recommendations } from "../api/types";
import { NoticeLine } from "../components/NoticeLine";
import { Panel } from "../components/Panel";
import { ProfilePanel } from "../components/ProfilePanel";
import { RecommendationList } from "../components/RecommendationList";
import { UserPicker } from "../components/UserPicker";
import { useRecommendations } from "../hooks/useRecommendations";

/** Where the recommendations came from: personalized or popular, model, language model, cache. */
function provenance(data: Recommendations): string {
  return [
    data.personalized ? "Personalized" : "Popular picks (new user)",
    data.model_version ? `model ${data.model_version}` : null,
    data.llm_provider ? `LLM ${data.llm_provider}` : null,
    data.cached ? "cached" : null,
  ]
    .filter((part) => part !== null)
    .join(" · ");
}

export function RecommendationsView({ categories }: { categories: CategoryCount[] }) {
  const state = useRecommendations();
  const { data } = state.recommendations;
  return (
    <div className="layout-recs">
      <Panel title="Recommendations" variant="main" hint={data ? provenance(data) : null}>
        <UserPicker
          categories={categories}
          category={state.category}
          onCategoryChange={state.setCategory}
          onSubmit={state.fetchFor}
        />
        <NoticeLine notice={state.notice} />
        <RecommendationList
          userId={state.userId}
          category={state.category}
          recommendations={state.recommendations}
          pending={state.pending}
          onInteract={state.interact}
        />
      </Panel>
      <ProfilePanel userId={state.userId} profile={state.profile} />
    </div>
  );
}
