import type { Metadata } from "next";
import { SignInForm } from "./SignInForm";

export const metadata: Metadata = { title: "Sign in" };
export const dynamic = "force-dynamic";

export default async function SignInPage({ searchParams }: { searchParams: Promise<{ next?: string }> }) {
  const { next } = await searchParams;
  // Only same-site paths: a sign-in link must not bounce the person to another site.
  const target = next && next.startsWith("/") && !next.startsWith("//") ? next : "/";
  return <SignInForm next={target} />;
}
