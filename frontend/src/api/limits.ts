/** The API's largest `limit` per list (its OpenAPI `maximum`; tests/unit/limits.test.ts checks them
 * against openapi.json). Asking for more is a 422, so the client never sends more. */
export const MAX_RECOMMENDATIONS = 100;
export const MAX_CONTENT_PAGE = 200;
export const MAX_SIMILAR = 100;

/** `wanted` brought within 1..`max`, as a whole number. */
export function boundedLimit(wanted: number, max: number): number {
  return Math.min(max, Math.max(1, Math.floor(wanted)));
}
