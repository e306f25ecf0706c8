import { useEffect, useRef, useState } from "react";
import { ApiError, api } from "../api/client";
import type { Rule } from "../api/types";
import { NoticeLine } from "../components/NoticeLine";
import { Panel } from "../components/Panel";
import { RuleForm } from "../components/RuleForm";
import { EmptyState, ErrorState, Loading } from "../components/States";
import { formatDateTime, titleCase } from "../format";
import { useNotice } from "../hooks/useNotice";
import { useResource } from "../hooks/useResource";
import { ADMIN_KEY_HINT, needsAdmin, ruleEffect, ruleWindow } from "../rules";

const STATE_PILLS = {
  active: "pill--limited",
  scheduled: "pill--scheduled",
  ended: "pill--expired",
};

/** Delete asks once more in the row itself: a rule gone changes every list at once. */
function DeleteButton({ name, onDelete }: { name: string; onDelete: () => Promise<void> }) {
  const [confirming, setConfirming] = useState(false);
  const [busy, setBusy] = useState(false);
  if (!confirming) {
    return (
      <button
        type="button"
        className="button button--ghost"
        aria-label={`Delete rule ${name}`}
        onClick={() => setConfirming(true)}
      >
        Delete
      </button>
    );
  }
  return (
    <span role="group" aria-label={`Confirm deleting rule ${name}`}>
      <button
        type="button"
        className="button button--primary"
        disabled={busy}
        onClick={() => {
          setBusy(true);
          void onDelete().finally(() => {
            setBusy(false);
            setConfirming(false);
          });
        }}
      >
        {busy ? "Deleting…" : "Yes, delete"}
      </button>{" "}
      <button
        type="button"
        className="button button--ghost"
        disabled={busy}
        onClick={() => setConfirming(false)}
      >
        Cancel
      </button>
    </span>
  );
}

function RulesTable({
  rules,
  onDelete,
}: {
  rules: Rule[];
  onDelete: (name: string) => Promise<void>;
}) {
  return (
    <div className="table-wrap" tabIndex={0} role="region" aria-label="Rules table">
      <table className="table">
        <thead>
          <tr>
            <th scope="col">Name</th>
            <th scope="col">Kind</th>
            <th scope="col">What it does</th>
            <th scope="col">When</th>
            <th scope="col">Created</th>
            <th scope="col">Actions</th>
          </tr>
        </thead>
        <tbody>
          {rules.map((rule) => {
            const when = ruleWindow(rule);
            return (
              <tr key={rule.name} data-rule={rule.name}>
                <th scope="row">{rule.name}</th>
                <td>{titleCase(rule.kind)}</td>
                <td className="table__prose">
                  {ruleEffect(rule)} {rule.filter ? <code>{rule.filter}</code> : null}
                </td>
                <td className="table__prose">
                  <span className={`pill ${STATE_PILLS[when.state]}`}>{titleCase(when.state)}</span>{" "}
                  {when.text}
                </td>
                <td>{formatDateTime(rule.created_at)}</td>
                <td>
                  <DeleteButton name={rule.name} onDelete={() => onDelete(rule.name)} />
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}

/** `active` is whether the view is on screen: each return to it reads the rules again. */
export function RulesView({ active }: { active: boolean }) {
  const rules = useResource("rules", (signal) => api.rules(signal));
  const [notice, showNotice] = useNotice();
  const { reload } = rules;
  const shownBefore = useRef(active);
  useEffect(() => {
    if (active && !shownBefore.current) reload();
    shownBefore.current = active;
  }, [active, reload]);

  async function remove(name: string) {
    try {
      await api.deleteRule(name);
      showNotice({ kind: "success", text: `Deleted rule “${name}”.` });
    } catch (cause) {
      const gone = cause instanceof ApiError && cause.status === 404;
      showNotice({
        kind: "error",
        text: gone
          ? `Rule “${name}” was deleted already.`
          : `Could not delete rule “${name}”: ${(cause as Error).message}${needsAdmin(cause) ? ` ${ADMIN_KEY_HINT}` : ""}`,
      });
    }
    reload();
  }

  const list = rules.data;
  return (
    <Panel
      title="Rules"
      variant="wide"
      hint="Boosts, reserved slots and pins applied to every list (docs/rules.md)"
    >
      {rules.loading && !list ? (
        <Loading label="Loading rules" rows={3} />
      ) : rules.error ? (
        <ErrorState
          error={rules.error}
          onRetry={rules.reload}
          title={needsAdmin(rules.error) ? "Rules need an admin key" : undefined}
        >
          {needsAdmin(rules.error) ? ADMIN_KEY_HINT : null}
        </ErrorState>
      ) : list && list.length > 0 ? (
        <RulesTable rules={list} onDelete={remove} />
      ) : (
        <EmptyState title="No rules yet: every list is the model's own ranking." />
      )}
      <NoticeLine notice={notice} />
      <h3 className="panel__subtitle">New rule</h3>
      <RuleForm
        onCreated={(rule) => {
          showNotice({ kind: "success", text: `Created rule “${rule.name}”.` });
          reload();
        }}
      />
    </Panel>
  );
}
