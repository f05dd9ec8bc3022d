/*
 * pl_decode: reads a capture with libpcap and writes each IP packet's record.
 * Ethernet frames give their first 14 bytes as the NFLOG hardware header
 * (type 1) when their ethertype is IPv4 or IPv6, as an inet log rule sees
 * them; other frames are skipped. Raw-IP captures give every packet.
 * This is how tests/corpus/golden was made, line for line.
 *
 * NFLOG captures (link type 239: `tcpdump -i nflog:N -w`) hold what the
 * kernel sent the server: each frame goes through the server's own ingest
 * path (pl_ingest), so it makes the record the server makes of the same
 * packet, apart from Seq.
 */
#include "pl_decode.h"

#include <errno.h>
#include <getopt.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pl_config.h"
#include "pl_domains.h"
#include "pl_ingest.h"
#include "pl_json.h"
#include "pl_log.h"
#include "pl_nflogcap.h"
#include "pl_packet.h"

/* The server's --dns-cache default: a capture names addresses as it would. */
#define DECODE_DNS_CACHE 8192

static void usage(FILE *out)
{
    fprintf(out, "usage: packet_logs decode [options] FILE.pcap\n"
                 "\n"
                 "Decodes every IPv4/IPv6 packet of a capture (pcap or pcapng; Ethernet or\n"
                 "raw IP) into packet_logs' JSON record and prints one record per line.\n"
                 "\n"
                 "An NFLOG capture (link type 239: tcpdump -i nflog:0,1 -w FILE) gives each\n"
                 "record what the kernel logged with it, as the server does: Prefix, Action\n"
                 "(from the group, mapped by --group), InDev/OutDev (interface indexes named\n"
                 "on this machine, as the server names them; \"\" when unknown here), the\n"
                 "hardware header and the kernel's timestamp (else the capture's); so a\n"
                 "capture taken beside the server gives its records, apart from Seq.\n"
                 "GET /packet_logs.pcap exports records as such a capture.\n"
                 "\n"
                 "  --prefix TEXT   the record's Prefix (default \"lan:in \"; not NFLOG)\n"
                 "  --action TEXT   the record's Action (default \"allowed\"; not NFLOG)\n"
                 "  --indev NAME    the record's InDev (default \"eth0\"; not NFLOG)\n"
                 "  --outdev NAME   the record's OutDev (default \"\"; not NFLOG)\n"
                 "  --group N:ACTION  NFLOG: the Action of group N's records, as the server's\n"
                 "                  --group (repeatable or comma-separated; default\n"
                 "                  \"0:allowed,1:blocked\"; a group not given: 1 blocked,\n"
                 "                  others allowed)\n"
                 "  --seq           number the records (Seq from 1)\n"
                 "  --repeat N      decode the capture N times (benchmarks); print the last\n"
                 "  -h, --help      this help\n");
}

/* What every round of the command shares. */
struct decode {
    const char *path;
    struct pl_meta meta; /* the options' record fields (Ethernet and raw IP) */
    int numbered;
    uint64_t seq; /* the last Seq given (Ethernet and raw IP) */
    int print;    /* this round's records are printed (the last round) */
    struct pl_json w;
    struct pl_nflog_config groups; /* NFLOG: group -> Action */
    struct pl_domains *domains;    /* NFLOG: the DNS-answer cache, as the server's */
    struct pl_ingest *ingest;      /* NFLOG: made at the first NFLOG round */
    int failed;                    /* an output error or out of memory */
};

/* Prints one record line. Returns 0, or -1 on an output error. */
static int print_line(char *json, size_t len)
{
    json[len] = '\n';
    int ok = fwrite(json, 1, len + 1, stdout) == len + 1;
    json[len] = '\0';
    return ok ? 0 : -1;
}

