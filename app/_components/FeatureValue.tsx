"use client";
import { Text } from "@mantine/core";

/** How a feature value the model saw reads in a table: a number to 4 significant digits, a masked value as its keyed hash, a default marked as such. */
export function FeatureValue({ value, defaulted }: { value: number | string | null | undefined; defaulted?: boolean }) {
  if (typeof value === "string") {
    return <Text span size="xs" ff="monospace" c="dimmed" title="masked (DEBUG_MASKED_FIELDS): keyed hash of the value">{value}</Text>;
  }
  if (value === null || value === undefined) return <Text span size="xs" c="dimmed" title="not a finite number">—</Text>;
  const text = Math.abs(value) >= 1e5 || (value !== 0 && Math.abs(value) < 1e-3) ? value.toExponential(2) : String(Number(value.toPrecision(4)));
  return defaulted ? (
    <Text span size="xs" c="orange.8" fs="italic" title="the spec's default: the value was missing, stale or not finite">{text}*</Text>
  ) : (
    <Text span size="xs">{text}</Text>
  );
}
