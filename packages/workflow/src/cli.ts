#!/usr/bin/env node
process.stderr.write("rayts-workflow: not built yet\n");
process.exit(1);
