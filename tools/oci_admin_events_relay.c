
/*
 * oci-admin events relay: delivers the stream's events as webhooks, in
 * the reference registry's format (an envelope {"events": [...]} POSTed
 * with its media type), through a consumer group:
 *
 *   - each relay is a consumer of the group; relays sharing a group share
 *     the entries, each entry going to one of them;
 *   - an entry is acknowledged (XACK) only once the receiver answered
 *     2xx, or once it went to the dead-letter list: delivery is at least
 *     once, a relay that dies leaves its entries pending;
 *   - at start a relay first retries its own pending entries, and entries
 *     idle longer than --claim-idle in another consumer (one that died)
 *     are claimed (XAUTOCLAIM) and delivered;
 *   - a failed POST is retried --retries times, waiting --backoff, then
 *     twice that, and so on (at most a minute); then the entry, the last
 *     error and the number of attempts go to the dead-letter list;
 *   - SIGTERM or SIGINT: the POST under way ends (bounded by --timeout),
 *     nothing new starts, an entry not delivered stays pending for the
 *     next relay, and the relay exits 0.
 */


#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <jansson.h>

#include "ngx_oci_event.h"
#include "oci_admin_message.h"
#include "oci_admin_webhook.h"
#include "oci_admin_events_relay.h"


#define OCI_ADMIN_RELAY_BACKOFF_MAX  60000


typedef struct {
    oci_admin_opts_t        opt;
    oci_admin_redis_t       redis;
    oci_admin_webhook_t     hook;
    char                   *key;
    const char             *group;
    char                    consumer[128];
    char                   *dead;           /* the dead-letter list */
    const char             *dead_opt;
    const char             *start;          /* the group's, if created */
    const char             *secret_file;
    char                   *secret;
    long                    retries;
    long                    backoff_ms;
    long                    claim_idle_ms;
    long                    batch;
    unsigned long           delivered;
    unsigned long           retried;
    unsigned long           dead_count;
    int                     failed;         /* Redis failed: exit 2 */
} oci_admin_relay_t;


volatile sig_atomic_t  oci_admin_events_stop;


static int oci_admin_relay_option(void *data, int c, char *arg);
static int oci_admin_relay_ms(const char *name, const char *arg, long *ms);
static int oci_admin_relay_secret(oci_admin_relay_t *rl);
static int oci_admin_relay_group(oci_admin_relay_t *rl);
static int oci_admin_relay_read(oci_admin_relay_t *rl, const char *mode,
    int block);
static int oci_admin_relay_claim(oci_admin_relay_t *rl);
static int oci_admin_relay_entries(oci_admin_relay_t *rl, redisReply *list);
static int oci_admin_relay_deliver(oci_admin_relay_t *rl,
    redisReply *entry);
static int oci_admin_relay_bury(oci_admin_relay_t *rl,
    oci_admin_event_entry_t *e, const char *err, long attempts);
static int oci_admin_relay_ack(oci_admin_relay_t *rl, const char *id);
static redisReply *oci_admin_relay_cmd(oci_admin_relay_t *rl, int argc,
    const char **argv);
static void oci_admin_events_signal(int sig);


