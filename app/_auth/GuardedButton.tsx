"use client";
import { Button, Tooltip, type ButtonProps } from "@mantine/core";
import Link from "next/link";
import type { ComponentPropsWithoutRef } from "react";
import type { Permission } from "@/server/domain/access/permissions";
import { usePermission } from "./AccessProvider";

/**
 * A lever: enabled for those whose roles hold `permission`; for others disabled, with the reason
 * ("Needs the On-call or Admin role to …") on hover and to screen readers. The server is the guard.
 */
export function GuardedButton({ permission, disabled, href, ...props }: ButtonProps & ComponentPropsWithoutRef<"button"> & { permission: Permission; href?: string }) {
  const { allowed, reason } = usePermission(permission);
  if (allowed && href) return <Button component={Link} href={href} {...(props as ButtonProps)} />;
  if (allowed) return <Button disabled={disabled} {...props} />;
  return (
    <Tooltip label={reason} multiline w={260} withArrow>
      <Button {...props} disabled data-disabled-reason={reason ?? undefined} aria-description={reason ?? undefined} onClick={undefined} />
    </Tooltip>
  );
}
