"use client";
import { Anchor, Group, Text } from "@mantine/core";
import { useQuery } from "@tanstack/react-query";
import Link from "next/link";
import { usePermission } from "@/app/_auth/AccessProvider";
import { hrefs } from "@/server/domain/audit/subject";
import type { inferRouterOutputs } from "@trpc/server";
import type { AppRouter } from "@/server/routers/_app";
import { useTRPC } from "../../../_trpc/client";

type Problem = inferRouterOutputs<AppRouter>["debug"]["problemRequests"]["fallbacks"][number];

/** A surface's newest fallbacks and requests over its p99 target, each a link to the Debug page opened on it (for people who may read request data). */
export function ProblemRequests({ surface, hours }: { surface: string; hours: number }) {
  const trpc = useTRPC();
  const access = usePermission("requests.read");
  const problems = useQuery({ ...trpc.debug.problemRequests.queryOptions({ surface, hours, limit: 3 }), refetchInterval: 15_000, enabled: access.allowed });
  const p = problems.data;
  if (!access.allowed || !p || (p.fallbacks.length === 0 && p.slow.length === 0)) return null;
  const links = (rows: Problem[], detail: (r: Problem) => string) =>
    rows.map((r) => (
      <Anchor key={`${r.requestId} ${String(r.ts)} ${r.owner}`} component={Link} href={hrefs.request(r.requestId, r.ts, r.owner)} size="xs" ff="monospace" title={`open ${r.requestId} in Debug`} style={{ wordBreak: "break-all" }}>
        {r.requestId.length > 14 ? `${r.requestId.slice(0, 13)}…` : r.requestId} ({detail(r)})
      </Anchor>
    ));
  return (
    <Group gap={6} mt={4} data-testid={`problem-requests-${surface}`}>
      {p.fallbacks.length > 0 && <Text size="xs" c="dimmed">recent fallbacks:</Text>}
      {links(p.fallbacks, (r) => r.fallbackReason ?? "fallback")}
      {p.slow.length > 0 && <Text size="xs" c="dimmed">over {p.targetMs} ms:</Text>}
      {links(p.slow, (r) => `${r.latencyMs.toFixed(0)} ms`)}
    </Group>
  );
}
