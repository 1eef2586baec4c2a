import { createApiKeySchema, revokeApiKeySchema } from "../auth/schema";
import { issueApiKey, listApiKeys, withdrawApiKey } from "../auth/service";
import { procedureFor, router } from "../trpc";

export const apiKeysRouter = router({
  list: procedureFor["keys.manage"].query(({ ctx }) => listApiKeys(ctx.db)),
  /** Returns the key once; only its hash is stored. */
  create: procedureFor["keys.manage"].input(createApiKeySchema).mutation(({ ctx, input }) => issueApiKey(ctx, input)),
  revoke: procedureFor["keys.manage"].input(revokeApiKeySchema).mutation(({ ctx, input }) => withdrawApiKey(ctx, input)),
});
