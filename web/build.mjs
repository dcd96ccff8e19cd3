// Bundles src/main.js (and lightweight-charts) into ../src/marketcast/web/static/, where
// the hub serves it: index.html at "/", everything else under "/static/".
// Usage: node build.mjs [--watch]

import { copyFile, mkdir } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import * as esbuild from "esbuild";

const here = dirname(fileURLToPath(import.meta.url));
const outdir = join(here, "..", "src", "marketcast", "web", "static");
const watch = process.argv.includes("--watch");

const options = {
  entryPoints: [join(here, "src", "main.js")],
  outfile: join(outdir, "app.js"),
  bundle: true,
  format: "esm",
  target: "es2020",
  minify: !watch,
  sourcemap: true,
  legalComments: "eof",
  logLevel: "info",
};

await mkdir(outdir, { recursive: true });
for (const file of ["index.html", "app.css"]) {
  await copyFile(join(here, "src", file), join(outdir, file));
}
if (watch) {
  const context = await esbuild.context(options);
  await context.watch();
} else {
  await esbuild.build(options);
}
