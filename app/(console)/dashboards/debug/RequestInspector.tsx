"use client";
import { Alert, Badge, Button, Card, Code, Group, Loader, SimpleGrid, Stack, Table, Text, TextInput, Title } from "@mantine/core";
import { useQuery } from "@tanstack/react-query";
import type { inferRouterOutputs } from "@trpc/server";
import Link from "next/link";
import { usePathname, useRouter } from "next/navigation";
import { useState } from "react";
import { usePermission } from "@/app/_auth/AccessProvider";
import type { AppRouter } from "@/server/routers/_app";
import { hrefs } from "@/server/domain/audit/subject";
import { StageWaterfall, waterfallStages } from "../../../_components/charts/StageWaterfall";
import { FeatureValue } from "../../../_components/FeatureValue";
import { useTRPC } from "../../../_trpc/client";

type Inspection = inferRouterOutputs<AppRouter>["debug"]["request"];

/** "Open a logged request": an id pasted from a complaint, or arriving in the URL from the Shadow, Audit and On-call pages. */
export function RequestLookup({ requestId, at, owner = null }: { requestId: string | null; at: string | null; owner?: string | null }) {
  const router = useRouter();
  const pathname = usePathname();
  const [draft, setDraft] = useState(requestId ?? "");
  const access = usePermission("requests.read");
  const open = () => {
    const id = draft.trim();
    if (id) router.push(`${pathname}?request=${encodeURIComponent(id)}`);
  };
  return (
    <Stack>
      <Card withBorder padding="lg">
        <Title order={4} mb="sm">Open a logged request</Title>
        <form onSubmit={(e) => { e.preventDefault(); open(); }}>
          <Group align="flex-end" gap="xs">
            <TextInput
              label="Request id"
              placeholder="the requestId of a response, e.g. from a complaint"
              value={draft}
              onChange={(e) => setDraft(e.currentTarget.value)}
              style={{ flex: "1 1 240px" }}
              disabled={!access.allowed}
            />
            <Button type="submit" disabled={!access.allowed || !draft.trim()}>Open</Button>
          </Group>
        </form>
        {!access.allowed && <Text size="sm" c="dimmed" mt="xs">{access.reason}: a logged request is request data.</Text>}
      </Card>
      {requestId && access.allowed && <RequestInspector key={`${requestId}@${at ?? ""}@${owner ?? ""}`} requestId={requestId} at={at} owner={owner} />}
    </Stack>
  );
}


const arm = (a: Inspection["arm"]) =>
  !a ? null : a.kind === "canary" ? `canary rollout ${a.rolloutId}: ${a.arm ?? "?"} arm` : `experiment ${a.experiment}${a.phase !== null ? ` (phase ${a.phase})` : ""}: ${a.variant ?? "?"}${a.exposed ? "" : ", not exposed"}`;

