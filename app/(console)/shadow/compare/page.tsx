import { Stack } from "@mantine/core";
import type { Metadata } from "next";
import { EmptyState } from "../../../_components/EmptyState";
import { PageHeader } from "../../../_components/PageHeader";
import { ShadowComparisonView } from "./ShadowComparisonView";
import { parseIsoInstant } from "@/server/domain/time/isoInstant";
import { serverCaller } from "@/server/caller";
import { readOrNotFound } from "../../../_server/readOrNotFound";

export const metadata: Metadata = { title: "Shadow comparison" };

export default async function Page({ searchParams }: { searchParams: Promise<{ request?: string; version?: string; at?: string; owner?: string }> }) {
  const { request, version, ...params } = await searchParams;
  // `at` and `owner`: the exact row (two callers' requests with one id can share a millisecond), as the Debug page reads them.
  const at = params.at && parseIsoInstant(params.at) ? params.at : null;
  const owner = at && params.owner !== undefined ? params.owner : null;
  // The mirrored request the URL names, read here: none by that id and version is the page's 404
  // (readOrNotFound). Someone who may not read requests gets the view's own refusal, as before.
  const initial = request && version
    ? await readOrNotFound((await serverCaller()).shadow.comparison({ requestId: request, versionId: version, ...(at ? { ts: at } : {}), ...(at && owner !== null ? { owner } : {}) }))
      .catch((error: unknown) => { if ((error as { code?: unknown }).code === "FORBIDDEN") return undefined; throw error; })
    : undefined;
  return (
    <Stack>
      <PageHeader title="Shadow comparison" subtitle="One mirrored request: what was served next to what the candidate would have served, and the features behind the items they disagree about most." />
      {request && version ? (
        <ShadowComparisonView requestId={request} versionId={version} at={at} owner={owner} initial={initial} />
      ) : (
        <EmptyState title="No comparison selected" description="Open a request from the Shadow page's “Where they disagree most” list." steps={[{ text: "On the Shadow page, pick a request under “Where they disagree most” and press Side by side." }]} />
      )}
    </Stack>
  );
}
