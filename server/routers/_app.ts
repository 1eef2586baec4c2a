import { apiKeysRouter } from "./apiKeys";
import { approvalsRouter } from "./approvals";
import { authRouter } from "./auth";
import { auditRouter } from "./audit";
import { debugRouter } from "./debug";
import { executiveRouter } from "./executive";
import { experimentsRouter } from "./experiments";
import { historyRouter } from "./history";
import { modelsRouter } from "./models";
import { catalogRouter } from "./catalog";
import { eventsRouter } from "./events";
import { oncallRouter } from "./oncall";
import { rerankRouter } from "./rerank";
import { rolloutsRouter } from "./rollouts";
import { shadowRouter } from "./shadow";
import { surfacesRouter } from "./surfaces";
import { systemRouter } from "./system";
import { usersRouter } from "./users";
import { webhooksRouter } from "./webhooks";
import { createCallerFactory, router } from "../trpc";

export const appRouter = router({
  system: systemRouter,
  auth: authRouter,
  users: usersRouter,
  apiKeys: apiKeysRouter,
  approvals: approvalsRouter,
  surfaces: surfacesRouter,
  models: modelsRouter,
  experiments: experimentsRouter,
  rerank: rerankRouter,
  events: eventsRouter,
  catalog: catalogRouter,
  shadow: shadowRouter,
  oncall: oncallRouter,
  rollouts: rolloutsRouter,
  history: historyRouter,
  executive: executiveRouter,
  debug: debugRouter,
  audit: auditRouter,
  webhooks: webhooksRouter,
});

export type AppRouter = typeof appRouter;
export const createCaller = createCallerFactory(appRouter);
