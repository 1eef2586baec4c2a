import { Stack } from "@mantine/core";
import type { Metadata } from "next";
import { serverCaller } from "@/server/caller";
import { parseIsoInstant } from "@/server/domain/time/isoInstant";
import { EmptyState } from "../../../_components/EmptyState";
import { PageHeader } from "../../../_components/PageHeader";
import { FeatureHealth } from "./FeatureHealth";
import { RequestLookup } from "./RequestInspector";
import { RerankPlayground } from "./RerankPlayground";

export const metadata: Metadata = { title: "Debug" };

export default async function DebugPage({ searchParams }: { searchParams: Promise<{ request?: string; at?: string; owner?: string }> }) {
  const surfaces = await (await serverCaller()).surfaces.list();
  const params = await searchParams;
  const requestId = params.request?.trim() || null;
  // `at`: the log time of one row of a shared id (links from shadow and on-call rows name their row).
  const at = params.at && parseIsoInstant(params.at) ? params.at : null;
  // `owner`: with `at`, the row's owner key ('' when shared): two callers' rows of one id can share a millisecond.
  const owner = at && params.owner !== undefined ? params.owner : null;
  return (
    <Stack>
      <PageHeader title="Debug" subtitle="One request at a time: open a logged one by id or send a test request; stage waterfall, served items, the features the model saw, drift and freshness." />
      {surfaces.length === 0 ? (
        <EmptyState
          title="No request selected"
          description="Send a request or pick a logged one to see its stage waterfall, the features of its top candidates, score distributions, the raw payloads, and feature drift and freshness for the serving model."
          steps={[{ text: "Create a surface (the demo seed makes two):", command: "npm run db:seed" }]}
        />
      ) : (
        <>
          <RequestLookup key={`${requestId ?? ""}@${at ?? ""}@${owner ?? ""}`} requestId={requestId} at={at} owner={owner} />
          <RerankPlayground surfaces={surfaces.map((s) => ({ key: s.key, name: s.name }))} />
          <FeatureHealth surfaces={surfaces.map((s) => ({ key: s.key, name: s.name }))} />
        </>
      )}
    </Stack>
  );
}
