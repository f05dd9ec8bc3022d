/*
 * pl_decode: `packet_logs decode FILE.pcap`: the record decoder run over a
 * capture (DESIGN.md section 7), one JSON line per packet in the capture's
 * order. Tests, benchmarks and people use it to see what packet_logs makes
 * of any packet.
 */
#ifndef PL_DECODE_H
#define PL_DECODE_H

/* Runs the command with argv[0] == "decode". Returns the process exit
 * status: 0 done, 2 bad usage or a file that is missing, no capture or of
 * another link type, 1 a capture cut short (its records up to the cut are
 * printed) or an output error. */
int pl_decode_main(int argc, char **argv);

#endif
