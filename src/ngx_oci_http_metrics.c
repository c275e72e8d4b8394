
/*
 * Metrics: counters in a shared memory zone, and the handler of
 * "oci_metrics" that renders them in Prometheus' text format.
 *
 * Each worker writes a slot of its own (ngx_worker is its index), so
 * counting takes no lock and no atomic instruction: a slot has one
 * writer, and the renderer only reads, summing the slots. The zone keeps
 * two slots per worker and a generation bumped by each reload that keeps
 * it, once the new configuration is in place (a reload that fails does
 * not count): the workers of a new configuration write the other half,
 * so an old worker still finishing its requests never shares a slot with
 * its successor. nginx keeps a zone of the same name, size and owner across
 * "nginx -s reload", and with it the counts.
 *
 * Requests are counted in the log phase, which sees the final status of
 * every request of a registry location, whoever answered it; the other
 * counters are bumped by the endpoints (ngx_oci_metrics_count()), by the
 * Redis client and the index through the pointer of their configuration
 * (ngx_oci_redis_stats_t), and by the module's sweeper.
 */


#include "ngx_oci_http.h"


/*
 * the endpoints of ngx_oci_route.h, "unknown" first; one added there
 * after the catalog is counted as "unknown" until it is named here
 */
#define NGX_OCI_METRICS_ENDPOINTS  (NGX_OCI_EP_CATALOG + 1)
#define NGX_OCI_METRICS_METHODS    7
#define NGX_OCI_METRICS_STATUSES   24

/* the longest line of a request series, and the rest of the page */
#define NGX_OCI_METRICS_LINE       128
#define NGX_OCI_METRICS_FIXED      16384


struct ngx_oci_metrics_slot_s {
    ngx_atomic_t              requests[NGX_OCI_METRICS_ENDPOINTS]
                                      [NGX_OCI_METRICS_METHODS]
                                      [NGX_OCI_METRICS_STATUSES];
    ngx_atomic_t              errors[NGX_OCI_ERR_LAST];
    ngx_atomic_t              bytes_in;
    ngx_atomic_t              bytes_out;
    ngx_atomic_t              counters[NGX_OCI_METRIC_LAST];
    ngx_atomic_t              uploads_expired;
    ngx_oci_redis_stats_t     redis;
};


struct ngx_oci_metrics_zone_s {
    ngx_atomic_t              generation;   /* reloads that kept the zone */
    ngx_atomic_t              uploads_live; /* the sweeper's last count */
    ngx_uint_t                workers;
    ngx_oci_metrics_slot_t    slots[1];     /* 2 * workers */
};


static ngx_int_t ngx_oci_metrics_init_zone(ngx_shm_zone_t *shm_zone,
    void *data);
static ngx_int_t ngx_oci_metrics_log(ngx_http_request_t *r);
static ngx_uint_t ngx_oci_metrics_method(ngx_http_request_t *r);
static ngx_int_t ngx_oci_metrics_handler(ngx_http_request_t *r);
static void ngx_oci_metrics_sum(ngx_oci_metrics_t *m,
    ngx_oci_metrics_slot_t *sum);
static u_char *ngx_oci_metrics_render(u_char *p, ngx_oci_metrics_t *m,
    ngx_oci_metrics_slot_t *s);
static u_char *ngx_oci_metrics_render_requests(u_char *p,
    ngx_oci_metrics_slot_t *s);
static u_char *ngx_oci_metrics_render_redis(u_char *p,
    ngx_oci_redis_stats_t *rs);
static u_char *ngx_oci_metrics_head(u_char *p, const char *name,
    const char *type, const char *help);


static ngx_str_t  ngx_oci_metrics_zone_name = ngx_string("oci_metrics");


