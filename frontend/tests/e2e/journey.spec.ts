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
  await first.getByRole("button", { name: "Like", exact: true }).click();
  await expect(page.getByRole("status").filter({ hasText: "recorded" })).toBeVisible();
  // The seed's own events may still be landing, so "went up" rather than "exactly +1".
  await expect.poll(async () => Number(await likeCount.textContent())).toBeGreaterThan(likesBefore);
  await expect(list.locator(`[data-content-id="${likedId}"]`)).toHaveCount(0);
  await expect(cards.first()).toBeVisible();
  await shot(page, "03-after-like", project);

  // 6: pick one category; every card is then of that category.
  const category = page.getByRole("group", { name: "Filters" }).getByRole("checkbox").first();
  const option = await category.inputValue();
  expect(option).toBeTruthy();
  await category.check();
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
  // From the skip link: User ID, then Fetch Recommendations, by Tab.
  await page.keyboard.press("Tab");
  await expect(page.getByLabel("User ID")).toBeFocused();
  await page.keyboard.type("user_002");
  await page.keyboard.press("Tab");
  await expect(page.getByRole("button", { name: "Fetch Recommendations" })).toBeFocused();
  await page.keyboard.press("Enter");
  const list = page.getByRole("region", { name: "Recommendations for user_002" });
  await expect(list.getByRole("article").first()).toBeVisible();
  // Then past the filters (categories, diversity, exclude-on-dislike) to the first card.
  const view = list.getByRole("article").first().getByRole("button", { name: "View" });
  for (
    let presses = 0;
    presses < 30 && !(await view.evaluate((n) => n === document.activeElement));
    presses++
  ) {
    await page.keyboard.press("Tab");
  }
  await expect(view).toBeFocused();
  const outline = await view.evaluate((node) => getComputedStyle(node).outlineStyle);
  expect(outline).toBe("solid");
  await page.keyboard.press("Enter");
  await expect(page.getByRole("status").filter({ hasText: "Viewed" })).toBeVisible();
});

test("an anonymous visitor is personalized at once and keeps the history on logging in", async ({
  page,
}, testInfo) => {
  const project = testInfo.project.name;
  const user = `e2e_visitor_${project}_${Date.now()}`;
  await page.goto("/");
  await page.getByRole("button", { name: "Browse anonymously" }).click();
  const list = page.getByRole("region", { name: "Recommendations for anonymous visitor" });
  const cards = list.getByRole("article");
  await expect(cards.first()).toBeVisible();
  await expect(page.getByText(/^Popular picks \(new visitor\)/)).toBeVisible();
  await expect(page.getByText(/An anonymous visit has no profile/)).toBeVisible();

  // One like and the visitor's next list is personalized, with no retraining.
  const liked = await cards.first().getAttribute("data-content-id");
  await cards.first().getByRole("button", { name: "Like", exact: true }).click();
  await expect(page.getByText(/^Personalized/)).toBeVisible();
  await expect(list.locator(`[data-content-id="${liked}"]`)).toHaveCount(0);

  // A dislike is excluded from the next list.
  await expect(list).toHaveAttribute("aria-busy", "false");
  const disliked = await cards.first().getAttribute("data-content-id");
  await cards.first().getByRole("button", { name: "Dislike" }).click();
  await expect(page.getByText("1 excluded from the next list.")).toBeVisible();
  await expect(list.locator(`[data-content-id="${disliked}"]`)).toHaveCount(0);
  await shot(page, "08-anonymous-visitor", project);

  // Logging in merges the visit into the user: their profile has both interactions.
  const visitor = page.getByRole("form", { name: "Anonymous visitor" });
  await visitor.getByLabel("Log in as user").fill(user);
  await visitor.getByRole("button", { name: "Log in" }).click();
  await expect(
    page.getByText(`Logged in as ${user}: 2 interactions from this visit moved.`),
  ).toBeVisible();
  const userList = page.getByRole("region", { name: `Recommendations for ${user}` });
  await expect(userList.getByRole("article").first()).toBeVisible();
  await expect(page.getByText(/^Personalized/)).toBeVisible();
  await expect(page.getByTestId("count-like")).toHaveText("1");
  await expect(page.getByTestId("count-dislike")).toHaveText("1");
  await expect(userList.locator(`[data-content-id="${liked}"]`)).toHaveCount(0);
  await shot(page, "09-logged-in", project);
});

test("an unreachable API shows a banner, not a blank page", async ({ page }, testInfo) => {
  await page.route("**/api/v1/**", (route) => route.abort("connectionrefused"));
  await page.goto("/");
  await expect(page.getByRole("alert").filter({ hasText: "The API is down" })).toBeVisible();
  await expect(page.getByRole("button", { name: "Fetch Recommendations" })).toBeVisible();
  await shot(page, "07-api-down", testInfo.project.name);
});
