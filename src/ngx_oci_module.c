
/*
 * ngx_oci_module: directives, configuration, the content handler that
 * dispatches each registry request to the file that owns its endpoint,
 * and the timer that sweeps abandoned upload sessions.
 *
 * The top of the module: nothing below calls into this file.
 */


#include "ngx_oci_api.h"


typedef struct {
    ngx_array_t               roots;        /* ngx_oci_store_root_t * */
    ngx_msec_t                sweep_timeout;
    ngx_oci_metrics_t        *metrics;
} ngx_oci_main_conf_t;


/*
 * A sweep reads at most this many directory entries per turn of the
 * event loop (a few hundred system calls, a few milliseconds at most),
 * and carries on after NGX_OCI_SWEEP_PAUSE.
 */
#define NGX_OCI_SWEEP_BATCH  64
#define NGX_OCI_SWEEP_PAUSE  1


typedef struct {
    ngx_str_t                 storage;
    ngx_msec_t                timeout;
    ngx_event_t               ev;
    ngx_oci_upload_sweep_t    sweep;
    ngx_uint_t                live;         /* sessions counted in metrics */
    ngx_oci_metrics_t        *metrics;
} ngx_oci_sweeper_t;


static ngx_int_t ngx_oci_handler(ngx_http_request_t *r);
static ngx_int_t ngx_oci_mirror(ngx_http_request_t *r, ngx_oci_ctx_t *ctx,
    ngx_oci_loc_conf_t *olcf);
