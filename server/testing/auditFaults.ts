import { getDb } from "../db/client";

/**
 * Makes every audit entry of `actions` fail (a trigger raising on insert into audit_log) until the
 * returned function is called. Integration tests only: the trigger is the database's, shared by the
 * test file's connections.
 */
export async function failAudit(actions: string[]): Promise<() => Promise<void>> {
  const db = getDb();
  await db.$executeRawUnsafe(`CREATE OR REPLACE FUNCTION test_fail_audit() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN IF NEW.action = ANY(TG_ARGV) THEN RAISE EXCEPTION 'test: audit entry % refused', NEW.action; END IF; RETURN NEW; END $$`);
  await db.$executeRawUnsafe(`CREATE TRIGGER test_fail_audit BEFORE INSERT ON audit_log FOR EACH ROW EXECUTE FUNCTION test_fail_audit(${actions.map((a) => `'${a}'`).join(", ")})`);
  return async () => {
    await db.$executeRawUnsafe("DROP TRIGGER IF EXISTS test_fail_audit ON audit_log");
  };
}
