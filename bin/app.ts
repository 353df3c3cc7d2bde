#!/usr/bin/env node
// Entry of the Kiln CDK app (cdk.json: `npx tsx bin/app.ts`). Usage: cdk deploy --context stage=prod
import { buildKilnApp } from "../lib/app.js";

buildKilnApp();
