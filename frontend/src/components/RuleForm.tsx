import { type FormEvent, useId, useState } from "react";
import { api } from "../api/client";
import type { Rule, RuleKind } from "../api/types";
import {
  ADMIN_KEY_HINT,
  type DraftField,
  EMPTY_DRAFT,
  fieldErrors,
  KIND_FIELDS,
  type KindField,
  needsAdmin,
  RULE_KINDS,
  type RuleDraft,
  ruleBody,
} from "../rules";
import { ErrorState } from "./States";
import { TextField } from "./TextField";

const KIND_LABELS: Record<RuleKind, string> = {
  boost: "Boost: multiply matching items' scores",
  reserve: "Reserve: keep a share of each list for matching items",
  pin: "Pin: put one item at a position",
};

/** Each kind's own fields, as the form shows them. */
const FIELDS: Record<
  KindField,
  { label: string; type: string; placeholder: string; step?: string }
> = {
  filter: { label: "Filter", type: "text", placeholder: "e.g. metadata.sale == true" },
  factor: {
    label: "Factor (× score, up to 1000)",
    type: "number",
    placeholder: "1.5",
    step: "any",
  },
  share: { label: "Share of each list (0–1)", type: "number", placeholder: "0.2", step: "any" },
  content_id: { label: "Content ID", type: "text", placeholder: "e.g. content_0042" },
  position: { label: "Position (1–100)", type: "number", placeholder: "1", step: "1" },
};

/**
 * A new rule: only the chosen kind's fields are shown and sent. The API checks it; its
 * refusal shows beside the fields it names, the rest above the button.
 */
export function RuleForm({ onCreated }: { onCreated: (rule: Rule) => void }) {
  const kindId = useId();
  const [draft, setDraft] = useState<RuleDraft>(EMPTY_DRAFT);
  const [error, setError] = useState<Error | null>(null);
  const [busy, setBusy] = useState(false);
  const errors = fieldErrors(error);

  const set = (field: DraftField) => (value: string) => setDraft({ ...draft, [field]: value });

  function field(name: DraftField, label: string, input: Record<string, string> = {}) {
    return (
      <TextField
        key={name}
        label={label}
        value={draft[name]}
        onChange={set(name)}
        error={error ? (errors[name] ?? null) : undefined}
        autoComplete="off"
        spellCheck={false}
        grow={name === "filter"}
        {...input}
      />
    );
  }

  async function submit(event: FormEvent) {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const rule = await api.createRule(ruleBody(draft));
      setDraft({ ...EMPTY_DRAFT, kind: draft.kind });
      onCreated(rule);
    } catch (cause) {
      setError(cause instanceof Error ? cause : new Error(String(cause)));
    } finally {
      setBusy(false);
    }
  }

  return (
    <form className="toolbar" aria-label="New rule" onSubmit={submit} noValidate>
      {field("name", "Name (letters, digits, _ . : @ -)", { placeholder: "e.g. summer-sale" })}
      <div className="field">
        <label htmlFor={kindId} className="field__label">
          Kind
        </label>
        <select
          id={kindId}
          className="field__control"
          value={draft.kind}
          onChange={(event) => {
            setDraft({ ...draft, kind: event.target.value as RuleKind });
            setError(null);
          }}
        >
          {RULE_KINDS.map((kind) => (
            <option key={kind} value={kind}>
              {KIND_LABELS[kind]}
            </option>
          ))}
        </select>
      </div>
      {KIND_FIELDS[draft.kind].map((name) => {
        const { label, ...input } = FIELDS[name];
        return field(name, label, input);
      })}
      {field("starts_at", "Starts (local time, optional)", { type: "datetime-local" })}
      {field("ends_at", "Ends (local time, optional)", { type: "datetime-local" })}
      <button type="submit" className="button button--primary" disabled={busy}>
        {busy ? "Creating…" : "Create rule"}
      </button>
      <div className="toolbar__status">
        {error ? (
          <ErrorState
            error={error}
            title={
              needsAdmin(error) ? "Creating a rule needs an admin key" : "The rule was not created"
            }
          >
            {needsAdmin(error) ? ADMIN_KEY_HINT : null}
          </ErrorState>
        ) : null}
      </div>
    </form>
  );
}
