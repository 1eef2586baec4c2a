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
        title="No traffic in the last hour"
        description="p95/p99 latency and error rate per surface, SLO burn rate over 1 h and 6 h windows, fallbacks by reason, recent deploys with their audit trail, and the rollback and kill-switch controls that reach every replica within a second."
        steps={[{ text: "Send rerank requests to POST /api/v1/rerank or the rerank.rank tRPC procedure." }, { text: "Scrape GET /api/metrics with Prometheus for alerting." }]}
      />
    </Stack>
  );
}
