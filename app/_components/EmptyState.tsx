import { Card, Code, List, ListItem, Stack, Text, ThemeIcon, Title } from "@mantine/core";
import { IconInbox } from "@tabler/icons-react";

/** What will appear here, and the concrete steps that make it appear. */
export function EmptyState({ title, description, steps }: { title: string; description: string; steps: Array<{ text: string; command?: string }> }) {
  return (
    <Card withBorder padding="xl" data-testid="empty-state">
      <Stack gap="sm" align="flex-start">
        <ThemeIcon variant="light" size={44} radius="xl"><IconInbox size={24} /></ThemeIcon>
        <Title order={3}>{title}</Title>
        <Text c="dimmed" maw={720}>{description}</Text>
        <Text fw={600} mt="xs">How to get it</Text>
        <List type="ordered" spacing="xs">
          {steps.map((step) => (
            <ListItem key={step.text}>
              {step.text}
              {step.command ? <> <Code>{step.command}</Code></> : null}
            </ListItem>
          ))}
        </List>
      </Stack>
    </Card>
  );
}
