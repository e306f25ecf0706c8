// @vitest-environment node
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { ApiError, request, setApiKey } from "../../src/api/client";

/** A local HTTP server that answers like the API does, so the real fetch path is exercised. */
interface Seen {
  method: string;
  url: string;
  apiKey: string | undefined;
  body: string;
}

let server: Server;
let base: string;
const seen: Seen[] = [];

async function readBody(req: IncomingMessage): Promise<string> {
  let body = "";
  for await (const chunk of req) body += String(chunk);
  return body;
}

beforeAll(async () => {
  server = createServer(async (req, res) => {
    const body = await readBody(req);
    seen.push({
      method: req.method ?? "",
      url: req.url ?? "",
      apiKey: req.headers["authorization"] as string | undefined,
      body,
    });
    if (req.url?.startsWith("/api/v1/ok")) {
      res.writeHead(200, { "Content-Type": "application/json" });
      res.end(JSON.stringify({ fine: true }));
    } else if (req.url?.startsWith("/api/v1/invalid")) {
      res.writeHead(422, { "Content-Type": "application/json" });
      res.end(
        JSON.stringify({
          error: {
            code: "validation_error",
            message: "user_id: bad",
            details: [{ loc: ["user_id"] }],
          },
        }),
      );
    } else if (req.url?.startsWith("/api/v1/gone")) {
      res.writeHead(204); // as the API answers a delete: no body, no content type
      res.end();
    } else if (req.url?.startsWith("/api/v1/page")) {
      res.writeHead(200, { "Content-Type": "text/html; charset=utf-8" });
      res.end("<!doctype html><title>Sign in</title>");
    } else if (req.url?.startsWith("/api/v1/hang")) {
      res.writeHead(200, { "Content-Type": "application/json" }); // and never a body
    } else {
      res.writeHead(502, { "Content-Type": "text/html" });
      res.end("<h1>Bad gateway</h1>");
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/v1`;
});

afterAll(() => {
  server.closeAllConnections();
  return new Promise<void>((resolve) => server.close(() => resolve()));
});

beforeEach(() => {
  seen.length = 0;
  setApiKey(null);
});

describe("request", () => {
  it("returns the JSON body and sends the API key as a bearer token on every call", async () => {
    setApiKey(" secret ");
    await expect(request("/ok?x=1", {}, base)).resolves.toEqual({ fine: true });
    await request("/ok", { method: "POST", body: JSON.stringify({ a: 1 }) }, base);
    expect(seen).toEqual([
      { method: "GET", url: "/api/v1/ok?x=1", apiKey: "Bearer secret", body: "" },
      { method: "POST", url: "/api/v1/ok", apiKey: "Bearer secret", body: '{"a":1}' },
    ]);
  });

  it("turns the error envelope into an ApiError with code, message and details", async () => {
    const error = await request("/invalid", {}, base).catch((cause: unknown) => cause);
    expect(error).toBeInstanceOf(ApiError);
    expect(error).toMatchObject({
      status: 422,
      code: "validation_error",
      message: "user_id: bad",
      details: [{ loc: ["user_id"] }],
      unreachable: false,
    });
  });

  it("reports a proxy's non-JSON error as not_json with its status and content type", async () => {
    const error = await request("/elsewhere", {}, base).catch((cause: unknown) => cause);
    expect(error).toMatchObject({ status: 502, code: "not_json", unreachable: true });
    expect((error as ApiError).message).toMatch(
      /^The server answered 502 Bad Gateway with text\/html,/,
    );
  });

  it("answers a 204 No Content with nothing, not as a page that is not the API's", async () => {
    await expect(request("/gone", { method: "DELETE" }, base)).resolves.toBeUndefined();
  });

  it("reports an HTML page answered in the API's place as not_json, not a JSON syntax error", async () => {
    const error = await request("/page", {}, base).catch((cause: unknown) => cause);
    expect(error).toMatchObject({ status: 200, code: "not_json", unreachable: false });
    expect((error as ApiError).message).toContain("text/html; charset=utf-8");
    expect((error as ApiError).message).not.toMatch(/Unexpected token/);
  });

  it("gives up on a server that never finishes its answer with a timeout error", async () => {
    const error = await request("/hang", {}, base, 50).catch((cause: unknown) => cause);
    expect(error).toMatchObject({ status: 0, code: "timeout", unreachable: true });
    expect((error as ApiError).message).toMatch(/did not answer within/);
  });

  it("passes a caller's abort on as an AbortError, not an API error", async () => {
    const caller = new AbortController();
    const pending = request("/hang", { signal: caller.signal }, base).catch(
      (cause: unknown) => cause,
    );
    caller.abort();
    const error = await pending;
    expect(error).not.toBeInstanceOf(ApiError);
    expect(error).toMatchObject({ name: "AbortError" });
  });

  it("reports a refused connection as unreachable", async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const error = await request("/ok", {}, `http://127.0.0.1:${port}/api/v1`).catch(
      (cause: unknown) => cause,
    );
    expect(error).toMatchObject({ status: 0, code: "unreachable", unreachable: true });
  });
});
