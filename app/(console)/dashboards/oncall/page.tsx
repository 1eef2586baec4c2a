import { Stack } from "@mantine/core";
import type { Metadata } from "next";
import { EmptyState } from "../../../_components/EmptyState";
import { PageHeader } from "../../../_components/PageHeader";

export const metadata: Metadata = { title: "On-call" };

export default function Page() {
  return (
    <Stack>
      <PageHeader title="On-call" subtitle="Latency, errors, SLO burn and the rollback button." />
      <EmptyState
        title="This dashboard is not built yet"
        description="It arrives with rollouts: p95/p99 latency and error rate per surface, SLO burn rate over 1 h and 6 h windows, fallbacks by reason, recent deploys with their audit trail, and the rollback and kill-switch controls that reach every replica within a second."
        steps={[
          { text: "Until then, scrape the same signals with Prometheus: latency per stage (rerank_stage_duration_ms), fallbacks by reason, open circuit breakers, telemetry drops, at GET /api/metrics." },
          { text: "One request's stage timings, features and fallback reason: the Debug page." },
        ]}
      />
    </Stack>
  );
}