/** Everything the log, the scoring sample and the shadow rows kept about one request. */
export function RequestInspector({ requestId, at, owner = null }: { requestId: string; at: string | null; owner?: string | null }) {
  const trpc = useTRPC();
  const inspection = useQuery({ ...trpc.debug.request.queryOptions({ requestId, ...(at ? { ts: new Date(at) } : {}), ...(at && owner !== null ? { owner } : {}) }), retry: false });
  if (inspection.error) {
    return (
      <Alert color={inspection.error.data?.code === "NOT_FOUND" ? "gray" : "red"} title="Cannot open this request" data-testid="request-not-found">
        {inspection.error.message}. The log is written within a second of the response, and day partitions older than the retention are dropped.
      </Alert>
    );
  }
  if (!inspection.data) return <Loader />;
  const r = inspection.data;
  // Rows logged before the json format came back from jsonb with the timings' keys in its own order: waterfallStages puts them in the pipeline's.
  const stages = waterfallStages(r.timings);
  return (
    <Stack data-testid="request-inspection">
      <SharedIdRows inspection={r} />
      <Card withBorder padding="lg">
        <Group justify="space-between" align="flex-start" gap="xs" mb="sm">
          <Stack gap={2} style={{ minWidth: 0 }}>
            <Title order={4}>Request</Title>
            <Text size="sm" ff="monospace" style={{ wordBreak: "break-all" }} data-testid="inspected-id">{r.requestId}</Text>
            <Text size="xs" c="dimmed">{new Date(r.ts).toLocaleString()} · surface {r.surface} · {r.candidateCount} candidates, top {r.topK}</Text>
          </Stack>
          <Group gap="xs">
            {r.model ? <Badge variant="light" tt="none" data-testid="inspected-model">{r.model.name ?? r.model.versionId} v{r.model.version ?? "?"}</Badge> : <Badge color="gray" tt="none">no model: retrieval order</Badge>}
            {r.fallback.used ? <Badge color="orange" tt="none">fallback: {r.fallback.reason}</Badge> : <Badge color="teal" variant="light" tt="none">served by the model</Badge>}
            {r.featuresTimedOut && <Badge color="orange" tt="none" data-testid="inspected-timed-out">feature read timed out: defaults served</Badge>}
            <Badge color="gray" variant="outline" tt="none">{r.latencyMs.toFixed(2)} ms</Badge>
          </Group>
        </Group>
        <SimpleGrid cols={{ base: 1, sm: 3 }} spacing="xs" mb="sm">
          <Field label="arm" value={arm(r.arm) ?? "none (no experiment or canary)"} testId="inspected-arm" />
          <Field label="user key (keyed hash)" value={r.userKey ?? "—"} mono />
          <Field label="session key (keyed hash)" value={r.sessionKey ?? "—"} mono />
          <Field label="request id chosen by" value={r.caller ? `${r.callerName ? `key "${r.callerName}" ` : ""}${r.caller}` : "the server or the console (shared)"} mono={r.caller !== null} testId="inspected-caller" />
        </SimpleGrid>
        <StageWaterfall stages={stages} />
      </Card>

      <Card withBorder padding="lg">
        <Title order={5} mb="sm">Served items</Title>
        {/* Three columns (reasons under the item), so a phone shows every score without scrolling. */}
        <Table striped data-testid="inspected-items" verticalSpacing={4}>
          <Table.Thead><Table.Tr><Table.Th w={32}>#</Table.Th><Table.Th>item and reasons</Table.Th><Table.Th ta="right">score</Table.Th></Table.Tr></Table.Thead>
          <Table.Tbody>
            {r.items.map((item) => (
              <Table.Tr key={item.id}>
                <Table.Td>{item.position}</Table.Td>
                <Table.Td>
                  <Text size="sm" fw={500}>{item.title ?? item.id}</Text>
                  <Text size="xs" c="dimmed">{item.id}{item.category ? ` · ${item.category}` : ""}</Text>
                  {item.reasons.length > 0 && <Group gap={4} mt={2}>{item.reasons.map((reason) => <Badge key={reason} size="xs" variant="light" tt="none">{reason}</Badge>)}</Group>}
                </Table.Td>
                <Table.Td ta="right">{item.score.toFixed(4)}</Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      </Card>

      <ServedFeatures inspection={r} />

      <SimpleGrid cols={{ base: 1, md: 2 }}>
        <Card withBorder padding="lg">
          <Title order={5} mb="sm">Shadow comparisons</Title>
          {r.shadows.length === 0 ? (
            <Text size="sm" c="dimmed">This request was not mirrored to a candidate model.</Text>
          ) : (
            <Stack gap={6} data-testid="inspected-shadows">
              {r.shadows.map((s) => (
                <Group key={s.versionId} justify="space-between" gap="xs">
                  <Text size="sm">{s.label}: {s.error ? <Text span c="red" size="sm">{s.error}</Text> : `overlap@10 ${s.overlapAt10?.toFixed(1) ?? "—"} · RBO ${s.rbo?.toFixed(2) ?? "—"} · τ ${s.kendallTau?.toFixed(2) ?? "—"}`}</Text>
                  <Button size="compact-xs" variant="light" component={Link} href={hrefs.shadowComparison(r.requestId, s.versionId, r.ts, r.owner)}>Side by side</Button>
                </Group>
              ))}
            </Stack>
          )}
        </Card>
        <Card withBorder padding="lg">
          <Title order={5} mb="sm">Request context</Title>
          <Text size="xs" c="dimmed" mb={4}>Fields named in DEBUG_MASKED_FIELDS show as keyed hashes.</Text>
          <Code block style={{ maxHeight: 220, overflow: "auto" }} data-testid="inspected-context">{JSON.stringify(r.context, null, 2)}</Code>
        </Card>
      </SimpleGrid>
    </Stack>
  );
}

/**
 * When several logged rows share the id (a client chose it, and another caller reused it): a clear
 * warning and every row, newest first, with its surface, caller and time; each opens its own row.
 */
function SharedIdRows({ inspection: r }: { inspection: Inspection }) {
  if (r.rowsWithId.length < 2) return null;
  const clientChosen = r.rowsWithId.some((row) => row.caller !== null);
  return (
    <Alert color="orange" title={`${r.rowsWithIdCount.toLocaleString()} logged requests share this id`} data-testid="shared-request-id">
      <Text size="sm" mb="xs">
        {clientChosen
          ? "The request id was chosen by the client (the requestId field), so another caller can send the same id: these rows are different requests. Check the surface and the caller before trusting what you see; pick the row to open."
          : "Several requests were logged under this id. Pick the row to open."}
        {r.rowsWithIdCount > r.rowsWithId.length && ` ${r.rowsWithId.length} of them are listed: the newest, and the one shown below.`}
      </Text>
      {/* One wrapping line per row (not a table), so a phone shows every field without scrolling. */}
      <Stack gap={4} data-testid="shared-request-rows">
        {r.rowsWithId.map((row) => (
          <Group key={`${new Date(row.ts).toISOString()}@${row.owner}`} gap="xs" wrap="wrap" justify="space-between" data-testid="shared-request-row" data-selected={row.selected}
            style={{ borderTop: "1px solid var(--mantine-color-orange-2)", paddingTop: 4 }}>
            <Text size="xs" style={{ minWidth: 0 }}>
              <b>{row.surface}</b> · {new Date(row.ts).toLocaleString()} · id chosen by {row.caller ? (row.callerName ? `key "${row.callerName}"` : row.caller) : "the server or the console"} · {row.latencyMs.toFixed(2)} ms
            </Text>
            {row.selected ? <Badge size="xs" variant="light" tt="none">shown below</Badge> : <Button size="compact-xs" variant="default" component={Link} href={hrefs.request(r.requestId, row.ts, row.owner)} data-testid="open-shared-row">Open this one</Button>}
          </Group>
        ))}
      </Stack>
    </Alert>
  );
}

function Field({ label, value, mono, testId }: { label: string; value: string; mono?: boolean; testId?: string }) {
  return (
    <Stack gap={0} style={{ minWidth: 0 }}>
      <Text size="xs" c="dimmed">{label}</Text>
      <Text size="sm" ff={mono ? "monospace" : undefined} style={{ wordBreak: "break-word" }} data-testid={testId}>{value}</Text>
    </Stack>
  );
}

/** The features the model saw for each served item, from the scoring sample; or why there are none. */
function ServedFeatures({ inspection: r }: { inspection: Inspection }) {
  const f = r.features;
  return (
    <Card withBorder padding="lg">
      <Title order={5} mb={4}>Features the model saw</Title>
      {!f ? (
        <Text size="sm" c="dimmed" data-testid="features-not-sampled">
          Not in the scoring sample: the full scoring rows of {(r.sampleRate * 100).toLocaleString()}% of requests are kept (DEBUG_SAMPLE_RATE), and of every request sent from this page.
        </Text>
      ) : f.names.length === 0 ? (
        <Text size="sm" c="dimmed">No model scored this request (retrieval order), so there are no features.</Text>
      ) : (
        <>
          <Text size="xs" c="dimmed" mb="xs">
            {f.reason === "debug" ? "Sent from the Debug page, so kept in full." : "In the DEBUG_SAMPLE_RATE sample."} Values as the model got them (float32), at the request&apos;s time; * marks the spec&apos;s default (missing, stale or not finite).
          </Text>
          <Table.ScrollContainer minWidth={160 + 100 * f.names.length}>
            <Table data-testid="inspected-features" verticalSpacing={4} fz="xs" striped>
              <Table.Thead>
                <Table.Tr>
                  <Table.Th>#</Table.Th><Table.Th>item</Table.Th><Table.Th>score</Table.Th>
                  {f.names.map((name) => <Table.Th key={name}><Text size="xs" ff="monospace" fw={600}>{name}</Text></Table.Th>)}
                </Table.Tr>
              </Table.Thead>
              <Table.Tbody>
                {f.rows.map((row) => (
                  <Table.Tr key={row.id}>
                    <Table.Td>{row.position}</Table.Td>
                    <Table.Td><Text size="xs" ff="monospace">{row.id}</Text></Table.Td>
                    <Table.Td>{row.score.toFixed(4)}</Table.Td>
                    {f.names.map((name) => <Table.Td key={name}><FeatureValue value={row.values[name]} defaulted={row.defaulted.includes(name)} /></Table.Td>)}
                  </Table.Tr>
                ))}
              </Table.Tbody>
            </Table>
          </Table.ScrollContainer>
        </>
      )}
    </Card>
  );
}