static ngx_str_t  ngx_oci_metrics_endpoints[NGX_OCI_METRICS_ENDPOINTS] = {
    [NGX_OCI_EP_NONE] = ngx_string("unknown"),
    [NGX_OCI_EP_BASE] = ngx_string("base"),
    [NGX_OCI_EP_TAGS] = ngx_string("tags"),
    [NGX_OCI_EP_MANIFEST] = ngx_string("manifest"),
    [NGX_OCI_EP_BLOB] = ngx_string("blob"),
    [NGX_OCI_EP_UPLOADS] = ngx_string("uploads"),
    [NGX_OCI_EP_UPLOAD] = ngx_string("upload"),
    [NGX_OCI_EP_REFERRERS] = ngx_string("referrers"),
    [NGX_OCI_EP_CATALOG] = ngx_string("catalog")
};


static ngx_str_t  ngx_oci_metrics_methods[] = {
    ngx_string("other"),
    ngx_string("GET"),
    ngx_string("HEAD"),
    ngx_string("PUT"),
    ngx_string("POST"),
    ngx_string("PATCH"),
    ngx_string("DELETE")
};


/* the statuses a registry answers with; anything else is "other" (0) */
static ngx_uint_t  ngx_oci_metrics_statuses[NGX_OCI_METRICS_STATUSES] = {
    0, 200, 201, 202, 204, 206, 304, 307, 400, 401, 403, 404, 405, 408,
    409, 411, 412, 413, 414, 416, 429, 499, 500, 503
};


/* status to index, by a table so the log phase does not search */
static const u_char  ngx_oci_metrics_status_index[600] = {
    [200] = 1, [201] = 2, [202] = 3, [204] = 4, [206] = 5, [304] = 6,
    [307] = 7, [400] = 8, [401] = 9, [403] = 10, [404] = 11, [405] = 12,
    [408] = 13, [409] = 14, [411] = 15, [412] = 16, [413] = 17, [414] = 18,
    [416] = 19, [429] = 20, [499] = 21, [500] = 22, [503] = 23
};


/* the metrics of the configuration, shared by its locations */

ngx_oci_metrics_t *
ngx_oci_metrics_create(ngx_conf_t *cf)
{
    return ngx_pcalloc(cf->pool, sizeof(ngx_oci_metrics_t));
}


/*
 * oci_metrics: this location answers with the metrics page; the zone is
 * added by the first such directive, and its size set once the workers
 * are known (ngx_oci_metrics_init()).
 */

char *
ngx_oci_metrics_directive(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_oci_loc_conf_t *olcf = conf;

    ngx_oci_metrics_t         *m;
    ngx_http_core_loc_conf_t  *clcf;

    m = olcf->metrics;

    if (m == NULL) {
        return "needs the module's metrics";
    }

    if (m->zone == NULL) {
        m->zone = ngx_shared_memory_add(cf, &ngx_oci_metrics_zone_name, 0,
                                        &ngx_oci_module);
        if (m->zone == NULL) {
            return NGX_CONF_ERROR;
        }

        if (m->zone->data) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "a shared memory zone \"%V\" is already "
                               "declared", &ngx_oci_metrics_zone_name);
            return NGX_CONF_ERROR;
        }

        m->zone->init = ngx_oci_metrics_init_zone;
        m->zone->data = m;
    }

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = ngx_oci_metrics_handler;

    return NGX_CONF_OK;
}


/*
 * After the configuration is read: the zone's size, two slots per worker
 * ("worker_processes" is known when it comes before the "http" block;
 * otherwise one per CPU, as "auto" would), and the log phase handler.
 * Without "oci_metrics" nothing is added: requests cost nothing more.
 */

ngx_int_t
ngx_oci_metrics_init(ngx_conf_t *cf, ngx_oci_metrics_t *m)
{
    ngx_core_conf_t            *ccf;
    ngx_http_handler_pt        *h;
    ngx_http_core_main_conf_t  *cmcf;

    if (m->zone == NULL) {
        return NGX_OK;
    }

    ccf = (ngx_core_conf_t *) ngx_get_conf(cf->cycle->conf_ctx,
                                           ngx_core_module);

    m->workers = ccf->worker_processes;

    if (m->workers == (ngx_uint_t) NGX_CONF_UNSET || m->workers == 0) {
        m->workers = ngx_ncpu > 0 ? ngx_ncpu : 1;
    }

    m->zone->shm.size = 8 * ngx_pagesize
                        + sizeof(ngx_oci_metrics_zone_t)
                        + 2 * m->workers * sizeof(ngx_oci_metrics_slot_t);

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_LOG_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_oci_metrics_log;

    return NGX_OK;
}


