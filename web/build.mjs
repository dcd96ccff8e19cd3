// Bundles src/main.js (and lightweight-charts) into ../src/marketcast/web/static/, where
// the hub serves it: index.html at "/", everything else under "/static/". Also copies the
// pinned Swagger UI (swagger-ui-dist) to static/docs/ for an API page that needs no
// network, and writes a gzip twin (name.gz) of every text asset, which the hub sends to
// browsers that accept gzip.
// Usage: node build.mjs [--watch]

import { copyFile, mkdir, readFile, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { constants, gzipSync } from "node:zlib";
import * as esbuild from "esbuild";

const here = dirname(fileURLToPath(import.meta.url));
const outdir = join(here, "..", "src", "marketcast", "web", "static");
const watch = process.argv.includes("--watch");
const swaggerDir = join(here, "node_modules", "swagger-ui-dist");
const swaggerFiles = ["swagger-ui-bundle.js", "swagger-ui.css", "favicon-32x32.png"];
const compressed = [
  "index.html",
  "app.css",
  "app.js",
  "app.js.map",
  "docs/swagger-ui-bundle.js",
  "docs/swagger-ui.css",
];

async function gzipTwins() {
  for (const name of compressed) {
    const path = join(outdir, name);
    const body = await readFile(path);
    await writeFile(`${path}.gz`, gzipSync(body, { level: constants.Z_BEST_COMPRESSION }));
  }
}

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

await mkdir(join(outdir, "docs"), { recursive: true });
for (const file of ["index.html", "app.css"]) {
  await copyFile(join(here, "src", file), join(outdir, file));
}
for (const file of swaggerFiles) {
  await copyFile(join(swaggerDir, file), join(outdir, "docs", file));
}
if (watch) {
  // No gzip twins while watching: a stale twin would hide the rebuilt file.
  const context = await esbuild.context(options);
  await context.watch();
} else {
  await esbuild.build(options);
  await gzipTwins();
}
