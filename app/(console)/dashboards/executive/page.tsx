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
        title="This dashboard is not built yet"
        description="It arrives with rollouts: revenue per session and CTR lift attributable to shipped rerankers, experiments won and lost, and the rollout status of every surface."
        steps={[{ text: "Until then, each experiment's page shows its lift with confidence intervals, and the Experiments list shows what ran and what shipped." }]}
      />
    </Stack>
  );
}
