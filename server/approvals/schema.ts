import { z } from "zod";
import { validateSteps } from "../domain/rollouts/canary";
import { experimentInputSchema, shownAllocationSchema, shownDecisionSchema, shownExperimentSchema, shownShipFields } from "../experiments/schema";
import { aliasNameSchema, expectFromVersionIdSchema } from "../registry/schema";
import { stage2ConfigSchema } from "../surfaces/stage2.schema";
import { decimal, idString, int32, reasonSchema } from "../validation";

// The production changes a surface can require a second person for, as stored on a change request
// and applied on approval. One schema: the direct mutations take the same shapes.

const surfaceKey = idString();
const reason = reasonSchema;

export const startRolloutSchema = z.strictObject({
  surface: surfaceKey,
  version: int32(1),
  /** Percentages of traffic, rising, each in [0.1, 100) (validateSteps): a bad one is a 400 naming `steps[i]`, a change request included. */
  steps: z.array(decimal(0, 100)).min(1).max(10).superRefine((steps, ctx) => {
    const invalid = validateSteps(steps);
    if (invalid) ctx.addIssue({ code: "custom", message: invalid.message, path: invalid.step === null ? [] : [invalid.step] });
  }).optional(),
  minRequests: int32(10, 1_000_000).optional(),
  minImpressions: int32(10, 100_000_000).optional(),
  maxLatencyIncrease: decimal(0, 100).optional(),
  /** Older name of maxLatencyIncrease (stored change requests use it). */
  maxP99Increase: decimal(0, 100).optional(),
  /** Tolerated absolute rise of the share of canary requests slower than the baseline's p99 (0.01 = one point). */
  maxTailShareIncrease: decimal(0, 1).optional(),
  maxFallbackRateIncrease: decimal(0, 1).optional(),
  maxCtrDecrease: decimal(0, 1).optional(),
  /**
   * Minutes a step may wait for its minimum samples: past it, a required metric still short of its
   * sample (latency, tail, fallbacks; CTR where the surface sends outcome events) pauses the rollout
   * for on-call (JudgePolicy.stepDeadlineMinutes); the metrics with data may still fail the step, but
   * it never advances or promotes without the missing one.
   */
  stepDeadlineMinutes: int32(1, 10_080).optional(),
  /**
   * The id of the version the surface's serving alias pointed at when the dialog showed it (null: unset): the
   * baseline the canary is judged against and promoted over. If the alias moved since, a 409 and nothing starts.
   * Absent: not checked (scripts). A change request pins it when filed if the filer left it out.
   */
  expectFromVersionId: expectFromVersionIdSchema,
  reason,
});

export const changePayloadSchema = z.discriminatedUnion("kind", [
  z.strictObject({ kind: z.literal("alias_move"), versionId: idString(), alias: aliasNameSchema, expectFromVersionId: expectFromVersionIdSchema }),
  z.strictObject({ kind: z.literal("canary_start"), rollout: startRolloutSchema.omit({ reason: true }) }),
  /** Promotes the running or paused canary of `surface` now (rollouts.promote) where the promotion reaches a guarded surface its start was not approved for. `rolloutId`: pinned when filed. */
  z.strictObject({ kind: z.literal("canary_promote"), surface: surfaceKey, rolloutId: idString().optional() }),
  /**
   * Starts (or resumes) a draft or stopped experiment. `expectPhase`, `expectAllocation`, `expectDecision`:
   * the phase, allocation and decision rule (primary metric, guardrails, engine, minimum detectable
   * effect) the filer's page showed (what a direct start sends): a request over a change made since is
   * refused when filed (409 naming what changed). Each omitted: not checked when filed; the request pins
   * all three as they are when filed (its summary names the decision rule), and an approval over a change since is refused.
   */
  z.strictObject({ kind: z.literal("experiment_start"), key: idString(63), expectPhase: int32().optional(), expectAllocation: shownAllocationSchema.optional(), expectDecision: shownDecisionSchema.optional() }),
  /**
   * Restarts a running or stopped experiment with changes (experiments.restart): `experiment` is its whole
   * changed definition, as experiments.restart takes it (checked as a direct restart checks it when filed);
   * a new analysis phase starts, running. What it was filed against is pinned (phase, status, definition).
   * `expectBefore`: the experiment as the filer's form loaded it (a request over a change made since is refused when filed).
   */
  z.strictObject({ kind: z.literal("experiment_restart"), key: idString(63), experiment: experimentInputSchema, expectBefore: shownExperimentSchema.optional() }),
  /** `expectVersionId`, `expectPhase`, `expectBlockers`: what the filer's ship dialog showed (a request over a change made since is refused when filed). */
  z.strictObject({ kind: z.literal("experiment_ship"), key: idString(63), variant: idString(63), override: z.boolean().optional(), expectFromVersionId: expectFromVersionIdSchema, ...shownShipFields }),
  /** Sets (or, null, removes) stage 2 of a surface's cascade: it reorders the top of the surface's ranking. */
  // expectBefore: the stage 2 the filer's dialog showed (a request over a change made since is refused when filed).
  z.strictObject({ kind: z.literal("surface_stage2"), surface: surfaceKey, stage2: stage2ConfigSchema.nullable(), expectBefore: stage2ConfigSchema.nullable().optional() }),
]);
export type ChangePayload = z.infer<typeof changePayloadSchema>;

export const requestChangeSchema = z.strictObject({ change: changePayloadSchema, reason });
/** `comment`: why the decider approves or rejects (the audit entry's reason, as the Approvals page's dialog asks for it). */
export const decideChangeSchema = z.strictObject({ id: idString(), approve: z.boolean(), comment: reason });
export const cancelChangeSchema = z.strictObject({ id: idString() });
export const listChangesSchema = z.strictObject({
  status: z.enum(["pending", "applied", "rejected", "cancelled", "failed"]).optional(),
  surface: surfaceKey.optional(),
  limit: int32(1, 200).default(50),
});
export const setApprovalSchema = z.strictObject({ surface: surfaceKey, required: z.boolean(), reason });
