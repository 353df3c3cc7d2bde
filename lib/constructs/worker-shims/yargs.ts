/**
 * Stands in for yargs (and yargs/helpers) in the render worker's bundle. Only the command line of
 * @puppeteer/browsers loads it, on demand, and the worker never runs that command line.
 */
function leftOut(): never {
  throw new Error(
    "Kiln's render worker is bundled without yargs: @puppeteer/browsers' CLI does not run here",
  );
}

export default leftOut;
export const hideBin = leftOut;
