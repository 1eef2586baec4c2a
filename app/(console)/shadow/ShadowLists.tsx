"use client";
import { Badge, Group, SimpleGrid, Stack, Table, Text } from "@mantine/core";
import { GuardedButton } from "@/app/_auth/GuardedButton";
import { useState } from "react";
import { StartCanaryModal, type ServingShown } from "../dashboards/oncall/RolloutStrip";

type Ranked = Array<{ id: string; score: number }>;

/** Where each id of `list` stands in `other` (1-based), or null when `other` does not show it. */
const positionsIn = (other: Ranked) => new Map(other.map((item, i) => [item.id, i + 1]));

function moveLabel(position: number, otherPosition: number | undefined, otherName: string): { text: string; color: string } {
  if (otherPosition === undefined) return { text: `not in ${otherName}`, color: "orange" };
  if (otherPosition === position) return { text: "same", color: "gray" };
  // Positive: this side puts the item higher than the other side does.
  const up = otherPosition - position;
  return { text: `${up > 0 ? "↑" : "↓"}${Math.abs(up)} vs ${otherName}`, color: up > 0 ? "teal" : "red" };
}

/** One side of a comparison: position, item, score, and where the other side put it. */
function RankedTable({ title, list, other, otherName, testId }: { title: string; list: Ranked; other: Ranked; otherName: string; testId: string }) {
  const where = positionsIn(other);
  return (
    <Stack gap={4}>
      <Text size="sm" fw={600} data-testid={`${testId}-title`}>{title}</Text>
      <Table data-testid={testId} verticalSpacing={2} horizontalSpacing="xs" fz="sm">
        <Table.Thead><Table.Tr><Table.Th w={32}>#</Table.Th><Table.Th>item</Table.Th><Table.Th ta="right">score</Table.Th><Table.Th>{otherName}</Table.Th></Table.Tr></Table.Thead>
        <Table.Tbody>
          {list.map((item, i) => {
            const move = moveLabel(i + 1, where.get(item.id), otherName);
            return (
              <Table.Tr key={item.id}>
                <Table.Td>{i + 1}</Table.Td>
                <Table.Td><Text size="xs" ff="monospace" style={{ wordBreak: "break-all" }}>{item.id}</Text></Table.Td>
                <Table.Td ta="right"><Text size="xs">{item.score.toFixed(4)}</Text></Table.Td>
                <Table.Td><Badge size="xs" variant="light" color={move.color} tt="none">{move.text}</Badge></Table.Td>
              </Table.Tr>
            );
          })}
        </Table.Tbody>
      </Table>
    </Stack>
  );
}

/** The served list and the candidate's list, side by side from tablet width up, stacked on a phone. */
export function SideBySide({ served, candidate, servedLabel, candidateLabel }: { served: Ranked; candidate: Ranked; servedLabel: string; candidateLabel: string }) {
  return (
    <SimpleGrid cols={{ base: 1, sm: 2 }} spacing="lg">
      <RankedTable title={`Served (${servedLabel})`} list={served} other={candidate} otherName="candidate" testId="side-served" />
      <RankedTable title={`Candidate (${candidateLabel})`} list={candidate} other={served} otherName="served" testId="side-candidate" />
    </SimpleGrid>
  );
}

/** Ids as badges; items missing from the other list are highlighted. */
export function IdList({ ids, other }: { ids: string[]; other: Set<string> }) {
  return (
    <Group gap={4}>
      {ids.map((id) => (
        <Badge key={id} size="xs" variant={other.has(id) ? "light" : "filled"} color={other.has(id) ? "gray" : "orange"} tt="none">{id}</Badge>
      ))}
    </Group>
  );
}

/**
 * "Promote to canary…": the canary start flow (approvals, confirm dialog) opened on the shadow's candidate version.
 * `serving`: the serving alias's version as the page shows it; the dialog keeps the one shown at the press (the page refreshes every 10 s).
 */
export function PromoteToCanaryButton({ surface, modelName, serving, candidateVersion }: { surface: string; modelName: string | null; serving: ServingShown; candidateVersion: number | null }) {
  const [open, setOpen] = useState<{ serving: ServingShown; candidateVersion: number } | null>(null);
  if (!modelName || candidateVersion === null) return null;
  return (
    <>
      <GuardedButton permission="canary.start" size="xs" variant="light" onClick={() => setOpen({ serving, candidateVersion })} data-testid="promote-to-canary">
        Promote v{candidateVersion} to canary…
      </GuardedButton>
      {open && <StartCanaryModal surface={surface} modelName={modelName} serving={open.serving} initialVersion={open.candidateVersion} onClose={() => setOpen(null)} />}
    </>
  );
}
