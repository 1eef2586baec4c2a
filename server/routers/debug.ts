import { z } from "zod";
import { assertSurfaceAllowed, callerOf } from "../auth/principal";
import { featureHealth } from "../debug/featureHealth";
import { inspectRequest, problemRequests } from "../debug/requestInspection";
import { rerank } from "../rerank/pipeline";
import { rerankRequestSchema } from "../rerank/schema";
import { procedureFor, router } from "../trpc";
import { idString, int32, text, timestamp } from "../validation";

const surfaceKey = idString();

export const debugRouter = router({
  featureHealth: procedureFor["requests.read"]
    .input(z.strictObject({ surface: idString(), requests: int32(10, 20_000).default(2000) }))
    .query(({ ctx, input }) => featureHealth(ctx.db, input)),
  /** A test request from the Debug page: served like rerank.rank, and its full scoring rows are always kept. */
  rerank: procedureFor["rerank.serve"].input(rerankRequestSchema).mutation(({ ctx, input }) => {
    assertSurfaceAllowed(ctx.principal, input.surface);
    return rerank(input, { keepScoringRows: true, caller: callerOf(ctx.principal) });
  }),
  request: procedureFor["requests.read"]
    .input(z.strictObject({ requestId: text(128).trim().min(1, "give a request id"), ts: timestamp().optional(), owner: text(200).optional() }))
    .query(({ ctx, input }) => inspectRequest(ctx.db, input)),
  problemRequests: procedureFor["requests.read"]
    .input(z.strictObject({ surface: surfaceKey, hours: z.number().min(0.1).max(24 * 7).default(1), limit: int32(1, 50).default(5) }))
    .query(({ ctx, input }) => problemRequests(ctx.db, input)),
});
