import { basename } from "node:path";
import { parseArgs } from "node:util";
import type { KilnClient } from "../../functions/client/kiln-client.js";
import { ASSETS, contentTypeForAsset, mebibytes } from "../../functions/core/assets.js";
import { type Command, EXIT, readInputFile, UsageError } from "./cli-support.js";
import { CONNECTION_OPTIONS, withKiln } from "./connect.js";

export const assets: Command = {
  summary: "upload a file to the tenant's assets (kiln assets put <file> [key])",
  usage: `kiln assets put <file> [key] [--type CONTENT-TYPE] [--api URL] [--api-key KEY]

Uploads <file> to the tenant's assets under <key> (default: the file name), through
PUT /v1/assets/{key} up to ${mebibytes(ASSETS.maxBytes)}, and larger files up to ${mebibytes(ASSETS.maxUploadBytes)} through a
presigned URL from POST /v1/asset-uploads, straight to S3. Jobs name it in "assets": {"logo": "<key>"} and templates use
{{ 'logo' | asset_url }}. The content type comes from the extension unless --type is given.
Without --api (or $KILN_API_URL), an embedded local stack is used (data in $KILN_DATA_DIR, default .kiln).`,

  async run(argv) {
    const { values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      options: { ...CONNECTION_OPTIONS, type: { type: "string" } },
    });
    const [action, file, key, ...rest] = positionals;
    if (action !== "put" || !file || rest.length > 0) {
      throw new UsageError("expected: kiln assets put <file> [key]");
    }
    const assetKey = key ?? basename(file);
    const contentType = values.type ?? contentTypeForAsset(assetKey) ?? contentTypeForAsset(file);
    if (!contentType) throw new UsageError(`cannot tell the content type of ${file}: pass --type`);
    const body = await readInputFile(file, null);
    const stored = await withKiln(values, (client) => uploadAsset(client, assetKey, body, contentType));
    process.stdout.write(
      `${stored.key}\n${stored.bytes} bytes, ${stored.contentType}, sha256 ${stored.sha256}\n`,
    );
    return EXIT.ok;
  },
};

/** Through the API when the file fits in its request, else by presigned URL. */
export function uploadAsset(
  client: Pick<KilnClient, "putAsset" | "uploadLargeAsset">,
  key: string,
  body: Uint8Array,
  contentType: string,
) {
  return body.byteLength > ASSETS.maxBytes
    ? client.uploadLargeAsset(key, body, contentType)
    : client.putAsset(key, body, contentType);
}
