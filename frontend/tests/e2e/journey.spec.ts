import { expect, type Page, test } from "@playwright/test";

const SHOTS = "test-results/screenshots";

async function shot(page: Page, name: string, project: string) {
  await page.screenshot({ path: `${SHOTS}/${project}-${name}.png`, fullPage: true });
}

test("a user's recommendations, an interaction, the filter, the catalog and the model", async ({
  page,
}, testInfo) => {
  const project = testInfo.project.name;
  const errors: string[] = [];
  page.on("pageerror", (error) => errors.push(error.message));

  await page.goto("/");
  const badges = page.getByRole("list", { name: "Service health" });
  await expect(badges.getByRole("listitem")).toHaveCount(5);
  await shot(page, "01-start", project);

  // 1-2: enter user_001 and fetch.
  await page.getByLabel("User ID").fill("user_001");
  await page.getByRole("button", { name: "Fetch Recommendations" }).click();
  const list = page.getByRole("region", { name: "Recommendations for user_001" });
  const cards = list.getByRole("article");
  await expect(cards.first()).toBeVisible();
  const likeCount = page.getByTestId("count-like");
  await expect(likeCount).toBeVisible();
  await expect(list).toHaveAttribute("aria-busy", "false");
  await expect(cards.first().getByRole("meter", { name: "Blended score" })).toBeVisible();
  await shot(page, "02-recommendations", project);

  // 3-5: like the first item; the profile count goes up and the item leaves the list.
  const likesBefore = Number(await likeCount.textContent());
  const first = cards.first();
  const likedId = await first.getAttribute("data-content-id");
  expect(likedId).toBeTruthy();
  await first.getByRole("button", { name: "Like" }).click();
  await expect(page.getByRole("status").filter({ hasText: "recorded" })).toBeVisible();
  // The seed's own events may still be landing, so "went up" rather than "exactly +1".
  await expect.poll(async () => Number(await likeCount.textContent())).toBeGreaterThan(likesBefore);
  await expect(list.locator(`[data-content-id="${likedId}"]`)).toHaveCount(0);
  await expect(cards.first()).toBeVisible();
  await shot(page, "03-after-like", project);

  // 6: change the category filter; every card is then of that category.
  const category = page.getByLabel("Category");
  const option = await category.locator("option").nth(1).getAttribute("value");
  expect(option).toBeTruthy();
  await category.selectOption(option!);
  await expect(list).toHaveAttribute("aria-busy", "false");
  await expect(async () => {
    const shown = await list.locator(".pill--category").allTextContents();
    expect(shown.length).toBeGreaterThan(0);
    expect(new Set(shown)).toEqual(new Set([option]));
  }).toPass();
  await shot(page, "04-category-filter", project);

  // Catalog: browse, page, and open similar items.
  await page.getByRole("link", { name: "Catalog" }).click();
  const catalog = page.getByRole("region", { name: "Catalog" });
  await expect(catalog.getByRole("article").first()).toBeVisible();
  await expect(page.getByText("Page 1 of")).toBeVisible();
  await catalog.getByRole("button", { name: "Next →" }).click();
  await expect(page.getByText("Page 2 of")).toBeVisible();
  await catalog.getByRole("article").first().getByRole("button", { name: "Similar items" }).click();
  await expect(
    catalog.getByRole("list", { name: "Similar items" }).getByRole("listitem").first(),
  ).toBeVisible();
  await shot(page, "05-catalog", project);

  // 7: the model view.
  await page.getByRole("link", { name: "Model" }).click();
  await expect(page.getByRole("heading", { name: "Model", level: 2 })).toBeVisible();
  await expect(page.getByTestId("active-version")).not.toHaveText("none");
  await expect(page.getByRole("img", { name: /Metrics over \d+ model versions?/ })).toBeVisible();
  await expect(page.getByRole("button", { name: "Retrain" })).toBeVisible();
  await shot(page, "06-model", project);

  expect(errors).toEqual([]);
});

// Tagged @keyboard: the phone project leaves it out (see playwright.config.ts).
test("keyboard users can reach and use the controls with visible focus @keyboard", async ({
  page,
}) => {
  await page.goto("/");
  await page.keyboard.press("Tab");
  await expect(page.getByRole("link", { name: "Skip to content" })).toBeFocused();
  await page.keyboard.press("Enter");
  // From the skip link: User ID, then Category, then Fetch Recommendations, all by Tab.
  await page.keyboard.press("Tab");
  await expect(page.getByLabel("User ID")).toBeFocused();
  await page.keyboard.type("user_002");
  await page.keyboard.press("Tab");
  await expect(page.getByLabel("Category")).toBeFocused();
  await page.keyboard.press("Tab");
  await expect(page.getByRole("button", { name: "Fetch Recommendations" })).toBeFocused();
  await page.keyboard.press("Enter");
  const list = page.getByRole("region", { name: "Recommendations for user_002" });
  await expect(list.getByRole("article").first()).toBeVisible();
  await page.keyboard.press("Tab");
  const view = list.getByRole("article").first().getByRole("button", { name: "View" });
  await expect(view).toBeFocused();
  const outline = await view.evaluate((node) => getComputedStyle(node).outlineStyle);
  expect(outline).toBe("solid");
  await page.keyboard.press("Enter");
  await expect(page.getByRole("status").filter({ hasText: "Viewed" })).toBeVisible();
});

test("an unreachable API shows a banner, not a blank page", async ({ page }, testInfo) => {
  await page.route("**/api/v1/**", (route) => route.abort("connectionrefused"));
  await page.goto("/");
  await expect(page.getByRole("alert").filter({ hasText: "The API is down" })).toBeVisible();
  await expect(page.getByRole("button", { name: "Fetch Recommendations" })).toBeVisible();
  await shot(page, "07-api-down", testInfo.project.name);
});
