import { Container } from "@mantine/core";
import type { Metadata } from "next";
import { unstable_rethrow } from "next/navigation";
import { serverCaller } from "@/server/caller";
import { AccessProvider, type Me } from "./_auth/AccessProvider";
import { ConsoleShell } from "./_components/ConsoleShell";
import ConsoleNotFound from "./(console)/not-found";

// An address no page answers (/nope, /experiments/x/y/z): Next renders this, in the root layout only,
// with HTTP 404 and on the server (readable without JavaScript). Before, it was Next's bare "404 This
// page could not be found.", outside the console: no navigation, no way home but the back button.

export const metadata: Metadata = { title: "Not found" };

/** Who is signed in, or null: anonymous, or the database unreachable (a 404 is still a 404 then). */
async function signedIn(): Promise<Me | null> {
  try {
    return await (await serverCaller()).auth.me();
  } catch (error) {
    unstable_rethrow(error); // Next's own signals (a dynamic render at build time) pass through
    return null;
  }
}

/**
 * The 404 of an unmatched address: inside the console's shell (navigation, user menu) for a signed-in
 * person, as the (console) layout renders it; on its own for anyone else (the front door sends an
 * anonymous visitor of a console page to sign in first, so they are API paths and files here).
 */
export default async function NotFound() {
  const me = await signedIn();
  if (!me) {
    return (
      <Container size="md" py="xl">
        <ConsoleNotFound />
      </Container>
    );
  }
  return (
    <AccessProvider me={me}>
      <ConsoleShell>
        <ConsoleNotFound />
      </ConsoleShell>
    </AccessProvider>
  );
}
