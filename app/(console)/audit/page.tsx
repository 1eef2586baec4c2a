import { Stack } from "@mantine/core";
import type { Metadata } from "next";
import { PageHeader } from "../../_components/PageHeader";
import { AuditTrail, type AuditFilterState } from "./AuditTrail";

export const metadata: Metadata = { title: "Audit" };

type Params = Partial<Record<keyof AuditFilterState, string | string[]>>;
const first = (v: string | string[] | undefined) => (Array.isArray(v) ? v[0] : v) ?? "";

export default async function Page({ searchParams }: { searchParams: Promise<Params> }) {
  const params = await searchParams;
  return (
    <Stack>
      <PageHeader title="Audit" subtitle="Every change to serving, models, experiments, rollouts and people: who, what, why, and from where (sign-ins: admins only). Entries cannot be edited or deleted." />
      <AuditTrail initial={{ actor: first(params.actor), action: first(params.action), surface: first(params.surface), from: first(params.from), to: first(params.to) }} />
    </Stack>
  );
}