/* Ethernet and raw-IP captures: the options give what NFLOG would. */
static int decode_ip(struct decode *d, pcap_t *pcap, int ethernet)
{
    struct pl_meta meta = d->meta;
    /* the capture's snaplen plays NFLOG's copy range (Truncated) */
    int snaplen = pcap_snapshot(pcap);
    meta.snaplen = snaplen > (ethernet ? 14 : 0) ? (size_t)snaplen - (ethernet ? 14 : 0) : 0;
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
        /* a record made and rendered as the server makes and renders it,
         * so that the parity tests check the server's own path */
        struct pl_packet pkt;
        pl_packet_decode(&pkt, l3, len);
        struct pl_record_meta rm = {
            .seq = d->numbered ? ++d->seq : 1,
            .ts_sec = meta.ts_sec,
            .ts_nsec = meta.ts_nsec,
            .summary = pkt.summary,
            .prefix = meta.prefix,
            .action = meta.action,
            .indev = meta.indev,
            .outdev = meta.outdev,
            .capture =
                {
                    .has_hwtype = (uint8_t)meta.has_hwtype,
                    .hwtype = meta.hwtype,
                    .hw_protocol = ethernet ? (uint16_t)(frame[12] << 8 | frame[13]) : 0,
                    .hwheader_len = (uint32_t)meta.hwheader_len,
                    .payload_len = (uint32_t)len,
                },
            .hwheader = meta.hwheader,
            .payload = l3,
            .snaplen = (uint32_t)meta.snaplen,
            .unnumbered = !d->numbered,
        };
        struct pl_record *rec = pl_record_new(&rm, NULL, 0);
        if (!rec || pl_record_render(rec, &d->w) < 0) {
            pl_record_unref(rec);
            pl_log_error("out of memory");
            return 1;
        }
        pl_record_unref(rec);
        if (d->print && print_line(d->w.buf, d->w.len) < 0)
            return 1;
    }
    return rc == -1 ? -1 : 0;
}

/* The time of the NFLOG frame at hand, for one the kernel did not stamp:
 * pl_ingest asks its clock, which takes no context (one thread). */
static int64_t frame_sec;
static uint32_t frame_nsec;

static void frame_clock(int64_t *sec, uint32_t *nsec)
{
    *sec = frame_sec;
    *nsec = frame_nsec;
}

static void emit_record(void *ctx, struct pl_record *rec)
{
    struct decode *d = ctx;
    if (d->print && !d->failed &&
        (pl_record_render(rec, &d->w) < 0 || print_line(d->w.buf, d->w.len) < 0))
        d->failed = 1;
    pl_record_unref(rec);
}

/* The Action of an NFLOG group: --group's, else the server's default rule. */
static const char *group_action(const struct decode *d, uint16_t group)
{
    for (size_t i = 0; i < d->groups.n_groups; i++)
        if (d->groups.groups[i].group == group)
            return d->groups.groups[i].action;
    return group == 1 ? "blocked" : "allowed";
}

/* NFLOG captures: each frame, as the kernel sent it, through pl_ingest. */
static int decode_nflog(struct decode *d, pcap_t *pcap)
{
    if (!d->ingest) {
        int snaplen = pcap_snapshot(pcap);
        d->domains = pl_domains_new(DECODE_DNS_CACHE);
        struct pl_ingest_config cfg = {
            .ifnames = NULL, /* if_indextoname(), as the server's cache falls back to */
            .domains = d->domains,
            .snaplen = snaplen > 0 ? (uint32_t)snaplen : 0,
            .unnumbered = !d->numbered,
            .clock = frame_clock,
            .emit = emit_record,
            .emit_ctx = d,
        };
        d->ingest = d->domains ? pl_ingest_new(&cfg) : NULL;
        if (!d->ingest) {
            pl_log_error("out of memory");
            return 1;
        }
    }
    struct pcap_pkthdr *hdr;
    const u_char *frame;
    int rc;
    uint64_t n = 0;
    while ((rc = pcap_next_ex(pcap, &hdr, &frame)) == 1) {
        n++;
        struct pl_nflog_frame f;
        char err[128];
        if (pl_nflogcap_parse(&f, frame, hdr->caplen, err, sizeof(err)) < 0) {
            /* one bad frame is named and skipped, as the server counts a
             * message that does not parse and goes on */
            pl_log_warning("%s: packet %llu: %s (skipped)", d->path, (unsigned long long)n, err);
            continue;
        }
        struct pl_nflog_packet np = {
            .group = f.group,
            .action = group_action(d, f.group),
            .prefix = f.prefix,
            .family = f.family,
            .hw_protocol = f.hw_protocol,
            .indev = f.indev,
            .outdev = f.outdev,
            .physindev = f.physindev,
            .physoutdev = f.physoutdev,
            .has_hwtype = f.has_hwtype,
            .hwtype = f.hwtype,
            .hwheader = f.hwheader,
            .hwheader_len = f.hwheader_len,
            .has_timestamp = f.has_timestamp,
            .ts_sec = f.ts_sec,
            .ts_nsec = f.ts_nsec,
            .payload = f.payload,
            .payload_len = f.payload_len,
            .has_hook = 1,
            .hook = f.hook,
        };
        frame_sec = hdr->ts.tv_sec;
        frame_nsec = (uint32_t)hdr->ts.tv_usec; /* nanoseconds: see the precision */
        pl_ingest_packet(d->ingest, &np);
        if (d->failed)
            return 1;
        struct pl_ingest_stats st;
        pl_ingest_stats(d->ingest, &st);
        if (st.oom_drops) {
            pl_log_error("out of memory");
            return 1;
        }
    }
    return rc == -1 ? -1 : 0;
}

