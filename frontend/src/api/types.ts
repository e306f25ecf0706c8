/** Friendly names for the generated OpenAPI types, so components never restate API shapes. */
import type { components } from "./schema";

type Schemas = components["schemas"];

export type Health = Schemas["HealthResponse"];
export type DependencyStatus = Schemas["DependencyStatus"];
export type Recommendation = Schemas["RecommendationOut"];
export type Recommendations = Schemas["RecommendationsResponse"];
export type InteractionIn = Schemas["InteractionIn"];
export type InteractionAccepted = Schemas["InteractionAccepted"];
export type InteractionType = InteractionIn["interaction_type"];
export type UserProfile = Schemas["UserProfile"];
export type CategoryCount = Schemas["CategoryCount"];
export type Content = Schemas["ContentOut"];
export type ContentPage = Schemas["ContentPage"];
export type SimilarResponse = Schemas["SimilarResponse"];
export type ModelStatus = Schemas["ModelStatus"];
export type ModelVersion = Schemas["ModelVersionOut"];
export type RetrainAccepted = Schemas["RetrainAccepted"];
export type Categories = Schemas["CategoriesResponse"];
export type OnlineMetrics = Schemas["OnlineMetricsResponse"];
export type OnlineGroup = Schemas["OnlineGroup"];
export type ExperimentSummary = Schemas["ExperimentSummary"];
export type ExperimentList = Schemas["ExperimentList"];
export type ExperimentReport = Schemas["ExperimentReport"];
export type ArmReport = Schemas["ArmReport"];
export type TimelinePoint = Schemas["TimelinePoint"];
export type SessionMergeResult = Schemas["SessionMergeResult"];
export type Rule = Schemas["RuleOut"];
export type RuleIn = Schemas["RuleIn"];
export type RuleKind = RuleIn["kind"];

/** Whom a list is for: a user, or an anonymous visitor's session. */
export type Subject = { kind: "user"; id: string } | { kind: "session"; id: string };

/** `GET /recommendations`: exactly one of `user_id` and `session_id`, and the filters. */
export interface RecommendationQuery {
  user_id?: string;
  session_id?: string;
  limit?: number;
  categories?: string[];
  exclude?: string[];
  /** 0..1, maximal marginal relevance; left out, the server's default applies. */
  diversity?: number | null;
  /** A model family with a trained version (`GET /models` `families`); left out, the serving model. */
  model_family?: string | null;
}

/** Availability fields of an item (issue 15); optional so the UI works before a server has them. */
export interface Availability {
  available_from?: string | null;
  available_until?: string | null;
  hidden?: boolean;
}
