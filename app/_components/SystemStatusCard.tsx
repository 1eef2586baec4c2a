"use client";
import { Badge, Card, Group, SimpleGrid, Stack, Text, Title } from "@mantine/core";
import { useQuery } from "@tanstack/react-query";
import { Fragment } from "react";
import type { inferRouterOutputs } from "@trpc/server";
import type { AppRouter } from "@/server/routers/_app";
import { useTRPC } from "../_trpc/client";

type Health = inferRouterOutputs<AppRouter>["system"]["health"];

/**
 * One figure of the card. Words wrap at spaces; a token longer than the column (a migration's name)
 * breaks after its underscores first, and anywhere only past that: `break-all` broke every word,
 * "Loaded models" and "Migration level" values mid-word at 1280 px.
 */
function Stat({ label, value, testId }: { label: string; value: string | string[]; testId?: string }) {
  const breakable = (text: string) => text.split(/(?<=_)/).map((part, i, parts) => <Fragment key={i}>{part}{i < parts.length - 1 && <wbr />}</Fragment>);
  return (
    <Stack gap={2} miw={0}>
      <Text size="xs" c="dimmed" tt="uppercase" fw={600}>{label}</Text>
      <Text fw={600} data-testid={testId} style={{ overflowWrap: "anywhere" }}>
        {/* A list's items ("search-ranker v2") move to the next line whole, not broken at their hyphen. */}
        {typeof value === "string" ? breakable(value) : value.map((item, i) => (
          <Fragment key={item}><span style={{ display: "inline-block", maxWidth: "100%" }}>{breakable(item)}{i < value.length - 1 ? "," : ""}</span>{i < value.length - 1 ? " " : ""}</Fragment>
        ))}
      </Text>
    </Stack>
  );
}

export function SystemStatusCard({ initial }: { initial: Health }) {
  const trpc = useTRPC();
  const { data } = useQuery({ ...trpc.system.health.queryOptions(), initialData: initial, refetchInterval: 10_000 });
  return (
    <Card withBorder padding="lg" data-testid="system-status">
      <Group justify="space-between" mb="md">
        <Title order={4}>System status</Title>
        <Badge color={data.status === "ok" ? "teal" : "red"} variant="light">{data.status}</Badge>
      </Group>
      <SimpleGrid cols={{ base: 1, xs: 2, md: 4 }}>
        <Stat label="Version" value={data.version} />
        <Stat label="Database" value={data.database.reachable ? `reachable · ${data.database.latencyMs} ms` : `unreachable: ${data.database.error}`} testId="db-status" />
        <Stat label="Migration level" value={data.migrationLevel ?? "none"} testId="migration-level" />
        <Stat label="Loaded models" value={data.models?.length ? data.models.map((m) => `${m.name} v${m.version}`) : "none loaded yet"} />
      </SimpleGrid>
    </Card>
  );
}
