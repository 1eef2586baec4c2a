import { serverCaller } from "@/server/caller";
import { answeringErrors } from "@/server/http/routeErrors";

export const dynamic = "force-dynamic";

/**
 * GET /api/v1/audit.csv?actor=&action=&surface=&from=&to= — the audit entries matching the filter
 * (the Audit page's), as a CSV download. It calls the `audit.export` procedure, so whoever may not
 * export the audit trail over tRPC may not download it here either.
 */
export const GET = answeringErrors("GET /api/v1/audit.csv", async (req: Request) => {
  const filter = Object.fromEntries([...new URL(req.url).searchParams].filter(([, v]) => v !== ""));
  const { csv, rows, truncated } = await (await serverCaller(req.headers)).audit.export(filter);
  const stamp = new Date().toISOString().slice(0, 16).replace(/[-:]/g, "").replace("T", "-");
  return new Response(csv, {
    headers: {
      "content-type": "text/csv; charset=utf-8; header=present",
      "content-disposition": `attachment; filename="audit-${stamp}.csv"`,
      "cache-control": "no-store",
      "x-audit-rows": String(rows),
      "x-audit-truncated": String(truncated),
    },
  });
});
