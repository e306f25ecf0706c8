import { ApiError } from "../api/client";
import type { UserProfile } from "../api/types";
import {
  INTERACTION_TYPES,
  formatCount,
  formatRelative,
  interactionPast,
  titleCase,
} from "../format";
import type { Resource } from "../hooks/useResource";
import { Panel } from "./Panel";
import { EmptyState, ErrorState, Loading } from "./States";

/** Every known type, zeros included, then any the server counts that this build does not know. */
function countEntries(counts: Record<string, number>): [string, number][] {
  const known = INTERACTION_TYPES.map((type): [string, number] => [type, counts[type] ?? 0]);
  const extra = Object.entries(counts).filter(
    ([type]) => !(INTERACTION_TYPES as string[]).includes(type),
  );
  return [...known, ...extra];
}

/** What the system knows about one user; the numbers the recommendations are built from. */
export function ProfileSummary({ profile }: { profile: UserProfile }) {
  const maxCategory = Math.max(1, ...profile.top_categories.map((entry) => entry.count));
  return (
    <div className="profile">
      <p className="profile__total">
        <span className="profile__total-number">{formatCount(profile.total)}</span> interactions
        {profile.last_seen ? <> · last active {formatRelative(profile.last_seen)}</> : null}
      </p>

      <h3 className="panel__subtitle">By type</h3>
      <dl className="counts">
        {countEntries(profile.counts).map(([type, count]) => (
          <div key={type} className={`counts__item counts__item--${type}`}>
            <dt>{titleCase(type)}</dt>
            <dd data-testid={`count-${type}`}>{formatCount(count)}</dd>
          </div>
        ))}
      </dl>

      <h3 className="panel__subtitle">Top categories</h3>
      {profile.top_categories.length === 0 ? (
        <p className="muted">No category signal yet.</p>
      ) : (
        <ol className="top-categories">
          {profile.top_categories.map((entry) => (
            <li key={entry.category} className="top-categories__item">
              <span className="top-categories__name">{entry.category}</span>
              <span className="top-categories__bar" aria-hidden="true">
                <span style={{ width: `${(entry.count / maxCategory) * 100}%` }} />
              </span>
              <span className="top-categories__count">{formatCount(entry.count)}</span>
            </li>
          ))}
        </ol>
      )}

      <h3 className="panel__subtitle">Recent</h3>
      {profile.recent.length === 0 ? (
        <p className="muted">Nothing yet: act on a recommendation to start the history.</p>
      ) : (
        <ul className="recent">
          {profile.recent.map((item) => (
            <li
              key={`${item.content_id}-${item.occurred_at}-${item.interaction_type}`}
              className="recent__item"
            >
              <span className={`recent__type recent__type--${item.interaction_type}`}>
                {interactionPast(item.interaction_type)}
              </span>
              <span className="recent__title">{item.title}</span>
              <span className="recent__when">
                <span className="visually-hidden">, </span>
                {formatRelative(item.occurred_at)}
              </span>
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}

/** The side panel: the fetched user's profile, or why there is none (yet). */
export function ProfilePanel({
  userId,
  profile,
  anonymous = false,
}: {
  userId: string | null;
  profile: Resource<UserProfile>;
  /** An anonymous visit is shown: it has no profile of its own until it is merged. */
  anonymous?: boolean;
}) {
  const shown = profile.data?.user_id === userId ? profile.data : null;
  return (
    <Panel
      title={<>Profile{userId ? <span className="panel__title-sub"> · {userId}</span> : null}</>}
      variant="side"
      aside
    >
      {anonymous ? (
        <p className="muted">
          An anonymous visit has no profile: its interactions already shape its recommendations, and
          join a user&apos;s profile when the visitor logs in.
        </p>
      ) : !userId ? (
        <p className="muted">The profile of the user you fetch appears here.</p>
      ) : shown ? (
        <ProfileSummary profile={shown} />
      ) : profile.error instanceof ApiError && profile.error.status === 404 ? (
        <EmptyState title="No history yet.">
          A new user: recommendations start from what is popular.
        </EmptyState>
      ) : profile.error ? (
        <ErrorState error={profile.error} onRetry={profile.reload} />
      ) : (
        <Loading label="Loading profile" rows={3} />
      )}
    </Panel>
  );
}
