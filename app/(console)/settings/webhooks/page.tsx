import type { Metadata } from "next";
import { PageHeader } from "../../../_components/PageHeader";
import { WebhooksSettings } from "./WebhooksSettings";

export const metadata: Metadata = { title: "Webhooks" };

export default function WebhooksPage() {
  return (
    <>
      <PageHeader
        title="Webhooks"
        subtitle="Where the console announces canary steps, promotions, rollbacks, kill switches, ships and sample-ratio alarms: signed Standard Webhooks JSON, or a Slack-compatible message. Failed deliveries are retried with backoff; every attempt is in the log below."
      />
      <WebhooksSettings />
    </>
  );
}
