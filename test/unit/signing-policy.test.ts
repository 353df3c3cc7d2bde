import { describe, expect, it } from "vitest";
import { ValidationError } from "../../functions/core/errors.js";
import {
  authorizeSignRequest,
  type CallerTtls,
  longestUrlLifetimeSeconds,
  type SignRequest,
  SignRequestSchema,
  signedUrlExpiry,
  signingCallerOf,
  UnknownSignerCallerError,
} from "../../functions/core/signing-policy.js";

const TTLS: CallerTtls = { api: 300, "render-worker": 120 };
const FN = "arn:aws:lambda:eu-west-1:123456789012:function:kiln-prod-sign-assets";

function issuesOf(fn: () => unknown) {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(ValidationError);
    return (error as ValidationError).issues;
  }
  throw new Error("expected a ValidationError");
}

const request = (r: SignRequest) => SignRequestSchema.parse(r);

describe("signingCallerOf", () => {
  it("takes the caller from the alias the signer was invoked through", () => {
    expect(signingCallerOf(`${FN}:api`)).toBe("api");
    expect(signingCallerOf(`${FN}:render-worker`)).toBe("render-worker");
  });

  it("refuses the unqualified ARN, a version, $LATEST, an unknown alias and a missing ARN", () => {
    for (const arn of [FN, `${FN}:3`, `${FN}:$LATEST`, `${FN}:webhooks`, "api", "", undefined]) {
      expect(() => signingCallerOf(arn)).toThrow(UnknownSignerCallerError);
    }
  });
});

describe("authorizeSignRequest", () => {
  it("lets the api sign its tenant's outputs, with its own TTL when none is asked", () => {
    expect(authorizeSignRequest("api", request({ tenant: "acme", keys: ["outputs/acme/a.png"] }), TTLS)).toBe(
      300,
    );
    expect(
      authorizeSignRequest(
        "api",
        request({ tenant: "acme", keys: ["outputs/acme/batches/b1/manifest.json"], ttlSeconds: 60 }),
        TTLS,
      ),
    ).toBe(60);
  });

  it("lets the worker sign its tenant's assets up to its TTL, and nothing else", () => {
    expect(
      authorizeSignRequest("render-worker", request({ tenant: "acme", keys: ["assets/acme/a.png"] }), TTLS),
    ).toBe(120);
    const issues = issuesOf(() =>
      authorizeSignRequest(
        "render-worker",
        request({
          tenant: "acme",
          keys: ["assets/acme/a.png", "assets/beta/a.png", "outputs/acme/a.png", "assets/acmex/a.png"],
          ttlSeconds: 300,
        }),
        TTLS,
      ),
    );
    expect(issues.map((i) => i.field)).toEqual(["keys.1", "keys.2", "keys.3", "ttlSeconds"]);
    expect(issues[1]?.message).toBe(
      "outputs/acme/a.png is outside what render-worker may have signed for tenant acme (assets/acme/)",
    );
    expect(issues[3]?.message).toBe("300 exceeds the 120 s that render-worker may have URLs signed for");
  });

  it("does not let the api sign assets", () => {
    const issues = issuesOf(() =>
      authorizeSignRequest("api", request({ tenant: "acme", keys: ["assets/acme/a.png"] }), TTLS),
    );
    expect(issues.map((i) => i.field)).toEqual(["keys.0"]);
  });

  it("requires a tenant name that cannot reach into another prefix", () => {
    for (const tenant of ["", "a/b", "..", "acme/"]) {
      expect(SignRequestSchema.safeParse({ tenant, keys: ["outputs/x/a.png"] }).success).toBe(false);
    }
    expect(SignRequestSchema.safeParse({ keys: ["outputs/x/a.png"] }).success).toBe(false);
  });
});

describe("longestUrlLifetimeSeconds", () => {
  it("is the longest expiry signedUrlExpiry can give", () => {
    const ttl = 300;
    // The first second of a window gives the latest expiry.
    const start = new Date("2026-11-02T10:00:00Z");
    expect((signedUrlExpiry(start, ttl).getTime() - start.getTime()) / 1000).toBe(
      longestUrlLifetimeSeconds(ttl),
    );
  });
});
