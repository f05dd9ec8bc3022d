/*
 * pl_decode: reads a capture with libpcap and writes each IP packet's record.
 * Ethernet frames give their first 14 bytes as the NFLOG hardware header
 * (type 1) when their ethertype is IPv4 or IPv6, as an inet log rule sees
 * them; other frames are skipped. Raw-IP captures give every packet.
 * This is how tests/corpus/golden was made, line for line.
 */
#include "pl_decode.h"

#include <errno.h>
#include <getopt.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pl_json.h"
#include "pl_log.h"
#include "pl_packet.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: packet_logs decode [options] FILE.pcap\n"
            "\n"
            "Decodes every IPv4/IPv6 packet of a capture (pcap or pcapng; Ethernet or\n"
            "raw IP) into packet_logs' JSON record and prints one record per line.\n"
            "\n"
            "  --prefix TEXT   the record's Prefix (default \"lan:in \")\n"
            "  --action TEXT   the record's Action (default \"allowed\")\n"
            "  --indev NAME    the record's InDev (default \"eth0\")\n"
            "  --outdev NAME   the record's OutDev (default \"\")\n"
            "  --seq           number the records (Seq from 1)\n"
            "  --repeat N      decode the capture N times (benchmarks); print the last\n"
            "  -h, --help      this help\n");
}

int pl_decode_main(int argc, char **argv)
{
    static const struct option options[] = {
        {"prefix", required_argument, NULL, 'p'}, {"action", required_argument, NULL, 'a'},
        {"indev", required_argument, NULL, 'i'},  {"outdev", required_argument, NULL, 'o'},
        {"seq", no_argument, NULL, 's'},          {"repeat", required_argument, NULL, 'r'},
        {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0},
    };
    struct pl_meta meta = {
        .prefix = "lan:in ", .action = "allowed", .indev = "eth0", .outdev = ""};
    int numbered = 0;
    long repeat = 1;
    int opt;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "h", options, NULL)) != -1) {
        switch (opt) {
        case 'p': meta.prefix = optarg; break;
        case 'a': meta.action = optarg; break;
        case 'i': meta.indev = optarg; break;
        case 'o': meta.outdev = optarg; break;
        case 's': numbered = 1; break;
        case 'r': {
            char *end;
            errno = 0;
            repeat = strtol(optarg, &end, 10);
            if (errno || *end || repeat < 1 || repeat > 1000000) {
                pl_log_error("--repeat must be a number from 1 to 1000000, got \"%s\"", optarg);
                return 2;
            }
            break;
        }
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind != argc - 1) {
        pl_log_error("expected one capture file");
        usage(stderr);
        return 2;
    }
    const char *path = argv[optind];
    static char outbuf[1 << 20];
    setvbuf(stdout, outbuf, _IOFBF, sizeof(outbuf));

    struct pl_json w;
    pl_json_init(&w);
    int status = 0;
    uint64_t seq = 0;
    for (long round = 0; round < repeat && status == 0; round++) {
        char errbuf[PCAP_ERRBUF_SIZE] = "";
        pcap_t *pcap = pcap_open_offline_with_tstamp_precision(path, PCAP_TSTAMP_PRECISION_NANO,
                                                               errbuf);
        if (!pcap) {
            pl_log_error("%s: %s", path, errbuf);
            status = 2;
            break;
        }
        int link = pcap_datalink(pcap);
        int ethernet = link == DLT_EN10MB;
        if (!ethernet && link != DLT_RAW && link != DLT_IPV4 && link != DLT_IPV6 && link != 12) {
            pl_log_error("%s: link type %s is not Ethernet or raw IP", path,
                         pcap_datalink_val_to_name(link) ? pcap_datalink_val_to_name(link) : "?");
            pcap_close(pcap);
            status = 2;
            break;
        }
        /* the capture's snaplen plays NFLOG's copy range (Truncated) */
        int snaplen = pcap_snapshot(pcap);
        meta.snaplen = snaplen > (ethernet ? 14 : 0) ? (size_t)snaplen - (ethernet ? 14 : 0) : 0;
        int print = round == repeat - 1;
        struct pcap_pkthdr *hdr;
        const u_char *frame;
        int rc;
        while ((rc = pcap_next_ex(pcap, &hdr, &frame)) == 1) {
            const uint8_t *l3 = frame;
            size_t len = hdr->caplen;
            meta.has_hwtype = 0;
            meta.hwheader = NULL;
            meta.hwheader_len = 0;
            if (ethernet) {
                if (len < 14 || !((frame[12] == 0x08 && frame[13] == 0x00) ||
                                  (frame[12] == 0x86 && frame[13] == 0xdd)))
                    continue;
                meta.has_hwtype = 1;
                meta.hwtype = 1;
                meta.hwheader = frame;
                meta.hwheader_len = 14;
                l3 += 14;
                len -= 14;
            }
            meta.ts_sec = hdr->ts.tv_sec;
            meta.ts_nsec = (uint32_t)hdr->ts.tv_usec; /* nanoseconds: see the precision above */
            struct pl_packet pkt;
            pl_packet_decode(&pkt, l3, len);
            pl_json_reset(&w);
            pl_packet_write_record(&w, &pkt, &meta, numbered ? ++seq : 0, NULL, NULL);
            if (pl_json_failed(&w)) {
                pl_log_error("out of memory");
                status = 1;
                break;
            }
            if (print) {
                w.buf[w.len] = '\n';
                if (fwrite(w.buf, 1, w.len + 1, stdout) != w.len + 1) {
                    status = 1;
                    break;
                }
                w.buf[w.len] = '\0';
            }
        }
        if (rc == -1 && status == 0) {
            /* a capture cut short: what was read is printed, the rest named,
             * and the exit status says the output is incomplete */
            pl_log_error("%s: %s (the records before it were printed)", path,
                         pcap_geterr(pcap));
            status = 1;
        }
        pcap_close(pcap);
    }
    pl_json_fini(&w);
    if (fflush(stdout) != 0 && status == 0) {
        pl_log_error("writing the records: %s", strerror(errno));
        status = 1;
    }
    return status;
}
