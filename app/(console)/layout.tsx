import { headers } from "next/headers";
import { redirect } from "next/navigation";
import type { ReactNode } from "react";
import { whoAmI } from "@/server/auth/service";
import { createContext } from "@/server/trpc";
import { AccessProvider } from "../_auth/AccessProvider";
import { ConsoleShell } from "../_components/ConsoleShell";

// Every console page reads live data: render on each request, never at build time.
export const dynamic = "force-dynamic";

/** The console is for signed-in people: anyone else goes to the sign-in page, then comes back. */
export default async function ConsoleLayout({ children }: { children: ReactNode }) {
  const requestHeaders = await headers();
  const me = whoAmI(await createContext({ headers: new Headers(requestHeaders) }));
  if (!me) {
    const next = requestHeaders.get("x-rerank-path") ?? "/";
    redirect(`/sign-in?next=${encodeURIComponent(next)}`);
  }
  return (
    <AccessProvider me={me}>
      <ConsoleShell>{children}</ConsoleShell>
    </AccessProvider>
  );
}
