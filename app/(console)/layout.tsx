import type { ReactNode } from "react";
import { ConsoleShell } from "../_components/ConsoleShell";

// Every console page reads live data: render on each request, never at build time.
export const dynamic = "force-dynamic";

export default function ConsoleLayout({ children }: { children: ReactNode }) {
  return <ConsoleShell>{children}</ConsoleShell>;
}
