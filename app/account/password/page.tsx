import type { Metadata } from "next";
import { serverCaller } from "@/server/caller";
import { safeNextPath } from "@/server/domain/access/nextPath";
import { SetPasswordForm } from "./SetPasswordForm";

export const metadata: Metadata = { title: "Your password" };
export const dynamic = "force-dynamic";

/** A signed-in person's own password: set it after signing in with a one-time password (the front door sends them here), or change it. */
export default async function PasswordPage({ searchParams }: { searchParams: Promise<{ next?: string }> }) {
  const { next } = await searchParams;
  const me = await (await serverCaller()).auth.me();
  return <SetPasswordForm next={safeNextPath(next)} email={me?.name ?? ""} oneTime={me?.mustChangePassword ?? false} />;
}