/*
 * A zone kept across a reload keeps its counts: only the generation
 * moves, which sends the new workers to the other half of the slots.
 */

static ngx_int_t
ngx_oci_metrics_init_zone(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_oci_metrics_t *om = data;

    size_t              size;
    ngx_slab_pool_t    *shpool;
    ngx_oci_metrics_t  *m;

    m = shm_zone->data;

    if (om && om->sh && om->workers == m->workers) {
        m->sh = om->sh;
        m->reused = 1;
        return NGX_OK;
    }

    shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;

    size = sizeof(ngx_oci_metrics_zone_t)
           + (2 * m->workers - 1) * sizeof(ngx_oci_metrics_slot_t);

    m->sh = ngx_slab_calloc(shpool, size);
    if (m->sh == NULL) {
        return NGX_ERROR;
    }

    m->sh->workers = m->workers;

    return NGX_OK;
}


/*
 * The new configuration is in place (nothing after init_module fails a
 * reload): a zone it kept moves to the next generation.
 */

void
ngx_oci_metrics_init_module(ngx_oci_metrics_t *m)
{
    if (m->sh && m->reused) {
        m->sh->generation++;
    }
}


/* each worker picks its slot once, in the half of its generation */

void
ngx_oci_metrics_init_process(ngx_cycle_t *cycle, ngx_oci_metrics_t *m)
{
    ngx_uint_t  n;

    if (m->sh == NULL) {
        return;
    }

    n = (ngx_process == NGX_PROCESS_WORKER) ? (ngx_uint_t) ngx_worker : 0;

    if (n >= m->sh->workers) {
        ngx_log_error(NGX_LOG_WARN, cycle->log, 0,
                      "oci_metrics: worker %ui has no slot of its own and "
                      "counts nothing: set \"worker_processes\" before the "
                      "\"http\" block", n);
        return;
    }

    m->slot = &m->sh->slots[(m->sh->generation & 1) * m->sh->workers + n];
    m->redis = &m->slot->redis;

    /*
     * The sweeper runs in worker 0 and adds each root's sessions to the
     * gauge as its passes end; the old one stopped sweeping at the reload.
     */

    if (n == 0) {
        m->sh->uploads_live = 0;
    }
}


/* the requests of registry locations, with their final status */

static ngx_int_t
ngx_oci_metrics_log(ngx_http_request_t *r)
{
    ngx_uint_t               status, endpoint;
    ngx_oci_ctx_t           *ctx;
    ngx_oci_loc_conf_t      *olcf;
    ngx_oci_metrics_slot_t  *s;

    olcf = ngx_http_get_module_loc_conf(r, ngx_oci_module);

    s = olcf->metrics->slot;

    /* the metrics page itself is no registry request */

    if (s == NULL
        || !olcf->enable
        || r->content_handler == ngx_oci_metrics_handler)
    {
        return NGX_OK;
    }

    /* a request refused before the content phase is routed here */

    ctx = ngx_oci_route_request(r);

    endpoint = (ctx && ctx->route_rc == NGX_OCI_ROUTE_OK)
               ? ctx->route.endpoint : NGX_OCI_EP_NONE;

    if (endpoint >= NGX_OCI_METRICS_ENDPOINTS) {
        endpoint = NGX_OCI_EP_NONE;
    }

    status = r->err_status ? r->err_status : r->headers_out.status;
    status = status < 600 ? ngx_oci_metrics_status_index[status] : 0;

    s->requests[endpoint][ngx_oci_metrics_method(r)][status]++;

    if (ctx && ctx->err != NGX_OCI_ERR_NONE) {
        s->errors[ctx->err]++;
    }

    s->bytes_in += r->request_length;
    s->bytes_out += r->connection->sent;

    return NGX_OK;
}


