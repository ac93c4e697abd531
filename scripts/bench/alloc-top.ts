// Prints the functions that allocated the most bytes in a sampling heap profile (alloc-profile.ts's output or a
// .heapprofile): self bytes per function, with its file and line. Usage: node alloc-top.js <file> [N]

import { readFileSync } from 'node:fs';

interface Node {
  callFrame: { functionName: string; url: string; lineNumber: number };
  selfSize: number;
  children: Node[];
}

const [file, n] = process.argv.slice(2);
if (file === undefined) {
  console.error('usage: node alloc-top.js <profile> [N]');
  process.exit(2);
}
const head = JSON.parse(readFileSync(file, 'utf8')) as { head: Node };
const bySite = new Map<string, number>();
let total = 0;
const walk = (node: Node) => {
  const f = node.callFrame;
  const site = `${f.functionName || '(anonymous)'} ${f.url.replace(/^.*\/(dist|node_modules)\//, '$1/')}:${f.lineNumber + 1}`;
  bySite.set(site, (bySite.get(site) ?? 0) + node.selfSize);
  total += node.selfSize;
  for (const c of node.children) walk(c);
};
walk(head.head);
console.log(`total sampled ${(total / 1048576).toFixed(1)} MiB`);
for (const [site, bytes] of [...bySite].sort((a, b) => b[1] - a[1]).slice(0, Number(n ?? 30))) {
  console.log(`${((bytes / total) * 100).toFixed(1).padStart(5)}%  ${(bytes / 1048576).toFixed(1).padStart(8)} MiB  ${site}`);
}
