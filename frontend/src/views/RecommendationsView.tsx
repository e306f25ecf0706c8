import type { CategoryCount, Recommendations } from "../api/types";
import { NoticeLine } from "../components/NoticeLine";
import { Panel } from "../components/Panel";
import { ProfilePanel } from "../components/ProfilePanel";
import { RecommendationFilters } from "../components/RecommendationFilters";
import { RecommendationList } from "../components/RecommendationList";
import { UserPicker } from "../components/UserPicker";
import { VisitorBar } from "../components/VisitorBar";
import { useRecommendations } from "../hooks/useRecommendations";

/** Where the recommendations came from: personalized or popular, model, language model, cache. */
function provenance(data: Recommendations): string {
  const fallback = data.session_id ? "Popular picks (new visitor)" : "Popular picks (new user)";
  return [
    data.personalized ? "Personalized" : fallback,
    data.model_version ? `model ${data.model_version}` : null,
    data.llm_provider ? `LLM ${data.llm_provider}` : null,
    data.cached ? "cached" : null,
  ]
    .filter((part) => part !== null)
    .join(" · ");
}

export function RecommendationsView({
  categories,
  families = [],
}: {
  categories: CategoryCount[];
  /** Model families other than the serving one with a trained version (`GET /models`). */
  families?: string[];
}) {
  const state = useRecommendations();
  const { data } = state.recommendations;
  const { subject } = state;
  return (
    <div className="layout-recs">
      <Panel title="Recommendations" variant="main" hint={data ? provenance(data) : null}>
        <UserPicker onSubmit={state.fetchFor} onAnonymous={state.browseAnonymously} />
        {subject?.kind === "session" ? (
          <VisitorBar sessionId={subject.id} onLogIn={state.logIn} />
        ) : null}
        <RecommendationFilters
          categories={categories}
          picked={state.categories}
          onPick={state.setCategories}
          diversity={state.diversity}
          onDiversity={state.setDiversity}
          families={families}
          family={state.family}
          onFamily={state.setFamily}
          excludeDisliked={state.excludeDisliked}
          onExcludeDisliked={state.setExcludeDisliked}
          excluded={state.excluded}
          onClearExcluded={state.clearExcluded}
        />
        <NoticeLine notice={state.notice} />
        <RecommendationList
          subject={subject}
          label={state.label}
          categories={state.categories}
          recommendations={state.recommendations}
          pending={state.pending}
          onInteract={state.interact}
        />
      </Panel>
      <ProfilePanel
        userId={subject?.kind === "user" ? subject.id : null}
        profile={state.profile}
        anonymous={subject?.kind === "session"}
      />
    </div>
  );
}
