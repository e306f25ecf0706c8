/** Sample API payloads typed by the generated schema, so a schema change breaks these first. */
import type { Health, ModelVersion, Recommendation, UserProfile } from "../../src/api/types";

export function recommendation(overrides: Partial<Recommendation> = {}): Recommendation {
  return {
    position: 1,
    content_id: "content_0001",
    title: "Deep Learning for Cooks",
    category: "technology",
    tags: ["ml", "food"],
    score: 0.74,
    ml_score: 0.82,
    llm_score: 0.61,
    reason: "Because you liked Pasta Physics",
    source: "embedding",
    ...overrides,
  };
}

export function health(overrides: Partial<Health["dependencies"]> = {}): Health {
  return {
    status: "ok",
    version: "0.1.0",
    dependencies: {
      llm: { status: "degraded", backend: "local", detail: "slow", latency_ms: 120.5 },
      database: { status: "ok", backend: "sqlite", latency_ms: 0.4 },
      cache: { status: "ok", backend: "memory" },
      events: { status: "down", backend: "kafka", detail: "no broker" },
      model: { status: "ok", backend: "files" },
      ...overrides,
    },
  };
}

export function profile(overrides: Partial<UserProfile> = {}): UserProfile {
  return {
    user_id: "user_001",
    total: 7,
    counts: { view: 3, like: 2, save: 1, share: 1 },
    top_categories: [
      { category: "technology", count: 4 },
      { category: "cooking", count: 2 },
    ],
    first_seen: "2026-11-01T10:00:00Z",
    last_seen: "2026-11-26T10:00:00Z",
    recent: [
      {
        content_id: "content_0002",
        title: "Pasta Physics",
        category: "cooking",
        interaction_type: "like",
        occurred_at: "2026-11-26T10:00:00Z",
      },
    ],
    ...overrides,
  };
}

export function modelVersion(
  version: string,
  day: number,
  metrics: Record<string, number>,
): ModelVersion {
  return {
    version,
    created_at: `2026-11-${String(day).padStart(2, "0")}T12:00:00Z`,
    status: "retired",
    metrics,
    n_users: 500,
    n_items: 2000,
    n_interactions: 20000,
    train_seconds: 12.5,
  };
}
