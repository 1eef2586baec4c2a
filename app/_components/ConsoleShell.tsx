"use client";
import { AppShell, Avatar, Badge, Box, Burger, Group, Menu, NavLink, ScrollArea, Text, Title, UnstyledButton } from "@mantine/core";
import { useDisclosure } from "@mantine/hooks";
import {
  IconAdjustmentsHorizontal, IconBug, IconChartBar, IconChecklist, IconFlask, IconGhost2, IconHistory, IconHome, IconKey, IconLogout, IconSitemap, IconSos, IconTimeline, IconUsers, IconWebhook,
} from "@tabler/icons-react";
import { useQuery } from "@tanstack/react-query";
import Link from "next/link";
import { usePathname, useRouter } from "next/navigation";
import type { ReactNode } from "react";
import { ROLE_LABELS } from "@/server/domain/access/permissions";
import { useMe } from "../_auth/AccessProvider";
import { authClient } from "../_auth/client";
import { useTRPC } from "../_trpc/client";

export const NAV = [
  { href: "/", label: "Overview", icon: IconHome },
  { href: "/experiments", label: "Experiments", icon: IconFlask },
  { href: "/shadow", label: "Shadow", icon: IconGhost2 },
  { href: "/models", label: "Models", icon: IconSitemap },
  { href: "/approvals", label: "Approvals", icon: IconChecklist },
  { href: "/history", label: "Serving history", icon: IconTimeline },
  { href: "/audit", label: "Audit", icon: IconHistory },
  { href: "/dashboards/executive", label: "Executive", icon: IconChartBar, group: "Dashboards" },
  { href: "/dashboards/oncall", label: "On-call", icon: IconSos, group: "Dashboards" },
  { href: "/dashboards/debug", label: "Debug", icon: IconBug, group: "Dashboards" },
] as const;

/** Admin pages, shown to those who hold the permission. */
const ADMIN_NAV = [
  { href: "/admin/users", label: "Users", icon: IconUsers, permission: "users.manage" },
  { href: "/admin/api-keys", label: "API keys", icon: IconKey, permission: "keys.manage" },
  { href: "/settings/webhooks", label: "Webhooks", icon: IconWebhook, permission: "settings.write" },
] as const;

function UserMenu() {
  const me = useMe();
  const router = useRouter();
  if (!me) return null;
  const initials = me.displayName.split(/[\s@.]+/).filter(Boolean).slice(0, 2).map((w) => w[0]!.toUpperCase()).join("");
  return (
    <Menu position="bottom-end" withinPortal>
      <Menu.Target>
        <UnstyledButton aria-label={`Signed in as ${me.name}`} data-testid="user-menu">
          <Group gap={6} wrap="nowrap">
            <Avatar size="sm" radius="xl" color="indigo">{initials}</Avatar>
            <Text size="sm" visibleFrom="sm" style={{ whiteSpace: "nowrap" }}>{me.displayName}</Text>
          </Group>
        </UnstyledButton>
      </Menu.Target>
      <Menu.Dropdown>
        <Menu.Label>{me.name}</Menu.Label>
        <Menu.Label>{me.roles.map((r) => ROLE_LABELS[r]).join(", ") || "no role"}</Menu.Label>
        <Menu.Divider />
        {me.kind === "user" && (
          <Menu.Item leftSection={<IconKey size={16} />} component={Link} href="/account/password">
            Change password
          </Menu.Item>
        )}
        <Menu.Item
          leftSection={<IconLogout size={16} />}
          onClick={async () => {
            await authClient.signOut();
            router.replace("/sign-in");
            router.refresh();
          }}
        >
          Sign out
        </Menu.Item>
      </Menu.Dropdown>
    </Menu>
  );
}

function StatusBadge() {
  const trpc = useTRPC();
  const health = useQuery({ ...trpc.system.health.queryOptions(), refetchInterval: 15_000 });
  // Never shrunk or cut beside the user menu at phone width, whatever it says.
  const styles = { root: { flexShrink: 0, overflow: "visible", minWidth: "max-content" }, label: { overflow: "visible" } } as const;
  if (!health.data) return <Badge variant="light" color="gray" data-testid="status-badge" styles={styles}>checking…</Badge>;
  const ok = health.data.status === "ok";
  return (
    <Badge variant="light" color={ok ? "teal" : "red"} data-testid="status-badge" styles={styles}>
      {ok ? "healthy" : "degraded"}
      <Text span inherit visibleFrom="sm"> · v{health.data.version}</Text>
    </Badge>
  );
}

export function ConsoleShell({ children }: { children: ReactNode }) {
  const [opened, { toggle, close }] = useDisclosure();
  const pathname = usePathname();
  const me = useMe();
  const adminNav = ADMIN_NAV.filter((item) => me?.permissions.includes(item.permission));
  const isActive = (href: string) => (href === "/" ? pathname === "/" : pathname.startsWith(href));
  return (
    <AppShell header={{ height: 56 }} navbar={{ width: 230, breakpoint: "sm", collapsed: { mobile: !opened } }} padding="lg">
      <AppShell.Header>
        <Group h="100%" px="md" justify="space-between" wrap="nowrap">
          <Group gap="sm" wrap="nowrap">
            <Burger opened={opened} onClick={toggle} hiddenFrom="sm" size="sm" aria-label="Toggle navigation" />
            {/* Decorative: left out at phone width, where the status badge and the user menu need the room. */}
            <Box visibleFrom="sm" display="flex"><IconAdjustmentsHorizontal size={22} /></Box>
            <Title order={4} style={{ whiteSpace: "nowrap" }}>Rerank Console</Title>
          </Group>
          <Group gap="sm" wrap="nowrap">
            <StatusBadge />
            <UserMenu />
          </Group>
        </Group>
      </AppShell.Header>
      <AppShell.Navbar p="xs" aria-label="Main navigation">
        <ScrollArea>
          {NAV.filter((n) => !("group" in n)).map((item) => (
            <NavLink key={item.href} component={Link} href={item.href} label={item.label} onClick={close}
              leftSection={<item.icon size={18} />} active={isActive(item.href)} />
          ))}
          <Text size="xs" c="dimmed" fw={600} tt="uppercase" mt="md" mb={4} px="sm">Dashboards</Text>
          {NAV.filter((n) => "group" in n).map((item) => (
            <NavLink key={item.href} component={Link} href={item.href} label={item.label} onClick={close}
              leftSection={<item.icon size={18} />} active={isActive(item.href)} />
          ))}
          {adminNav.length > 0 && <Text size="xs" c="dimmed" fw={600} tt="uppercase" mt="md" mb={4} px="sm">Admin</Text>}
          {adminNav.map((item) => (
            <NavLink key={item.href} component={Link} href={item.href} label={item.label} onClick={close}
              leftSection={<item.icon size={18} />} active={isActive(item.href)} />
          ))}
        </ScrollArea>
      </AppShell.Navbar>
      <AppShell.Main>{children}</AppShell.Main>
    </AppShell>
  );
}
