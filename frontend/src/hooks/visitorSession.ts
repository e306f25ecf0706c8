/**
 * The anonymous visitor's session id, kept in the browser so a reload is the same visit. A merge
 * into a user ends the visit: the next anonymous visit starts a new session.
 */
const STORAGE_KEY = "contextiq.sessionId";

function newSessionId(): string {
  const random =
    typeof crypto !== "undefined" && "randomUUID" in crypto
      ? crypto.randomUUID()
      : `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`;
  return `visitor-${random}`;
}

function storage(): Storage | null {
  try {
    return window.localStorage;
  } catch {
    return null; // storage disabled: the visit lasts as long as the page
  }
}

/** The current visit's session id, created on first use. */
export function currentSessionId(): string {
  const stored = storage()?.getItem(STORAGE_KEY);
  if (stored) return stored;
  return startNewSession();
}

/** Forgets the current visit (after it was merged) and starts another. */
export function startNewSession(): string {
  const id = newSessionId();
  storage()?.setItem(STORAGE_KEY, id);
  return id;
}
