// npm run simulate — synthetic search traffic against the RUNNING server, through its public API.
//
// Synthetic users (stable keys per --seed; device, country, returning, one or two favourite
// categories, a click propensity and an activity level) run sessions of 1–4 searches. A query is a
// demo category ("books") or a word of the product titles ("headphones"). For each search the
// simulator retrieves up to 50 matching items from the demo catalog (the same deterministic catalog
// the server seeded; blocked items excluded) in a noisy retrieval order, sends them to
// POST /api/v1/rerank (topK 10), then sends the user's outcome events to POST /api/v1/events:
// an impression for every served item, then clicks, add-to-carts and purchases.
//
// Click model (server/domain/simulation/clickModel.ts), over each item's hidden true quality in [0, 1]:
//   - the user scans from position 1 and examines position p with probability 1/p^η
//     (η = 1; 1.25 on mobile);
//   - clicks an examined item with probability 0.8 · σ(8 · (quality − 0.6) + b), b the user's
//     click propensity (normal, sd 1);
//   - after a click stops scanning with probability 0.5 (cascade); after any position leaves with
//     probability 0.05;
//   - a click becomes an add-to-cart with probability 0.05 + 0.45 · quality, an add-to-cart a
//     purchase with probability 0.3 + 0.5 · quality (× 1.3 for returning users); the revenue is
//     the item's price.
// Users respond to quality, so a better ranker shows: start an A/B or interleaving experiment
// between the two demo models on the surface and let it run. In-process (no constraints, fixed-
// horizon tests), telling v2 from v1 takes a median of ~3,000 requests with interleaving (~2.5 min
// at the default rate) and ~7,000 with an A/B test on CTR (raise --rate or --duration); see
// server/domain/simulation/experimentSim.ts.
//
// Flags:
//   --url <url>          server base URL (default: the console's HOST and PORT, as npm start reads them,
//                        else http://127.0.0.1:3000; localhost only)
//   --key <key>          serving API key (default: the demo key in .data/first-run-credentials.json)
//   --surface <key>      surface to rerank for (default search)
//   --rate <n>           requests per second (default 20, at most 1000)
//   --duration <s>       seconds of traffic (default 60, at most 3600)
//   --seed <n>           seed of users, sessions and clicks (default 1)
//   --users <n>          synthetic users (default 2000)
//   --concurrency <n>    requests in flight at most (default 4, at most 64)
//   --quiet              no progress bar, only the final totals
// At most rate × duration requests are sent, and the run ends at the duration (plus one request
// timeout of 10 s). It prints totals and, per variant seen in responses, requests and CTR.
// Exits 1 with a one-line message when the server is unreachable or refuses the requests.
import { existsSync, readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { env, loadConfigOrExit } from "../config";
import { createProgressBar, formatSummary } from "./report";
import { checkServer, checkTrafficOptions, consoleUrl, ServerUnreachableError, simulateTraffic, TrafficRefusedError, type ConsoleAddress, type TrafficOptions } from "./traffic";
import { ignoreClosedOutput } from "../http/terminal";
import { takeAdminSettings } from "../cli/adminSettings";

const USAGE = "usage: npm run simulate -- [--url http://HOST:PORT] [--key rrk_…] [--surface search] [--rate 20] [--duration 60] [--seed 1] [--users 2000] [--concurrency 4] [--quiet]";

function die(message: string): never {
  console.error(`simulate: ${message}`);
  process.exit(1);
}

/** The demo serving key `npm start` wrote on its first start, so that the simulator needs no flag. */
function firstRunKey(): string | undefined {
  const file = env().FIRST_RUN_CREDENTIALS_FILE;
  if (!existsSync(file)) return undefined;
  try {
    return (JSON.parse(readFileSync(file, "utf8")) as { apiKey?: string }).apiKey;
  } catch {
    return undefined;
  }
}

function parseOptions(): { options: TrafficOptions; quiet: boolean; fromConsole?: ConsoleAddress } {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        url: { type: "string" },
        key: { type: "string" },
        surface: { type: "string", default: "search" },
        rate: { type: "string", default: "20" },
        duration: { type: "string", default: "60" },
        seed: { type: "string", default: "1" },
        users: { type: "string", default: "2000" },
        concurrency: { type: "string", default: "4" },
        quiet: { type: "boolean", default: false },
        help: { type: "boolean", short: "h", default: false },
      },
      strict: true,
    }));
  } catch (error) {
    die(`${(error as Error).message}\n${USAGE}`);
  }
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const number = (name: string, raw: string) => {
    const n = Number(raw);
    if (raw.trim() === "" || !Number.isFinite(n)) die(`--${name}: expected a number, got "${raw}"`);
    return n;
  };
  // Without --url, the console's HOST and PORT: errors about it then name HOST, not a flag nobody passed.
  const fromConsole = values.url === undefined ? { HOST: env().HOST, PORT: env().PORT } : undefined;
  const options: TrafficOptions = {
    url: values.url ?? consoleUrl(env()),
    apiKey: values.key ?? firstRunKey(),
    surface: values.surface,
    rate: number("rate", values.rate),
    durationSeconds: number("duration", values.duration),
    seed: number("seed", values.seed),
    users: number("users", values.users),
    concurrency: number("concurrency", values.concurrency),
  };
  try {
    checkTrafficOptions(options, fromConsole);
  } catch (error) {
    die((error as Error).message);
  }
  return { options, quiet: values.quiet, fromConsole };
}

async function main() {
  ignoreClosedOutput();
  // One line naming a bad setting (HOST, PORT…) rather than a stack trace; ADMIN_* are not the simulator's.
  takeAdminSettings();
  loadConfigOrExit();
  const { options, quiet, fromConsole } = parseOptions();
  try {
    await checkServer(options.url);
  } catch (error) {
    const from = fromConsole ? ` (the console's HOST=${fromConsole.HOST} and PORT=${fromConsole.PORT ?? "unset: 3000"})` : "";
    die(error instanceof ServerUnreachableError ? `${error.message}${from} — start it with "npm start" (or "npm run dev"), or pass --url (or set PORT and HOST as for the console)` : (error as Error).message);
  }

  const bar = quiet ? null : createProgressBar(process.stderr);
  const controller = new AbortController();
  process.once("SIGINT", () => {
    bar?.log("simulate: interrupted, finishing the requests in flight (Ctrl-C again to quit now)");
    controller.abort();
    process.once("SIGINT", () => process.exit(130));
  });
  const shown = new Set<string>();
  if (!quiet) {
    console.error(`simulate: ${options.url} surface "${options.surface}", ${options.rate} req/s for ${options.durationSeconds} s, ${options.users} users, seed ${options.seed}`);
  }
  try {
    const summary = await simulateTraffic({ ...options, signal: controller.signal }, {
      onProgress: (stats) => bar?.update(stats),
      onError: (error) => {
        // Each distinct problem once (the counts are in the bar and the totals).
        const key = error.message.replace(/[0-9a-f]{8}-[0-9a-f-]{27}/gi, "…");
        if (shown.size < 10 && !shown.has(key)) {
          shown.add(key);
          (bar ?? { log: (m: string) => console.error(m) }).log(`simulate: ${error.message}`);
        }
      },
    });
    bar?.stop();
    console.log(formatSummary(summary));
    if (summary.requests > 0 && summary.responses === 0) process.exitCode = 1;
  } catch (error) {
    bar?.stop();
    if (error instanceof ServerUnreachableError || error instanceof TrafficRefusedError) die(error.message);
    throw error;
  }
}

await main();