static const char  oci_admin_relay_usage[] =
"usage: oci-admin events relay --redis <addr> --url <url> [options]\n"
"\n"
"Delivers the registry's events as webhooks: each event is POSTed to\n"
"<url> as {\"events\": [<event>]} with Content-Type\n"
NGX_OCI_EVENT_MEDIA_TYPE ", at least once.\n"
"Relays started with the same --group share the events.\n"
"\n"
"  --redis <addr>       host[:port], [v6]:port or unix:/path\n"
"  --password <pw>      AUTH with this password (default: $REDISCLI_AUTH)\n"
"  --db <n>             database number (default: 0)\n"
"  --prefix <p>         key prefix, as oci_redis_prefix (default: oci:)\n"
"  --url <url>          the receiver, http:// or https://\n"
"  --group <name>       the consumer group (default: relay)\n"
"  --consumer <name>    this relay's name in it (default: <host>-<pid>)\n"
"  --since <id>         where a new group starts: a stream ID, 0 for\n"
"                       every event kept, $ for new ones (default: $)\n"
"  --secret-file <f>    sign each POST with HMAC-SHA256 of this secret\n"
"                       (default: $OCI_EVENTS_SECRET, if set), in\n"
"                       " OCI_ADMIN_WEBHOOK_SIGNATURE ": sha256=<hex>\n"
"  --retries <n>        retries of a failed POST (default: 5)\n"
"  --backoff <time>     wait before the first retry, doubled each time\n"
"                       (default: 1s; 250ms, 2s, 1m)\n"
"  --timeout <time>     of one POST (default: 10s)\n"
"  --claim-idle <time>  take over entries another relay left pending\n"
"                       this long (default: 60s)\n"
"  --dead-letter <key>  the list of entries given up on\n"
"                       (default: <prefix>events:dead)\n"
"  --batch <n>          entries read at once (default: 10)\n"
"  --quiet              no line per delivery on stderr\n"
"\n"
"SIGTERM or SIGINT: the POST under way finishes, the relay exits 0.\n"
"exit status: 0 stopped, 1 usage error, 2 Redis unreachable or lost\n";


static const struct option  oci_admin_relay_longopts[] = {
    OCI_ADMIN_OPTIONS_REDIS,
    OCI_ADMIN_OPTIONS_OUTPUT,
    { "url",         required_argument, NULL, 'u' },
    { "group",       required_argument, NULL, 'g' },
    { "consumer",    required_argument, NULL, 'c' },
    { "since",       required_argument, NULL, 'S' },
    { "secret-file", required_argument, NULL, 'k' },
    { "retries",     required_argument, NULL, 'n' },
    { "backoff",     required_argument, NULL, 'b' },
    { "timeout",     required_argument, NULL, 't' },
    { "claim-idle",  required_argument, NULL, 'I' },
    { "dead-letter", required_argument, NULL, 'D' },
    { "batch",       required_argument, NULL, 'B' },
    { NULL, 0, NULL, 0 }
};


static const oci_admin_getopt_t  oci_admin_relay_getopt = {
    "events relay", oci_admin_relay_longopts, oci_admin_relay_usage,
    oci_admin_relay_option, 1, 0, 1
};


int
oci_admin_events_relay(int argc, char **argv)
{
    int                 rc;
    char                host[64];
    size_t              len;
    oci_admin_relay_t   rl;

    memset(&rl, 0, sizeof(oci_admin_relay_t));

    rl.group = "relay";
    rl.start = "$";
    rl.retries = 5;
    rl.backoff_ms = 1000;
    rl.hook.timeout_ms = 10000;
    rl.claim_idle_ms = 60000;
    rl.batch = 10;
    rl.hook.content_type = NGX_OCI_EVENT_MEDIA_TYPE;

    rc = oci_admin_options(&rl.opt, &oci_admin_relay_getopt, &rl, argc,
                           argv);
    if (rc != -1) {
        return rc;
    }

    if (rl.hook.url == NULL) {
        fprintf(stderr, "oci-admin events relay: --url is required\n");
        return OCI_ADMIN_EXIT_USAGE;
    }

    if (rl.consumer[0] == '\0') {
        if (gethostname(host, sizeof(host)) != 0) {
            strcpy(host, "relay");
        }

        host[sizeof(host) - 1] = '\0';
        snprintf(rl.consumer, sizeof(rl.consumer), "%s-%ld", host,
                 (long) getpid());
    }

    if (oci_admin_relay_secret(&rl) != 0) {
        return OCI_ADMIN_EXIT_USAGE;
    }

    rl.key = oci_admin_events_key(&rl.opt);
    len = rl.opt.prefix_len + sizeof(NGX_OCI_EVENT_STREAM ":dead");
    rl.dead = rl.dead_opt ? strdup(rl.dead_opt) : malloc(len);

    if (rl.key == NULL || rl.dead == NULL) {
        fprintf(stderr, "oci-admin events relay: out of memory\n");
        return OCI_ADMIN_EXIT_ERROR;
    }

    if (rl.dead_opt == NULL) {
        snprintf(rl.dead, len, "%s" NGX_OCI_EVENT_STREAM ":dead",
                 rl.opt.prefix);
    }

    oci_admin_events_signals();

    if (oci_admin_webhook_init() != 0) {
        return OCI_ADMIN_EXIT_ERROR;
    }

    rc = oci_admin_options_redis(&rl.opt, &rl.redis);

    if (rc == OCI_ADMIN_EXIT_OK && oci_admin_relay_group(&rl) != 0) {
        rc = OCI_ADMIN_EXIT_REDIS;
    }

    if (rc == OCI_ADMIN_EXIT_OK) {

        /* this consumer's own pending entries first: a restart resumes */

        while (!oci_admin_events_stop) {
            rc = oci_admin_relay_read(&rl, "0", 0);
            if (rc <= 0) {
                break;
            }
        }

        while (rc >= 0 && !oci_admin_events_stop) {
            rc = oci_admin_relay_claim(&rl);

            if (rc >= 0 && !oci_admin_events_stop) {
                rc = oci_admin_relay_read(&rl, ">", 1);
            }
        }

        rc = rc < 0 ? OCI_ADMIN_EXIT_REDIS : OCI_ADMIN_EXIT_OK;
    }

    if (!rl.opt.quiet) {
        fprintf(stderr, "oci-admin events relay: %s: %lu delivered, "
                "%lu retries, %lu dead-lettered\n", rl.consumer,
                rl.delivered, rl.retried, rl.dead_count);
    }

    if (rl.redis.ctx) {
        oci_admin_redis_close(&rl.redis);
    }

    oci_admin_webhook_cleanup();
    free(rl.key);
    free(rl.dead);
    free(rl.secret);

    return rc;
}


