-- A password an admin handed over (an invite's, a reset's) is one-time: its holder sets their own
-- before anything else (break test: the "one-time" password stayed, so whoever saw it could sign in
-- as that person and be the "other person" of an approval). Existing people are not forced.
ALTER TABLE "users" ADD COLUMN "must_change_password" BOOLEAN NOT NULL DEFAULT false;
