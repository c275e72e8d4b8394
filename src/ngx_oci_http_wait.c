
/*
 * A request that waits for work done off the event loop (a storage job
 * on a thread pool, or in steps from a timer): it is held, so that
 * neither the client going away nor a timeout frees it under the job,
 * and resumed by the job's "done" handler.
 */


#include "ngx_oci_http.h"


void
ngx_oci_wait(ngx_http_request_t *r)
{
    r->main->count++;
    r->main->blocked++;
}


/* runs the handler and finalizes the request with its result */

void
ngx_oci_resume(ngx_http_request_t *r, ngx_oci_retry_pt handler)
{
    ngx_connection_t  *c;

    c = r->connection;

    r->main->blocked--;

    ngx_http_finalize_request(r, handler(r));
    ngx_http_run_posted_requests(c);
}
