/** Thin fetch wrapper: one place that knows the base path, auth headers and the error envelope. */
import type {
  Categories,
  ContentPage,
  ExperimentList,
  ExperimentReport,
  Health,
  InteractionAccepted,
  InteractionIn,
  ModelStatus,
  OnlineMetrics,
  RecommendationQuery,
  Recommendations,
  RetrainAccepted,
  SessionMergeResult,
  SimilarResponse,
  UserProfile,
} from "./types";

export const API_BASE = "/api/v1";

/** A failed call; status 0 means the API could not be reached at all. */
export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly details: unknown;

  constructor(status: number, code: string, message: string, details: unknown = null) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    this.details = details;
  }

  get unreachable(): boolean {
    return this.status === 0 || this.status === 502 || this.status === 503 || this.status === 504;
  }
}

let apiKey: string | null = null;

/** Every request sends this key (or user token) as `Authorization: Bearer`; the server checks it
 * on writes, and on reads too when it runs with CONTEXTIQ_AUTH_REQUIRED=true. */
export function setApiKey(key: string | null): void {
  apiKey = key && key.trim() ? key.trim() : null;
}

type Query = Record<string, string | number | undefined | null>;

function withQuery(path: string, query: Query = {}): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value !== undefined && value !== null && value !== "") params.set(key, String(value));
  }
  const text = params.toString();
  return text ? `${path}?${text}` : path;
}

async function errorFrom(response: Response): Promise<ApiError> {
  try {
    const body: unknown = await response.json();
    const error = (body as { error?: { code?: unknown; message?: unknown; details?: unknown } })
      .error;
    if (error && typeof error.code === "string" && typeof error.message === "string") {
      return new ApiError(response.status, error.code, error.message, error.details ?? null);
    }
  } catch {
    // Not our JSON envelope (a proxy page, for instance): fall through to the status line.
  }
  return new ApiError(response.status, "http_error", `${response.status} ${response.statusText}`);
}

export async function request<T>(
  path: string,
  init: RequestInit = {},
  base: string = API_BASE,
): Promise<T> {
  const headers = new Headers(init.headers);
  headers.set("Accept", "application/json");
  if (init.body !== undefined) headers.set("Content-Type", "application/json");
  if (apiKey && !headers.has("X-Admin-Key")) headers.set("Authorization", `Bearer ${apiKey}`);
  let response: Response;
  try {
    response = await fetch(`${base}${path}`, { ...init, headers });
  } catch (cause) {
    if (cause instanceof DOMException && cause.name === "AbortError") throw cause;
    throw new ApiError(0, "unreachable", "The Context IQ API cannot be reached.");
  }
  if (!response.ok) throw await errorFrom(response);
  return (await response.json()) as T;
}

export const api = {
  health: (signal?: AbortSignal) => request<Health>("/health", { signal }),

  /** Lists join with commas (`categories=a,b`, `exclude=x,y`); empty ones are left out. One
   * category goes as `category`, which every server version knows. */
  recommendations: (
    { categories = [], exclude = [], ...query }: RecommendationQuery,
    signal?: AbortSignal,
  ) =>
    request<Recommendations>(
      withQuery("/recommendations", {
        ...query,
        ...(categories.length === 1
          ? { category: categories[0] }
          : { categories: categories.join(",") }),
        exclude: exclude.join(","),
      }),
      { signal },
    ),

  /** Moves an anonymous session's interactions to the user (idempotent). */
  merge: (userId: string, sessionId: string) =>
    request<SessionMergeResult>(`/users/${encodeURIComponent(userId)}/merge`, {
      method: "POST",
      body: JSON.stringify({ session_id: sessionId }),
    }),

  interact: (body: InteractionIn) =>
    request<InteractionAccepted>("/interact", { method: "POST", body: JSON.stringify(body) }),

  profile: (userId: string, signal?: AbortSignal) =>
    request<UserProfile>(`/user-profile/${encodeURIComponent(userId)}`, { signal }),

  content: (
    query: { category?: string | null; q?: string; limit: number; offset: number },
    signal?: AbortSignal,
  ) => request<ContentPage>(withQuery("/content", query), { signal }),

  categories: (signal?: AbortSignal) => request<Categories>("/categories", { signal }),

  similar: (contentId: string, limit = 6, signal?: AbortSignal) =>
    request<SimilarResponse>(
      withQuery(`/content/${encodeURIComponent(contentId)}/similar`, { limit }),
      { signal },
    ),

  models: (signal?: AbortSignal) => request<ModelStatus>("/models", { signal }),

  onlineMetrics: (by: "model_version" | "arm" | "day", signal?: AbortSignal) =>
    request<OnlineMetrics>(withQuery("/metrics/online", { by }), { signal }),

  experiments: (signal?: AbortSignal) => request<ExperimentList>("/experiments", { signal }),

  experiment: (name: string, signal?: AbortSignal) =>
    request<ExperimentReport>(`/experiments/${encodeURIComponent(name)}`, { signal }),

  stopExperiment: (name: string, adminKey: string, promote: boolean) =>
    request<ExperimentReport>(`/experiments/${encodeURIComponent(name)}/stop`, {
      method: "POST",
      headers: { "X-Admin-Key": adminKey },
      body: JSON.stringify({ promote }),
    }),

  retrain: (adminKey: string) =>
    request<RetrainAccepted>("/models/retrain", {
      method: "POST",
      headers: { "X-Admin-Key": adminKey },
    }),
};
