import { z } from "zod";
import { moveAlias } from "../approvals/service";
import { aliasReach } from "../registry/models";
import { evaluateCounterfactual, evaluateOnLetor, listEvaluations } from "../registry/evaluation";
import { createModel, getModelByName, getVersionCard } from "../registry/models";
import { aliasNameSchema, createModelSchema, expectFromVersionIdSchema, modelNameSchema } from "../registry/schema";
import { listModels } from "../registry/service";
import { appliedHere } from "../surfaces/configCache";
import { procedureFor, router } from "../trpc";
import { decimal, idString, int32, reasonSchema } from "../validation";

export const modelsRouter = router({
  list: procedureFor["console.read"].query(({ ctx }) => listModels(ctx.db)),
  get: procedureFor["console.read"].input(z.strictObject({ name: modelNameSchema })).query(({ ctx, input }) => getModelByName(ctx.db, input.name)),
  version: procedureFor["console.read"]
    .input(z.strictObject({ name: modelNameSchema, version: int32(1) }))
    .query(({ ctx, input }) => getVersionCard(ctx.db, input.name, input.version)),
  evaluateLetor: procedureFor["models.write"]
    .input(z.strictObject({ name: modelNameSchema, version: int32(1) }))
    .mutation(({ ctx, input }) => evaluateOnLetor(ctx.db, input.name, input.version, ctx.actor)),
  evaluateCounterfactual: procedureFor["models.write"]
    .input(z.strictObject({ name: modelNameSchema, version: int32(1), surface: idString(), days: decimal(0.01, 90).default(7), eta: decimal(0, 3).default(1) }))
    .mutation(({ ctx, input }) => evaluateCounterfactual(ctx.db, input.name, input.version, input, ctx.actor)),
  evaluations: procedureFor["console.read"]
    .input(z.strictObject({ name: modelNameSchema, version: int32(1) }))
    .query(({ ctx, input }) => listEvaluations(ctx.db, input.name, input.version)),
  create: procedureFor["models.write"].input(createModelSchema).mutation(({ ctx, input }) => createModel(ctx.db, input, ctx.actor)),
  /** Every surface an alias of the model reaches, with its roles and whether it requires approval: what moving it changes. */
  aliasReach: procedureFor["console.read"]
    .input(z.strictObject({ name: modelNameSchema, alias: aliasNameSchema }))
    .query(({ ctx, input }) => aliasReach(ctx.db, input.name, input.alias)),
  /** Moves an alias; `expectFromVersionId` (what the page showed, null: unset) makes a move from a stale page a 409. */
  setAlias: procedureFor["models.write"]
    .input(z.strictObject({ versionId: idString(), alias: aliasNameSchema, reason: reasonSchema, expectFromVersionId: expectFromVersionIdSchema }))
    .mutation(({ ctx, input }) => appliedHere(moveAlias(ctx, input), { surfaces: (moved) => moved.surfaces })),
});
