import { act, render, screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { ApiError, api, setApiKey } from "../../src/api/client";
import type { Rule } from "../../src/api/types";
import { RulesView } from "../../src/views/RulesView";

function rule(overrides: Partial<Rule> & Pick<Rule, "name" | "kind">): Rule {
  return {
    filter: null,
    factor: null,
    share: null,
    content_id: null,
    position: null,
    starts_at: null,
    ends_at: null,
    created_at: "2026-12-01T09:00:00Z",
    ...overrides,
  };
}

const RULES: Rule[] = [
  rule({ name: "summer-sale", kind: "boost", filter: "metadata.sale == true", factor: 1.5 }),
  rule({ name: "own-content", kind: "reserve", filter: 'metadata.publisher == "us"', share: 0.2 }),
  rule({
    name: "launch",
    kind: "pin",
    content_id: "c42",
    position: 1,
    starts_at: "2999-12-01T00:00:00Z",
  }),
];

function row(name: string): HTMLElement {
  return within(screen.getByRole("region", { name: "Rules table" })).getByRole("row", {
    name: new RegExp(`^${name}\\b`),
  });
}

afterEach(() => {
  setApiKey(null);
  vi.restoreAllMocks();
});

describe("RulesView", () => {
  it("lists each rule with what it does and when", async () => {
    vi.spyOn(api, "rules").mockResolvedValue(RULES);
    render(<RulesView active />);
    await screen.findByRole("region", { name: "Rules table" });
    expect(row("summer-sale")).toHaveTextContent("Scores × 1.5 for items matching");
    expect(within(row("summer-sale")).getByText("metadata.sale == true").tagName).toBe("CODE");
    expect(row("summer-sale")).toHaveTextContent("Active Always");
    expect(row("own-content")).toHaveTextContent("At least 20% of each list for items matching");
    expect(row("launch")).toHaveTextContent("Item c42 at position 1");
    expect(row("launch")).toHaveTextContent(/Scheduled\s*From /);
  });

  it("says when there is no rule", async () => {
    vi.spyOn(api, "rules").mockResolvedValue([]);
    render(<RulesView active />);
    expect(await screen.findByText(/No rules yet/)).toBeInTheDocument();
  });

  it("says an admin key is needed when refused, and reads again once one is entered", async () => {
    const rules = vi
      .spyOn(api, "rules")
      .mockRejectedValueOnce(new ApiError(401, "unauthorized", "this route needs an admin key"))
      .mockResolvedValue(RULES);
    render(<RulesView active />);
    const alert = await screen.findByRole("alert");
    expect(alert).toHaveTextContent("Rules need an admin key");
    expect(alert).toHaveTextContent("enter an admin key under “API key”");

    await act(async () => setApiKey("admin-key"));
    expect(await screen.findByRole("region", { name: "Rules table" })).toBeInTheDocument();
    expect(rules).toHaveBeenCalledTimes(2);
  });

  it("shows the chosen kind's fields and sends only those", async () => {
    vi.spyOn(api, "rules").mockResolvedValue([]);
    const created = vi
      .spyOn(api, "createRule")
      .mockResolvedValue(rule({ name: "launch", kind: "pin", content_id: "c42", position: 2 }));
    const user = userEvent.setup();
    render(<RulesView active />);
    const form = screen.getByRole("form", { name: "New rule" });
    const { getByLabelText, queryByLabelText } = within(form);

    // A boost: a filter and a factor, nothing of the other kinds.
    expect(getByLabelText("Filter")).toBeInTheDocument();
    expect(getByLabelText(/^Factor/)).toBeInTheDocument();
    expect(queryByLabelText(/^Share/)).not.toBeInTheDocument();
    expect(queryByLabelText("Content ID")).not.toBeInTheDocument();
    await user.type(getByLabelText("Filter"), "category == 'music'");

    await user.selectOptions(getByLabelText("Kind"), "reserve");
    expect(getByLabelText(/^Share/)).toBeInTheDocument();
    expect(queryByLabelText(/^Factor/)).not.toBeInTheDocument();

    await user.selectOptions(getByLabelText("Kind"), "pin");
    expect(queryByLabelText("Filter")).not.toBeInTheDocument();
    await user.type(getByLabelText(/^Name/), "launch");
    await user.type(getByLabelText("Content ID"), "c42");
    await user.type(getByLabelText(/^Position/), "2");
    await user.click(within(form).getByRole("button", { name: "Create rule" }));

    // The filter typed for the boost stays behind: a pin takes none.
    expect(created).toHaveBeenCalledWith({
      name: "launch",
      kind: "pin",
      content_id: "c42",
      position: 2,
    });
    expect(await screen.findByText("Created rule “launch”.")).toBeInTheDocument();
    expect(getByLabelText(/^Name/)).toHaveValue("");
  });

  it("shows the API's validation error beside the field it names", async () => {
    vi.spyOn(api, "rules").mockResolvedValue([]);
    vi.spyOn(api, "createRule").mockRejectedValue(
      new ApiError(422, "validation_error", "factor: Input should be greater than 0", [
        { loc: ["body", "factor"], msg: "Input should be greater than 0", type: "greater_than" },
      ]),
    );
    const user = userEvent.setup();
    render(<RulesView active />);
    const form = screen.getByRole("form", { name: "New rule" });
    await user.type(within(form).getByLabelText(/^Name/), "sale");
    await user.type(within(form).getByLabelText("Filter"), "metadata.sale");
    await user.type(within(form).getByLabelText(/^Factor/), "0");
    await user.click(within(form).getByRole("button", { name: "Create rule" }));

    const factor = within(form).getByLabelText(/^Factor/);
    await waitFor(() => expect(factor).toHaveAttribute("aria-invalid", "true"));
    expect(factor).toHaveAccessibleDescription("Input should be greater than 0");
    expect(within(form).getByLabelText("Filter")).toHaveAttribute("aria-invalid", "false");
    expect(within(form).getByRole("alert")).toHaveTextContent("The rule was not created");
  });

  it("shows an unparsable filter beside the filter and a kind's missing field above the button", async () => {
    vi.spyOn(api, "rules").mockResolvedValue([]);
    vi.spyOn(api, "createRule")
      .mockRejectedValueOnce(
        new ApiError(
          400,
          "invalid_filter",
          "filter: the expression ends too early (at character 13)",
          { message: "the expression ends too early", position: 13 },
        ),
      )
      .mockRejectedValueOnce(
        new ApiError(400, "bad_request", "a boost rule needs filter and factor"),
      );
    const user = userEvent.setup();
    render(<RulesView active />);
    const form = screen.getByRole("form", { name: "New rule" });
    await user.type(within(form).getByLabelText("Filter"), "metadata.x ==");
    await user.click(within(form).getByRole("button", { name: "Create rule" }));
    expect(await within(form).findByLabelText("Filter")).toHaveAccessibleDescription(
      "the expression ends too early (at character 13)",
    );

    await user.click(within(form).getByRole("button", { name: "Create rule" }));
    const alert = await within(form).findByRole("alert");
    await waitFor(() => expect(alert).toHaveTextContent("a boost rule needs filter and factor"));
    expect(within(form).getByLabelText("Filter")).toHaveAttribute("aria-invalid", "false");
  });

  it("deletes a rule once confirmed and reads the list again", async () => {
    const rules = vi
      .spyOn(api, "rules")
      .mockResolvedValueOnce(RULES)
      .mockResolvedValue(RULES.slice(1));
    const deleted = vi.spyOn(api, "deleteRule").mockResolvedValue(undefined);
    const user = userEvent.setup();
    render(<RulesView active />);
    await user.click(await screen.findByRole("button", { name: "Delete rule summer-sale" }));

    // Nothing goes before the confirmation; cancelling keeps the rule.
    const confirm = screen.getByRole("group", { name: "Confirm deleting rule summer-sale" });
    await user.click(within(confirm).getByRole("button", { name: "Cancel" }));
    expect(deleted).not.toHaveBeenCalled();

    await user.click(screen.getByRole("button", { name: "Delete rule summer-sale" }));
    await user.click(screen.getByRole("button", { name: "Yes, delete" }));
    expect(deleted).toHaveBeenCalledWith("summer-sale");
    expect(await screen.findByText("Deleted rule “summer-sale”.")).toBeInTheDocument();
    await waitFor(() =>
      expect(screen.queryByRole("row", { name: /^summer-sale\b/ })).not.toBeInTheDocument(),
    );
    expect(rules).toHaveBeenCalledTimes(2);
  });

  it("says a delete was refused for want of an admin key", async () => {
    vi.spyOn(api, "rules").mockResolvedValue(RULES);
    vi.spyOn(api, "deleteRule").mockRejectedValue(
      new ApiError(403, "forbidden", "this route needs the admin role"),
    );
    const user = userEvent.setup();
    render(<RulesView active />);
    await user.click(await screen.findByRole("button", { name: "Delete rule launch" }));
    await user.click(screen.getByRole("button", { name: "Yes, delete" }));
    expect(
      await screen.findByText(/Could not delete rule “launch”: this route needs the admin role/),
    ).toHaveTextContent("enter an admin key under “API key”");
  });
});
