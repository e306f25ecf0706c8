import { expect, test } from "@playwright/test";

/** The server playwright.config.ts starts runs with this admin key. */
const ADMIN_KEY = "e2e-admin-key";

test("an admin pins an item with a rule, sees it first in a list, and deletes the rule", async ({
  page,
}, testInfo) => {
  const project = testInfo.project.name;
  const name = `e2e-pin-${project}-${Date.now()}`;
  const errors: string[] = [];
  page.on("pageerror", (error) => errors.push(error.message));

  // An item from user_003's list, not first: the pin is to bring it to the top.
  await page.goto("/");
  await page.getByLabel("User ID").fill("user_003");
  await page.getByRole("button", { name: "Fetch Recommendations" }).click();
  const list = page.getByRole("region", { name: "Recommendations for user_003" });
  await expect(list).toHaveAttribute("aria-busy", "false");
  const cards = list.getByRole("article");
  const pinned = await cards.nth(4).getAttribute("data-content-id");
  expect(pinned).toBeTruthy();
  expect(await cards.first().getAttribute("data-content-id")).not.toBe(pinned);

  // Without a key the rules are refused, and the view says what to do.
  await page.getByRole("link", { name: "Rules" }).click();
  const rules = page.getByRole("region", { name: "Rules" });
  await expect(rules.getByRole("alert")).toContainText("Rules need an admin key");
  await page.locator("summary").filter({ hasText: "API key" }).click();
  await page.getByLabel("API key or user token").fill(ADMIN_KEY);
  await expect(rules.getByRole("alert")).toHaveCount(0);

  // A pin takes a content ID and a position; the form shows no filter for it.
  const form = rules.getByRole("form", { name: "New rule" });
  await form.getByLabel(/^Name/).fill(name);
  await form.getByLabel("Kind").selectOption("pin");
  await expect(form.getByLabel("Filter")).toHaveCount(0);
  await form.getByLabel("Content ID").fill(pinned!);
  // Position 0 is the API's to refuse, beside the field.
  await form.getByLabel(/^Position/).fill("0");
  await form.getByRole("button", { name: "Create rule" }).click();
  await expect(form.getByLabel(/^Position/)).toHaveAttribute("aria-invalid", "true");
  await expect(form.getByRole("alert")).toContainText("The rule was not created");
  await form.getByLabel(/^Position/).fill("1");
  await form.getByRole("button", { name: "Create rule" }).click();
  await expect(rules.getByText(`Created rule “${name}”.`)).toBeVisible();
  const row = rules.getByRole("row", { name: new RegExp(`^${name}\\b`) });
  await expect(row).toContainText(`Item ${pinned} at position 1`);
  await expect(row).toContainText("Active");

  // The list puts the pinned item first and says why.
  await page.getByRole("link", { name: "Recommendations" }).click();
  await page.getByRole("button", { name: "Fetch Recommendations" }).click();
  await expect(list).toHaveAttribute("aria-busy", "false");
  await expect(cards.first()).toHaveAttribute("data-content-id", pinned!);
  await expect(cards.first()).toContainText(`Pinned by rule "${name}"`);

  // Deleted after a confirmation, it leaves the list of rules.
  await page.getByRole("link", { name: "Rules" }).click();
  await rules.getByRole("button", { name: `Delete rule ${name}` }).click();
  await rules.getByRole("button", { name: "Yes, delete" }).click();
  await expect(rules.getByText(`Deleted rule “${name}”.`)).toBeVisible();
  await expect(row).toHaveCount(0);

  expect(errors).toEqual([]);
});
