import { expect, test } from "@playwright/test";

// A phone in portrait: the four tabs once ran past the screen's edge.
test.use({ viewport: { width: 375, height: 740 } });

test("at 375 px every tab is whole on screen and the page does not scroll sideways", async ({
  page,
}) => {
  await page.goto("/");
  const tabs = page.getByRole("navigation", { name: "Views" }).getByRole("link");
  await expect(tabs).toHaveCount(4);
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
