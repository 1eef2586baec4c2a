import { experimentsRouter } from "./experiments";
import { modelsRouter } from "./models";
import { surfacesRouter } from "./surfaces";
import { systemRouter } from "./system";
import { createCallerFactory, router } from "../trpc";

export const appRouter = router({
  system: systemRouter,
  surfaces: surfacesRouter,
  models: modelsRouter,
  experiments: experimentsRouter,
});

export type AppRouter = typeof appRouter;
export const createCaller = createCallerFactory(appRouter);