/* One round over the capture. Returns the exit status (0 on to the next). */
static int decode_file(struct decode *d)
{
    char errbuf[PCAP_ERRBUF_SIZE] = "";
    pcap_t *pcap =
        pcap_open_offline_with_tstamp_precision(d->path, PCAP_TSTAMP_PRECISION_NANO, errbuf);
    if (!pcap) {
        pl_log_error("%s: %s", d->path, errbuf);
        return 2;
    }
    int link = pcap_datalink(pcap);
    int rc;
    if (link == DLT_NFLOG) {
        rc = decode_nflog(d, pcap);
    } else if (link == DLT_EN10MB || link == DLT_RAW || link == DLT_IPV4 || link == DLT_IPV6 ||
               link == 12) {
        rc = decode_ip(d, pcap, link == DLT_EN10MB);
    } else {
        pl_log_error("%s: link type %s is not Ethernet, raw IP or NFLOG", d->path,
                     pcap_datalink_val_to_name(link) ? pcap_datalink_val_to_name(link) : "?");
        pcap_close(pcap);
        return 2;
    }
    if (rc == -1) {
        /* a capture cut short: what was read is printed, the rest named,
         * and the exit status says the output is incomplete */
        pl_log_error("%s: %s (the records before it were printed)", d->path, pcap_geterr(pcap));
        rc = 1;
    }
    pcap_close(pcap);
    return rc;
}

int pl_decode_main(int argc, char **argv)
{
    static const struct option options[] = {
        {"prefix", required_argument, NULL, 'p'},
        {"action", required_argument, NULL, 'a'},
        {"indev", required_argument, NULL, 'i'},
        {"outdev", required_argument, NULL, 'o'},
        {"seq", no_argument, NULL, 's'},
        {"repeat", required_argument, NULL, 'r'},
        {"group", required_argument, NULL, 'g'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    static struct decode d;
    memset(&d, 0, sizeof(d));
    d.meta =
        (struct pl_meta){.prefix = "lan:in ", .action = "allowed", .indev = "eth0", .outdev = ""};
    int groups_given = 0;
    long repeat = 1;
    int opt;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "h", options, NULL)) != -1) {
        switch (opt) {
        case 'p': d.meta.prefix = optarg; break;
        case 'a': d.meta.action = optarg; break;
        case 'i': d.meta.indev = optarg; break;
        case 'o': d.meta.outdev = optarg; break;
        case 's': d.numbered = 1; break;
        case 'g': {
            char why[256];
            groups_given = 1;
            if (pl_config_parse_groups(&d.groups, optarg, why, sizeof(why)) < 0) {
                pl_log_error("--group: %s", why);
                return 2;
            }
            break;
        }
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
    if (!groups_given) {
        char why[256];
        pl_config_parse_groups(&d.groups, "0:allowed,1:blocked", why, sizeof(why));
    }
    d.path = argv[optind];
    static char outbuf[1 << 20];
    setvbuf(stdout, outbuf, _IOFBF, sizeof(outbuf));

    pl_json_init(&d.w);
    int status = 0;
    for (long round = 0; round < repeat && status == 0; round++) {
        d.print = round == repeat - 1;
        status = decode_file(&d);
    }
    pl_ingest_free(d.ingest);
    pl_domains_free(d.domains);
    pl_json_fini(&d.w);
    if (fflush(stdout) != 0 && status == 0) {
        pl_log_error("writing the records: %s", strerror(errno));
        status = 1;
    }
    return status;
}
