"use client";
import { createContext, useContext, type ReactNode } from "react";
import { missingPermissionReason, type Permission, type Role } from "@/server/domain/access/permissions";

// Who is signed in, for the UI: it disables what their roles cannot do and says why. The server
// is the guard; this only keeps people from pressing levers that would be refused.

export interface Me {
  kind: "user" | "api_key";
  id: string;
  name: string;
  displayName: string;
  roles: Role[];
  permissions: Permission[];
}

const AccessContext = createContext<Me | null>(null);

export function AccessProvider({ me, children }: { me: Me | null; children: ReactNode }) {
  return <AccessContext.Provider value={me}>{children}</AccessContext.Provider>;
}

export function useMe(): Me | null {
  return useContext(AccessContext);
}

/** Whether the signed-in person may do `permission`, and if not, the sentence to show. */
export function usePermission(permission: Permission): { allowed: boolean; reason: string | null } {
  const me = useMe();
  const allowed = !!me?.permissions.includes(permission);
  return { allowed, reason: allowed ? null : missingPermissionReason(permission) };
}
