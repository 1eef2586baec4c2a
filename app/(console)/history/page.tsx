import { Stack } from "@mantine/core";
import type { Metadata } from "next";
import { PageHeader } from "../../_components/PageHeader";
import { ServingHistory } from "./ServingHistory";

export const metadata: Metadata = { title: "Serving history" };

export default async function Page({ searchParams }: { searchParams: Promise<{ surface?: string | string[] }> }) {
  const params = await searchParams;
  const surface = Array.isArray(params.surface) ? params.surface[0] : params.surface;
  return (
    <Stack>
      <PageHeader title="Serving history" subtitle="Which version served each surface when: alias moves, rollbacks, ships, canary steps and kill switches, with who and why. Roll back to any earlier version from here." />
      <ServingHistory initialSurface={surface ?? null} />
    </Stack>
  );
}
