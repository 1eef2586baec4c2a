"use client";
import { Button, PasswordInput, Text, TextInput } from "@mantine/core";
import { IconAdjustmentsHorizontal } from "@tabler/icons-react";
import { useRouter } from "next/navigation";
import { useState, type FormEvent } from "react";
import { AuthCard } from "../_auth/AuthCard";
import { authClient } from "../_auth/client";

export function SignInForm({ next }: { next: string }) {
  const router = useRouter();
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [pending, setPending] = useState(false);

  async function submit(event: FormEvent) {
    event.preventDefault();
    setPending(true);
    setError(null);
    const result = await authClient.signIn.email({ email, password });
    setPending(false);
    if (result.error) {
      setError(
        result.error.status === 429
          ? "Too many sign-in attempts from this address. Wait a minute and try again."
          : result.error.status === 401 || result.error.status === 403
            ? "That email and password do not match an active account."
            : (result.error.message ?? "Sign-in failed."),
      );
      return;
    }
    // A one-time password (an invite's, a reset's) is replaced before anything else (the front door also sends pages there).
    const oneTime = (result.data?.user as { mustChangePassword?: boolean } | undefined)?.mustChangePassword === true;
    router.replace(oneTime ? `/account/password?next=${encodeURIComponent(next)}` : next);
    router.refresh();
  }

  return (
    <AuthCard label="Sign in" icon={<IconAdjustmentsHorizontal size={32} />} title="Rerank Console" subtitle="Sign in to serve, test and roll out rerankers" error={error} onSubmit={submit}>
      <TextInput label="Email" type="email" autoComplete="username" required value={email} onChange={(e) => setEmail(e.currentTarget.value)} />
      <PasswordInput label="Password" autoComplete="current-password" required value={password} onChange={(e) => setPassword(e.currentTarget.value)} />
      <Button type="submit" loading={pending} fullWidth>
        Sign in
      </Button>
      <Text size="xs" c="dimmed" ta="center">
        No account? Ask an admin of this console to invite you. On a first start, the admin&apos;s sign-in is printed by
        npm start and kept in .data/first-run-credentials.json.
      </Text>
    </AuthCard>
  );
}
