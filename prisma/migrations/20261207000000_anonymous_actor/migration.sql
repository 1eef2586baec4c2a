-- An unknown caller (a refused sign-in) is an actor of its own kind, not a "user" named anonymous.
-- The audit trail is append-only (its trigger refuses UPDATE), so entries written before this keep
-- kind "user" with no actor id; readers tell them apart by that.
ALTER TYPE "AuditActorKind" ADD VALUE 'anonymous';
