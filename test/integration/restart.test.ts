import { once } from "node:events";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { KilnClient, type RenderSubmissionInput } from "../../functions/client/kiln-client.js";
import { killHard, type LocalProcess, startLocalProcess } from "./helpers/local-process.js";
import { eventually } from "./helpers/local-stack.js";

const API_KEY = "restart-test-key-0001";
const started: LocalProcess[] = [];
let dataDir = "";

afterAll(async () => {
  for (const p of started) if (p.child.exitCode === null && p.child.signalCode === null) await killHard(p);
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

const job = (n: number): RenderSubmissionInput => ({
  template: {
    html: "<!doctype html><body style='margin:0;background:#eee'><h1 style='font-size:96px'>Job {{ n }}</h1></body>",
  },
  data: { n },
  output: { format: "png", width: 1200, height: 800 },
});

describe("npm start", () => {
  it("completes every job submitted before a SIGKILL once it is started again", async () => {
    dataDir = await mkdtemp(join(tmpdir(), "kiln-restart-"));
    const env = {
      KILN_DATA_DIR: dataDir,
      KILN_API_PORT: "0",
      KILN_API_KEYS: `acme=${API_KEY}`,
      KILN_VISIBILITY_TIMEOUT_SECONDS: "3",
    };
    // The first run holds every render, so at the kill some jobs are provably mid-render and the rest queued.
    const first = await startLocalProcess({ ...env, KILN_FAULTS: "hold=1" });
    started.push(first);
    expect(first.output()).not.toContain(API_KEY);
    const client = new KilnClient({ baseUrl: first.apiUrl, apiKey: API_KEY });
    const ids: string[] = [];
    for (let n = 0; n < 12; n++) ids.push((await client.submitRender(job(n))).id);

    // Kill mid-run: renders are held, so some jobs are provably rendering and the rest still queued.
    await eventually(
      async () => ((await client.getRender(ids[0] as string)).status === "rendering" ? true : undefined),
      "a job rendering",
    );
    const before = await Promise.all(ids.map(async (id) => (await client.getRender(id)).status));
    await killHard(first);
    expect(before).toContain("rendering");
    expect(before).toContain("queued");
    expect(before).not.toContain("succeeded");

    const second = await startLocalProcess(env);
    started.push(second);
    const again = new KilnClient({ baseUrl: second.apiUrl, apiKey: API_KEY });
    const finals = await Promise.all(ids.map((id) => again.waitFor(id, { timeoutMs: 90_000 })));
    expect(finals.map((j) => j.status)).toEqual(ids.map(() => "succeeded"));
    for (const done of finals) {
      expect((await again.download(done)).byteLength).toBe(done.output?.bytes);
    }

    // SIGTERM stops it cleanly.
    const exit = once(second.child, "exit");
    second.child.kill("SIGTERM");
    const [code] = await exit;
    expect(code).toBe(0);
  });
});
