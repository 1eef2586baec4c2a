"use client";
import { Anchor, Text, type TextProps } from "@mantine/core";
import Link from "next/link";
import type { Phrase } from "@/server/domain/audit/describe";

/** An audit entry's sentence ("ana@corp moved search-ranker production from v2 to v1") with its links. */
export function AuditSentence({ parts, ...props }: TextProps & { parts: Phrase[] }) {
  return (
    <Text {...props}>
      {parts.map((p, i) =>
        p.href ? <Anchor key={i} component={Link} href={p.href} inherit>{p.text}</Anchor> : <span key={i}>{p.text}</span>,
      )}
    </Text>
  );
}
