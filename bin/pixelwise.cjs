#!/usr/bin/env node
// The `pixelwise` command: the bundled CLI (built by `npm run build`, which `npm install` runs).
require('../out/cli.cjs').main();
