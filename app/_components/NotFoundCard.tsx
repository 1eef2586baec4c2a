import { Card, Stack, Text, ThemeIcon, Title } from "@mantine/core";
import { IconSearchOff } from "@tabler/icons-react";
import { AnchorLink } from "./AnchorLink";

/**
 * A console page's 404 (the not-found.tsx files): what was not found, in a sentence that names it,
 * why that may be, and where to go instead.
 */
export function NotFoundCard({ title, description, back }: { title: string; description: string; back: { href: string; label: string } }) {
  return (
    <Card withBorder padding="xl" data-testid="not-found">
      <Stack gap="sm" align="flex-start">
        <ThemeIcon variant="light" color="gray" size={44} radius="xl"><IconSearchOff size={24} /></ThemeIcon>
        <Title order={2} data-testid="not-found-title" style={{ overflowWrap: "anywhere" }}>{title}</Title>
        <Text c="dimmed" maw={720}>{description}</Text>
        <AnchorLink href={back.href}>{back.label}</AnchorLink>
      </Stack>
    </Card>
  );
}

/** A path part as the URL carried it, decoded for the sentence (a malformed escape is shown as sent). */
export function pathPart(value: string | string[] | undefined): string {
  const text = Array.isArray(value) ? value.join("/") : (value ?? "");
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}
