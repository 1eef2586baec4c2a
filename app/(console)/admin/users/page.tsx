import type { Metadata } from "next";
import { PageHeader } from "../../../_components/PageHeader";
import { UsersAdmin } from "./UsersAdmin";

export const metadata: Metadata = { title: "Users" };

export default function UsersPage() {
  return (
    <>
      <PageHeader title="Users" subtitle="Invite people, give them roles, and disable those who leave. Every change is in the audit trail." />
      <UsersAdmin />
    </>
  );
}
