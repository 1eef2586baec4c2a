"use client";
import { usePathname } from "next/navigation";
import { NotFoundCard } from "../_components/NotFoundCard";

/** The path as a person typed it (`/☃`, not `/%E2%98%83`); as it is when it is not valid percent-encoding. */
function readablePath(path: string): string {
  try {
    return decodeURIComponent(path);
  } catch {
    return path;
  }
}

/**
 * "Nothing at <path>": the console's 404 for a page whose subject does not exist (readOrNotFound)
 * where no closer not-found.tsx names it, and, through app/not-found.tsx, for an address no page
 * answers (/nope, /experiments/x/y/z).
 */
export default function ConsoleNotFound() {
  const path = readablePath(usePathname());
  return <NotFoundCard title={`Nothing at ${path}`} description="What this address names does not exist: it may have been deleted or renamed, or the address is mistyped." back={{ href: "/", label: "Back to the overview" }} />;
}
