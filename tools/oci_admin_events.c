
/*
 * oci-admin events: lists the entries of "<prefix>events", oldest first,
 * in pages of XRANGE (never the whole stream in one reply), filtered by
 * repository and action; --follow then waits for new ones (XREAD BLOCK,
 * a second at a time, so SIGTERM and SIGINT end it within one).
 *
 * One line per event: "<stream id> <timestamp> <action> <repository>
 * [<tag>] [<digest>]"; with --json, the envelope itself, one JSON object
 * per line, as the relay delivers it.
 */


#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <jansson.h>

#include "ngx_oci_event.h"
#include "oci_admin_message.h"
#include "oci_admin_options.h"
#include "oci_admin_events_relay.h"
#include "oci_admin_events.h"


#define OCI_ADMIN_EVENTS_PAGE  500


typedef struct {
    oci_admin_opts_t        opt;
    oci_admin_redis_t       redis;
    char                   *key;
    const char             *since;
    const char             *repository;
    const char             *action;
    int                     follow;
    char                    start[64];      /* the first ID, or "-" */
    char                    last[64];       /* the last ID seen */
} oci_admin_events_t;


static int oci_admin_events_option(void *data, int c, char *arg);
static int oci_admin_events_since(oci_admin_events_t *ev);
static int oci_admin_events_list(oci_admin_events_t *ev);
static int oci_admin_events_follow(oci_admin_events_t *ev);
static int oci_admin_events_page(oci_admin_events_t *ev, redisReply *list);
static void oci_admin_events_print(oci_admin_events_t *ev,
    oci_admin_event_entry_t *e);


static const char  oci_admin_events_usage[] =
"usage: oci-admin events --redis <addr> [options]\n"
"       oci-admin events relay --redis <addr> --url <url> [options]\n"
"\n"
"Lists the registry's events (oci_events on), oldest first.\n"
"\"oci-admin events relay --help\" describes the webhook relay.\n"
"\n"
"  --redis <addr>       host[:port], [v6]:port or unix:/path\n"
"  --password <pw>      AUTH with this password (default: $REDISCLI_AUTH)\n"
"  --db <n>             database number (default: 0)\n"
"  --prefix <p>         key prefix, as oci_redis_prefix (default: oci:)\n"
"  --since <when>       from this stream ID on (1700000000000-0, or a\n"
"                       time in ms: 1700000000000), or for this long\n"
"                       back (30s, 10m, 1h, 7d)\n"
"  --repository <name>  only the events of this repository\n"
"  --action <action>    only push, pull or delete\n"
"  --follow             then wait for new events, until SIGTERM or\n"
"                       SIGINT\n"
"  --json               the events as JSON, one per line\n"
"\n"
"exit status: 0 done, 1 usage error, 2 Redis unreachable or failing\n";


static const struct option  oci_admin_events_longopts[] = {
    OCI_ADMIN_OPTIONS_REDIS,
    OCI_ADMIN_OPTIONS_OUTPUT,
    { "since",      required_argument, NULL, 'S' },
    { "repository", required_argument, NULL, 'R' },
    { "action",     required_argument, NULL, 'A' },
    { "follow",     no_argument,       NULL, 'f' },
    { NULL, 0, NULL, 0 }
};


static const oci_admin_getopt_t  oci_admin_events_getopt = {
    "events", oci_admin_events_longopts, oci_admin_events_usage,
    oci_admin_events_option, 1, 0, 1
};


