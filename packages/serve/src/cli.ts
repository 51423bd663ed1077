#!/usr/bin/env node
process.stderr.write("rayts-serve: not built yet\n");
process.exit(1);
