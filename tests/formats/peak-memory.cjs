// Preloaded (node -r) into a CLI run by tests/formats/bombs.test.ts: reports the process's peak resident memory
// (getrusage maxrss, KiB) on stderr as it exits, however it exits, short of a signal.
const { writeSync } = require('node:fs');

process.on('exit', () => writeSync(2, `\npeak-rss-kib ${process.resourceUsage().maxRSS}\n`));
