import { act, renderHook, waitFor } from "@testing-library/react";
import { ApiError, setApiKey } from "../../src/api/client";
import { useResource } from "../../src/hooks/useResource";

afterEach(() => {
  setApiKey(null);
  vi.restoreAllMocks();
});

describe("the API key", () => {
  it("once entered, reads again what the server refused without one", async () => {
    const load = vi
      .fn<() => Promise<string>>()
      .mockRejectedValueOnce(new ApiError(401, "unauthorized", "this server requires an API key"))
      .mockResolvedValue("categories");
    const { result } = renderHook(() => useResource("categories", load));
    await waitFor(() => expect(result.current.error).toBeInstanceOf(ApiError));

    act(() => setApiKey("read-key"));
    await waitFor(() => expect(result.current.data).toBe("categories"));
    expect(load).toHaveBeenCalledTimes(2);
  });

  it("leaves alone a read that did not fail for want of a key", async () => {
    const load = vi.fn<() => Promise<string>>().mockResolvedValue("categories");
    const { result } = renderHook(() => useResource("categories", load));
    await waitFor(() => expect(result.current.data).toBe("categories"));

    act(() => setApiKey("read-key"));
    expect(result.current.loading).toBe(false);
    expect(load).toHaveBeenCalledTimes(1);
  });

  it("kept in the tab, goes with the first requests of a reloaded page", async () => {
    window.sessionStorage.setItem("contextiq.apiKey", "kept-key");
    vi.resetModules();
    const fetched = vi
      .spyOn(globalThis, "fetch")
      .mockResolvedValue(
        new Response("{}", { status: 200, headers: { "Content-Type": "application/json" } }),
      );
    const client = await import("../../src/api/client");
    await client.api.categories();
    const headers = new Headers(fetched.mock.calls[0]?.[1]?.headers);
    expect(headers.get("Authorization")).toBe("Bearer kept-key");
    client.setApiKey(null);
    expect(window.sessionStorage.getItem("contextiq.apiKey")).toBeNull();
  });
});
