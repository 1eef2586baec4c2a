"use client";
import { Alert, Button, Group, List, Modal, Stack, Text, TextInput } from "@mantine/core";
import { IconAlertTriangle } from "@tabler/icons-react";
import { useState, type ReactNode } from "react";

/**
 * The one confirm dialog for every production-changing action: it names what will change (one
 * line per effect: surfaces affected, from → to versions) and requires a reason for the audit log.
 */
export function ConfirmChangeDialog(props: {
  title: string;
  /** What will change, one line each: "search: search-ranker production v2 → v3". */
  changes: ReactNode[];
  /** A note under the changes (who else is affected, what cannot be undone). */
  warning?: ReactNode;
  confirmLabel: string;
  color?: string;
  pending?: boolean;
  /** Extra fields above the reason (e.g. a choice the action needs). */
  children?: ReactNode;
  onConfirm: (reason: string) => void;
  onClose: () => void;
}) {
  const [reason, setReason] = useState("");
  const ready = reason.trim().length >= 3;
  return (
    <Modal opened onClose={props.onClose} title={props.title} size="lg">
      <Stack gap="sm">
        <Text size="sm" fw={600}>This will change:</Text>
        <List size="sm" spacing={4} data-testid="confirm-changes">
          {props.changes.map((change, i) => <List.Item key={i}>{change}</List.Item>)}
        </List>
        {props.warning && <Alert color="yellow" icon={<IconAlertTriangle size={16} />} py="xs">{props.warning}</Alert>}
        {props.children}
        <TextInput
          label="Reason (kept in the audit trail)"
          placeholder="incident, ticket or why now"
          value={reason}
          onChange={(e) => setReason(e.currentTarget.value)}
          error={reason.length > 0 && !ready ? "say why (at least 3 characters)" : undefined}
          data-autofocus
          required
        />
        <Group justify="flex-end">
          <Button variant="default" onClick={props.onClose}>Cancel</Button>
          <Button color={props.color ?? "blue"} loading={props.pending} disabled={!ready} onClick={() => props.onConfirm(reason.trim())}>
            {props.confirmLabel}
          </Button>
        </Group>
      </Stack>
    </Modal>
  );
}
