import type { Metadata } from "next";
import { PageHeader } from "../../_components/PageHeader";
import { ApprovalsConsole } from "./ApprovalsConsole";

export const metadata: Metadata = { title: "Approvals" };

export default function ApprovalsPage() {
  return (
    <>
      <PageHeader
        title="Approvals"
        subtitle="On surfaces that require approval, moving an alias that ranks their traffic (serving, stage 2, fallback, also when shared with another surface), changing stage 2, starting a canary or an experiment, restarting an experiment with changes and shipping an experiment wait here for a second person with the same permission. Rollback, the kill switch and canary abort never wait."
      />
      <ApprovalsConsole />
    </>
  );
}
