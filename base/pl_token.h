/*
 * pl_token: what an access token is, for the server (--token, --token-file)
 * and its client (stream-json-logs -token-file, PACKET_LOGS_TOKEN*): 1 to
 * PL_TOKEN_MAX printable ASCII characters without spaces; a file holds one,
 * with white space around it allowed. One rule, so a token the server takes
 * is one the client can send.
 */
#ifndef PL_TOKEN_H
#define PL_TOKEN_H

#include <stddef.h>

#define PL_TOKEN_MAX 255 /* characters */

/* Checks the n bytes of text as a token and copies it, NUL-terminated, into
 * token (at least PL_TOKEN_MAX + 1 bytes). Returns 0, or -1 with why filled. */
int pl_token_take(const char *text, size_t n, char token[PL_TOKEN_MAX + 1], char *why,
                  size_t why_len);
/* Reads the token that the file at path holds (white space around it
 * dropped) into token. Returns 0, or -1 with why filled (naming path). */
int pl_token_read_file(const char *path, char token[PL_TOKEN_MAX + 1], char *why, size_t why_len);

#endif
