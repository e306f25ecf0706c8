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
  Rule,
  RuleIn,
  SessionMergeResult,
  SimilarResponse,
  UserProfile,
} from "./types";
import { boundedLimit, MAX_CONTENT_PAGE, MAX_RECOMMENDATIONS, MAX_SIMILAR } from "./limits";

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

const STORAGE_KEY = "contextiq.apiKey";

function tidy(key: string | null): string | null {
  return key && key.trim() ? key.trim() : null;
}

/** Read from this tab's storage when the module loads, so the first requests of a reloaded page
 * carry the key already, not only those made after the settings field has rendered. */
let apiKey: string | null = tidy(globalThis.sessionStorage?.getItem(STORAGE_KEY) ?? null);
let credentials = 0;
const credentialListeners = new Set<() => void>();

/** Every request sends this key (or user token) as `Authorization: Bearer`; the server checks it
 * on writes, and on reads too when it runs with CONTEXTIQ_AUTH_REQUIRED=true. Kept for this
 * browser tab. */
export function setApiKey(key: string | null): void {
  const next = tidy(key);
  if (next === apiKey) return;
  apiKey = next;
  if (next) globalThis.sessionStorage?.setItem(STORAGE_KEY, next);
  else globalThis.sessionStorage?.removeItem(STORAGE_KEY);
  credentials += 1;
  for (const listener of credentialListeners) listener();
}

export function getApiKey(): string {
  return apiKey ?? "";
}

/** Counts key changes, for `useSyncExternalStore`: a read the server refused retries on one. */
export function credentialsVersion(): number {
  return credentials;
}

export function onCredentialsChange(listener: () => void): () => void {
  credentialListeners.add(listener);
  return () => credentialListeners.delete(listener);
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

/** How long a call may take, the answer's body included, before it fails with `timeout`: a hung
 * server or proxy would otherwise leave a spinner up for good. */
export const REQUEST_TIMEOUT_MS = 30_000;

function isJson(response: Response): boolean {
  return /\bjson\b/i.test(response.headers.get("Content-Type") ?? "");
}

/** An answer that is not the API's JSON (a proxy's HTML page, a load balancer's 502). */
function notJson(response: Response): ApiError {
  const type = response.headers.get("Content-Type") || "no content type";
  return new ApiError(
    response.status,
    "not_json",
    `The server answered ${response.status} ${response.statusText} with ${type}, not the API's ` +
      "JSON: a proxy or another site may be answering in its place.",
  );
}

async function errorFrom(response: Response): Promise<ApiError> {
  if (!isJson(response)) return notJson(response);
  try {
    const body: unknown = await response.json();
    const error = (body as { error?: { code?: unknown; message?: unknown; details?: unknown } })
      .error;
    if (error && typeof error.code === "string" && typeof error.message === "string") {
      return new ApiError(response.status, error.code, error.message, error.details ?? null);
    }
  } catch (cause) {
    if (cause instanceof DOMException) throw cause; // aborted or timed out: handled by the caller
    return notJson(response);
  }
  return new ApiError(response.status, "http_error", `${response.status} ${response.statusText}`);
}

async function answer<T>(response: Response): Promise<T> {
  if (!response.ok) throw await errorFrom(response);
  if (response.status === 204) return undefined as T; // a delete's answer: no body, no type
  if (!isJson(response)) throw notJson(response);
  try {
    return (await response.json()) as T;
  } catch (cause) {
    if (cause instanceof DOMException) throw cause;
    throw notJson(response);
  }
}

export async function request<T>(
  path: string,
  init: RequestInit = {},
  base: string = API_BASE,
  timeoutMs: number = REQUEST_TIMEOUT_MS,
): Promise<T> {
  const headers = new Headers(init.headers);
  headers.set("Accept", "application/json");
  if (init.body !== undefined) headers.set("Content-Type", "application/json");
  if (apiKey && !headers.has("X-Admin-Key")) headers.set("Authorization", `Bearer ${apiKey}`);
  const timeout = AbortSignal.timeout(timeoutMs);
  const signal = init.signal ? AbortSignal.any([init.signal, timeout]) : timeout;
  try {
    return await answer<T>(await fetch(`${base}${path}`, { ...init, headers, signal }));
  } catch (cause) {
    if (cause instanceof ApiError) throw cause;
    if (timeout.aborted) {
      throw new ApiError(
        0,
        "timeout",
        `The Context IQ API did not answer within ${Math.round(timeoutMs / 1000)} s.`,
      );
    }
    if (cause instanceof DOMException && cause.name === "AbortError") throw cause;
    throw new ApiError(0, "unreachable", "The Context IQ API cannot be reached.");
  }
}

export const api = {
  health: (signal?: AbortSignal) => request<Health>("/health", { signal }),

  /** Lists join with commas (`categories=a,b`, `exclude=x,y`); empty ones are left out. One
   * category goes as `category`, which every server version knows. */
  recommendations: (
    { categories = [], exclude = [], limit, ...query }: RecommendationQuery,
    signal?: AbortSignal,
  ) =>
    request<Recommendations>(
      withQuery("/recommendations", {
        ...query,
        limit: limit === undefined ? undefined : boundedLimit(limit, MAX_RECOMMENDATIONS),
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

  /** A page of the catalogue: the first, or the one after a page's `next_cursor`. */
  content: (
    query: { category?: string | null; q?: string; limit: number; cursor?: string | null },
    signal?: AbortSignal,
  ) =>
    request<ContentPage>(
      withQuery("/content", { ...query, limit: boundedLimit(query.limit, MAX_CONTENT_PAGE) }),
      { signal },
    ),

  categories: (signal?: AbortSignal) => request<Categories>("/categories", { signal }),

  similar: (contentId: string, limit = 6, signal?: AbortSignal) =>
    request<SimilarResponse>(
      withQuery(`/content/${encodeURIComponent(contentId)}/similar`, {
        limit: boundedLimit(limit, MAX_SIMILAR),
      }),
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

  /** Promotion rules; reading them needs an admin key too, sent as the stored API key. */
  rules: (signal?: AbortSignal) => request<Rule[]>("/rules", { signal }),

  createRule: (body: RuleIn) =>
    request<Rule>("/rules", { method: "POST", body: JSON.stringify(body) }),

  deleteRule: (name: string) =>
    request<void>(`/rules/${encodeURIComponent(name)}`, { method: "DELETE" }),

  retrain: (adminKey: string) =>
    request<RetrainAccepted>("/models/retrain", {
      method: "POST",
      headers: { "X-Admin-Key": adminKey },
    }),
};
