// Placeholder until the live-control command is written (issue 16); replaced by its helper.
import { runCli } from './run-cli.ts';
runCli(async () => 2, 'usage: npm run sim -- <command>');
