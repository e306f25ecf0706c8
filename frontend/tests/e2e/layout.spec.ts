import { expect, test } from "@playwright/test";

// A phone in portrait: the tabs (four then) once ran past the screen's edge.
test.use({ viewport: { width: 375, height: 740 } });

test("at 375 px every tab is whole on screen and the page does not scroll sideways", async ({
  page,
}) => {
  await page.goto("/");
  const tabs = page.getByRole("navigation", { name: "Views" }).getByRole("link");
  await expect(tabs).toHaveCount(5);
  for (const tab of await tabs.all()) {
    const box = await tab.boundingBox();
    expect(box, `${await tab.textContent()} is laid out`).not.toBeNull();
    expect(box!.x, `${await tab.textContent()} starts on screen`).toBeGreaterThanOrEqual(0);
    expect(box!.x + box!.width, `${await tab.textContent()} ends on screen`).toBeLessThanOrEqual(
      375,
    );
    // Not clipped inside its own box either: the label fits the link.
    expect(await tab.evaluate((el) => el.scrollWidth <= el.clientWidth)).toBe(true);
  }
  const overflow = await page.evaluate(
    () => document.documentElement.scrollWidth - document.documentElement.clientWidth,
  );
  expect(overflow, "horizontal scroll in CSS pixels").toBe(0);
});

test("at 375 px the rules' table and form fit the screen, however long an option", async ({
  page,
}, testInfo) => {
  // Controls in a column once wrapped onto a line as wide as the longest rule kind, and the
  // table's hidden header once widened the page past the screen.
  const name = `e2e-layout-${testInfo.project.name}-${Date.now()}`;
  const admin = { Authorization: "Bearer e2e-admin-key" };
  const created = await page.request.post("/api/v1/rules", {
    headers: admin,
    data: { name, kind: "boost", filter: 'category in ["music", "art"]', factor: 1.5 },
  });
  expect(created.status()).toBe(201);
  await page.addInitScript(() => sessionStorage.setItem("contextiq.apiKey", "e2e-admin-key"));
  try {
    await page.goto("/#/rules");
    await expect(page.getByRole("row", { name: new RegExp(`^${name}\\b`) })).toBeVisible();
    const kind = page.getByRole("form", { name: "New rule" }).getByLabel("Kind");
    const box = await kind.boundingBox();
    expect(box!.x + box!.width, "the select ends on screen").toBeLessThanOrEqual(375);
    const overflow = await page.evaluate(
      () => document.documentElement.scrollWidth - document.documentElement.clientWidth,
    );
    expect(overflow, "horizontal scroll in CSS pixels").toBe(0);
  } finally {
    await page.request.delete(`/api/v1/rules/${name}`, { headers: admin });
  }
});