static int
oci_admin_relay_option(void *data, int c, char *arg)
{
    char               *end;
    oci_admin_relay_t  *rl = data;

    switch (c) {

    case 'u':
        if (strncmp(arg, "http://", 7) != 0
            && strncmp(arg, "https://", 8) != 0)
        {
            fprintf(stderr, "oci-admin events relay: --url \"%s\" is not "
                    "http:// or https://\n", arg);
            return -1;
        }

        rl->hook.url = arg;
        return 0;

    case 'g':
        rl->group = arg;
        return 0;

    case 'c':
        snprintf(rl->consumer, sizeof(rl->consumer), "%s", arg);
        return 0;

    case 'S':
        rl->start = arg;
        return 0;

    case 'k':
        rl->secret_file = arg;
        return 0;

    case 'D':
        rl->dead_opt = arg;
        return 0;

    case 'n':
    case 'B':
        errno = 0;
        long v = strtol(arg, &end, 10);

        if (arg[0] == '\0' || *end != '\0' || errno || v < (c == 'B')
            || v > 1000)
        {
            fprintf(stderr, "oci-admin events relay: --%s \"%s\" is not a "
                    "number from %d to 1000\n",
                    c == 'n' ? "retries" : "batch", arg, c == 'B');
            return -1;
        }

        *(c == 'n' ? &rl->retries : &rl->batch) = v;
        return 0;

    case 'b':
        return oci_admin_relay_ms("backoff", arg, &rl->backoff_ms);

    case 't':
        return oci_admin_relay_ms("timeout", arg, &rl->hook.timeout_ms);

    case 'I':
        return oci_admin_relay_ms("claim-idle", arg, &rl->claim_idle_ms);
    }

    return 1;
}


/* "250ms", "2s", "1m", "1h" or seconds: milliseconds, at least 1 */

static int
oci_admin_relay_ms(const char *name, const char *arg, long *ms)
{
    char    *end;
    double   v;

    errno = 0;
    v = strtod(arg, &end);

    if (end == arg || errno || v < 0) {
        goto invalid;
    }

    if (strcmp(end, "ms") == 0) {
        /* as it is */

    } else if (*end == '\0' || strcmp(end, "s") == 0) {
        v *= 1000;

    } else if (strcmp(end, "m") == 0) {
        v *= 60000;

    } else if (strcmp(end, "h") == 0) {
        v *= 3600000;

    } else {
        goto invalid;
    }

    if (v < 1 || v > 86400000) {
        goto invalid;
    }

    *ms = (long) v;

    return 0;

invalid:

    fprintf(stderr, "oci-admin events relay: --%s \"%s\" is not a time "
            "from 1ms to 24h (250ms, 2s, 1m)\n", name, arg);

    return -1;
}


