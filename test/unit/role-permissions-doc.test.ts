import { readFile } from "node:fs/promises";
import { describe, expect, it } from "vitest";
import {
  committedRolePermissions,
  renderRolePermissions,
  SECURITY_DOC_PATH,
} from "../../bin/docs/role-permissions.js";
import { FUNCTION_DEFINITIONS } from "../../functions/handlers/definitions.js";

describe("docs/security.md, What each role can do", () => {
  it("is what the function definitions render", async () => {
    // On a difference: run `npm run docs:security` and commit docs/security.md.
    expect(committedRolePermissions(await readFile(SECURITY_DOC_PATH, "utf8"))).toBe(renderRolePermissions());
  });

  it("names every function and what the worker cannot reach", () => {
    const section = renderRolePermissions();
    for (const { name } of Object.values(FUNCTION_DEFINITIONS)) expect(section).toContain(`### ${name}\n`);
    const worker = section.slice(section.indexOf("### render-worker"), section.indexOf("### sign-assets"));
    expect(worker).toContain("Cannot reach in the jobs table: batches, idempotency keys, webhook secrets");
    expect(worker).toContain("API keys.");
    expect(worker).not.toContain("TENANT#*#WEBHOOK");
    expect(worker).not.toContain("s3:ListBucket");
  });
});
