import { useEffect, useState } from "react";
import { api } from "../api/client";
import type {
  InteractionType,
  Recommendation,
  Recommendations,
  Subject,
  UserProfile,
} from "../api/types";
import { interactionPast } from "../format";
import { type Notice, useNotice } from "./useNotice";
import { type Resource, useResource } from "./useResource";
import { currentSessionId, startNewSession } from "./visitorSession";

/** Polls at 0.2, 0.4, 0.8, 1.6 s, then every 2 s: about 13 s for the worker before giving up. */
const PROFILE_SETTLE_TRIES = 9;
const PROFILE_SETTLE_MAX_MS = 2000;

export interface PendingInteraction {
  contentId: string;
  type: InteractionType;
}

export interface RecommendationsState {
  /** Whose list: a user, or this browser's anonymous visit. */
  subject: Subject | null;
  /** How the subject is named on screen. */
  label: string | null;
  /** Categories the list is restricted to (any of them); empty for all. */
  categories: string[];
  /** 0..1 re-ranking for variety; null leaves the server's default. */
  diversity: number | null;
  /** The model family asked for; null: the serving model. */
  family: string | null;
  /** Items disliked here are sent as `exclude=` so the next list leaves them out. */
  excludeDisliked: boolean;
  excluded: string[];
  recommendations: Resource<Recommendations>;
  /** A user's profile; an anonymous visit has none until it is merged into a user. */
  profile: Resource<UserProfile>;
  /** The interaction being sent, if any; the cards disable their buttons meanwhile. */
  pending: PendingInteraction | null;
  notice: Notice | null;
  /** Shows `userId`'s recommendations, refetching even when it is the same user. */
  fetchFor: (userId: string) => void;
  /** Shows the anonymous visitor's recommendations (this browser's session). */
  browseAnonymously: () => void;
  /** Merges the anonymous visit into `userId` and shows that user. */
  logIn: (userId: string) => Promise<void>;
  setCategories: (categories: string[]) => void;
  setDiversity: (diversity: number | null) => void;
  setFamily: (family: string | null) => void;
  setExcludeDisliked: (on: boolean) => void;
  clearExcluded: () => void;
  interact: (item: Recommendation, type: InteractionType) => Promise<void>;
}

function subjectQuery(subject: Subject): { user_id: string } | { session_id: string } {
  return subject.kind === "user" ? { user_id: subject.id } : { session_id: subject.id };
}

/**
 * The recommendations screen's state: whose list (a user or an anonymous visit), the filters,
 * the interaction in flight, and a brief poll of the profile after an interaction, because its
 * counts come from the worker a moment after the API's 202.
 */
export function useRecommendations(): RecommendationsState {
  const [subject, setSubject] = useState<Subject | null>(null);
  const [categories, setCategories] = useState<string[]>([]);
  const [diversity, setDiversity] = useState<number | null>(null);
  const [family, setFamily] = useState<string | null>(null);
  const [excludeDisliked, setExcludeDisliked] = useState(true);
  const [excluded, setExcluded] = useState<string[]>([]);
  const [version, setVersion] = useState(0);
  const [pending, setPending] = useState<PendingInteraction | null>(null);
  const [awaited, setAwaited] = useState<{ total: number; tries: number } | null>(null);
  const [notice, showNotice] = useNotice();

  const sent = excludeDisliked ? excluded : [];
  const recommendations = useResource(
    subject
      ? [
          subject.kind,
          subject.id,
          categories.join(","),
          diversity,
          family,
          sent.join(","),
          version,
        ].join("|")
      : null,
    (signal) =>
      api.recommendations(
        {
          ...subjectQuery(subject!),
          limit: 10,
          categories,
          exclude: sent,
          diversity,
          model_family: family,
        },
        signal,
      ),
  );
  const userId = subject?.kind === "user" ? subject.id : null;
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

  function show(next: Subject) {
    setAwaited(null);
    if (next.kind !== subject?.kind || next.id !== subject.id) setExcluded([]);
    setSubject(next);
    setVersion((n) => n + 1);
  }

  function fetchFor(next: string) {
    show({ kind: "user", id: next });
  }

  function browseAnonymously() {
    show({ kind: "session", id: currentSessionId() });
  }

  async function logIn(next: string) {
    if (subject?.kind !== "session") return;
    try {
      const merged = await api.merge(next, subject.id);
      startNewSession(); // this visit now belongs to the user
      const moved = merged.moved === 1 ? "1 interaction" : `${merged.moved} interactions`;
      showNotice({
        kind: "success",
        text: `Logged in as ${next}: ${moved} from this visit moved.`,
      });
      show({ kind: "user", id: next });
    } catch (cause) {
      showNotice({
        kind: "error",
        text: `Could not log in as ${next}: ${(cause as Error).message}`,
      });
    }
  }

  async function interact(item: Recommendation, type: InteractionType) {
    if (!subject) return;
    setPending({ contentId: item.content_id, type });
    try {
      const result = await api.interact({
        ...subjectQuery(subject),
        content_id: item.content_id,
        interaction_type: type,
      });
      const duplicate = result.status === "duplicate" ? " (already recorded)" : "";
      if (result.status === "accepted" && subject.kind === "user") {
        setAwaited({ total: (shown?.total ?? 0) + 1, tries: 0 });
      }
      if (type === "dislike") {
        setExcluded((ids) => (ids.includes(item.content_id) ? ids : [...ids, item.content_id]));
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
    subject,
    label: subject === null ? null : subject.kind === "user" ? subject.id : "anonymous visitor",
    categories,
    diversity,
    family,
    excludeDisliked,
    excluded,
    recommendations,
    profile,
    pending,
    notice,
    fetchFor,
    browseAnonymously,
    logIn,
    setCategories,
    setDiversity,
    setFamily,
    setExcludeDisliked,
    clearExcluded: () => setExcluded([]),
    interact,
  };
}
