import { Badge, type BadgeProps } from "@mantine/core";

const COLOR: Record<string, string> = { pending: "gray", running: "blue", paused: "orange", promoted: "teal", rolled_back: "red", aborted: "gray" };

/** A canary rollout's status ("rolled back", "running 25%"), coloured alike on every page. */
export function RolloutStatusBadge({ status, percent, size = "sm" }: { status: string; percent?: number; size?: BadgeProps["size"] }) {
  return (
    <Badge size={size} color={COLOR[status] ?? "gray"} variant="light">
      {status.replace("_", " ")}
      {status === "running" && percent !== undefined ? ` ${percent}%` : ""}
    </Badge>
  );
}
