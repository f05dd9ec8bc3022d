/*
 * pl_bytes: big-endian reads of network fields, for every decoder of
 * parser/. The caller has checked that the bytes are there.
 */
#ifndef PL_BYTES_H
#define PL_BYTES_H

#include <stdint.h>

static inline uint16_t pl_get_be16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static inline uint32_t pl_get_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

#endif