static char *ngx_oci_storage(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
static char *ngx_oci_thread_pool(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_oci_mutable_tags(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_oci_metrics_location(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static void *ngx_oci_create_main_conf(ngx_conf_t *cf);
static void *ngx_oci_create_loc_conf(ngx_conf_t *cf);
static char *ngx_oci_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child);
static ngx_int_t ngx_oci_check_loc_conf(ngx_conf_t *cf,
    ngx_oci_loc_conf_t *conf);
static ngx_int_t ngx_oci_preconfiguration(ngx_conf_t *cf);
static ngx_int_t ngx_oci_postconfiguration(ngx_conf_t *cf);
static ngx_int_t ngx_oci_init_module(ngx_cycle_t *cycle);
static ngx_int_t ngx_oci_init_process(ngx_cycle_t *cycle);
static void ngx_oci_sweep_handler(ngx_event_t *ev);


static ngx_conf_enum_t  ngx_oci_subject_policies[] = {
    { ngx_string("accept"), NGX_OCI_SUBJECT_ACCEPT },
    { ngx_string("warn"), NGX_OCI_SUBJECT_WARN },
    { ngx_string("reject"), NGX_OCI_SUBJECT_REJECT },
    { ngx_null_string, 0 }
};


/*
 * A session's slot numbers are 4 hex digits of its id (ffff is none),
 * and reaching a cap costs one open() per slot: 0 (no cap) to 65534.
 */
static ngx_conf_num_bounds_t  ngx_oci_max_uploads_bounds = {
    ngx_conf_check_num_bounds, 0, 65534
};


static ngx_command_t  ngx_oci_commands[] = {

    { ngx_string("oci_registry"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_oci_loc_conf_t, enable),
      NULL },

    { ngx_string("oci_storage"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_oci_storage,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_oci_loc_conf_t, storage),
      NULL },

    { ngx_string("oci_max_manifest_size"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_size_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_oci_loc_conf_t, max_manifest_size),
      NULL },

    { ngx_string("oci_delete"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_oci_loc_conf_t, delete),
      NULL },

    { ngx_string("oci_immutable_tags"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_oci_loc_conf_t, tag_policy.immutable),
      NULL },

    { ngx_string("oci_mutable_tags"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_oci_mutable_tags,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("oci_upload_timeout"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_oci_loc_conf_t, upload_timeout),
      NULL },

    { ngx_string("oci_check_references"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_oci_loc_conf_t, check_references),
      NULL },

    { ngx_string("oci_tags_page_size"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_oci_loc_conf_t, tags_page_size),
      NULL },

    { ngx_string("oci_subject_policy"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_enum_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_oci_loc_conf_t, subject_policy),
      &ngx_oci_subject_policies },

    { ngx_string("oci_referrers_page_size"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_oci_loc_conf_t, referrers_page_size),
      NULL },

    { ngx_string("oci_referrers_cache"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_oci_loc_conf_t, referrers_cache),
      NULL },

    { ngx_string("oci_catalog_page_size"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_oci_loc_conf_t, catalog_page_size),
      NULL },

    { ngx_string("oci_redis"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_oci_redis_directive,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_oci_loc_conf_t, redis),
      NULL },

    { ngx_string("oci_redis_timeout"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_oci_redis_directive,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_oci_loc_conf_t, redis),
      NULL },

    { ngx_string("oci_redis_prefix"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_oci_redis_directive,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_oci_loc_conf_t, redis),
      NULL },

    { ngx_string("oci_events"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_oci_loc_conf_t, events.enable),
      NULL },

    { ngx_string("oci_events_maxlen"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_oci_loc_conf_t, events.maxlen),
      NULL },

    { ngx_string("oci_events_pulls"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_oci_loc_conf_t, events.pulls),
      NULL },

    { ngx_string("oci_mount_allow"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_set_complex_value_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_oci_loc_conf_t, mount_allow),
      NULL },

    { ngx_string("oci_thread_pool"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_oci_thread_pool,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("oci_max_upload_sessions"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_oci_loc_conf_t, max_uploads),
      &ngx_oci_max_uploads_bounds },

    { ngx_string("oci_max_upload_sessions_per_repository"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_oci_loc_conf_t, max_uploads_repo),
      &ngx_oci_max_uploads_bounds },

    { ngx_string("oci_token_realm"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_oci_token_directive,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_oci_loc_conf_t, token),
      NULL },

    { ngx_string("oci_token_service"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_oci_token_directive,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_oci_loc_conf_t, token),
      NULL },

    { ngx_string("oci_token_issuer"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_oci_token_directive,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_oci_loc_conf_t, token),
      NULL },

    { ngx_string("oci_token_key"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_oci_token_directive,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_oci_loc_conf_t, token),
      NULL },

    { ngx_string("oci_token_leeway"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_oci_token_directive,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_oci_loc_conf_t, token),
      NULL },

    { ngx_string("oci_token_issue"),
      NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_oci_api_token_directive,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_oci_loc_conf_t, token),
      NULL },

    { ngx_string("oci_token_signing_key"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_oci_api_token_directive,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_oci_loc_conf_t, token),
      NULL },

    { ngx_string("oci_token_grant"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_oci_api_token_directive,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_oci_loc_conf_t, token),
      NULL },

    { ngx_string("oci_token_expires"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_oci_api_token_directive,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_oci_loc_conf_t, token),
      NULL },

    { ngx_string("oci_proxy"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_2MORE,
      ngx_oci_api_proxy_directive,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_oci_loc_conf_t, proxy),
      NULL },

    { ngx_string("oci_proxy_follow"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_oci_loc_conf_t, proxy.follow),
      NULL },

    { ngx_string("oci_proxy_tag_ttl"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_sec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_oci_loc_conf_t, proxy.tag_ttl),
      NULL },

    { ngx_string("oci_proxy_wait"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_oci_loc_conf_t, proxy.wait),
      NULL },

    { ngx_string("oci_proxy_push"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_oci_loc_conf_t, proxy.push),
      NULL },

    { ngx_string("oci_metrics"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_oci_metrics_location,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_oci_module_ctx = {
    ngx_oci_preconfiguration,              /* preconfiguration */
    ngx_oci_postconfiguration,             /* postconfiguration */

    ngx_oci_create_main_conf,              /* create main configuration */
    NULL,                                  /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    ngx_oci_create_loc_conf,               /* create location configuration */
    ngx_oci_merge_loc_conf                 /* merge location configuration */
};


ngx_module_t  ngx_oci_module = {
    NGX_MODULE_V1,
    &ngx_oci_module_ctx,                   /* module context */
    ngx_oci_commands,                      /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    ngx_oci_init_module,                   /* init module */
    ngx_oci_init_process,                  /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    NULL,                                  /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


/* storage directories nginx creates, owned by the worker user */
static char  *ngx_oci_storage_dirs[] = {
    "",
    "/" NGX_OCI_LAYOUT_UPLOADS_DIR,
    "/" NGX_OCI_LAYOUT_TMP_DIR,
    "/" NGX_OCI_LAYOUT_SLOTS_DIR,
    "/" NGX_OCI_LAYOUT_BLOBS_DIR,
    "/" NGX_OCI_LAYOUT_REPOS_DIR,
    NULL
};


static ngx_int_t
ngx_oci_handler(ngx_http_request_t *r)
{
    ngx_int_t            rc;
    ngx_oci_ctx_t       *ctx;
    ngx_oci_loc_conf_t  *olcf;

    olcf = ngx_http_get_module_loc_conf(r, ngx_oci_module);

    if (!olcf->enable) {
        return NGX_DECLINED;
    }

    ctx = ngx_oci_route_request(r);
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ctx->route_rc == NGX_OCI_ROUTE_UNKNOWN) {
        return ngx_oci_error(r, NGX_HTTP_NOT_FOUND, NGX_OCI_ERR_UNSUPPORTED,
                             "no such registry endpoint");
    }

    if (ctx->route_rc == NGX_OCI_ROUTE_NAME_INVALID) {
        return ngx_oci_error(r, NGX_HTTP_BAD_REQUEST, NGX_OCI_ERR_NAME_INVALID,
                             "invalid repository name");
    }

    ctx->store.root = olcf->storage;
    ctx->store.pool = r->pool;
    ctx->store.log = r->connection->log;
    ctx->store.thread_pool = olcf->thread_pool;
    ctx->store.shared = olcf->root;

    if (olcf->proxy.upstreams) {
        rc = ngx_oci_mirror(r, ctx, olcf);

        if (rc != NGX_DECLINED) {
            return rc;
        }
    }

    switch (ctx->route.endpoint) {

    case NGX_OCI_EP_BASE:
        return ngx_oci_api_base(r);

    case NGX_OCI_EP_TAGS:
        return ngx_oci_api_tags(r);

    case NGX_OCI_EP_MANIFEST:
        return ngx_oci_api_manifests(r);

    case NGX_OCI_EP_BLOB:
        return ngx_oci_api_blobs(r);

    case NGX_OCI_EP_UPLOADS:
    case NGX_OCI_EP_UPLOAD:
        return ngx_oci_api_uploads(r);

    case NGX_OCI_EP_CATALOG:
        return ngx_oci_api_catalog(r);

    default: /* NGX_OCI_EP_REFERRERS */
        return ngx_oci_api_referrers(r);
    }
}


/*
 * A mirror's location: pulls of blobs and manifests go through the
 * mirror's endpoint, writes are refused unless oci_proxy_push is on;
 * NGX_DECLINED leaves the request to its own endpoint.
 */

static ngx_int_t
ngx_oci_mirror(ngx_http_request_t *r, ngx_oci_ctx_t *ctx,
    ngx_oci_loc_conf_t *olcf)
{
    ngx_uint_t  ep;

    ep = ctx->route.endpoint;

    if (ep == NGX_OCI_EP_BASE || ep == NGX_OCI_EP_CATALOG
        || ep == NGX_OCI_EP_TAGS)
    {
        return NGX_DECLINED;
    }

    if (r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD)) {

        if (ep == NGX_OCI_EP_REFERRERS) {
            return ngx_oci_api_proxy(r, ngx_oci_api_referrers);
        }

        if (ep == NGX_OCI_EP_BLOB) {
            return ngx_oci_api_proxy(r, ngx_oci_api_blobs);
        }

        if (ep == NGX_OCI_EP_MANIFEST) {
            return ngx_oci_api_proxy(r, ngx_oci_api_manifests);
        }
    }

    return olcf->proxy.push ? NGX_DECLINED : ngx_oci_api_proxy_refuse(r);
}


static char *
ngx_oci_storage(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_oci_loc_conf_t *olcf = conf;

    u_char                 *p;
    size_t                  len;
    ngx_str_t              *value;
    ngx_uint_t              i;
    ngx_path_t             *path;
    ngx_oci_main_conf_t    *omcf;
    ngx_oci_store_root_t  **root;

    if (olcf->storage.data) {
        return "is duplicate";
    }

    value = cf->args->elts;
    olcf->storage = value[1];

    while (olcf->storage.len > 1
           && olcf->storage.data[olcf->storage.len - 1] == '/')
    {
        olcf->storage.len--;
    }

    if (olcf->storage.len == 0) {
        return "needs a directory path";
    }

    if (ngx_conf_full_name(cf->cycle, &olcf->storage, 0) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    /*
     * nginx creates these directories at start and hands them to the
     * worker user, as it does for its own temporary paths.
     */

    for (i = 0; ngx_oci_storage_dirs[i]; i++) {
        path = ngx_pcalloc(cf->pool, sizeof(ngx_path_t));
        if (path == NULL) {
            return NGX_CONF_ERROR;
        }

        len = ngx_strlen(ngx_oci_storage_dirs[i]);

        p = ngx_pnalloc(cf->pool, olcf->storage.len + len + 1);
        if (p == NULL) {
            return NGX_CONF_ERROR;
        }

        path->name.data = p;
        path->name.len = ngx_sprintf(p, "%V%s", &olcf->storage,
                                     ngx_oci_storage_dirs[i]) - p;
        *(p + path->name.len) = '\0';

        path->conf_file = cf->conf_file->file.name.data;
        path->line = cf->conf_file->line;

        if (ngx_add_path(cf, &path) != NGX_OK) {
            return NGX_CONF_ERROR;
        }
    }

    omcf = ngx_http_conf_get_module_main_conf(cf, ngx_oci_module);

    /* one descriptor of each root per worker, shared by its locations */

    root = omcf->roots.elts;
    for (i = 0; i < omcf->roots.nelts; i++) {
        if (root[i]->path.len == olcf->storage.len
            && ngx_strncmp(root[i]->path.data, olcf->storage.data,
                           olcf->storage.len)
               == 0)
        {
            olcf->root = root[i];
            return NGX_CONF_OK;
        }
    }

    root = ngx_array_push(&omcf->roots);
    if (root == NULL) {
        return NGX_CONF_ERROR;
    }

    *root = ngx_oci_store_root_create(cf->pool, &olcf->storage);
    if (*root == NULL) {
        return NGX_CONF_ERROR;
    }

    olcf->root = *root;

    return NGX_CONF_OK;
}


/* "off", or the name of a pool of the "thread_pool" directive */

static char *
ngx_oci_thread_pool(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_oci_loc_conf_t *olcf = conf;

    ngx_str_t  *value;

    if (olcf->thread_pool != NGX_CONF_UNSET_PTR) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (ngx_strcmp(value[1].data, "off") == 0) {
        olcf->thread_pool = NULL;
        return NGX_CONF_OK;
    }

#if (NGX_THREADS)

    olcf->thread_pool = ngx_thread_pool_add(cf, &value[1]);
    if (olcf->thread_pool == NULL) {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;

#else

    return "needs nginx built with --with-threads";

#endif
}


/* the tags that stay mutable under oci_immutable_tags: an nginx regex */

static char *
ngx_oci_mutable_tags(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
#if (NGX_PCRE)
    ngx_oci_loc_conf_t *olcf = conf;

    u_char               errstr[NGX_MAX_CONF_ERRSTR];
    ngx_str_t           *value;
    ngx_regex_compile_t  rc;

    if (olcf->tag_policy.mutable != NGX_CONF_UNSET_PTR) {
        return "is duplicate";
    }

    value = cf->args->elts;

    ngx_memzero(&rc, sizeof(ngx_regex_compile_t));

    rc.pattern = value[1];
    rc.pool = cf->pool;
    rc.err.len = NGX_MAX_CONF_ERRSTR;
    rc.err.data = errstr;

    if (ngx_regex_compile(&rc) != NGX_OK) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "%V", &rc.err);
        return NGX_CONF_ERROR;
    }

    olcf->tag_policy.mutable = rc.regex;

    return NGX_CONF_OK;

#else

    return "needs nginx built with PCRE";

#endif
}


/*
 * "oci_metrics" comes before the merge that hands every location the
 * configuration's metrics: this one gets them now.
 */

static char *
ngx_oci_metrics_location(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_oci_loc_conf_t *olcf = conf;

    ngx_oci_main_conf_t  *omcf;

    omcf = ngx_http_conf_get_module_main_conf(cf, ngx_oci_module);
    olcf->metrics = omcf->metrics;

    return ngx_oci_metrics_directive(cf, cmd, conf);
}


static void *
ngx_oci_create_main_conf(ngx_conf_t *cf)
{
    ngx_oci_main_conf_t  *omcf;

    omcf = ngx_pcalloc(cf->pool, sizeof(ngx_oci_main_conf_t));
    if (omcf == NULL) {
        return NULL;
    }

    if (ngx_array_init(&omcf->roots, cf->pool, 2,
                       sizeof(ngx_oci_store_root_t *))
        != NGX_OK)
    {
        return NULL;
    }

    omcf->sweep_timeout = NGX_CONF_UNSET_MSEC;

    omcf->metrics = ngx_oci_metrics_create(cf);
    if (omcf->metrics == NULL) {
        return NULL;
    }

    return omcf;
}


static void *
ngx_oci_create_loc_conf(ngx_conf_t *cf)
{
    ngx_oci_loc_conf_t  *olcf;

    olcf = ngx_pcalloc(cf->pool, sizeof(ngx_oci_loc_conf_t));
    if (olcf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     olcf->storage = { 0, NULL };
     *     olcf->mount_allow = NULL;
     */

    olcf->enable = NGX_CONF_UNSET;
    olcf->max_manifest_size = NGX_CONF_UNSET_SIZE;
    olcf->delete = NGX_CONF_UNSET;
    olcf->tag_policy.immutable = NGX_CONF_UNSET;
#if (NGX_PCRE)
    olcf->tag_policy.mutable = NGX_CONF_UNSET_PTR;
#endif
    olcf->upload_timeout = NGX_CONF_UNSET_MSEC;
    olcf->check_references = NGX_CONF_UNSET;
    olcf->tags_page_size = NGX_CONF_UNSET_UINT;
    olcf->subject_policy = NGX_CONF_UNSET_UINT;
    olcf->referrers_page_size = NGX_CONF_UNSET_UINT;
    olcf->referrers_cache = NGX_CONF_UNSET;
    olcf->catalog_page_size = NGX_CONF_UNSET_UINT;
    olcf->events.enable = NGX_CONF_UNSET;
    olcf->events.maxlen = NGX_CONF_UNSET_UINT;
    olcf->events.pulls = NGX_CONF_UNSET;
    olcf->thread_pool = NGX_CONF_UNSET_PTR;
    olcf->root = NGX_CONF_UNSET_PTR;
    olcf->max_uploads = NGX_CONF_UNSET_UINT;
    olcf->max_uploads_repo = NGX_CONF_UNSET_UINT;
    olcf->proxy.tag_ttl = NGX_CONF_UNSET;
    olcf->proxy.wait = NGX_CONF_UNSET_MSEC;
    olcf->proxy.push = NGX_CONF_UNSET;

    ngx_oci_redis_conf_init(&olcf->redis);
    ngx_oci_token_conf_init(&olcf->token);

    return olcf;
}


static char *
ngx_oci_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_oci_loc_conf_t *prev = parent;
    ngx_oci_loc_conf_t *conf = child;

    ngx_oci_main_conf_t  *omcf;

    ngx_conf_merge_value(conf->enable, prev->enable, 0);
    ngx_conf_merge_str_value(conf->storage, prev->storage, "");
    ngx_conf_merge_ptr_value(conf->root, prev->root, NULL);
    ngx_conf_merge_size_value(conf->max_manifest_size,
                              prev->max_manifest_size, 4 * 1024 * 1024);
    ngx_conf_merge_value(conf->delete, prev->delete, 0);
    ngx_conf_merge_value(conf->tag_policy.immutable,
                         prev->tag_policy.immutable, 0);
#if (NGX_PCRE)
    ngx_conf_merge_ptr_value(conf->tag_policy.mutable,
                             prev->tag_policy.mutable, NULL);
#endif
    ngx_conf_merge_msec_value(conf->upload_timeout, prev->upload_timeout,
                              3600000);
    ngx_conf_merge_value(conf->check_references, prev->check_references, 1);
    ngx_conf_merge_uint_value(conf->tags_page_size, prev->tags_page_size,
                              1000);
    ngx_conf_merge_uint_value(conf->subject_policy, prev->subject_policy,
                              NGX_OCI_SUBJECT_ACCEPT);
    ngx_conf_merge_uint_value(conf->referrers_page_size,
                              prev->referrers_page_size, 100);
    ngx_conf_merge_value(conf->referrers_cache, prev->referrers_cache, 1);
    ngx_conf_merge_uint_value(conf->catalog_page_size,
                              prev->catalog_page_size, 100);
    ngx_conf_merge_value(conf->events.enable, prev->events.enable, 0);
    ngx_conf_merge_uint_value(conf->events.maxlen, prev->events.maxlen,
                              100000);
    ngx_conf_merge_value(conf->events.pulls, prev->events.pulls, 0);
    ngx_conf_merge_ptr_value(conf->thread_pool, prev->thread_pool, NULL);
    ngx_conf_merge_uint_value(conf->max_uploads, prev->max_uploads, 1024);
    ngx_conf_merge_uint_value(conf->max_uploads_repo, prev->max_uploads_repo,
                              128);

    if (conf->mount_allow == NULL) {
        conf->mount_allow = prev->mount_allow;
    }

    /* one set of metrics, which Redis counts into too */

    omcf = ngx_http_conf_get_module_main_conf(cf, ngx_oci_module);

    conf->metrics = omcf->metrics;
    conf->redis.stats = &omcf->metrics->redis;

    if (ngx_oci_redis_conf_merge(cf, &conf->redis, &prev->redis)
        != NGX_CONF_OK)
    {
        return NGX_CONF_ERROR;
    }

    if (ngx_oci_token_conf_merge(cf, &conf->token, &prev->token,
                                 conf->enable)
        != NGX_CONF_OK
        || ngx_oci_api_token_merge(cf, &conf->token, &prev->token)
        || ngx_oci_api_proxy_merge(cf, &conf->proxy, &prev->proxy)
           != NGX_CONF_OK)
    {
        return NGX_CONF_ERROR;
    }

    if (!conf->enable) {
        return NGX_CONF_OK;
    }

    if (ngx_oci_check_loc_conf(cf, conf) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    /* the sweeper runs as often as the shortest timeout asks */

    omcf = ngx_http_conf_get_module_main_conf(cf, ngx_oci_module);

    if (omcf->sweep_timeout == NGX_CONF_UNSET_MSEC
        || conf->upload_timeout < omcf->sweep_timeout)
    {
        omcf->sweep_timeout = conf->upload_timeout;
    }

    return NGX_CONF_OK;
}


/* a registry location that would not work is refused, with a hint */

static ngx_int_t
ngx_oci_check_loc_conf(ngx_conf_t *cf, ngx_oci_loc_conf_t *conf)
{
    ngx_http_core_loc_conf_t  *clcf;

    if (conf->storage.len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"oci_registry\" is on but no \"oci_storage\" "
                           "is set: add \"oci_storage /path;\" to this "
                           "location or an enclosing block");
        return NGX_ERROR;
    }

    if (conf->max_manifest_size < 4 * 1024 * 1024) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"oci_max_manifest_size\" must be at least 4m, "
                           "the size the distribution spec requires "
                           "registries to accept");
        return NGX_ERROR;
    }

    /* the prefix precedes the hash tag: a brace would change the slot */

    if (ngx_strlchr(conf->redis.prefix.data,
                    conf->redis.prefix.data + conf->redis.prefix.len, '{')
        || ngx_strlchr(conf->redis.prefix.data,
                       conf->redis.prefix.data + conf->redis.prefix.len, '}'))
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"oci_redis_prefix\" must not contain \"{\" or "
                           "\"}\": keys carry their own hash tag");
        return NGX_ERROR;
    }

    if (conf->referrers_page_size == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"oci_referrers_page_size\" must be at least 1");
        return NGX_ERROR;
    }

    if (conf->catalog_page_size == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"oci_catalog_page_size\" must be at least 1");
        return NGX_ERROR;
    }

    if (conf->events.enable
        && (conf->redis.redis == NULL
            || conf->redis.redis == NGX_CONF_UNSET_PTR))
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"oci_events\" is on but no \"oci_redis\" is "
                           "set: events are recorded in Redis");
        return NGX_ERROR;
    }

    if (conf->events.maxlen == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"oci_events_maxlen\" must be at least 1");
        return NGX_ERROR;
    }

    if (conf->tags_page_size == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"oci_tags_page_size\" must be at least 1");
        return NGX_ERROR;
    }

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);

    /* the answers to events outlive their requests: the location's log */

    conf->events.log = clcf->error_log;
    conf->events.redis = &conf->redis;

    if (clcf->client_max_body_size != 0
        && clcf->client_max_body_size < (off_t) conf->max_manifest_size)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"client_max_body_size\" is %O here, smaller "
                           "than \"oci_max_manifest_size\" (%uz): set "
                           "\"client_max_body_size 0;\" in registry "
                           "locations so blob uploads are not cut off",
                           clcf->client_max_body_size,
                           conf->max_manifest_size);
        return NGX_ERROR;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_oci_preconfiguration(ngx_conf_t *cf)
{
    return ngx_oci_add_variables(cf);
}


