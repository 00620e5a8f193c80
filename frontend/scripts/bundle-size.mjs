// Print the gzipped size of the JS the browser loads before the first page renders (the entry
// script and the chunks index.html modulepreloads) and fail the build when it passes the limit.
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";

const LIMIT_KB = 350;
const dist = join(dirname(fileURLToPath(import.meta.url)), "..", "dist");
const html = readFileSync(join(dist, "index.html"), "utf8");

const files = new Set();
for (const match of html.matchAll(/<script[^>]+type="module"[^>]+src="([^"]+)"/g)) files.add(match[1]);
for (const match of html.matchAll(/<link[^>]+rel="modulepreload"[^>]+href="([^"]+)"/g)) files.add(match[1]);
if (files.size === 0) {
  console.error("bundle-size: no entry script found in dist/index.html");
  process.exit(1);
}

let total = 0;
for (const file of files) {
  const bytes = gzipSync(readFileSync(join(dist, file.replace(/^\//, "")))).length;
  total += bytes;
  console.log(`  ${file}: ${(bytes / 1024).toFixed(1)} KB gzipped`);
}
const kb = total / 1024;
console.log(`initial JS: ${kb.toFixed(1)} KB gzipped (limit ${LIMIT_KB} KB)`);
if (kb > LIMIT_KB) {
  console.error(`initial JS is over the ${LIMIT_KB} KB limit: lazy-load more of it`);
  process.exit(1);
}
