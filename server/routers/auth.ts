import { whoAmI } from "../auth/service";
import { publicProcedure, router } from "../trpc";

export const authRouter = router({
  /** The signed-in person or key, their roles and permissions; null when anonymous. */
  me: publicProcedure.query(({ ctx }) => whoAmI(ctx)),
});