static ngx_int_t
ngx_oci_postconfiguration(ngx_conf_t *cf)
{
    ngx_http_handler_pt        *h;
    ngx_oci_main_conf_t        *omcf;
    ngx_http_core_main_conf_t  *cmcf;

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_CONTENT_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_oci_handler;

    if (ngx_oci_token_init(cf) != NGX_OK) {
        return NGX_ERROR;
    }

    if (ngx_oci_error_filter_init(cf) != NGX_OK) {
        return NGX_ERROR;
    }

    /* on top of the chain: a mirror's subrequest meets it first */

    if (ngx_oci_fetch_filter_init(cf) != NGX_OK) {
        return NGX_ERROR;
    }

    omcf = ngx_http_conf_get_module_main_conf(cf, ngx_oci_module);

    if (ngx_oci_metrics_init(cf, omcf->metrics) != NGX_OK) {
        return NGX_ERROR;
    }

    return ngx_oci_body_filter_init(cf);
}


static ngx_int_t
ngx_oci_init_module(ngx_cycle_t *cycle)
{
    ngx_oci_main_conf_t  *omcf;

    omcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_oci_module);

    if (omcf) {
        ngx_oci_metrics_init_module(omcf->metrics);
    }

    return NGX_OK;
}


static ngx_int_t
ngx_oci_init_process(ngx_cycle_t *cycle)
{
    ngx_uint_t              i;
    ngx_oci_sweeper_t      *sw;
    ngx_oci_main_conf_t    *omcf;
    ngx_oci_store_root_t  **root;

    omcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_oci_module);
    if (omcf == NULL) {
        return NGX_OK;
    }

    ngx_oci_metrics_init_process(cycle, omcf->metrics);

    /* one worker sweeps abandoned upload sessions for all */

    if (ngx_process != NGX_PROCESS_SINGLE
        && (ngx_process != NGX_PROCESS_WORKER || ngx_worker != 0))
    {
        return NGX_OK;
    }

    if (omcf->sweep_timeout == NGX_CONF_UNSET_MSEC) {
        return NGX_OK;
    }

    root = omcf->roots.elts;

    for (i = 0; i < omcf->roots.nelts; i++) {
        sw = ngx_pcalloc(cycle->pool, sizeof(ngx_oci_sweeper_t));
        if (sw == NULL) {
            return NGX_ERROR;
        }

        sw->sweep.dir_path.data = ngx_pnalloc(cycle->pool, NGX_MAX_PATH);
        if (sw->sweep.dir_path.data == NULL) {
            return NGX_ERROR;
        }

        sw->storage = root[i]->path;
        sw->timeout = omcf->sweep_timeout;
        sw->metrics = omcf->metrics;
        sw->ev.handler = ngx_oci_sweep_handler;
        sw->ev.data = sw;
        sw->ev.log = cycle->log;
        sw->ev.cancelable = 1;

        ngx_add_timer(&sw->ev, 1000);
    }

    return NGX_OK;
}


