"use client";
import { Alert, Badge, Button, Card, Checkbox, Code, CopyButton, Group, Loader, Modal, Stack, Table, Text, TextInput, Tooltip } from "@mantine/core";
import { notifications } from "@mantine/notifications";
import { IconUserPlus } from "@tabler/icons-react";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { ROLE_LABELS, ROLES, type Role } from "@/server/domain/access/permissions";
import { useMe, usePermission } from "../../../_auth/AccessProvider";
import { ConfirmChangeDialog } from "../../../_components/ConfirmChangeDialog";
import { useTRPC } from "../../../_trpc/client";

type Change = { kind: "roles"; userId: string; email: string; from: Role[]; to: Role[] } | { kind: "disable"; userId: string; email: string; disabled: boolean; keys: { total: number; serving: number } } | { kind: "reset"; userId: string; email: string; keys: { total: number; serving: number } };

function RolePicker({ value, onChange }: { value: Role[]; onChange: (roles: Role[]) => void }) {
  return (
    <Checkbox.Group value={value} onChange={(v) => onChange(v as Role[])} label="Roles">
      <Group gap="sm" mt={4}>
        {ROLES.map((r) => <Checkbox key={r} value={r} label={ROLE_LABELS[r]} />)}
      </Group>
    </Checkbox.Group>
  );
}

function OneTimePassword({ email, password, onClose }: { email: string; password: string; onClose: () => void }) {
  return (
    <Modal opened onClose={onClose} title="Hand this password over once">
      <Stack>
        <Text size="sm">
          {email} signs in with this password. It is shown only now; the person should keep it in a password manager.
        </Text>
        <Group wrap="nowrap">
          <Code block style={{ flex: 1 }} data-testid="one-time-password">{password}</Code>
          <CopyButton value={password}>{({ copied, copy }) => <Button onClick={copy} variant="light">{copied ? "Copied" : "Copy"}</Button>}</CopyButton>
        </Group>
        <Group justify="flex-end"><Button onClick={onClose}>Done</Button></Group>
      </Stack>
    </Modal>
  );
}

/** The disable dialog's line on the person's API keys: revoked for good, serving ones named (production serving with them stops). */
function revokedKeysLine(keys: { total: number; serving: number }): string {
  if (keys.total === 0) return "they hold no API key";
  const what = keys.total === 1 ? "their API key is" : `their ${keys.total} API keys are`;
  const serving = keys.serving === 0 ? "" : keys.serving === keys.total ? (keys.total === 1 ? " (a serving key: traffic sent with it is refused from the next request)" : " (serving keys: traffic sent with them is refused from the next request)") : ` (${keys.serving} serving: traffic sent with ${keys.serving === 1 ? "it" : "them"} is refused from the next request)`;
  return `${what} revoked for good${serving}; enabling them again does not bring ${keys.total === 1 ? "it" : "them"} back`;
}