static ngx_uint_t
ngx_oci_metrics_method(ngx_http_request_t *r)
{
    switch (r->method) {

    case NGX_HTTP_GET:
        return 1;

    case NGX_HTTP_HEAD:
        return 2;

    case NGX_HTTP_PUT:
        return 3;

    case NGX_HTTP_POST:
        return 4;

    case NGX_HTTP_PATCH:
        return 5;

    case NGX_HTTP_DELETE:
        return 6;

    default:
        return 0;
    }
}


void
ngx_oci_metrics_count(ngx_http_request_t *r, ngx_oci_metric_e metric)
{
    ngx_oci_loc_conf_t  *olcf;

    olcf = ngx_http_get_module_loc_conf(r, ngx_oci_module);

    if (olcf->metrics->slot) {
        olcf->metrics->slot->counters[metric]++;
    }
}


/* the sweeper's news: sessions it removed, and how many it left */

void
ngx_oci_metrics_uploads_swept(ngx_oci_metrics_t *m, ngx_uint_t expired,
    ngx_int_t live)
{
    if (m->slot == NULL) {
        return;
    }

    m->slot->uploads_expired += expired;
    m->sh->uploads_live += live;
}


static ngx_int_t
ngx_oci_metrics_handler(ngx_http_request_t *r)
{
    u_char                  *p;
    size_t                   len;
    ngx_int_t                rc;
    ngx_buf_t               *b;
    ngx_uint_t               e, i, k, n;
    ngx_oci_loc_conf_t      *olcf;
    ngx_oci_metrics_slot_t  *sum;

    static ngx_str_t  type = ngx_string("text/plain; version=0.0.4; "
                                        "charset=utf-8");

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        return NGX_HTTP_NOT_ALLOWED;
    }

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    olcf = ngx_http_get_module_loc_conf(r, ngx_oci_module);

    sum = ngx_palloc(r->pool, sizeof(ngx_oci_metrics_slot_t));
    if (sum == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_oci_metrics_sum(olcf->metrics, sum);

    /* only the request series seen so far are written */

    n = 0;

    for (e = 0; e < NGX_OCI_METRICS_ENDPOINTS; e++) {
        for (i = 0; i < NGX_OCI_METRICS_METHODS; i++) {
            for (k = 0; k < NGX_OCI_METRICS_STATUSES; k++) {
                n += (sum->requests[e][i][k] != 0);
            }
        }
    }

    len = n * NGX_OCI_METRICS_LINE + NGX_OCI_METRICS_FIXED;

    b = ngx_create_temp_buf(r->pool, len);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = ngx_oci_metrics_render(b->last, olcf->metrics, sum);

    if ((size_t) (p - b->last) > len) {
        ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                      "oci_metrics: page overflow");
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    b->last = p;

    return ngx_oci_send_body(r, NGX_HTTP_OK, &type, b);
}


/*
 * The sum of every slot; reads race with the writers' increments, which
 * only makes a count a little behind.
 */

static void
ngx_oci_metrics_sum(ngx_oci_metrics_t *m, ngx_oci_metrics_slot_t *sum)
{
    ngx_uint_t               i, j, n;
    ngx_atomic_t            *src, *dst;
    ngx_oci_metrics_slot_t  *s;

    ngx_memzero(sum, sizeof(ngx_oci_metrics_slot_t));

    if (m->sh == NULL) {
        return;
    }

    n = sizeof(ngx_oci_metrics_slot_t) / sizeof(ngx_atomic_t);

    for (i = 0; i < 2 * m->sh->workers; i++) {
        s = &m->sh->slots[i];
        src = (ngx_atomic_t *) s;
        dst = (ngx_atomic_t *) sum;

        for (j = 0; j < n; j++) {
            dst[j] += src[j];
        }
    }
}


