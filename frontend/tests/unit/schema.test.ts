// @vitest-environment node
import { readFileSync } from "node:fs";
import openapiTS, { COMMENT_HEADER, astToString } from "openapi-typescript";

/**
 * The UI's API types (interaction types included) are generated from openapi.json, which a
 * Python test keeps equal to the app's schema; this closes the chain so neither can go stale.
 */
describe("generated API types", () => {
  it("match what openapi-typescript makes from openapi.json", async () => {
    const schema = new URL("../../openapi.json", import.meta.url);
    const generated = `${COMMENT_HEADER}${astToString(await openapiTS(schema, { silent: true }))}`;
    const committed = readFileSync(new URL("../../src/api/schema.d.ts", import.meta.url), "utf8");
    expect(committed, "stale: run `npm run gen:api` and commit src/api/schema.d.ts").toBe(
      generated,
    );
  });
});
