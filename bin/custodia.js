#!/usr/bin/env node
// Entry for the `custodia` command: hands over to the TypeScript CLI (Node 24 runs it directly).
import '../src/cli/main.ts';
