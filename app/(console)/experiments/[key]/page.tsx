import { Stack } from "@mantine/core";
import type { Metadata } from "next";
import { serverCaller } from "@/server/caller";
import { readOrNotFound } from "../../../_server/readOrNotFound";
import { PageHeader } from "../../../_components/PageHeader";
import { ExperimentResults } from "./ExperimentResults";

export async function generateMetadata({ params }: { params: Promise<{ key: string }> }): Promise<Metadata> {
  return { title: (await params).key };
}

export default async function ExperimentPage({ params }: { params: Promise<{ key: string }> }) {
  const { key } = await params;
  const experiment = await readOrNotFound((await serverCaller()).experiments.get({ key }));
  return (
    <Stack>
      <PageHeader title={experiment.name} subtitle={`${experiment.key} · owner ${experiment.owner}`} />
      <ExperimentResults experimentKey={experiment.key} />
    </Stack>
  );
}
