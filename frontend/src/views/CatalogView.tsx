import { useEffect, useId, useState } from "react";
import { api } from "../api/client";
import type { Availability, CategoryCount, Content } from "../api/types";
import { AvailabilityBadge } from "../components/AvailabilityBadge";
import { CategorySelect } from "../components/CategorySelect";
import { Panel } from "../components/Panel";
import { SimilarItems } from "../components/SimilarItems";
import { EmptyState, ErrorState, Loading } from "../components/States";
import { Tags } from "../components/Tags";
import { TextField } from "../components/TextField";
import { formatCount, formatDateTime } from "../format";
import { useResource } from "../hooks/useResource";

const PAGE_SIZE = 12;

/** Waits for typing to pause, so search does not fire a request per keystroke. */
function useDebounced<T>(value: T, delayMs: number): T {
  const [settled, setSettled] = useState(value);
  useEffect(() => {
    const timer = window.setTimeout(() => setSettled(value), delayMs);
    return () => window.clearTimeout(timer);
  }, [value, delayMs]);
  return settled;
}

function CatalogItem({ item }: { item: Content & Availability }) {
  const [open, setOpen] = useState(false);
  const panelId = useId();
  const titleId = `content-title-${item.content_id}`;
  return (
    <article
      className={`card content-card${open ? " content-card--open" : ""}${item.hidden ? " content-card--hidden" : ""}`}
      aria-labelledby={titleId}
    >
      <div className="content-card__head">
        <h3 id={titleId} className="content-card__title">
          {item.title}
        </h3>
        <span className="pill pill--category">{item.category}</span>
        <AvailabilityBadge item={item} />
      </div>
      {item.description ? <p className="content-card__desc">{item.description}</p> : null}
      <Tags tags={item.tags} max={4} />
      <div className="content-card__foot">
        <span className="muted small">
          <code>{item.content_id}</code> · {formatDateTime(item.created_at)}
        </span>
        <button
          type="button"
          className="button button--ghost"
          aria-expanded={open}
          aria-controls={panelId}
          onClick={() => setOpen((value) => !value)}
        >
          <span aria-hidden="true">{open ? "▾ " : "▸ "}</span>
          Similar items
        </button>
      </div>
      {open ? (
        <div id={panelId} className="content-card__similar">
          <SimilarItems contentId={item.content_id} />
        </div>
      ) : null}
    </article>
  );
}

export function CatalogView({ categories }: { categories: CategoryCount[] }) {
  const [category, setCategory] = useState<string | null>(null);
  const [search, setSearch] = useState("");
  // The cursor each page so far was read with (the first page's is null): Next adds the page's
  // `next_cursor`, Previous steps back one. A cursor reads from the index at any depth, where an
  // offset makes the database walk every row before the page.
  const [cursors, setCursors] = useState<(string | null)[]>([null]);
  const query = useDebounced(search.trim(), 300);

  // A new filter starts from the first page; adjusting during render avoids a stale fetch.
  const filterKey = `${category ?? ""}|${query}`;
  const [lastFilterKey, setLastFilterKey] = useState(filterKey);
  if (filterKey !== lastFilterKey) {
    setLastFilterKey(filterKey);
    setCursors([null]);
  }

  const pageIndex = cursors.length - 1;
  const cursor = cursors[pageIndex];
  const page = useResource(`${filterKey}|${cursor ?? ""}`, (signal) =>
    api.content({ category, q: query || undefined, limit: PAGE_SIZE, cursor }, signal),
  );

  const total = page.data?.total ?? 0;
  const offset = pageIndex * PAGE_SIZE;
  const pageCount = Math.max(1, Math.ceil(total / PAGE_SIZE));
  const items = page.data?.items ?? [];
  const nextCursor = page.data?.next_cursor ?? null;

  return (
    <Panel
      title="Catalog"
      variant="wide"
      hint={
        page.data
          ? total === 0
            ? "No matches"
            : `Showing ${formatCount(offset + 1)}–${formatCount(offset + items.length)} of ${formatCount(total)}`
          : null
      }
    >
      <form className="toolbar" role="search" onSubmit={(event) => event.preventDefault()}>
        <TextField
          label="Search titles"
          grow
          type="search"
          value={search}
          placeholder="Type to search"
          onChange={setSearch}
        />
        <CategorySelect categories={categories} value={category} onChange={setCategory} />
      </form>

      {page.loading && !page.data ? (
        <Loading label="Loading catalog" rows={4} />
      ) : page.error ? (
        <ErrorState error={page.error} onRetry={page.reload} />
      ) : items.length === 0 ? (
        <EmptyState title="No content matches.">
          Clear the search or pick another category.
        </EmptyState>
      ) : (
        <div
          className={`content-grid${page.loading ? " rec-grid--refreshing" : ""}`}
          aria-busy={page.loading}
        >
          {items.map((item) => (
            <CatalogItem key={item.content_id} item={item} />
          ))}
        </div>
      )}

      <nav className="pager" aria-label="Catalog pages">
        <button
          type="button"
          className="button button--ghost"
          disabled={pageIndex === 0 || page.loading}
          onClick={() => setCursors(cursors.slice(0, -1))}
        >
          ← Previous
        </button>
        <span className="pager__status" aria-live="polite">
          Page {formatCount(pageIndex + 1)} of {formatCount(pageCount)}
        </span>
        <button
          type="button"
          className="button button--ghost"
          disabled={nextCursor === null || page.loading}
          onClick={() => nextCursor !== null && setCursors([...cursors, nextCursor])}
        >
          Next →
        </button>
      </nav>
    </Panel>
  );
}
