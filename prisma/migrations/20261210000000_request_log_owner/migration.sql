-- Break test (logged = served): two API keys may choose the same request id, and their requests
-- served in the same millisecond met on the key (request_id, ts): the second row was dropped by
-- ON CONFLICT DO NOTHING as if it were a replay. A row's identity now includes the id's owner
-- (server/rerank/recent.ts requestIdOwner; '' when shared), generated from `caller`, so every writer
-- (COPY lines, the staging path, spill files of earlier versions) keeps writing the columns it wrote
-- and owner can never disagree with caller; a replay of the same row still meets its key and is
-- stored once. Adding a stored generated column rewrites the table (once, in this migration).
ALTER TABLE "rerank_requests" ADD COLUMN "owner" TEXT NOT NULL GENERATED ALWAYS AS (COALESCE("caller", '')) STORED;
ALTER TABLE "rerank_requests" DROP CONSTRAINT "rerank_requests_pkey",
  ADD CONSTRAINT "rerank_requests_pkey" PRIMARY KEY ("request_id", "ts", "owner");
