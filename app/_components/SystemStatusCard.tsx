"use client";
import { Badge, Card, Group, SimpleGrid, Stack, Text, Title } from "@mantine/core";
import { useQuery } from "@tanstack/react-query";
import type { inferRouterOutputs } from "@trpc/server";
import type { AppRouter } from "@/server/routers/_app";
import { useTRPC } from "../_trpc/client";

type Health = inferRouterOutputs<AppRouter>["system"]["health"];

function Stat({ label, value, testId }: { label: string; value: string; testId?: string }) {
  return (
    <Stack gap={2}>
      <Text size="xs" c="dimmed" tt="uppercase" fw={600}>{label}</Text>
      <Text fw={600} data-testid={testId} style={{ wordBreak: "break-all" }}>{value}</Text>
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
        <Stat label="Loaded models" value={data.models?.length ? data.models.map((m) => `${m.name} v${m.version}`).join(", ") : "none loaded yet"} />
      </SimpleGrid>
    </Card>
  );
}
