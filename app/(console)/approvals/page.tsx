import type { Metadata } from "next";
import { PageHeader } from "../../_components/PageHeader";
import { ApprovalsConsole } from "./ApprovalsConsole";

export const metadata: Metadata = { title: "Approvals" };

export default function ApprovalsPage() {
  return (
    <>
      <PageHeader
        title="Approvals"
        subtitle="On surfaces that require approval, moving the serving alias, starting a canary and shipping an experiment wait here for a second person with the same permission. Rollback, the kill switch and canary abort never wait."
      />
      <ApprovalsConsole />
    </>
  );
}