export function UsersAdmin() {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const me = useMe();
  const access = usePermission("users.manage");
  const users = useQuery({ ...trpc.users.list.queryOptions(), enabled: access.allowed });
  const [invite, setInvite] = useState<{ email: string; name: string; roles: Role[] } | null>(null);
  const [shownPassword, setShownPassword] = useState<{ email: string; password: string } | null>(null);
  const [change, setChange] = useState<Change | null>(null);
  const refresh = () => queryClient.invalidateQueries({ queryKey: trpc.users.list.queryKey() });
  const onError = (e: { message: string }) => notifications.show({ color: "red", message: e.message });

  const inviteMutation = useMutation(trpc.users.invite.mutationOptions({
    onSuccess: (r) => { setInvite(null); setShownPassword({ email: r.user.email, password: r.password }); void refresh(); },
    onError,
  }));
  // A 409 (their roles changed since the dialog opened): the dialog closes and the list reloads, so the person looks again.
  const rolesMutation = useMutation(trpc.users.setRoles.mutationOptions({
    onSuccess: (u) => { setChange(null); notifications.show({ color: "teal", message: `${u.email}: roles saved` }); void refresh(); },
    onError: (e) => { onError(e); if (e.data?.code === "CONFLICT") { setChange(null); void refresh(); } },
  }));
  const disableMutation = useMutation(trpc.users.setDisabled.mutationOptions({ onSuccess: (u) => { setChange(null); notifications.show({ color: "teal", message: `${u.email} ${u.disabled ? `disabled and signed out${u.revokedKeys ? `, ${u.revokedKeys === 1 ? "1 API key" : `${u.revokedKeys} API keys`} revoked` : ""}` : "enabled"}` }); void refresh(); }, onError }));
  const resetMutation = useMutation(trpc.users.resetPassword.mutationOptions({ onSuccess: (r) => { setChange(null); setShownPassword({ email: r.user.email, password: r.password }); }, onError }));

  if (!access.allowed) return <Alert color="gray">{access.reason}</Alert>;
  if (!users.data) return <Loader />;

  return (
    <Stack>
      <Group justify="flex-end">
        <Button leftSection={<IconUserPlus size={16} />} onClick={() => setInvite({ email: "", name: "", roles: ["viewer"] })}>Invite a person</Button>
      </Group>
      <Card withBorder p={0}>
        <Table.ScrollContainer minWidth={720}>
          <Table verticalSpacing="sm" striped data-testid="users-table">
            <Table.Thead>
              <Table.Tr><Table.Th>Person</Table.Th><Table.Th>Roles</Table.Th><Table.Th>Status</Table.Th><Table.Th>Last seen</Table.Th><Table.Th /></Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {users.data.map((u) => (
                <Table.Tr key={u.id} data-testid={`user-row-${u.email}`}>
                  <Table.Td><Text size="sm" fw={500}>{u.name}</Text><Text size="xs" c="dimmed">{u.email}</Text></Table.Td>
                  <Table.Td>
                    <Group gap={4}>{u.roles.map((r) => <Badge key={r} variant="light" size="sm" styles={{ root: { overflow: "visible", minWidth: "max-content" }, label: { overflow: "visible" } }}>{ROLE_LABELS[r]}</Badge>)}</Group>
                  </Table.Td>
                  <Table.Td>{u.disabled ? <Badge color="red" variant="light" styles={{ root: { overflow: "visible", minWidth: "max-content" }, label: { overflow: "visible" } }}>disabled</Badge> : <Badge color="teal" variant="light" styles={{ root: { overflow: "visible", minWidth: "max-content" }, label: { overflow: "visible" } }}>active</Badge>}</Table.Td>
                  <Table.Td><Text size="xs">{u.lastSeenAt ? new Date(u.lastSeenAt).toLocaleString() : "never"}</Text></Table.Td>
                  <Table.Td>
                    <Group gap={4} justify="flex-end" wrap="nowrap">
                      <Button size="xs" variant="subtle" onClick={() => setChange({ kind: "roles", userId: u.id, email: u.email, from: u.roles, to: u.roles })}>Roles…</Button>
                      <Button size="xs" variant="subtle" onClick={() => setChange({ kind: "reset", userId: u.id, email: u.email, keys: u.activeKeys })}>Reset password…</Button>
                      <Tooltip label="You cannot disable yourself" disabled={u.id !== me?.id}>
                        <Button size="xs" variant="subtle" color={u.disabled ? "teal" : "red"} disabled={u.id === me?.id}
                          onClick={() => setChange({ kind: "disable", userId: u.id, email: u.email, disabled: !u.disabled, keys: u.activeKeys })}>
                          {u.disabled ? "Enable…" : "Disable…"}
                        </Button>
                      </Tooltip>
                    </Group>
                  </Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        </Table.ScrollContainer>
      </Card>

      {invite && (
        <Modal opened onClose={() => setInvite(null)} title="Invite a person">
          <Stack>
            <TextInput label="Email" type="email" required value={invite.email} onChange={(e) => setInvite({ ...invite, email: e.currentTarget.value })} />
            <TextInput label="Name" required value={invite.name} onChange={(e) => setInvite({ ...invite, name: e.currentTarget.value })} />
            <RolePicker value={invite.roles} onChange={(roles) => setInvite({ ...invite, roles })} />
            <Text size="xs" c="dimmed">The console shows a one-time password to hand over; no email is sent.</Text>
            <Group justify="flex-end">
              <Button variant="default" onClick={() => setInvite(null)}>Cancel</Button>
              <Button loading={inviteMutation.isPending} disabled={!invite.email || !invite.name || invite.roles.length === 0} onClick={() => inviteMutation.mutate(invite)}>Invite</Button>
            </Group>
          </Stack>
        </Modal>
      )}

      {change?.kind === "roles" && (
        <ConfirmChangeDialog
          title={`Roles of ${change.email}`}
          changes={[`${change.email}: ${change.from.map((r) => ROLE_LABELS[r]).join(", ")} → ${change.to.map((r) => ROLE_LABELS[r]).join(", ") || "no role"}`]}
          confirmLabel="Save roles"
          pending={rolesMutation.isPending}
          onClose={() => setChange(null)}
          onConfirm={(reason) => rolesMutation.mutate({ userId: change.userId, roles: change.to, expectRoles: change.from, reason })}
        >
          <RolePicker value={change.to} onChange={(to) => setChange({ ...change, to })} />
        </ConfirmChangeDialog>
      )}
      {change?.kind === "disable" && (
        <ConfirmChangeDialog
          title={change.disabled ? `Disable ${change.email}` : `Enable ${change.email}`}
          changes={change.disabled ? [`${change.email} is signed out everywhere and cannot sign in`, revokedKeysLine(change.keys)] : [`${change.email} can sign in again`, "API keys revoked when they were disabled stay revoked: they make new ones"]}
          confirmLabel={change.disabled ? "Disable" : "Enable"}
          color={change.disabled ? "red" : "teal"}
          pending={disableMutation.isPending}
          onClose={() => setChange(null)}
          onConfirm={(reason) => disableMutation.mutate({ userId: change.userId, disabled: change.disabled, reason })}
        />
      )}
      {change?.kind === "reset" && (
        <ConfirmChangeDialog
          title={`Reset the password of ${change.email}`}
          changes={[
            `${change.email} gets a new one-time password and is signed out everywhere`,
            ...(change.keys.total > 0 ? [`the ${change.keys.total === 1 ? "API key they issued keeps" : `${change.keys.total} API keys they issued keep`} working (production may depend on them): if the password may have leaked, revoke ${change.keys.total === 1 ? "it" : "them"} on the API keys page, or disable the person`] : []),
          ]}
          confirmLabel="Reset password"
          color="orange"
          pending={resetMutation.isPending}
          onClose={() => setChange(null)}
          onConfirm={(reason) => resetMutation.mutate({ userId: change.userId, reason })}
        />
      )}
      {shownPassword && <OneTimePassword {...shownPassword} onClose={() => setShownPassword(null)} />}
    </Stack>
  );
}
