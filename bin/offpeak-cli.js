#!/usr/bin/env node
// The `offpeak` command (package.json "bin"): runs src/cli/main.ts through tsx's loader, so the CLI is the same
// TypeScript the tests run, with no build step. `npx offpeak --help` after `npm ci`.
import { register } from 'tsx/esm/api';

register();
const { runCli } = await import('../src/cli/main.ts');
process.exitCode = await runCli(process.argv.slice(2));