static u_char *
ngx_oci_metrics_head(u_char *p, const char *name, const char *type,
    const char *help)
{
    return ngx_sprintf(p, "# HELP %s %s\n# TYPE %s %s\n",
                       name, help, name, type);
}


static u_char *
ngx_oci_metrics_render(u_char *p, ngx_oci_metrics_t *m,
    ngx_oci_metrics_slot_t *s)
{
    ngx_uint_t              i;
    ngx_str_t              *code;
    ngx_oci_redis_stats_t  *rs;

    static struct {
        ngx_oci_metric_e   metric;
        const char        *name;
        const char        *help;
    } counters[] = {
        { NGX_OCI_METRIC_UPLOADS_OPENED, "oci_upload_sessions_opened_total",
          "Upload sessions opened." },
        { NGX_OCI_METRIC_REFERRERS_QUERIES, "oci_referrers_queries_total",
          "Referrers listings asked of the index or the page cache." },
        { NGX_OCI_METRIC_REFERRERS_CACHE_HITS,
          "oci_referrers_cache_hits_total",
          "Referrers pages answered from the page cache." },
        { NGX_OCI_METRIC_REFERRERS_CACHE_MISSES,
          "oci_referrers_cache_misses_total",
          "Cacheable referrers pages not in the page cache." },
        { NGX_OCI_METRIC_TAG_LOCK_RETRIES, "oci_tag_lock_retries_total",
          "Manifest PUTs that found a tag locked and tried again later." }
    };

    p = ngx_oci_metrics_render_requests(p, s);

    p = ngx_oci_metrics_head(p, "oci_errors_total", "counter",
                             "Error responses, by the distribution spec's "
                             "error code.");

    for (i = 1; i < NGX_OCI_ERR_LAST; i++) {
        code = ngx_oci_error_code(i);
        p = ngx_sprintf(p, "oci_errors_total{code=\"%V\"} %uA\n",
                        code, s->errors[i]);
    }

    p = ngx_oci_metrics_head(p, "oci_received_bytes_total", "counter",
                             "Bytes received in registry requests, "
                             "headers and bodies.");
    p = ngx_sprintf(p, "oci_received_bytes_total %uA\n", s->bytes_in);

    p = ngx_oci_metrics_head(p, "oci_sent_bytes_total", "counter",
                             "Bytes sent in answers to registry requests.");
    p = ngx_sprintf(p, "oci_sent_bytes_total %uA\n", s->bytes_out);

    for (i = 0; i < sizeof(counters) / sizeof(counters[0]); i++) {
        p = ngx_oci_metrics_head(p, counters[i].name, "counter",
                                 counters[i].help);
        p = ngx_sprintf(p, "%s %uA\n", counters[i].name,
                        s->counters[counters[i].metric]);
    }

    p = ngx_oci_metrics_head(p, "oci_upload_sessions_expired_total",
                             "counter", "Abandoned upload sessions the "
                             "sweeper removed.");
    p = ngx_sprintf(p, "oci_upload_sessions_expired_total %uA\n",
                    s->uploads_expired);

    p = ngx_oci_metrics_head(p, "oci_upload_sessions_live", "gauge",
                             "Upload sessions on disk at the end of the "
                             "sweeper's last pass.");
    p = ngx_sprintf(p, "oci_upload_sessions_live %uA\n",
                    m->sh ? m->sh->uploads_live : 0);

    rs = &s->redis;

    p = ngx_oci_metrics_render_redis(p, rs);

    p = ngx_oci_metrics_head(p, "oci_events_recorded_total", "counter",
                             "Registry events written to the event "
                             "stream.");
    p = ngx_sprintf(p, "oci_events_recorded_total %uA\n",
                    rs->events_recorded);

    p = ngx_oci_metrics_head(p, "oci_events_failed_total", "counter",
                             "Registry events that could not be written.");
    p = ngx_sprintf(p, "oci_events_failed_total %uA\n", rs->events_failed);

    p = ngx_oci_metrics_head(p, "oci_metrics_reloads_total", "counter",
                             "Reloads of the configuration these counts "
                             "survived.");
    p = ngx_sprintf(p, "oci_metrics_reloads_total %uA\n",
                    m->sh ? m->sh->generation : 0);

    return p;
}