static void
ngx_oci_sweep_handler(ngx_event_t *ev)
{
    ngx_int_t           rc, live;
    ngx_msec_t          next;
    ngx_oci_sweeper_t  *sw;

    sw = ev->data;

    if (ngx_exiting || ngx_quit || ngx_terminate) {
        return;
    }

    /* one line per batch: the tests count them (t/024-upload-sweep.t) */
    ngx_log_debug0(NGX_LOG_DEBUG_CORE, ev->log, 0, "oci sweep batch");

    rc = ngx_oci_store_upload_sweep(&sw->sweep, ngx_cycle->log,
                                    &sw->storage, sw->timeout,
                                    NGX_OCI_SWEEP_BATCH);

    /* the sessions of this root: removed now, and left when a pass ends */

    live = 0;

    if (rc != NGX_AGAIN) {
        live = (ngx_int_t) sw->sweep.live - (ngx_int_t) sw->live;
        sw->live = sw->sweep.live;
    }

    ngx_oci_metrics_uploads_swept(sw->metrics, sw->sweep.expired, live);
    sw->sweep.expired = 0;

    if (rc == NGX_AGAIN) {
        ngx_add_timer(ev, NGX_OCI_SWEEP_PAUSE);
        return;
    }

    next = sw->timeout / 4;
    if (next < 1000) {
        next = 1000;
    }

    if (next > 300000) {
        next = 300000;
    }

    ngx_add_timer(ev, next);
}
