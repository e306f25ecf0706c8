// @vitest-environment node
import { readFileSync } from "node:fs";
import { api } from "../../src/api/client";
import { MAX_CONTENT_PAGE, MAX_RECOMMENDATIONS, MAX_SIMILAR } from "../../src/api/limits";

afterEach(() => vi.restoreAllMocks());

interface Parameter {
  name: string;
  schema: { maximum?: number };
}
type Paths = Record<string, { get: { parameters: Parameter[] } }>;

function maximumLimit(path: string): number | undefined {
  const schema = JSON.parse(
    readFileSync(new URL("../../openapi.json", import.meta.url), "utf8"),
  ) as { paths: Paths };
  return schema.paths[path]!.get.parameters.find((p) => p.name === "limit")!.schema.maximum;
}

describe("the API's limits", () => {
  it("are the maxima the API declares", () => {
    expect(MAX_RECOMMENDATIONS).toBe(maximumLimit("/api/v1/recommendations"));
    expect(MAX_CONTENT_PAGE).toBe(maximumLimit("/api/v1/content"));
    expect(MAX_SIMILAR).toBe(maximumLimit("/api/v1/content/{content_id}/similar"));
  });

  it("bound what the client asks for, so no list is refused with a 422", async () => {
    const fetched = vi
      .spyOn(globalThis, "fetch")
      .mockImplementation(
        async () =>
          new Response("{}", { status: 200, headers: { "Content-Type": "application/json" } }),
      );
    await api.recommendations({ user_id: "u1", limit: 500 });
    await api.content({ limit: 1000 });
    await api.similar("c1", 0);
    const limits = fetched.mock.calls.map(([url]) =>
      new URL(String(url), "http://x").searchParams.get("limit"),
    );
    expect(limits).toEqual([String(MAX_RECOMMENDATIONS), String(MAX_CONTENT_PAGE), "1"]);
  });
});
