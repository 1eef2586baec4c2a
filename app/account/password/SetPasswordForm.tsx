"use client";
import { Button, PasswordInput } from "@mantine/core";
import { IconKey } from "@tabler/icons-react";
import { useRouter } from "next/navigation";
import { useState, type FormEvent } from "react";
import { AuthCard } from "../../_auth/AuthCard";
import { authClient } from "../../_auth/client";

/** Minimum length better-auth is configured with (server/auth/auth.ts emailAndPassword.minPasswordLength). */
const MIN_LENGTH = 10;

export function SetPasswordForm({ next, email, oneTime }: { next: string; email: string; oneTime: boolean }) {
  const router = useRouter();
  const [current, setCurrent] = useState("");
  const [fresh, setFresh] = useState("");
  const [again, setAgain] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [pending, setPending] = useState(false);

  async function submit(event: FormEvent) {
    event.preventDefault();
    if (fresh.length < MIN_LENGTH) return setError(`The new password needs at least ${MIN_LENGTH} characters.`);
    if (fresh !== again) return setError("The two new passwords differ.");
    if (fresh === current) return setError("Choose a password different from the one you were given.");
    setPending(true);
    setError(null);
    const result = await authClient.changePassword({ currentPassword: current, newPassword: fresh });
    setPending(false);
    if (result.error) {
      setError(result.error.status === 400 && /password/i.test(result.error.message ?? "") ? "The current password is not right." : (result.error.message ?? "Changing the password failed."));
      return;
    }
    router.replace(next);
    router.refresh();
  }

  const subtitle = oneTime
    ? `You signed in as ${email} with a one-time password an admin gave you. Choose your own before you go on: nobody else should know it.`
    : `Signed in as ${email}. Your other sessions are signed out when you change it.`;
  return (
    <AuthCard label="Set your password" icon={<IconKey size={32} />} title={oneTime ? "Set your own password" : "Change your password"} subtitle={subtitle} error={error} width={420} onSubmit={submit}>
      <PasswordInput label={oneTime ? "One-time password" : "Current password"} autoComplete="current-password" required value={current} onChange={(e) => setCurrent(e.currentTarget.value)} />
      <PasswordInput label="New password" description={`At least ${MIN_LENGTH} characters`} autoComplete="new-password" required value={fresh} onChange={(e) => setFresh(e.currentTarget.value)} />
      <PasswordInput label="New password again" autoComplete="new-password" required value={again} onChange={(e) => setAgain(e.currentTarget.value)} />
      <Button type="submit" loading={pending} fullWidth>
        {oneTime ? "Set password and continue" : "Change password"}
      </Button>
    </AuthCard>
  );
}
