import type { Availability } from "./api/types";
import { formatDateTime } from "./format";

export type AvailabilityState = "hidden" | "scheduled" | "expired" | "limited" | "always";

/** Whether an item can appear in lists now, and why not, from its window and hidden flag. */
export function availabilityOf(
  item: Availability,
  now: Date = new Date(),
): { state: AvailabilityState; text: string } {
  const from = item.available_from ? new Date(item.available_from) : null;
  const until = item.available_until ? new Date(item.available_until) : null;
  if (item.hidden) return { state: "hidden", text: "Hidden" };
  if (from && from > now) {
    return { state: "scheduled", text: `Available from ${formatDateTime(item.available_from)}` };
  }
  if (until && until <= now) {
    return { state: "expired", text: `Expired ${formatDateTime(item.available_until)}` };
  }
  if (until) return { state: "limited", text: `Until ${formatDateTime(item.available_until)}` };
  return { state: "always", text: "Available" };
}
