import { Stack } from "@mantine/core";
import type { Metadata } from "next";
import { EmptyState } from "../../../_components/EmptyState";
import { PageHeader } from "../../../_components/PageHeader";

export const metadata: Metadata = { title: "Executive" };

export default function Page() {
  return (
    <Stack>
      <PageHeader title="Executive" subtitle="Business impact of reranking and where every rollout stands." />
      <EmptyState
        title="No impact to report yet"
        description="Revenue per session and CTR lift attributable to shipped rerankers, experiments won and lost, and the rollout status of every surface."
        steps={[{ text: "Serve traffic on a surface and send outcome events (impressions, clicks, purchases)." }, { text: "Ship an experiment or finish a canary rollout." }]}
      />
    </Stack>
  );
}
