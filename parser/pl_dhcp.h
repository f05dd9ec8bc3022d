/*
 * pl_dhcp: the DHCPv4 layer of a record, as gopacket v1.1.19's
 * layers.DHCPv4 decodes it and Go's encoding/json writes it (SPR's record
 * format: the record's "DHCP" key).
 *
 * Pure: reads only the bytes it is given, bounds-checked; keeps nothing.
 */
#ifndef PL_DHCP_H
#define PL_DHCP_H

#include <stddef.h>
#include <stdint.h>

struct pl_json;

/* Checks msg[0..len) as gopacket's DHCPv4.DecodeFromBytes would. Returns 0
 * when gopacket would accept it, else -1 with *error set to a short static
 * text that says why ("DHCPv4: ..."). */
int pl_dhcp_check(const uint8_t *msg, size_t len, const char **error);

/* Writes the DHCP layer object for a message pl_dhcp_check accepted; what
 * encoding/json makes of gopacket's layers.DHCPv4 after DecodeFromBytes. */
void pl_dhcp_write(struct pl_json *w, const uint8_t *msg, size_t len);

#endif
