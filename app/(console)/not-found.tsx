"use client";
import { usePathname } from "next/navigation";
import { NotFoundCard } from "../_components/NotFoundCard";

/** The console's 404 for a page whose subject does not exist (readOrNotFound), where no closer not-found.tsx names it. */
export default function ConsoleNotFound() {
  const path = usePathname();
  return <NotFoundCard title={`Nothing at ${path}`} description="What this address names does not exist: it may have been deleted or renamed, or the address is mistyped." back={{ href: "/", label: "Back to the overview" }} />;
}
