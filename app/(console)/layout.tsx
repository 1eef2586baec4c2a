import type { ReactNode } from "react";
import { serverCaller } from "@/server/caller";
import { AccessProvider } from "../_auth/AccessProvider";
import { RedirectToSignIn } from "../_auth/RedirectToSignIn";
import { ConsoleShell } from "../_components/ConsoleShell";

// Every console page reads live data: render on each request, never at build time.
export const dynamic = "force-dynamic";

/** The console is for signed-in people: anyone else goes to the sign-in page, then comes back. */
export default async function ConsoleLayout({ children }: { children: ReactNode }) {
  const me = await (await serverCaller()).auth.me();
  if (!me) return <RedirectToSignIn />;
  return (
    <AccessProvider me={me}>
      <ConsoleShell>{children}</ConsoleShell>
    </AccessProvider>
  );
}
