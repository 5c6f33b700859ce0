// Builds web/dist for the local gateway and S3 (make web): each asset under a name that holds a
// hash of its content (assets/app.<hash>.js), so CloudFront and browsers may keep it a year,
// and index.html pointing at them (never cached). Node's standard library only.
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";

const root = dirname(fileURLToPath(import.meta.url));
const dist = join(root, "dist");
rmSync(dist, { recursive: true, force: true });
mkdirSync(join(dist, "assets"), { recursive: true });

let html = readFileSync(join(root, "index.html"), "utf8");
const sizes = {};
for (const name of ["app.js", "app.css"]) {
  const content = readFileSync(join(root, "src", name));
  const hash = createHash("sha256").update(content).digest("hex").slice(0, 16);
  const [base, ext] = name.split(".");
  const hashed = `assets/${base}.${hash}.${ext}`;
  writeFileSync(join(dist, hashed), content);
  const ref = new RegExp(`(src|href)="${name.replace(".", "\\.")}"`);
  if (!ref.test(html)) throw new Error(`index.html does not reference ${name}`);
  html = html.replace(ref, `$1="/${hashed}"`);
  sizes[hashed] = content;
}
writeFileSync(join(dist, "index.html"), html);
sizes["index.html"] = Buffer.from(html);
// What a first visit downloads: as served locally, and gzipped as CloudFront compresses assets.
const sum = (f) => Object.values(sizes).reduce((a, c) => a + f(c), 0);
const list = Object.entries(sizes).map(([f, c]) => `${f} ${c.length} B`).join(", ");
console.log(`web/dist: ${list}; ${sum((c) => c.length)} B in all, ${sum((c) => gzipSync(c, { level: 9 }).length)} B gzipped`);