int
oci_admin_events(int argc, char **argv)
{
    int                  rc;
    oci_admin_events_t   ev;

    if (argc > 1 && strcmp(argv[1], "relay") == 0) {
        return oci_admin_events_relay(argc - 1, argv + 1);
    }

    memset(&ev, 0, sizeof(oci_admin_events_t));

    rc = oci_admin_options(&ev.opt, &oci_admin_events_getopt, &ev, argc,
                           argv);
    if (rc != -1) {
        return rc;
    }

    if (oci_admin_events_since(&ev) != 0) {
        return OCI_ADMIN_EXIT_USAGE;
    }

    ev.key = oci_admin_events_key(&ev.opt);
    if (ev.key == NULL) {
        fprintf(stderr, "oci-admin events: out of memory\n");
        return OCI_ADMIN_EXIT_ERROR;
    }

    oci_admin_events_signals();

    rc = oci_admin_options_redis(&ev.opt, &ev.redis);

    if (rc == OCI_ADMIN_EXIT_OK) {
        rc = oci_admin_events_list(&ev);
    }

    if (rc == OCI_ADMIN_EXIT_OK && ev.follow) {
        rc = oci_admin_events_follow(&ev);
    }

    if (ev.redis.ctx) {
        oci_admin_redis_close(&ev.redis);
    }

    free(ev.key);

    return rc;
}


static int
oci_admin_events_option(void *data, int c, char *arg)
{
    oci_admin_events_t  *ev = data;

    switch (c) {

    case 'S':
        ev->since = arg;
        return 0;

    case 'R':
        ev->repository = arg;
        return 0;

    case 'A':
        if (!ngx_oci_event_action_valid(arg, strlen(arg))) {
            fprintf(stderr, "oci-admin events: --action \"%s\" is not "
                    "push, pull or delete\n", arg);
            return -1;
        }

        ev->action = arg;
        return 0;

    case 'f':
        ev->follow = 1;
        return 0;
    }

    return 1;
}


/* --since: an ID as it is, a duration as the ID of that time ago */

static int
oci_admin_events_since(oci_admin_events_t *ev)
{
    int             ms;
    int64_t         ns;
    const char     *p;
    struct timeval  tv;

    strcpy(ev->start, "-");

    if (ev->since == NULL) {
        return 0;
    }

    ms = 0;

    for (p = ev->since; *p >= '0' && *p <= '9'; p++) { /* void */ }

    if (p > ev->since && *p == '-') {
        for (p++, ms = 1; *p >= '0' && *p <= '9'; p++) { /* void */ }
        ms = (*p == '\0' && p[-1] != '-') ? 1 : 0;

    } else if (p > ev->since && *p == '\0' && p - ev->since >= 10) {
        ms = 1;
    }

    if (ms) {
        if (strlen(ev->since) >= sizeof(ev->start)) {
            goto invalid;
        }

        strcpy(ev->start, ev->since);
        return 0;
    }

    if (oci_admin_option_duration("events", "since", ev->since, &ns) != 0) {
        return -1;
    }

    gettimeofday(&tv, NULL);

    snprintf(ev->start, sizeof(ev->start), "%lld-0",
             (long long) tv.tv_sec * 1000 + tv.tv_usec / 1000
             - (long long) (ns / 1000000));

    return 0;

invalid:

    fprintf(stderr, "oci-admin events: --since \"%s\" is not a stream ID "
            "or a duration\n", ev->since);

    return -1;
}


/* XRANGE, a page at a time, each page after the last ID of the one before */

static int
oci_admin_events_list(oci_admin_events_t *ev)
{
    int          n;
    char         from[70];
    size_t       len[6];
    redisReply  *r;
    const char  *argv[6];

    snprintf(from, sizeof(from), "%s", ev->start);

    for ( ;; ) {
        argv[0] = "XRANGE";
        argv[1] = ev->key;
        argv[2] = from;
        argv[3] = "+";
        argv[4] = "COUNT";
        argv[5] = "500";

        for (n = 0; n < 6; n++) {
            len[n] = strlen(argv[n]);
        }

        r = oci_admin_redis_command(&ev->redis, 6, argv, len);
        if (r == NULL) {
            return OCI_ADMIN_EXIT_REDIS;
        }

        if (r->type != REDIS_REPLY_ARRAY) {
            fprintf(stderr, "oci-admin events: XRANGE: %s\n",
                    r->type == REDIS_REPLY_ERROR ? r->str
                                                 : "unexpected reply");
            freeReplyObject(r);
            return OCI_ADMIN_EXIT_REDIS;
        }

        n = oci_admin_events_page(ev, r);
        freeReplyObject(r);

        if (n < OCI_ADMIN_EVENTS_PAGE || oci_admin_events_stop) {
            break;
        }

        snprintf(from, sizeof(from), "(%s", ev->last);
    }

    fflush(stdout);

    return OCI_ADMIN_EXIT_OK;
}


