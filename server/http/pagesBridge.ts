import { TRPCError } from "@trpc/server";

// How the pages thread (Next.js on a worker thread of the server process: server/http/pagesThread.ts)
// calls tRPC procedures: every call is run by the serving thread, which owns the process's state
// (open model sessions, recent responses, the config cache, metrics, the telemetry writer), so a
// server component reads what the console's tRPC endpoint would answer. The thread's entry installs
// the bridge on its globalThis before Next.js loads (Next bundles its own copy of this module); the
// serving thread answers each call with the same procedures, guards and caller (the page request's
// headers) as /api/trpc. Input and output cross by structured clone, as values do in process (Dates,
// Maps, BigInts kept; any key, "constructor" too: superjson refused those, and a model whose metrics
// named one answered 500 on its page).

/** A call the pages thread posts to the serving thread. */
export interface BridgeCall {
  type: "rerank:pages-call";
  id: number;
  /** The procedure's dotted path, e.g. "models.get". */
  path: string;
  /** The procedure's input (structured clone). */
  input: unknown;
  /** The page request's headers (cookie, authorization, x-forwarded-for …) as [name, value] pairs. */
  headers: Array<[string, string]>;
}

/** The serving thread's answer: the result (structured clone), or the error's tRPC code and message. */
export type BridgeAnswer =
  | { type: "rerank:pages-answer"; id: number; ok: true; output: unknown }
  | { type: "rerank:pages-answer"; id: number; ok: false; code: TRPCError["code"]; message: string; retryAfterSeconds?: number };

/** What the pages thread's entry puts on globalThis: post a call, get its answer. */
export interface PagesBridge {
  call(path: string, input: unknown, headers: Headers): Promise<unknown>;
}

const holder = globalThis as unknown as { __rerankPagesBridge?: PagesBridge };

/** The bridge when this code runs on the pages thread; undefined on the serving thread (and in `npm run dev`, where Next.js runs there). */
export const pagesBridge = (): PagesBridge | undefined => holder.__rerankPagesBridge;

/** Installs the bridge on this thread (the pages thread's entry does, before Next.js loads). */
export function installPagesBridge(post: (call: BridgeCall) => void): (answer: BridgeAnswer) => void {
  let nextId = 1;
  const waiting = new Map<number, { resolve: (value: unknown) => void; reject: (error: unknown) => void }>();
  holder.__rerankPagesBridge = {
    call(path, input, headers) {
      const id = nextId++;
      return new Promise((resolve, reject) => {
        waiting.set(id, { resolve, reject });
        post({ type: "rerank:pages-call", id, path, input, headers: [...headers.entries()] });
      });
    },
  };
  return (answer) => {
    const call = waiting.get(answer.id);
    if (!call) return;
    waiting.delete(answer.id);
    if (answer.ok) call.resolve(answer.output);
    else {
      // A 503 that asks for a retry keeps saying when (server/http/routeErrors.ts reads the cause's).
      const cause = answer.retryAfterSeconds ? Object.assign(new Error(answer.message), { code: "RETRY_LATER", retryAfterSeconds: answer.retryAfterSeconds }) : undefined;
      call.reject(new TRPCError({ code: answer.code, message: answer.message, cause }));
    }
  };
}

type Procedure = (input?: unknown) => Promise<unknown>;

/**
 * A caller whose every procedure (`caller.models.get({ name })`) is run by the serving thread as
 * `headers`' sender; typed as the in-process caller it stands for.
 */
export function bridgedCaller<Caller>(bridge: PagesBridge, headers: Headers): Caller {
  const at = (path: string[]): unknown =>
    new Proxy((() => undefined) as unknown as Procedure, {
      get: (_target, key) => (typeof key === "string" && key !== "then" ? at([...path, key]) : undefined),
      apply: (_target, _this, args: unknown[]) => bridge.call(path.join("."), args[0], headers),
    });
  return at([]) as Caller;
}
