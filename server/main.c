/*
 * packet_logs: the entry point. `packet_logs decode FILE.pcap` runs the
 * decoder over a capture; otherwise the server starts with the options of
 * pl_config (flags and PACKET_LOGS_* variables).
 */
#include <stdio.h>
#include <string.h>

#include "pl_config.h"
#include "pl_decode.h"
#include "pl_log.h"
#include "pl_server.h"

int main(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "decode") == 0) {
        pl_log_init("packet_logs decode");
        return pl_decode_main(argc - 1, argv + 1);
    }
    if (argc >= 2 && strcmp(argv[1], "healthcheck") == 0) {
        pl_log_init("packet_logs healthcheck");
        /* the container's health check: GET /healthz on --listen */
        struct pl_config cfg;
        int rc = pl_config_parse(&cfg, argc - 1, argv + 1, stdout, stderr);
        if (rc != 0)
            return rc > 0 ? 0 : 2;
        return pl_server_healthcheck(&cfg);
    }
    pl_log_init("packet_logs");
    struct pl_config cfg;
    int rc = pl_config_parse(&cfg, argc, argv, stdout, stderr);
    if (rc != 0)
        return rc > 0 ? 0 : 2;
    return pl_server_run(&cfg);
}
