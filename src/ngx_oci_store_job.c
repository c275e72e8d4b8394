
/*
 * Storage work too long for one turn of the event loop: re-hashing a big
 * data file, unlinking a big file, a long listing. A job is a step
 * function that does a bounded amount of work and says whether more is
 * left; it runs either on one of nginx's thread pools (all its steps in
 * a row, off the event loop) or, when no pool is configured, one step
 * per turn of the event loop from a timer. Its "done" handler always
 * runs in the event loop.
 *
 * A step never allocates from a pool nor touches nginx's shared state:
 * on a thread it runs beside the event loop. It may log.
 *
 * Each step is logged at debug level, saying where it ran: the tests
 * count these lines to check that long work is cut in steps, or runs on
 * a thread, rather than in one turn of the event loop.
 */


#include "ngx_oci_store.h"


/* between two steps, others get their turn */
#define NGX_OCI_JOB_STEP_DELAY  1

/* how often the timer beside a job on a thread comes back */
#define NGX_OCI_JOB_GUARD       60000


static void ngx_oci_store_job_step(ngx_event_t *ev);
static void ngx_oci_store_job_cleanup(void *data);
#if (NGX_THREADS)
static void ngx_oci_store_job_thread(void *data, ngx_log_t *log);
static void ngx_oci_store_job_finished(ngx_event_t *ev);
static void ngx_oci_store_job_guard(ngx_event_t *ev);
#endif


/*
 * Starts the job, in the event loop, never finishing before it returns:
 * NGX_OK, or NGX_ERROR (and "done" will not run).
 */

ngx_int_t
ngx_oci_store_job_start(ngx_oci_store_t *st, ngx_oci_store_job_t *job)
{
    ngx_pool_cleanup_t  *cln;
#if (NGX_THREADS)
    ngx_thread_task_t   *task;
#endif

    job->rc = NGX_AGAIN;
    job->log = st->log;

    /* a job whose owner goes away must not leave its timer behind */

    cln = ngx_pool_cleanup_add(st->pool, 0);
    if (cln == NULL) {
        return NGX_ERROR;
    }

    cln->handler = ngx_oci_store_job_cleanup;
    cln->data = &job->ev;

    job->ev.data = job;
    job->ev.log = st->log;

    /*
     * A worker that exits gracefully waits for the jobs of its requests
     * (it waits for timers that are not cancelable), not for those that
     * have none (what they leave in _tmp/ is swept).
     */
    job->ev.cancelable = (job->owner == NULL);

#if (NGX_THREADS)

    if (st->thread_pool) {
        task = ngx_thread_task_alloc(st->pool, 0);
        if (task == NULL) {
            return NGX_ERROR;
        }

        task->ctx = job;
        task->handler = ngx_oci_store_job_thread;
        task->event.handler = ngx_oci_store_job_finished;
        task->event.data = job;
        task->event.log = st->log;

        job->threaded = 1;

        if (ngx_thread_task_post(st->thread_pool, task) != NGX_OK) {
            return NGX_ERROR;
        }

        /* the timer only keeps an exiting worker waiting for the thread */

        job->ev.handler = ngx_oci_store_job_guard;
        ngx_add_timer(&job->ev, NGX_OCI_JOB_GUARD);

        return NGX_OK;
    }

#endif

    job->ev.handler = ngx_oci_store_job_step;
    ngx_add_timer(&job->ev, NGX_OCI_JOB_STEP_DELAY);

    return NGX_OK;
}


static void
ngx_oci_store_job_step(ngx_event_t *ev)
{
    ngx_oci_store_job_t  *job;

    job = ev->data;

    ngx_log_debug0(NGX_LOG_DEBUG_CORE, job->log, 0,
                   "oci job step in the event loop");

    job->rc = job->step(job);

    if (job->rc == NGX_AGAIN) {
        ngx_add_timer(ev, NGX_OCI_JOB_STEP_DELAY);
        return;
    }

    job->done(job);
}


static void
ngx_oci_store_job_cleanup(void *data)
{
    ngx_event_t  *ev = data;

    if (ev->timer_set) {
        ngx_del_timer(ev);
    }
}


#if (NGX_THREADS)

static void
ngx_oci_store_job_thread(void *data, ngx_log_t *log)
{
    ngx_oci_store_job_t  *job = data;

    do {
        ngx_log_debug0(NGX_LOG_DEBUG_CORE, log, 0, "oci job step on a thread");

        job->rc = job->step(job);
    } while (job->rc == NGX_AGAIN);
}


static void
ngx_oci_store_job_finished(ngx_event_t *ev)
{
    ngx_oci_store_job_t  *job;

    job = ev->data;

    if (job->ev.timer_set) {
        ngx_del_timer(&job->ev);
    }

    job->done(job);
}


static void
ngx_oci_store_job_guard(ngx_event_t *ev)
{
    ngx_add_timer(ev, NGX_OCI_JOB_GUARD);
}

#endif
