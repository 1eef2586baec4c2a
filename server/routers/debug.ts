import { z } from "zod";
import { featureHealth } from "../debug/featureHealth";
import { procedureFor, router } from "../trpc";
import { idString, int32 } from "../validation";

export const debugRouter = router({
  featureHealth: procedureFor["requests.read"]
    .input(z.strictObject({ surface: idString(), requests: int32(10, 20_000).default(2000) }))
    .query(({ ctx, input }) => featureHealth(ctx.db, input)),
});
