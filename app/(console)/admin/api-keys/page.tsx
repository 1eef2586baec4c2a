import type { Metadata } from "next";
import { PageHeader } from "../../../_components/PageHeader";
import { ApiKeysAdmin } from "./ApiKeysAdmin";

export const metadata: Metadata = { title: "API keys" };

export default function ApiKeysPage() {
  return (
    <>
      <PageHeader
        title="API keys"
        subtitle="Keys for machines: serving keys call /api/v1/rerank and /api/v1/events; automation keys act with a role (CI pipelines that register and promote models). Send them as Authorization: Bearer <key>."
      />
      <ApiKeysAdmin />
    </>
  );
}