/* XREAD BLOCK after the last ID listed, until a signal */

static int
oci_admin_events_follow(oci_admin_events_t *ev)
{
    size_t       len[8];
    redisReply  *r;
    const char  *argv[8];
    int          i;

    if (ev->last[0] == '\0') {

        /* nothing listed: from the start asked for, else the beginning */

        snprintf(ev->last, sizeof(ev->last), "%s",
                 strcmp(ev->start, "-") == 0 ? "0-0" : ev->start);
    }

    while (!oci_admin_events_stop) {
        argv[0] = "XREAD";
        argv[1] = "COUNT";
        argv[2] = "500";
        argv[3] = "BLOCK";
        argv[4] = "1000";
        argv[5] = "STREAMS";
        argv[6] = ev->key;
        argv[7] = ev->last;

        for (i = 0; i < 8; i++) {
            len[i] = strlen(argv[i]);
        }

        r = oci_admin_redis_command(&ev->redis, 8, argv, len);
        if (r == NULL) {
            return oci_admin_events_stop ? OCI_ADMIN_EXIT_OK
                                         : OCI_ADMIN_EXIT_REDIS;
        }

        if (r->type == REDIS_REPLY_ARRAY && r->elements == 1
            && r->element[0]->type == REDIS_REPLY_ARRAY
            && r->element[0]->elements == 2)
        {
            (void) oci_admin_events_page(ev, r->element[0]->element[1]);
            fflush(stdout);

        } else if (r->type != REDIS_REPLY_NIL) {
            fprintf(stderr, "oci-admin events: XREAD: %s\n",
                    r->type == REDIS_REPLY_ERROR ? r->str
                                                 : "unexpected reply");
            freeReplyObject(r);
            return OCI_ADMIN_EXIT_REDIS;
        }

        freeReplyObject(r);
    }

    return OCI_ADMIN_EXIT_OK;
}


/* prints the entries that pass the filters; the number of entries */

static int
oci_admin_events_page(oci_admin_events_t *ev, redisReply *list)
{
    size_t                   i;
    oci_admin_event_entry_t  e;

    for (i = 0; i < list->elements; i++) {
        if (oci_admin_events_entry(list->element[i], &e) != 0) {
            continue;
        }

        snprintf(ev->last, sizeof(ev->last), "%s", e.id);

        if (e.event == NULL
            || (ev->repository
                && (e.repository == NULL
                    || strcmp(e.repository, ev->repository) != 0))
            || (ev->action
                && (e.action == NULL || strcmp(e.action, ev->action) != 0)))
        {
            continue;
        }

        oci_admin_events_print(ev, &e);
    }

    return (int) list->elements;
}


static void
oci_admin_events_print(oci_admin_events_t *ev, oci_admin_event_entry_t *e)
{
    json_t      *o, *t;
    const char  *ts, *tag, *digest;

    if (ev->opt.json) {
        fwrite(e->event, 1, e->event_len, stdout);
        putchar('\n');
        return;
    }

    o = json_loadb(e->event, e->event_len, 0, NULL);
    t = o ? json_object_get(o, "target") : NULL;

    ts = o ? json_string_value(json_object_get(o, "timestamp")) : NULL;
    tag = t ? json_string_value(json_object_get(t, "tag")) : NULL;
    digest = t ? json_string_value(json_object_get(t, "digest")) : NULL;

    printf("%s %s %s %s%s%s%s%s\n", e->id, ts ? ts : "-",
           e->action ? e->action : "-",
           e->repository ? e->repository : "-",
           tag ? " tag=" : "", tag ? tag : "",
           digest ? " digest=" : "", digest ? digest : "");

    json_decref(o);
}
