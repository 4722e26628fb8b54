#!/usr/bin/env node
import { runEncryptor } from './encryptor.js';
import { processIo } from './output.js';

process.exitCode = await runEncryptor(process.argv.slice(2), processIo);