/* oci_requests_total: a series per endpoint, method and status seen */

static u_char *
ngx_oci_metrics_render_requests(u_char *p, ngx_oci_metrics_slot_t *s)
{
    ngx_uint_t  e, i, k;

    p = ngx_oci_metrics_head(p, "oci_requests_total", "counter",
                             "Requests to registry locations, by endpoint, "
                             "method and final status.");

    for (e = 0; e < NGX_OCI_METRICS_ENDPOINTS; e++) {
        for (i = 0; i < NGX_OCI_METRICS_METHODS; i++) {
            for (k = 0; k < NGX_OCI_METRICS_STATUSES; k++) {
                if (s->requests[e][i][k] == 0) {
                    continue;
                }

                p = ngx_sprintf(p, "oci_requests_total{endpoint=\"%V\","
                                "method=\"%V\",status=\"",
                                &ngx_oci_metrics_endpoints[e],
                                &ngx_oci_metrics_methods[i]);

                if (k == 0) {
                    p = ngx_cpymem(p, "other", 5);

                } else {
                    p = ngx_sprintf(p, "%ui", ngx_oci_metrics_statuses[k]);
                }

                p = ngx_sprintf(p, "\"} %uA\n", s->requests[e][i][k]);
            }
        }
    }

    return p;
}


/* the Redis client's round trips, errors, connects and latencies */

static u_char *
ngx_oci_metrics_render_redis(u_char *p, ngx_oci_redis_stats_t *rs)
{
    ngx_uint_t  i, total;

    static const ngx_msec_t  bounds[] = { NGX_OCI_REDIS_LATENCY_BOUNDS };

    p = ngx_oci_metrics_head(p, "oci_redis_queries_total", "counter",
                             "Round trips to Redis, however they ended.");
    p = ngx_sprintf(p, "oci_redis_queries_total %uA\n", rs->queries);

    p = ngx_oci_metrics_head(p, "oci_redis_errors_total", "counter",
                             "Round trips to Redis that failed: no "
                             "connection, connection lost, or late.");
    p = ngx_sprintf(p, "oci_redis_errors_total{reason=\"error\"} %uA\n"
                    "oci_redis_errors_total{reason=\"timeout\"} %uA\n",
                    rs->errors, rs->timeouts);

    p = ngx_oci_metrics_head(p, "oci_redis_connects_total", "counter",
                             "Connections to Redis opened: the first to "
                             "each node, then reconnections.");
    p = ngx_sprintf(p, "oci_redis_connects_total %uA\n", rs->connects);

    p = ngx_oci_metrics_head(p, "oci_redis_query_duration_seconds",
                             "histogram", "Time from queueing a Redis "
                             "query to its answer.");

    total = 0;

    for (i = 0; i < NGX_OCI_REDIS_LATENCY_BUCKETS - 1; i++) {
        total += rs->latency[i];
        p = ngx_sprintf(p, "oci_redis_query_duration_seconds_bucket"
                        "{le=\"%ui.%03ui\"} %ui\n",
                        bounds[i] / 1000, bounds[i] % 1000, total);
    }

    total += rs->latency[i];

    p = ngx_sprintf(p, "oci_redis_query_duration_seconds_bucket"
                    "{le=\"+Inf\"} %ui\n"
                    "oci_redis_query_duration_seconds_sum %uA.%03uA\n"
                    "oci_redis_query_duration_seconds_count %ui\n",
                    total, rs->latency_msec / 1000, rs->latency_msec % 1000,
                    total);

    return p;
}
