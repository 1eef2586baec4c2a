import { Badge, type BadgeProps } from "@mantine/core";
import type { ReactNode } from "react";

// A badge whose label wraps onto more lines instead of being cut with an ellipsis: Mantine's Badge
// has a fixed height and a `white-space: nowrap` label, so a long label (a model name, alias and
// budget; a sentence) is cut at narrow widths. Used where a badge says more than a word or two.

const WRAP_STYLES = {
  root: { height: "auto", maxWidth: "100%", paddingBlock: 2 },
  label: { whiteSpace: "normal", overflow: "visible", overflowWrap: "anywhere", lineHeight: 1.35 },
} as const;

/** A Mantine Badge (same props; text transform off) whose label wraps within the width it is given. */
export function WrappingBadge({ children, ...props }: BadgeProps & { children: ReactNode; "data-testid"?: string }) {
  return (
    <Badge tt="none" {...props} styles={WRAP_STYLES}>
      {children}
    </Badge>
  );
}
