import type { Metadata } from "next";
import { safeNextPath } from "@/server/domain/access/nextPath";
import { SignInForm } from "./SignInForm";

export const metadata: Metadata = { title: "Sign in" };
export const dynamic = "force-dynamic";

export default async function SignInPage({ searchParams }: { searchParams: Promise<{ next?: string }> }) {
  const { next } = await searchParams;
  const target = safeNextPath(next);
  return <SignInForm next={target} />;
}
