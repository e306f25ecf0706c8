import type { Availability } from "../api/types";
import { availabilityOf } from "../availability";

/** An item's availability: hidden, not yet, expired, or until when; nothing when always on. */
export function AvailabilityBadge({ item }: { item: Availability }) {
  const { state, text } = availabilityOf(item);
  if (state === "always") return null;
  return (
    <span className={`pill pill--availability pill--${state}`} data-availability={state}>
      {text}
    </span>
  );
}
