import { createApiKeySchema, revokeApiKeySchema, setApiKeyRateLimitSchema } from "../auth/schema";
import { issueApiKey, limitApiKeyRate, listApiKeys, withdrawApiKey } from "../auth/service";
import { procedureFor, router } from "../trpc";

export const apiKeysRouter = router({
  list: procedureFor["keys.manage"].query(({ ctx }) => listApiKeys(ctx.db)),
  /** Returns the key once; only its hash is stored. */
  create: procedureFor["keys.manage"].input(createApiKeySchema).mutation(({ ctx, input }) => issueApiKey(ctx, input)),
  revoke: procedureFor["keys.manage"].input(revokeApiKeySchema).mutation(({ ctx, input }) => withdrawApiKey(ctx, input)),
  /** A serving key's requests per second (null: no limit of its own). */
  setRateLimit: procedureFor["keys.manage"].input(setApiKeyRateLimitSchema).mutation(({ ctx, input }) => limitApiKeyRate(ctx, input)),
});