/* the secret: from --secret-file, or $OCI_EVENTS_SECRET */

static int
oci_admin_relay_secret(oci_admin_relay_t *rl)
{
    FILE        *f;
    size_t       n;
    const char  *env;

    if (rl->secret_file == NULL) {
        env = getenv("OCI_EVENTS_SECRET");

        if (env && env[0]) {
            rl->secret = strdup(env);
            rl->hook.secret = rl->secret;
            rl->hook.secret_len = strlen(env);
        }

        return 0;
    }

    f = fopen(rl->secret_file, "r");
    if (f == NULL) {
        fprintf(stderr, "oci-admin events relay: --secret-file \"%s\": "
                "%s\n", rl->secret_file, strerror(errno));
        return -1;
    }

    rl->secret = malloc(4097);
    n = rl->secret ? fread(rl->secret, 1, 4096, f) : 0;
    fclose(f);

    /* a trailing newline is the editor's, not the secret's */

    while (n && (rl->secret[n - 1] == '\n' || rl->secret[n - 1] == '\r')) {
        n--;
    }

    if (n == 0) {
        fprintf(stderr, "oci-admin events relay: --secret-file \"%s\" is "
                "empty\n", rl->secret_file);
        return -1;
    }

    rl->secret[n] = '\0';
    rl->hook.secret = rl->secret;
    rl->hook.secret_len = n;

    return 0;
}


/* XGROUP CREATE, unless the group is there */

static int
oci_admin_relay_group(oci_admin_relay_t *rl)
{
    redisReply  *r;
    const char  *argv[] = {
        "XGROUP", "CREATE", rl->key, rl->group, rl->start, "MKSTREAM"
    };

    r = oci_admin_relay_cmd(rl, 6, argv);
    if (r == NULL) {
        return -1;
    }

    if (r->type == REDIS_REPLY_ERROR
        && strncmp(r->str, "BUSYGROUP", 9) != 0)
    {
        fprintf(stderr, "oci-admin events relay: XGROUP CREATE: %s\n",
                r->str);
        freeReplyObject(r);
        return -1;
    }

    freeReplyObject(r);

    return 0;
}


/*
 * XREADGROUP from "0" (this consumer's pending entries) or ">" (new
 * ones): the number of entries read (and delivered or left pending on a
 * stop), or -1 when Redis failed
 */

