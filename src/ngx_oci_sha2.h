
/*
 * Resumable SHA-256 and SHA-512 (FIPS 180-4).
 *
 * An upload session spans several HTTP requests which may be served by
 * different worker processes, or outlive a reload.  Every byte must be
 * hashed exactly once, as it arrives, so the hash state has to travel
 * with the session.  OpenSSL 3 cannot export an EVP context, hence this
 * implementation whose whole state serialises to NGX_OCI_SHA2_STATE_SIZE
 * bytes with ngx_oci_sha2_save() and is resumed by ngx_oci_sha2_load().
 *
 * This file is shared by the nginx module and the standalone tools, so it
 * depends on libc only.
 */


#ifndef _NGX_OCI_SHA2_H_INCLUDED_
#define _NGX_OCI_SHA2_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>


#define NGX_OCI_SHA256                1
#define NGX_OCI_SHA512                2

#define NGX_OCI_SHA256_SIZE           32
#define NGX_OCI_SHA512_SIZE           64
#define NGX_OCI_SHA2_MAX_SIZE         64

/*
 * The block function used by ngx_oci_sha2_update().  init() and load()
 * pick the best one the CPU supports; the tests and the benchmark may
 * overwrite the "impl" field afterwards to compare the implementations.
 * Setting NGX_OCI_SHA2_IMPL_SHANI on a CPU without the SHA extensions
 * faults; on builds without SHA-NI support, or for SHA-512, it is
 * ignored.  Defining NGX_OCI_SHA2_NO_SHANI at compile time leaves the
 * SHA-NI code out.
 */
#define NGX_OCI_SHA2_IMPL_PORTABLE    0
#define NGX_OCI_SHA2_IMPL_SHANI       1

/*
 * Serialised layout, all integers big-endian:
 *
 *     0   4  magic "OCIH"
 *     4   1  format version, 1
 *     5   1  algorithm, NGX_OCI_SHA256 or NGX_OCI_SHA512
 *     6   2  zero
 *     8   8  total number of bytes hashed
 *    16  64  h[0..7], 8 bytes each (SHA-256 keeps the high halves zero)
 *    80 128  pending partial block, unused bytes zero
 *   208   4  CRC-32 (IEEE 802.3) of bytes 0..207
 */
#define NGX_OCI_SHA2_STATE_SIZE       212


typedef struct {
    uint64_t   h[8];          /* sha256 uses the low 32 bits */
    uint64_t   total;         /* bytes hashed so far */
    u_char     block[128];    /* pending partial block */
    int        alg;           /* NGX_OCI_SHA256 or NGX_OCI_SHA512 */
    int        impl;          /* NGX_OCI_SHA2_IMPL_*, not serialised */
} ngx_oci_sha2_t;


void ngx_oci_sha2_init(ngx_oci_sha2_t *s, int alg);
void ngx_oci_sha2_update(ngx_oci_sha2_t *s, const u_char *p, size_t len);

/* returns the digest length, 32 or 64; s must be re-initialised after */
size_t ngx_oci_sha2_final(ngx_oci_sha2_t *s, u_char *md);

/* writes exactly NGX_OCI_SHA2_STATE_SIZE bytes */
void ngx_oci_sha2_save(const ngx_oci_sha2_t *s, u_char *buf);

/*
 * returns 0 and fills s, or -1 leaving s untouched when len is not
 * NGX_OCI_SHA2_STATE_SIZE or the buffer is not a state saved by
 * ngx_oci_sha2_save()
 */
int ngx_oci_sha2_load(ngx_oci_sha2_t *s, const u_char *buf, size_t len);

/* the NGX_OCI_SHA2_IMPL_* that init() and load() choose on this CPU */
int ngx_oci_sha2_impl_detect(void);

/* convenience: one-shot digest, returns the digest length or 0 */
size_t ngx_oci_sha2(int alg, const u_char *p, size_t len, u_char *md);


#endif /* _NGX_OCI_SHA2_H_INCLUDED_ */
