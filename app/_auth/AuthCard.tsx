"use client";
import { Alert, Center, Paper, Stack, Text, Title } from "@mantine/core";
import { IconAlertCircle } from "@tabler/icons-react";
import type { FormEvent, ReactNode } from "react";

/** The centred card of the pages a person meets before the console (sign-in, setting their password): a titled form with its error. */
export function AuthCard({ label, icon, title, subtitle, error, width = 400, onSubmit, children }: {
  label: string;
  icon: ReactNode;
  title: string;
  subtitle: ReactNode;
  error: string | null;
  width?: number;
  onSubmit: (event: FormEvent) => void;
  children: ReactNode;
}) {
  return (
    <Center mih="100vh" p="md" bg="gray.0">
      <Paper withBorder shadow="sm" radius="md" p="xl" w="100%" maw={width}>
        <form onSubmit={onSubmit} aria-label={label}>
          <Stack gap="md">
            <Stack gap={4} align="center">
              {icon}
              <Title order={2} ta="center">{title}</Title>
              <Text c="dimmed" size="sm" ta="center">{subtitle}</Text>
            </Stack>
            {error && (
              <Alert color="red" icon={<IconAlertCircle size={18} />} role="alert">
                {error}
              </Alert>
            )}
            {children}
          </Stack>
        </form>
      </Paper>
    </Center>
  );
}
