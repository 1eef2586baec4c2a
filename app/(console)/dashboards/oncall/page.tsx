import { Stack } from "@mantine/core";
import type { Metadata } from "next";
import { PageHeader } from "../../../_components/PageHeader";
import { OncallDashboard } from "./OncallDashboard";

export const metadata: Metadata = { title: "On-call" };

export default function Page() {
  return (
    <Stack>
      <PageHeader title="On-call" subtitle="Latency, fallbacks and SLO burn per surface, what changed recently, and the kill switch and rollback." />
      <OncallDashboard />
    </Stack>
  );
}
