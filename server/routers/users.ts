import { inviteUserSchema, resetPasswordSchema, setDisabledSchema, setRolesSchema } from "../auth/schema";
import { changeUserDisabled, changeUserRoles, inviteUser, listUsers, resetPassword } from "../auth/service";
import { procedureFor, router } from "../trpc";

export const usersRouter = router({
  list: procedureFor["users.manage"].query(({ ctx }) => listUsers(ctx.db)),
  invite: procedureFor["users.manage"].input(inviteUserSchema).mutation(({ ctx, input }) => inviteUser(ctx, input)),
  setRoles: procedureFor["users.manage"].input(setRolesSchema).mutation(({ ctx, input }) => changeUserRoles(ctx, input)),
  setDisabled: procedureFor["users.manage"].input(setDisabledSchema).mutation(({ ctx, input }) => changeUserDisabled(ctx, input)),
  resetPassword: procedureFor["users.manage"].input(resetPasswordSchema).mutation(({ ctx, input }) => resetPassword(ctx, input)),
});