static int
oci_admin_relay_read(oci_admin_relay_t *rl, const char *mode, int block)
{
    int          n;
    char         count[32];
    redisReply  *r, *list;
    const char  *argv[] = {
        "XREADGROUP", "GROUP", rl->group, rl->consumer, "COUNT", count,
        "BLOCK", "1000", "STREAMS", rl->key, mode
    };

    snprintf(count, sizeof(count), "%ld", rl->batch);

    if (!block) {
        argv[6] = "STREAMS";
        argv[7] = rl->key;
        argv[8] = mode;
    }

    r = oci_admin_relay_cmd(rl, block ? 11 : 9, argv);
    if (r == NULL) {
        return -1;
    }

    if (r->type == REDIS_REPLY_NIL) {
        freeReplyObject(r);
        return 0;
    }

    if (r->type != REDIS_REPLY_ARRAY || r->elements != 1
        || r->element[0]->type != REDIS_REPLY_ARRAY
        || r->element[0]->elements != 2)
    {
        fprintf(stderr, "oci-admin events relay: XREADGROUP: %s\n",
                r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply");
        freeReplyObject(r);
        rl->failed = 1;
        return -1;
    }

    list = r->element[0]->element[1];
    n = oci_admin_relay_entries(rl, list);

    freeReplyObject(r);

    return n;
}


/* XAUTOCLAIM of entries idle in consumers that stopped: as ..._read() */

static int
oci_admin_relay_claim(oci_admin_relay_t *rl)
{
    int          n;
    char         idle[32], count[32];
    redisReply  *r;
    const char  *argv[] = {
        "XAUTOCLAIM", rl->key, rl->group, rl->consumer, idle, "0-0",
        "COUNT", count
    };

    snprintf(idle, sizeof(idle), "%ld", rl->claim_idle_ms);
    snprintf(count, sizeof(count), "%ld", rl->batch);

    r = oci_admin_relay_cmd(rl, 8, argv);
    if (r == NULL) {
        return -1;
    }

    if (r->type != REDIS_REPLY_ARRAY || r->elements < 2
        || r->element[1]->type != REDIS_REPLY_ARRAY)
    {
        fprintf(stderr, "oci-admin events relay: XAUTOCLAIM: %s\n",
                r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply");
        freeReplyObject(r);
        return -1;
    }

    n = oci_admin_relay_entries(rl, r->element[1]);

    freeReplyObject(r);

    return n;
}


static int
oci_admin_relay_entries(oci_admin_relay_t *rl, redisReply *list)
{
    size_t  i;

    if (list->type != REDIS_REPLY_ARRAY) {
        return 0;
    }

    for (i = 0; i < list->elements && !oci_admin_events_stop; i++) {
        if (oci_admin_relay_deliver(rl, list->element[i]) != 0) {
            return -1;
        }
    }

    return (int) list->elements;
}


/* one entry, until the receiver takes it or it is given up on */

static int
oci_admin_relay_deliver(oci_admin_relay_t *rl, redisReply *entry)
{
    int                       ok;
    char                     *body, err[256];
    long                      attempt, wait, status;
    json_t                   *event, *envelope;
    json_error_t              jerr;
    oci_admin_event_entry_t   e;

    if (oci_admin_events_entry(entry, &e) != 0) {
        return 0;
    }

    /* trimmed while pending: nothing to deliver */

    if (e.event == NULL) {
        return oci_admin_relay_ack(rl, e.id);
    }

    event = json_loadb(e.event, e.event_len, 0, &jerr);
    envelope = event ? json_pack("{s:[o]}", "events", event) : NULL;
    body = envelope ? json_dumps(envelope, JSON_COMPACT|JSON_PRESERVE_ORDER)
                    : NULL;
    json_decref(envelope);

    if (body == NULL) {
        return oci_admin_relay_bury(rl, &e, "not a JSON event", 0);
    }

    ok = 0;
    wait = rl->backoff_ms;

    for (attempt = 0; attempt <= rl->retries; attempt++) {

        if (attempt > 0) {
            rl->retried++;
            oci_admin_events_sleep(wait);
            wait = wait * 2 > OCI_ADMIN_RELAY_BACKOFF_MAX
                   ? OCI_ADMIN_RELAY_BACKOFF_MAX : wait * 2;
        }

        /* stopping: the entry stays pending, for the next relay */

        if (oci_admin_events_stop) {
            free(body);
            return 0;
        }

        status = oci_admin_webhook_post(&rl->hook, body, strlen(body), err,
                                        sizeof(err));

        if (status >= 200 && status <= 299) {
            ok = 1;
            break;
        }

        if (!rl->opt.quiet) {
            fprintf(stderr, "oci-admin events relay: %s: %s (attempt %ld "
                    "of %ld)\n", e.id, err, attempt + 1, rl->retries + 1);
        }
    }

    free(body);

    if (!ok) {
        return oci_admin_relay_bury(rl, &e, err, attempt);
    }

    rl->delivered++;

    return oci_admin_relay_ack(rl, e.id);
}


/* to the dead-letter list, then acknowledged: in this order */

static int
oci_admin_relay_bury(oci_admin_relay_t *rl, oci_admin_event_entry_t *e,
    const char *err, long attempts)
{
    char        *text;
    json_t      *o, *event;
    redisReply  *r;
    const char  *argv[3];

    event = json_loadb(e->event, e->event_len, 0, NULL);
    if (event == NULL) {
        event = json_stringn(e->event, e->event_len);
    }

    o = json_pack("{s:s, s:o?, s:s, s:I, s:s}", "id", e->id, "event", event,
                  "error", err, "attempts", (json_int_t) attempts,
                  "url", rl->hook.url);
    text = o ? json_dumps(o, JSON_COMPACT|JSON_PRESERVE_ORDER) : NULL;
    json_decref(o);

    if (text == NULL) {
        fprintf(stderr, "oci-admin events relay: out of memory\n");
        return -1;
    }

    argv[0] = "RPUSH";
    argv[1] = rl->dead;
    argv[2] = text;

    r = oci_admin_relay_cmd(rl, 3, argv);
    free(text);

    if (r == NULL || r->type == REDIS_REPLY_ERROR) {
        if (r) {
            fprintf(stderr, "oci-admin events relay: RPUSH %s: %s\n",
                    rl->dead, r->str);
            freeReplyObject(r);
        }

        return -1;
    }

    freeReplyObject(r);

    rl->dead_count++;

    fprintf(stderr, "oci-admin events relay: %s: given up after %ld "
            "attempts (%s), in %s\n", e->id, attempts, err, rl->dead);

    return oci_admin_relay_ack(rl, e->id);
}


static int
oci_admin_relay_ack(oci_admin_relay_t *rl, const char *id)
{
    redisReply  *r;
    const char  *argv[] = { "XACK", rl->key, rl->group, id };

    r = oci_admin_relay_cmd(rl, 4, argv);
    if (r == NULL) {
        return -1;
    }

    freeReplyObject(r);

    return 0;
}


static redisReply *
oci_admin_relay_cmd(oci_admin_relay_t *rl, int argc, const char **argv)
{
    int     i;
    size_t  len[16];

    for (i = 0; i < argc; i++) {
        len[i] = strlen(argv[i]);
    }

    return oci_admin_redis_command(&rl->redis, argc, argv, len);
}


/* shared with the listing */

void
oci_admin_events_signals(void)
{
    struct sigaction  sa;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = oci_admin_events_signal;
    sigemptyset(&sa.sa_mask);

    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
}


static void
oci_admin_events_signal(int sig)
{
    (void) sig;

    oci_admin_events_stop = 1;
}


char *
oci_admin_events_key(const oci_admin_opts_t *o)
{
    char    *key;
    size_t   len;

    len = o->prefix_len + sizeof(NGX_OCI_EVENT_STREAM);

    key = malloc(len);
    if (key != NULL) {
        snprintf(key, len, "%s" NGX_OCI_EVENT_STREAM, o->prefix);
    }

    return key;
}


int
oci_admin_events_entry(redisReply *e, oci_admin_event_entry_t *out)
{
    size_t       i;
    redisReply  *f, *k, *v;

    memset(out, 0, sizeof(oci_admin_event_entry_t));

    if (e->type != REDIS_REPLY_ARRAY || e->elements != 2
        || e->element[0]->type != REDIS_REPLY_STRING)
    {
        return -1;
    }

    out->id = e->element[0]->str;
    f = e->element[1];

    if (f->type != REDIS_REPLY_ARRAY) {
        return 0;
    }

    for (i = 0; i + 1 < f->elements; i += 2) {
        k = f->element[i];
        v = f->element[i + 1];

        if (k->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING) {
            continue;
        }

        if (strcmp(k->str, "action") == 0) {
            out->action = v->str;

        } else if (strcmp(k->str, "repository") == 0) {
            out->repository = v->str;

        } else if (strcmp(k->str, "event") == 0) {
            out->event = v->str;
            out->event_len = v->len;
        }
    }

    return 0;
}


void
oci_admin_events_sleep(long ms)
{
    long             slice;
    struct timespec  ts;

    while (ms > 0 && !oci_admin_events_stop) {
        slice = ms > 100 ? 100 : ms;
        ts.tv_sec = 0;
        ts.tv_nsec = slice * 1000000L;
        nanosleep(&ts, NULL);
        ms -= slice;
    }
}
