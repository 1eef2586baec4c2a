import { cancelChangeSchema, decideChangeSchema, listChangesSchema, requestChangeSchema, setApprovalSchema } from "../approvals/schema";
import { cancelChange, decideChange, listChanges, requestChange, setSurfaceApproval } from "../approvals/service";
import { appliedHere } from "../surfaces/configCache";
import { procedureFor, router } from "../trpc";

// Requesting and deciding need the permission of the change itself (models.write, canary.start or
// experiments.ship), which the service checks per request; listing is open to every role.
export const approvalsRouter = router({
  list: procedureFor["console.read"].input(listChangesSchema).query(({ ctx, input }) => listChanges(ctx.db, input)),
  request: procedureFor["changes.request"].input(requestChangeSchema).mutation(({ ctx, input }) => requestChange(ctx, input)),
  decide: procedureFor["changes.request"].input(decideChangeSchema).mutation(({ ctx, input }) => appliedHere(decideChange(ctx, input), { surfaces: (decided) => decided.surfaces })),
  cancel: procedureFor["changes.request"].input(cancelChangeSchema).mutation(({ ctx, input }) => cancelChange(ctx, input.id)),
  setRequired: procedureFor["settings.write"].input(setApprovalSchema).mutation(({ ctx, input }) => appliedHere(setSurfaceApproval(ctx, input), { surface: input.surface })),
});
