import { Stack } from "@mantine/core";
import type { Metadata } from "next";
import { EmptyState } from "../../../_components/EmptyState";
import { PageHeader } from "../../../_components/PageHeader";

export const metadata: Metadata = { title: "Debug" };

export default function Page() {
  return (
    <Stack>
      <PageHeader title="Debug" subtitle="One request at a time: stage waterfall, features, scores, drift and freshness." />
      <EmptyState
        title="No request selected"
        description="Send a request or pick a logged one to see its stage waterfall, the features of its top candidates, score distributions, the raw payloads, and feature drift and freshness for the serving model."
        steps={[{ text: "Send a test request from this page once serving is enabled, or look one up by its request id." }]}
      />
    </Stack>
  );
}
