import { Stack } from "@mantine/core";
import type { Metadata } from "next";
import { EmptyState } from "../../_components/EmptyState";
import { PageHeader } from "../../_components/PageHeader";

export const metadata: Metadata = { title: "Shadow" };

export default function Page() {
  return (
    <Stack>
      <PageHeader title="Shadow" subtitle="Mirror a sample of live requests to a candidate model off the hot path and compare rankings before any user sees them." />
      <EmptyState
        title="No shadow comparisons yet"
        description="Per candidate model: overlap@k, Kendall and Spearman rank correlation against production, score and latency distributions, and the requests where the two rankings disagree most."
        steps={[{ text: "Upload a candidate version on the Models page." }, { text: "Point a surface's shadow alias at it and set the sample rate." }, { text: "Send traffic; comparisons appear here within seconds:", command: "npm run simulate" }]}
      />
    </Stack>
  );
}
