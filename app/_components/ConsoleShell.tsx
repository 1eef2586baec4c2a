"use client";
import { AppShell, Badge, Burger, Group, NavLink, ScrollArea, Text, Title } from "@mantine/core";
import { useDisclosure } from "@mantine/hooks";
import {
  IconAdjustmentsHorizontal, IconBug, IconChartBar, IconFlask, IconGhost2, IconHistory, IconHome, IconSitemap, IconSos,
} from "@tabler/icons-react";
import { useQuery } from "@tanstack/react-query";
import Link from "next/link";
import { usePathname } from "next/navigation";
import type { ReactNode } from "react";
import { useTRPC } from "../_trpc/client";

export const NAV = [
  { href: "/", label: "Overview", icon: IconHome },
  { href: "/experiments", label: "Experiments", icon: IconFlask },
  { href: "/shadow", label: "Shadow", icon: IconGhost2 },
  { href: "/models", label: "Models", icon: IconSitemap },
  { href: "/audit", label: "Audit", icon: IconHistory },
  { href: "/dashboards/executive", label: "Executive", icon: IconChartBar, group: "Dashboards" },
  { href: "/dashboards/oncall", label: "On-call", icon: IconSos, group: "Dashboards" },
  { href: "/dashboards/debug", label: "Debug", icon: IconBug, group: "Dashboards" },
] as const;

function StatusBadge() {
  const trpc = useTRPC();
  const health = useQuery({ ...trpc.system.health.queryOptions(), refetchInterval: 15_000 });
  if (!health.data) return <Badge variant="light" color="gray">checking…</Badge>;
  const ok = health.data.status === "ok";
  return (
    <Badge variant="light" color={ok ? "teal" : "red"} data-testid="status-badge">
      {ok ? "healthy" : "degraded"}
      <Text span inherit visibleFrom="sm"> · v{health.data.version}</Text>
    </Badge>
  );
}

export function ConsoleShell({ children }: { children: ReactNode }) {
  const [opened, { toggle, close }] = useDisclosure();
  const pathname = usePathname();
  const isActive = (href: string) => (href === "/" ? pathname === "/" : pathname.startsWith(href));
  return (
    <AppShell header={{ height: 56 }} navbar={{ width: 230, breakpoint: "sm", collapsed: { mobile: !opened } }} padding="lg">
      <AppShell.Header>
        <Group h="100%" px="md" justify="space-between" wrap="nowrap">
          <Group gap="sm" wrap="nowrap">
            <Burger opened={opened} onClick={toggle} hiddenFrom="sm" size="sm" aria-label="Toggle navigation" />
            <IconAdjustmentsHorizontal size={22} />
            <Title order={4} style={{ whiteSpace: "nowrap" }}>Rerank Console</Title>
          </Group>
          <StatusBadge />
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
        </ScrollArea>
      </AppShell.Navbar>
      <AppShell.Main>{children}</AppShell.Main>
    </AppShell>
  );
}
