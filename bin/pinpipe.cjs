#!/usr/bin/env node
// The `pinpipe` command: runs the TypeScript CLI through tsx, so there is no build step.
'use strict';
require('tsx/cjs');
require('../src/cli/main.ts');
