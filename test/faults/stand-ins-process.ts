/**
 * The AWS stand-ins (fauxqs for SQS + S3, dynalite for DynamoDB) alone in a process, on the ports and
 * data dir given as arguments (0 picks free ports), so that the fault harness can SIGKILL them mid-run
 * and start them again on the same data and ports. Prints one line, `ready {"sqsS3":…,"dynamodb":…}`.
 */
import { startDynamoDbStandIn, startSqsS3StandIn } from "../../functions/local/stand-ins.js";

const [dataDir, sqsS3Port = "0", dynamoDbPort = "0"] = process.argv.slice(2);
if (!dataDir) {
  process.stderr.write("usage: stand-ins-process.ts <dataDir> [sqsS3Port] [dynamoDbPort]\n");
  process.exit(2);
}
const sqsS3 = await startSqsS3StandIn({ port: Number(sqsS3Port), dataDir });
const dynamo = await startDynamoDbStandIn({ port: Number(dynamoDbPort), dataDir });
process.stdout.write(`ready ${JSON.stringify({ sqsS3: sqsS3.endpoint, dynamodb: dynamo.endpoint })}\n`);
// The parent may stop us cleanly; the harness's hard kill gives no such chance.
process.on("SIGTERM", () => {
  void Promise.all([sqsS3.stop(), dynamo.stop()]).finally(() => process.exit(0));
});
