"use client";
import { Alert, Button, Center, Paper, PasswordInput, Stack, Text, TextInput, Title } from "@mantine/core";
import { IconAdjustmentsHorizontal, IconAlertCircle } from "@tabler/icons-react";
import { useRouter } from "next/navigation";
import { useState, type FormEvent } from "react";
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
    router.replace(next);
    router.refresh();
  }

  return (
    <Center mih="100vh" p="md" bg="gray.0">
      <Paper withBorder shadow="sm" radius="md" p="xl" w="100%" maw={400}>
        <form onSubmit={submit} aria-label="Sign in">
          <Stack gap="md">
            <Stack gap={4} align="center">
              <IconAdjustmentsHorizontal size={32} />
              <Title order={2}>Rerank Console</Title>
              <Text c="dimmed" size="sm">Sign in to serve, test and roll out rerankers</Text>
            </Stack>
            {error && (
              <Alert color="red" icon={<IconAlertCircle size={18} />} role="alert">
                {error}
              </Alert>
            )}
            <TextInput label="Email" type="email" autoComplete="username" required value={email} onChange={(e) => setEmail(e.currentTarget.value)} />
            <PasswordInput label="Password" autoComplete="current-password" required value={password} onChange={(e) => setPassword(e.currentTarget.value)} />
            <Button type="submit" loading={pending} fullWidth>
              Sign in
            </Button>
            <Text size="xs" c="dimmed" ta="center">
              No account? Ask an admin of this console to invite you. On a first start, the admin&apos;s sign-in is printed by
              npm start and kept in .data/first-run-credentials.json.
            </Text>
          </Stack>
        </form>
      </Paper>
    </Center>
  );
}
