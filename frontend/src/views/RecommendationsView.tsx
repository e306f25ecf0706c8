import { type FormEvent, useCallback, useEffect, useId, useRef, useState } from "react";
import { ApiError, api } from "../api/client";
import type { CategoryCount, InteractionType, Recommendation } from "../api/types";
import { CategorySelect } from "../components/CategorySelect";
import { ProfileSummary } from "../components/ProfilePanel";
import { RecommendationCard } from "../components/RecommendationCard";
import { EmptyState, ErrorState, Loading } from "../components/States";
import { interactionPast } from "../format";
import { useResource } from "../hooks/useResource";

/** Same rule as the API's identifiers, so a typo is caught before a round trip. */
const USER_ID_PATTERN = /^[A-Za-z0-9_.:@-]{1,128}$/;

/** Polls at 0.2, 0.4, 0.8, 1.6 s, then every 2 s: about 13 s for the worker before giving up. */
const PROFILE_SETTLE_TRIES = 9;
const PROFILE_SETTLE_MAX_MS = 2000;

interface Notice {
  kind: "success" | "error";
  text: string;
}

export function RecommendationsView({ categories }: { categories: CategoryCount[] }) {
  const inputId = useId();
  const [draft, setDraft] = useState("");
  const [userId, setUserId] = useState<string | null>(null);
  const [category, setCategory] = useState<string | null>(null);
  const [inputError, setInputError] = useState<string | null>(null);
  const [pending, setPending] = useState<{ contentId: string; type: InteractionType } | null>(null);
  const [notice, setNotice] = useState<Notice | null>(null);
  const [version, setVersion] = useState(0);
  const noticeTimer = useRef<number | undefined>(undefined);
  // Profile counts come from the worker, a moment after the 202; poll briefly until they catch up.
  const [awaitedTotal, setAwaitedTotal] = useState<{ total: number; tries: number } | null>(null);

  const recommendations = useResource(
    userId ? `${userId}|${category ?? ""}|${version}` : null,
    (signal) => api.recommendations(userId!, category, 10, signal),
  );
  const profile = useResource(userId ? `${userId}|${version}` : null, (signal) =>
    api.profile(userId!, signal),
  );

  useEffect(() => () => window.clearTimeout(noticeTimer.current), []);

  const { reload: reloadProfile } = profile;
  useEffect(() => {
    if (!awaitedTotal || !profile.data || profile.loading) return;
    if (profile.data.total >= awaitedTotal.total || awaitedTotal.tries >= PROFILE_SETTLE_TRIES) {
      setAwaitedTotal(null);
      return;
    }
    const timer = window.setTimeout(
      () => {
        setAwaitedTotal({ total: awaitedTotal.total, tries: awaitedTotal.tries + 1 });
        reloadProfile();
      },
      Math.min(PROFILE_SETTLE_MAX_MS, 200 * 2 ** awaitedTotal.tries),
    );
    return () => window.clearTimeout(timer);
  }, [awaitedTotal, profile.data, profile.loading, reloadProfile]);

  const showNotice = useCallback((next: Notice) => {
    setNotice(next);
    window.clearTimeout(noticeTimer.current);
    noticeTimer.current = window.setTimeout(() => setNotice(null), 5000);
  }, []);

  function submit(event: FormEvent) {
    event.preventDefault();
    const value = draft.trim();
    if (!USER_ID_PATTERN.test(value)) {
      setInputError("Use letters, digits and _ . : @ - (up to 128 characters).");
      return;
    }
    setInputError(null);
    setUserId(value);
    setVersion((n) => n + 1);
  }

  async function interact(item: Recommendation, type: InteractionType) {
    if (!userId) return;
    setPending({ contentId: item.content_id, type });
    try {
      const result = await api.interact({
        user_id: userId,
        content_id: item.content_id,
        interaction_type: type,
      });
      const duplicate = result.status === "duplicate" ? " (already recorded)" : "";
      if (result.status === "accepted") {
        setAwaitedTotal({ total: (profile.data?.total ?? 0) + 1, tries: 0 });
      }
      showNotice({
        kind: "success",
        text: `${interactionPast(type)} “${item.title}”: recorded${duplicate}.`,
      });
      setVersion((n) => n + 1);
    } catch (cause) {
      showNotice({
        kind: "error",
        text: `Could not record ${type} for “${item.title}”: ${(cause as Error).message}`,
      });
    } finally {
      setPending(null);
    }
  }

  const items = recommendations.data?.items ?? [];
  // Another user's list stays up while refreshing the same user, never while switching users.
  const firstLoad =
    recommendations.loading && recommendations.data?.user_id !== (userId ?? undefined);
  const shownProfile = profile.data?.user_id === userId ? profile.data : null;

  return (
    <div className="layout-recs">
      <section className="panel panel--main" aria-labelledby="recs-heading">
        <div className="panel__header">
          <h2 id="recs-heading" className="panel__title">
            Recommendations
          </h2>
          {recommendations.data ? (
            <p className="panel__hint">
              {recommendations.data.personalized ? "Personalized" : "Popular picks (new user)"}
              {recommendations.data.model_version
                ? ` · model ${recommendations.data.model_version}`
                : ""}
              {recommendations.data.llm_provider
                ? ` · LLM ${recommendations.data.llm_provider}`
                : ""}
              {recommendations.data.cached ? " · cached" : ""}
            </p>
          ) : null}
        </div>

        <form className="toolbar" onSubmit={submit} noValidate>
          <div className="field field--grow">
            <label htmlFor={inputId} className="field__label">
              User ID
            </label>
            <input
              id={inputId}
              className="field__control"
              value={draft}
              onChange={(event) => setDraft(event.target.value)}
              placeholder="e.g. user_001"
              autoComplete="off"
              spellCheck={false}
              aria-invalid={inputError !== null}
              aria-describedby={inputError ? `${inputId}-error` : undefined}
            />
            {inputError ? (
              <p id={`${inputId}-error`} className="field__error">
                {inputError}
              </p>
            ) : null}
          </div>
          <CategorySelect categories={categories} value={category} onChange={setCategory} />
          <button type="submit" className="button button--primary">
            Fetch Recommendations
          </button>
        </form>

        <div className={`notice-area`} aria-live="polite" role="status">
          {notice ? (
            <p className={`notice notice--${notice.kind}`}>
              <span aria-hidden="true">{notice.kind === "success" ? "✓ " : "✕ "}</span>
              {notice.text}
            </p>
          ) : null}
        </div>

        {!userId ? (
          <EmptyState title="Whose recommendations?">
            Enter a user ID such as <code>user_001</code> and press Fetch Recommendations.
          </EmptyState>
        ) : firstLoad ? (
          <Loading label="Loading recommendations" rows={4} />
        ) : recommendations.error ? (
          <ErrorState error={recommendations.error} onRetry={recommendations.reload} />
        ) : items.length === 0 ? (
          <EmptyState title="No recommendations to show.">
            {category
              ? `Nothing left in “${category}” for ${userId}. Try another category.`
              : `${userId} has seen everything we would suggest.`}
          </EmptyState>
        ) : (
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
                onInteract={interact}
              />
            ))}
          </div>
        )}
      </section>

      <aside className="panel panel--side" aria-labelledby="profile-heading">
        <div className="panel__header">
          <h2 id="profile-heading" className="panel__title">
            Profile{userId ? <span className="panel__title-sub"> · {userId}</span> : null}
          </h2>
        </div>
        {!userId ? (
          <p className="muted">The profile of the user you fetch appears here.</p>
        ) : shownProfile ? (
          <ProfileSummary profile={shownProfile} />
        ) : profile.error instanceof ApiError && profile.error.status === 404 ? (
          <EmptyState title="No history yet.">
            A new user: recommendations start from what is popular.
          </EmptyState>
        ) : profile.error ? (
          <ErrorState error={profile.error} onRetry={profile.reload} />
        ) : (
          <Loading label="Loading profile" rows={3} />
        )}
      </aside>
    </div>
  );
}
