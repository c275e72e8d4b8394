
/*
 * Redis Cluster slots and redirections (ngx_oci_redis_slot.h).
 */


#include <string.h>
#include <strings.h>

#include "ngx_oci_redis_slot.h"


/* CRC16-CCITT (XMODEM): polynomial 0x1021, initial value 0, as Redis */

static unsigned
ngx_oci_redis_crc16(const u_char *p, size_t len)
{
    int       i;
    unsigned  crc;

    crc = 0;

    while (len--) {
        crc ^= (unsigned) *p++ << 8;

        for (i = 0; i < 8; i++) {
            crc = (crc & 0x8000) ? ((crc << 1) ^ 0x1021) : (crc << 1);
        }

        crc &= 0xffff;
    }

    return crc;
}


unsigned
ngx_oci_redis_slot(const u_char *key, size_t len)
{
    const u_char  *open, *close;

    open = memchr(key, '{', len);

    if (open) {
        close = memchr(open + 1, '}', len - (open + 1 - key));

        if (close && close > open + 1) {
            key = open + 1;
            len = close - key;
        }
    }

    return ngx_oci_redis_crc16(key, len) & (NGX_OCI_REDIS_SLOTS - 1);
}


static int
ngx_oci_redis_is(const u_char *arg, size_t len, const char *name)
{
    return len == strlen(name)
           && strncasecmp((const char *) arg, name, len) == 0;
}


int
ngx_oci_redis_command_key(size_t argc, const u_char *const *argv,
    const size_t *argvlen)
{
    size_t  i, numkeys;

    static const char  *keyless[] = {
        "MULTI", "EXEC", "DISCARD", "PING", "ECHO", "ASKING", "AUTH",
        "SELECT", "INFO", "CLUSTER", "SCRIPT", "ROLE", "SENTINEL", "TIME",
        "DBSIZE", "SCAN", "CLIENT", "CONFIG", "FUNCTION", "HELLO", NULL
    };

    if (argc == 0) {
        return -1;
    }

    for (i = 0; keyless[i]; i++) {
        if (ngx_oci_redis_is(argv[0], argvlen[0], keyless[i])) {
            return -1;
        }
    }

    if (ngx_oci_redis_is(argv[0], argvlen[0], "EVAL")
        || ngx_oci_redis_is(argv[0], argvlen[0], "EVALSHA")
        || ngx_oci_redis_is(argv[0], argvlen[0], "EVAL_RO")
        || ngx_oci_redis_is(argv[0], argvlen[0], "EVALSHA_RO")
        || ngx_oci_redis_is(argv[0], argvlen[0], "FCALL")
        || ngx_oci_redis_is(argv[0], argvlen[0], "FCALL_RO"))
    {
        if (argc < 4 || argvlen[2] == 0 || argvlen[2] > 9) {
            return -1;
        }

        numkeys = 0;

        for (i = 0; i < argvlen[2]; i++) {
            if (argv[2][i] < '0' || argv[2][i] > '9') {
                return -1;
            }

            numkeys = numkeys * 10 + (argv[2][i] - '0');
        }

        return numkeys ? 3 : -1;
    }

    /* XREAD [COUNT n] [BLOCK ms] STREAMS key ... id ... */

    if (ngx_oci_redis_is(argv[0], argvlen[0], "XREAD")
        || ngx_oci_redis_is(argv[0], argvlen[0], "XREADGROUP"))
    {
        for (i = 1; i + 1 < argc; i++) {
            if (ngx_oci_redis_is(argv[i], argvlen[i], "STREAMS")) {
                return (int) i + 1;
            }
        }

        return -1;
    }

    /* XGROUP CREATE|SETID|DESTROY|... key ... (the relay of events) */

    if (ngx_oci_redis_is(argv[0], argvlen[0], "XGROUP")) {
        return argc > 2 ? 2 : -1;
    }

    return argc > 1 ? 1 : -1;
}


int
ngx_oci_redis_redirect(const u_char *err, size_t len, unsigned *slot,
    const u_char **addr, size_t *addr_len)
{
    int            kind;
    size_t         n;
    unsigned       s;
    const u_char  *p, *end;

    if (len > 6 && memcmp(err, "MOVED ", 6) == 0) {
        kind = NGX_OCI_REDIS_MOVED;
        p = err + 6;

    } else if (len > 4 && memcmp(err, "ASK ", 4) == 0) {
        kind = NGX_OCI_REDIS_ASK;
        p = err + 4;

    } else {
        return 0;
    }

    end = err + len;
    s = 0;

    for (n = 0; p < end && *p >= '0' && *p <= '9'; p++, n++) {
        s = s * 10 + (*p - '0');

        if (s >= NGX_OCI_REDIS_SLOTS) {
            return 0;
        }
    }

    if (n == 0 || p == end || *p != ' ') {
        return 0;
    }

    p++;

    /* "host:port": a port after the last ':', a host before it */

    for (n = end - p; n && p[n - 1] >= '0' && p[n - 1] <= '9'; n--) {
        /* void */
    }

    if (n < 2 || n == (size_t) (end - p) || p[n - 1] != ':'
        || memchr(p, ' ', end - p))
    {
        return 0;
    }

    *slot = s;
    *addr = p;
    *addr_len = end - p;

    return kind;
}
