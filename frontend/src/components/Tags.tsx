export function Tags({ tags, max = 5 }: { tags: string[]; max?: number }) {
  if (tags.length === 0) return null;
  const shown = tags.slice(0, max);
  const hidden = tags.length - shown.length;
  return (
    <ul className="tags" aria-label="Tags">
      {shown.map((tag) => (
        <li key={tag} className="tag">
          #{tag}
        </li>
      ))}
      {hidden > 0 ? <li className="tag tag--more">+{hidden}</li> : null}
    </ul>
  );
}
