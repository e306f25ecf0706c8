import { useEffect, useState } from "react";
import { api } from "../api/client";
import type { InteractionType, Recommendation, Recommendations, UserProfile } from "../api/types";
import { interactionPast } from "../format";
import { type Notice, useNotice } from "./useNotice";
import { type Resource, useResource } from "./useResource";

/** Polls at 0.2, 0.4, 0.8, 1.6 s, then every 2 s: about 13 s for the worker before giving up. */
const PROFILE_SETTLE_TRIES = 9;
const PROFILE_SETTLE_MAX_MS = 2000;

export interface PendingInteraction {
  contentId: string;
  type: InteractionType;
}

export interface RecommendationsState {
  userId: string | null;
  category: string | null;
  recommendations: Resource<Recommendations>;
  profile: Resource<UserProfile>;
  /** The interaction being sent, if any; the cards disable their buttons meanwhile. */
  pending: PendingInteraction | null;
  notice: Notice | null;
  /** Shows `userId`'s recommendations, refetching even when it is the same user. */
  fetchFor: (userId: string) => void;
  setCategory: (category: string | null) => void;
  interact: (item: Recommendation, type: InteractionType) => Promise<void>;
}

/**
 * The recommendations screen's state: whose list, which category, the interaction in flight,
 * and a brief poll of the profile after an interaction, because its counts come from the worker
 * a moment after the API's 202.
 */
export function useRecommendations(): RecommendationsState {
  const [userId, setUserId] = useState<string | null>(null);
  const [category, setCategory] = useState<string | null>(null);
  const [version, setVersion] = useState(0);
  const [pending, setPending] = useState<PendingInteraction | null>(null);
  const [awaited, setAwaited] = useState<{ total: number; tries: number } | null>(null);
  const [notice, showNotice] = useNotice();

  const recommendations = useResource(
    userId ? `${userId}|${category ?? ""}|${version}` : null,
    (signal) => api.recommendations(userId!, category, 10, signal),
  );
  const profile = useResource(userId ? `${userId}|${version}` : null, (signal) =>
    api.profile(userId!, signal),
  );

  const { data: shown, loading: profileLoading, reload: reloadProfile } = profile;
  const settled =
    awaited === null ||
    (shown !== null && shown.total >= awaited.total) ||
    awaited.tries >= PROFILE_SETTLE_TRIES;
  useEffect(() => {
    if (settled || shown === null || profileLoading) return;
    const timer = window.setTimeout(
      () => {
        setAwaited({ total: awaited.total, tries: awaited.tries + 1 });
        reloadProfile();
      },
      Math.min(PROFILE_SETTLE_MAX_MS, 200 * 2 ** awaited.tries),
    );
    return () => window.clearTimeout(timer);
  }, [settled, awaited, shown, profileLoading, reloadProfile]);

  function fetchFor(next: string) {
    setAwaited(null);
    setUserId(next);
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
        setAwaited({ total: (shown?.total ?? 0) + 1, tries: 0 });
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

  return {
    userId,
    category,
    recommendations,
    profile,
    pending,
    notice,
    fetchFor,
    setCategory,
    interact,
  };
}
