/** Display helpers shared by the views; kept pure so tests can pin them down. */
import type { InteractionType } from "./api/types";

export function formatScore(value: number | null | undefined): string {
  if (value === null || value === undefined || Number.isNaN(value)) return "n/a";
  return value.toFixed(2);
}

/** Clamps to 0..1 so a stray score can never draw a bar past its track. */
export function unitFraction(value: number | null | undefined): number {
  if (value === null || value === undefined || Number.isNaN(value)) return 0;
  return Math.min(1, Math.max(0, value));
}

const DEPENDENCY_LABELS: Record<string, string> = {
  database: "Database",
  cache: "Cache",
  events: "Events",
  model: "Model",
  llm: "Language model",
};

export function dependencyLabel(name: string): string {
  return DEPENDENCY_LABELS[name] ?? titleCase(name);
}

export function titleCase(text: string): string {
  return text
    .replace(/[_-]+/g, " ")
    .replace(/\b\w/g, (letter) => letter.toUpperCase())
    .trim();
}

export function formatDateTime(iso: string | null | undefined): string {
  if (!iso) return "never";
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  return date.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
}

/** "3 min ago" style, falling back to the date for anything older than a week. */
export function formatRelative(iso: string | null | undefined, now: Date = new Date()): string {
  if (!iso) return "never";
  const date = new Date(iso);
  const seconds = Math.round((now.getTime() - date.getTime()) / 1000);
  if (Number.isNaN(seconds)) return iso;
  if (seconds < 45) return "just now";
  const minutes = Math.round(seconds / 60);
  if (minutes < 60) return `${minutes} min ago`;
  const hours = Math.round(minutes / 60);
  if (hours < 24) return `${hours} h ago`;
  const days = Math.round(hours / 24);
  if (days < 7) return `${days} d ago`;
  return formatDateTime(iso);
}

export function formatCount(value: number): string {
  return value.toLocaleString("en-US");
}

/** Keyed by the API's own union, so a new interaction type fails to compile until named here. */
const INTERACTION_PAST: Record<InteractionType, string> = {
  view: "Viewed",
  like: "Liked",
  save: "Saved",
  share: "Shared",
  dislike: "Disliked",
  skip: "Skipped",
};

/** Every interaction type, in the order the profile lists their counts. */
export const INTERACTION_TYPES = Object.keys(INTERACTION_PAST) as InteractionType[];

export function interactionPast(type: InteractionType): string {
  return INTERACTION_PAST[type];
}
