import type { InteractionType, Recommendation } from "../api/types";
import { ScoreBar } from "./ScoreBar";
import { Tags } from "./Tags";

export const CARD_ACTIONS: { type: InteractionType; label: string; icon: string }[] = [
  { type: "view", label: "View", icon: "◉" },
  { type: "like", label: "Like", icon: "♥" },
  { type: "save", label: "Save", icon: "★" },
  { type: "share", label: "Share", icon: "↗" },
  { type: "dislike", label: "Dislike", icon: "✕" },
];

interface Props {
  item: Recommendation;
  rank: number;
  /** The action being sent for this card, if any; its button shows progress and all are disabled. */
  pending: InteractionType | null;
  onInteract: (item: Recommendation, type: InteractionType) => void;
}

export function RecommendationCard({ item, rank, pending, onInteract }: Props) {
  const titleId = `rec-title-${item.content_id}`;
  return (
    <article className="card rec-card" aria-labelledby={titleId} data-content-id={item.content_id}>
      <header className="rec-card__head">
        <span className="rec-card__rank" aria-label={`Rank ${rank}`}>
          {rank}
        </span>
        <div className="rec-card__heading">
          <h3 id={titleId} className="rec-card__title">
            {item.title}
          </h3>
          <p className="rec-card__meta">
            <span className="pill pill--category">{item.category}</span>
            <span className="rec-card__source">via {item.source}</span>
          </p>
        </div>
      </header>
      <Tags tags={item.tags} />
      <p className="rec-card__reason">
        <span className="rec-card__reason-label">Why: </span>
        {item.reason}
      </p>
      <div className="scores">
        <ScoreBar label="ML" kind="ml" value={item.ml_score} />
        <ScoreBar label="LLM" kind="llm" value={item.llm_score} />
        <ScoreBar label="Blended" kind="blended" value={item.score} />
      </div>
      <div className="rec-card__actions">
        {CARD_ACTIONS.map((action) => (
          <button
            key={action.type}
            type="button"
            className={`button button--action button--${action.type}`}
            disabled={pending !== null}
            aria-busy={pending === action.type}
            onClick={() => onInteract(item, action.type)}
          >
            <span aria-hidden="true" className="button__icon">
              {pending === action.type ? "…" : action.icon}
            </span>
            {action.label}
          </button>
        ))}
      </div>
    </article>
  );
}
