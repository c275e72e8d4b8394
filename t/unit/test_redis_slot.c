
/*
 * ngx_oci_redis_slot.c: key slots as Redis computes them (the expected
 * values are those of CLUSTER KEYSLOT), the key of a command, and the
 * MOVED and ASK redirections.
 */


#include <string.h>

#include "tap.h"
#include "ngx_oci_redis_slot.h"


typedef struct {
    const char  *key;
    unsigned     slot;
} slot_case_t;


static const slot_case_t  slots[] = {
    /* CLUSTER KEYSLOT of Redis 7.0 */
    { "", 0 },
    { "123456789", 12739 },
    { "foo", 12182 },
    { "bar", 5061 },
    { "{user1000}.following", 3443 },
    { "{user1000}.followers", 3443 },
    { "user1000", 3443 },
    { "foo{}{bar}", 8363 },
    { "foo{{bar}}zap", 4015 },
    { "foo{bar}{zap}", 5061 },
    { "{", 4092 },
    { "}{", 12793 },
    { "oci:{app@sha256:aa}:refs", 0 },
    { NULL, 0 }
};


static int
command_key(const char *args)
{
    char          buf[256], *p, *save;
    size_t        argc, len[8];
    const u_char *argv[8];

    strcpy(buf, args);
    argc = 0;

    for (p = strtok_r(buf, " ", &save); p && argc < 8;
         p = strtok_r(NULL, " ", &save))
    {
        argv[argc] = (const u_char *) p;
        len[argc++] = strlen(p);
    }

    return ngx_oci_redis_command_key(argc, argv, len);
}


static int
redirect(const char *err, unsigned *slot, char *addr)
{
    int            kind;
    size_t         len;
    const u_char  *a;

    kind = ngx_oci_redis_redirect((const u_char *) err, strlen(err), slot,
                                  &a, &len);
    if (kind) {
        memcpy(addr, a, len);
        addr[len] = '\0';
    }

    return kind;
}


int
main(void)
{
    char                idx[64], addr[64];
    unsigned            slot;
    const slot_case_t  *c;

    /* the pair's keys as the index writes them share the tag's slot */

    snprintf(idx, sizeof(idx), "app@sha256:aa");

    for (c = slots; c->key; c++) {
        if (strcmp(c->key, "oci:{app@sha256:aa}:refs") == 0) {
            tap_ok(ngx_oci_redis_slot((const u_char *) c->key,
                                      strlen(c->key))
                   == ngx_oci_redis_slot((const u_char *) idx, strlen(idx)),
                   "slot of \"%s\" is its hash tag's", c->key);
            continue;
        }

        tap_ok(ngx_oci_redis_slot((const u_char *) c->key, strlen(c->key))
               == c->slot, "slot of \"%s\" is %u", c->key, c->slot);
    }

    tap_ok(command_key("ZADD k 0 m") == 1, "ZADD: argv[1]");
    tap_ok(command_key("MULTI") == -1, "MULTI: no key");
    tap_ok(command_key("exec") == -1, "exec: no key, any case");
    tap_ok(command_key("EVAL s 2 k1 k2 a") == 3, "EVAL with keys: argv[3]");
    tap_ok(command_key("evalsha h 1 k") == 3, "evalsha: argv[3]");
    tap_ok(command_key("EVAL s 0 a") == -1, "EVAL without keys");
    tap_ok(command_key("EVAL s x k") == -1, "EVAL, numkeys not a number");
    tap_ok(command_key("EVAL s 1") == -1, "EVAL, the key missing");
    tap_ok(command_key("PING") == -1, "PING");
    tap_ok(command_key("CLUSTER SLOTS") == -1, "CLUSTER SLOTS");
    tap_ok(command_key("XADD s * f v") == 1, "XADD: argv[1]");
    tap_ok(command_key("XREAD COUNT 10 BLOCK 0 STREAMS s 0") == 6,
           "XREAD: after STREAMS");
    tap_ok(command_key("xreadgroup GROUP g c streams s >") == 5,
           "XREADGROUP: after STREAMS");
    tap_ok(command_key("XREAD COUNT 1 STREAMS") == -1,
           "XREAD without a stream");
    tap_ok(command_key("XGROUP CREATE s g $ MKSTREAM") == 2,
           "XGROUP: the key after the subcommand");
    tap_ok(command_key("XGROUP") == -1, "XGROUP alone");

    tap_ok(redirect("MOVED 3999 127.0.0.1:6381", &slot, addr)
           == NGX_OCI_REDIS_MOVED && slot == 3999
           && strcmp(addr, "127.0.0.1:6381") == 0, "MOVED");
    tap_ok(redirect("ASK 0 [::1]:7000", &slot, addr) == NGX_OCI_REDIS_ASK
           && slot == 0 && strcmp(addr, "[::1]:7000") == 0, "ASK, IPv6");
    tap_ok(redirect("ASK 16384 a:1", &slot, addr) == 0, "slot too large");
    tap_ok(redirect("MOVED 1 host", &slot, addr) == 0, "no port");
    tap_ok(redirect("MOVED 1 :1", &slot, addr) == 0, "no host");
    tap_ok(redirect("MOVED x a:1", &slot, addr) == 0, "no slot");
    tap_ok(redirect("MOVED 1 a:1 b", &slot, addr) == 0, "trailing bytes");
    tap_ok(redirect("ERR wrong", &slot, addr) == 0, "another error");
    tap_ok(redirect("MOVED", &slot, addr) == 0, "MOVED alone");

    return tap_done();
}
