/** Promotion rules (docs/rules.md): which fields each kind takes, and what the API said. */
import { ApiError } from "./api/client";
import type { Rule, RuleIn, RuleKind } from "./api/types";
import { formatDateTime } from "./format";

export type KindField = "filter" | "factor" | "share" | "content_id" | "position";

/** What each kind needs besides its name; `POST /rules` refuses another kind's fields. */
export const KIND_FIELDS: Record<RuleKind, readonly KindField[]> = {
  boost: ["filter", "factor"],
  reserve: ["filter", "share"],
  pin: ["content_id", "position"],
};

export const RULE_KINDS = Object.keys(KIND_FIELDS) as RuleKind[];

/** The form's text, field by field; `starts_at`/`ends_at` are `datetime-local` values. */
export interface RuleDraft extends Record<KindField, string> {
  name: string;
  kind: RuleKind;
  starts_at: string;
  ends_at: string;
}

export type DraftField = Exclude<keyof RuleDraft, "kind">;

export const EMPTY_DRAFT: RuleDraft = {
  name: "",
  kind: "boost",
  filter: "",
  factor: "",
  share: "",
  content_id: "",
  position: "",
  starts_at: "",
  ends_at: "",
};

const NUMERIC = new Set<KindField>(["factor", "share", "position"]);

/** A local time from the form as UTC ISO 8601; left out when empty. */
function instant(local: string): string | undefined {
  return local ? new Date(local).toISOString() : undefined;
}

/** The request body: the chosen kind's fields only, empty ones left out for the API to name. */
export function ruleBody(draft: RuleDraft): RuleIn {
  const body: Record<string, unknown> = { name: draft.name.trim(), kind: draft.kind };
  for (const field of KIND_FIELDS[draft.kind]) {
    const text = draft[field].trim();
    if (text) body[field] = NUMERIC.has(field) ? Number(text) : text;
  }
  const starts = instant(draft.starts_at);
  const ends = instant(draft.ends_at);
  if (starts) body.starts_at = starts;
  if (ends) body.ends_at = ends;
  return body as unknown as RuleIn;
}

const DRAFT_FIELDS = new Set<string>(Object.keys(EMPTY_DRAFT).filter((name) => name !== "kind"));

/**
 * The API's refusal, field by field where it names one: a 422's `details[].loc`, an
 * unparsable filter (400 `invalid_filter`), a name taken (409). The rest (a kind's missing
 * field, a window that ends before it starts) is for the form as a whole.
 */
export function fieldErrors(error: unknown): Partial<Record<DraftField, string>> {
  if (!(error instanceof ApiError)) return {};
  if (error.code === "invalid_filter") return { filter: error.message.replace(/^filter: /, "") };
  if (error.status === 409) return { name: error.message };
  if (error.status !== 422 || !Array.isArray(error.details)) return {};
  const errors: Partial<Record<DraftField, string>> = {};
  for (const detail of error.details as { loc?: unknown; msg?: unknown }[]) {
    const field = Array.isArray(detail.loc) ? detail.loc[1] : undefined;
    if (typeof field === "string" && DRAFT_FIELDS.has(field) && typeof detail.msg === "string") {
      errors[field as DraftField] ??= detail.msg;
    }
  }
  return errors;
}

/** Whether the server refused for want of an admin key (none, or one of a lesser role). */
export function needsAdmin(error: unknown): boolean {
  return error instanceof ApiError && (error.status === 401 || error.status === 403);
}

export const ADMIN_KEY_HINT =
  "Rules are for admins: enter an admin key under “API key” at the foot of the page.";

/** What a rule does, in words; the filter is shown beside it as code. */
export function ruleEffect(rule: Rule): string {
  switch (rule.kind) {
    case "boost":
      return `Scores × ${rule.factor} for items matching`;
    case "reserve":
      return `At least ${Number(((rule.share ?? 0) * 100).toFixed(2))}% of each list for items matching`;
    case "pin":
      return `Item ${rule.content_id} at position ${rule.position}`;
  }
}

export type RuleState = "active" | "scheduled" | "ended";

/** Whether a rule acts now, from its window. */
export function ruleWindow(rule: Rule, now: Date = new Date()): { state: RuleState; text: string } {
  const starts = rule.starts_at ? new Date(rule.starts_at) : null;
  const ends = rule.ends_at ? new Date(rule.ends_at) : null;
  const text =
    starts && ends
      ? `${formatDateTime(rule.starts_at)} – ${formatDateTime(rule.ends_at)}`
      : starts
        ? `From ${formatDateTime(rule.starts_at)}`
        : ends
          ? `Until ${formatDateTime(rule.ends_at)}`
          : "Always";
  if (starts && starts > now) return { state: "scheduled", text };
  if (ends && ends <= now) return { state: "ended", text };
  return { state: "active", text };
}
