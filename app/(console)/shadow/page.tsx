import { Stack } from "@mantine/core";
import type { Metadata } from "next";
import { serverCaller } from "@/server/caller";
import { PageHeader } from "../../_components/PageHeader";
import { ShadowConsole } from "./ShadowConsole";

export const metadata: Metadata = { title: "Shadow" };

export default async function Page({ searchParams }: { searchParams: Promise<{ surface?: string }> }) {
  const surfaces = await (await serverCaller()).surfaces.list();
  const requested = (await searchParams).surface;
  const initial = surfaces.find((s) => s.key === requested)?.key ?? surfaces.find((s) => s.shadowAlias)?.key ?? surfaces[0]?.key ?? null;
  return (
    <Stack>
      <PageHeader title="Shadow" subtitle="A sample of live requests scored again by a candidate model after the response, with the same features and constraints, and compared with what was served." />
      <ShadowConsole surfaces={surfaces.map((s) => ({ key: s.key, name: s.name }))} initialSurface={initial} />
    </Stack>
  );
}
