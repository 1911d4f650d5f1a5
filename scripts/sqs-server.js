#!/usr/bin/env node
// scripts/sqs-server.js: the dev stack's local SQS (npm local-aws-sqs, in-memory; credentials are
// not checked). scripts/stack starts it with `node scripts/sqs-server.js` and sends stdout/stderr
// to .stack/logs/sqs.log. Port: OPSFLOW_SQS_PORT (default 9324); always bound to 127.0.0.1.
"use strict";

const { createSqsServer } = require("local-aws-sqs");

const host = "127.0.0.1";
const port = Number(process.env.OPSFLOW_SQS_PORT || 9324);

async function main() {
  // emulateQueueCreationLifecycle off: tests delete and recreate queues without AWS's 60 s wait.
  const server = await createSqsServer({ port, hostname: host, emulateQueueCreationLifecycle: false });
  console.log(`${new Date().toISOString()} local-aws-sqs listening on http://${host}:${port}/`);
  const stop = (signal) => {
    console.log(`${new Date().toISOString()} ${signal}: stopping`);
    server.close(() => process.exit(0));
    if (typeof server.closeAllConnections === "function") server.closeAllConnections();
    setTimeout(() => process.exit(0), 2000).unref();
  };
  process.on("SIGTERM", () => stop("SIGTERM"));
  process.on("SIGINT", () => stop("SIGINT"));
}

main().catch((err) => {
  console.error(`${new Date().toISOString()} local-aws-sqs failed to start: ${err && err.stack ? err.stack : err}`);
  process.exit(1);
});
