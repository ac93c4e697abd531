// Preload for tests (`node --import <this file>`): on SIGUSR2 the process writes the Node built-in modules it has
// loaded so far (process.moduleLoadList, `NativeModule <name>` entries) as JSON to WHARF_TEST_BUILTINS_FILE, so a
// test can tell what a running broker has loaded without asking it through anything that would load more.

import { renameSync, writeFileSync } from 'node:fs';

const file = process.env.WHARF_TEST_BUILTINS_FILE;
if (file) {
  process.on('SIGUSR2', () => {
    const list = (process as unknown as { moduleLoadList: string[] }).moduleLoadList;
    const names = list.filter((m) => m.startsWith('NativeModule ')).map((m) => m.slice('NativeModule '.length));
    // Written whole, then renamed: the test never reads half a file.
    writeFileSync(`${file}.tmp`, JSON.stringify(names));
    renameSync(`${file}.tmp`, file);
  });
}
