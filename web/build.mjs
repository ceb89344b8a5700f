// Builds the join page's script: web/src/main.js and what it imports,
// @noble/curves and @noble/hashes included, into one file that
// montage_cloud serves (montage_cloud/web/static/join.js). The output is
// committed: the wheel then carries it and the cloud needs no Node.js.
// tests/browser/test_page_build.py checks it matches a fresh build.
//
//   node build.mjs [--outfile PATH]

import { build } from "esbuild";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const flag = process.argv.indexOf("--outfile");
const outfile = flag > 0 ? process.argv[flag + 1] : join(here, "..", "montage_cloud", "web", "static", "join.js");

await build({
  absWorkingDir: here,
  entryPoints: ["src/main.js"],
  outfile,
  bundle: true,
  format: "esm",
  // BigInt literals (the curve code) and top-level await: Chromium 100+, Edge, Safari 15+.
  target: ["es2022"],
  // Readable in review, and small enough: a screen share is megabits a second.
  minify: false,
  legalComments: "inline",
  charset: "utf8",
  banner: { js: "// Built by web/build.mjs from web/src/ — edit those files, not this one." },
  logLevel: "warning",
});
