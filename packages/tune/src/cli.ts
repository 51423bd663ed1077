#!/usr/bin/env node
process.stderr.write("rayts-tune: not built yet\n");
process.exit(1);
