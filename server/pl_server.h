/*
 * pl_server: the process (DESIGN.md section 3): the NFLOG thread that
 * receives, decodes, encodes once and pushes into the history; the HTTP
 * side; the dispatcher of the one port; the rules; a clean stop.
 */
#ifndef PL_SERVER_H
#define PL_SERVER_H

#include "pl_config.h"

/* Runs packet_logs with cfg until SIGINT or SIGTERM. Returns the process
 * exit status: 0 after a clean stop, 1 when something could not start
 * (with a message on stderr naming it). */
int pl_server_run(const struct pl_config *cfg);

/* GET /healthz on the configured address (a wildcard one as loopback).
 * Returns 0 when it answers 200, 1 otherwise (with the reason on stderr). */
int pl_server_healthcheck(const struct pl_config *cfg);

#endif
