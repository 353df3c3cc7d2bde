import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ASSETS } from "../../functions/core/assets.js";
import { ENV } from "../../functions/core/constants.js";
import { ASSETS_PATH_PATTERN } from "../../lib/constructs/outputs-cdn.js";
import {
  actionsOf,
  allowStatementsByRole,
  asArray,
  type Cfn,
  logicalIdOf,
  onlyResource,
  type Synthesized,
  synthKiln,
} from "./support.js";

// Configuration only: no bundling (the layer's fonts are checked in chromium-layer.test.ts).
let synth: Synthesized;
let json: Cfn;
beforeAll(() => {
  synth = synthKiln({ stage: "dev" }, { bundling: false });
  json = synth.json;
});
afterAll(() => synth?.dispose());

const bucket = (path: string) => logicalIdOf(json, `Buckets/${path}`, "AWS::S3::Bucket");
const fn = (path: string) =>
  json.Resources[logicalIdOf(json, `${path}/Function`, "AWS::Lambda::Function")].Properties;
const statementsOf = (path: string) =>
  allowStatementsByRole(json).get(logicalIdOf(json, `${path}/Role`, "AWS::IAM::Role")) ?? [];

describe("templates, assets and fonts in the stack", () => {
  it("tells the worker where templates and assets are and how long asset URLs live", () => {
    const vars = fn("RenderWorker/Worker").Environment.Variables;
    expect(vars[ENV.templatesBucket]).toEqual({ Ref: bucket("Templates") });
    expect(vars[ENV.assetsBucket]).toEqual({ Ref: bucket("Assets") });
    expect(vars[ENV.assetUrlTtlSeconds]).toBe("300");
  });

  it("lets the worker read templates and check assets, but write to neither nor list the assets", () => {
    const statements = statementsOf("RenderWorker/Worker");
    const on = (id: string) =>
      statements
        .filter((st) => asArray<Cfn>(st.Resource).some((r) => JSON.stringify(r).includes(id)))
        .flatMap(actionsOf);
    expect(on(bucket("Templates"))).toEqual(expect.arrayContaining(["s3:GetObject"]));
    expect(on(bucket("Assets"))).toEqual(["s3:GetObject"]);
    for (const id of [bucket("Templates"), bucket("Assets")]) {
      expect(on(id).filter((a) => /Put|Delete|List/.test(a))).toEqual([]);
    }
    const assetObjects = statements
      .flatMap((st) => asArray<Cfn>(st.Resource))
      .filter((r) => JSON.stringify(r).includes(bucket("Assets")) && JSON.stringify(r).includes("/"));
    expect(JSON.stringify(assetObjects)).toContain(`/${ASSETS.keyPrefix}*`);
  });

  it("accepts binary asset uploads; JSON bodies are text the api function validates", () => {
    const api = onlyResource(json, "AWS::ApiGateway::RestApi");
    expect(api.properties.BinaryMediaTypes).toEqual([
      "image/*",
      "font/*",
      "text/css",
      "application/octet-stream",
    ]);
    expect(api.properties.BinaryMediaTypes).not.toContain("application/json");
  });

  it("serves assets through the CDN only on signed URLs, like outputs", () => {
    const distribution = onlyResource(json, "AWS::CloudFront::Distribution").properties.DistributionConfig;
    const behaviour = distribution.CacheBehaviors.find((b: Cfn) => b.PathPattern === ASSETS_PATH_PATTERN);
    expect(behaviour.TrustedKeyGroups).toHaveLength(1);
    expect(behaviour.ViewerProtocolPolicy).toBe("redirect-to-https");
  });
});
