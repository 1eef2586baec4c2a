import { z } from "zod";
import { startRolloutSchema } from "../approvals/schema";
import { expectFromVersionIdSchema } from "../registry/schema";
import { retryCanary, startCanary } from "../approvals/service";
import { appliedHere } from "../surfaces/configCache";
import { abortRollout, analyseRollouts, currentRollouts, listRollouts, pauseRollout, promoteRolloutNow, resumeRollout } from "../rollouts/service";
import { procedureFor, router } from "../trpc";
import { idString, int32, reasonSchema } from "../validation";

const surfaceKey = idString();
// `rolloutId`: the rollout the page showed (the console always sends it): a lever never acts on one
// started since (409 naming how it ended and what runs now). Optional for scripts: the surface's active one.
const lever = z.strictObject({ surface: surfaceKey, reason: reasonSchema, rolloutId: idString().optional() });

export const rolloutsRouter = router({
  list: procedureFor["console.read"]
    .input(z.strictObject({ surface: surfaceKey.optional(), limit: int32(1, 100).default(10) }))
    .query(({ ctx, input }) => listRollouts(ctx.db, input)),
  /** Every running or paused rollout and each surface's newest, active ones first (the On-call page's canary strips): no limit to crowd one out. */
  current: procedureFor["console.read"].query(({ ctx }) => currentRollouts(ctx.db)),
  /** Starts a canary; `expectFromVersionId`: the serving version the dialog showed (null: unset), a 409 if it moved since. */
  start: procedureFor["canary.start"].input(startRolloutSchema).mutation(({ ctx, input }) => appliedHere(startCanary(ctx, input), { surface: input.surface })),
  /**
   * Starts a new rollout like an ended one (same version, steps and policy); a change request where the surface requires approval.
   * `expectFromVersionId`: the serving version the retry dialog showed as the new canary's baseline (null: unset), a 409 if it moved since.
   */
  retry: procedureFor["canary.start"]
    .input(z.strictObject({ rolloutId: idString(), reason: reasonSchema, expectFromVersionId: expectFromVersionIdSchema }))
    .mutation(({ ctx, input }) => appliedHere(retryCanary(ctx, input), { surfaces: (retried) => [retried.surface] })),
  /** Stops judging; the canary keeps its share until resumed, promoted or aborted. */
  pause: procedureFor["canary.abort"].input(lever).mutation(({ ctx, input }) => appliedHere(pauseRollout(ctx.db, input, ctx.actor), { surface: input.surface })),
  resume: procedureFor["canary.resume"].input(lever).mutation(({ ctx, input }) => appliedHere(resumeRollout(ctx.db, input, ctx.actor), { surface: input.surface })),
  /** Promotes the canary now, skipping the remaining steps. */
  promote: procedureFor["canary.promote"].input(lever).mutation(({ ctx, input }) => appliedHere(promoteRolloutNow(ctx.db, input, ctx.actor), { surface: input.surface })),
  abort: procedureFor["canary.abort"].input(lever).mutation(({ ctx, input }) => appliedHere(abortRollout(ctx.db, input, ctx.actor), { surface: input.surface })),
  /** Judges every running rollout now instead of waiting for its next queued tick. */
  analyse: procedureFor["canary.start"].mutation(({ ctx }) => appliedHere(analyseRollouts(ctx.db, ctx.actor), { surfaces: (outcomes) => outcomes.map((o) => o.surface) })),
});
