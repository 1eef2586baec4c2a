import { Stack } from "@mantine/core";
import type { Metadata } from "next";
import { PageHeader } from "../../../_components/PageHeader";
import { ExecutiveDashboard } from "./ExecutiveDashboard";

export const metadata: Metadata = { title: "Executive" };

export default function Page() {
  return (
    <Stack>
      <PageHeader title="Executive" subtitle="Business impact of reranking per surface, what shipped, and where every rollout stands." />
      <ExecutiveDashboard />
    </Stack>
  );
}
