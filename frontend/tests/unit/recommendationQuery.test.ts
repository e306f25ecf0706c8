import { api } from "../../src/api/client";

afterEach(() => vi.restoreAllMocks());

function answer(): Response {
  return new Response(JSON.stringify({ items: [] }), {
    status: 200,
    headers: { "Content-Type": "application/json" },
  });
}

describe("the recommendations query", () => {
  it("joins lists with commas, sends one category as `category`, leaves out what is unset", async () => {
    const fetched = vi.spyOn(globalThis, "fetch").mockImplementation(async () => answer());
    await api.recommendations({
      session_id: "visitor-1",
      limit: 10,
      categories: ["music", "art"],
      exclude: [],
      diversity: null,
    });
    await api.recommendations({ user_id: "u1", exclude: ["c1", "c2"], diversity: 0 });
    await api.recommendations({ user_id: "u1", categories: ["news"] });
    const urls = fetched.mock.calls.map(([url]) => new URL(String(url), "http://x"));
    expect(Object.fromEntries(urls[0]!.searchParams)).toEqual({
      session_id: "visitor-1",
      limit: "10",
      categories: "music,art",
    });
    expect(Object.fromEntries(urls[1]!.searchParams)).toEqual({
      user_id: "u1",
      exclude: "c1,c2",
      diversity: "0",
    });
    expect(Object.fromEntries(urls[2]!.searchParams)).toEqual({ user_id: "u1", category: "news" });
  });

  it("posts a merge to the user's path with the session in the body", async () => {
    const fetched = vi.spyOn(globalThis, "fetch").mockImplementation(async () => answer());
    await api.merge("user 1", "visitor-1");
    const [url, init] = fetched.mock.calls[0]!;
    expect(url).toBe("/api/v1/users/user%201/merge");
    expect(init?.method).toBe("POST");
    expect(JSON.parse(String(init?.body))).toEqual({ session_id: "visitor-1" });
  });
});
