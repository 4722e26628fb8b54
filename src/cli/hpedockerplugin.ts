#!/usr/bin/env node
import { runPluginCli } from './plugin-cli.js';
import { processIo } from './output.js';

process.exitCode = await runPluginCli(process.argv.slice(2), processIo);
