
/*
 * A minimal TAP producer for the unit tests: t/unit.t re-emits the
 * output as Test::More subtests.
 */


#ifndef _NGX_OCI_TAP_H_INCLUDED_
#define _NGX_OCI_TAP_H_INCLUDED_


#include <stdarg.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>


static int  tap_run;
static int  tap_failed;


static void tap_diag(const char *fmt, ...)
    __attribute__((format(printf, 1, 2), unused));
static int tap_ok(int ok, const char *fmt, ...)
    __attribute__((format(printf, 2, 3), unused));
static int tap_done(void) __attribute__((unused));
static uint64_t tap_rng(void) __attribute__((unused));


/* the state of tap_rng(): a test sets its own seed, so runs repeat */
static uint64_t  tap_rng_state = 0x9e3779b97f4a7c15ULL;


static void
tap_diag(const char *fmt, ...)
{
    va_list  args;

    printf("# ");

    va_start(args, fmt);
    vprintf(fmt, args);
    va_end(args);

    printf("\n");
    fflush(stdout);
}


static int
tap_ok(int ok, const char *fmt, ...)
{
    va_list  args;

    tap_run++;

    if (!ok) {
        tap_failed++;
    }

    printf("%sok %d - ", ok ? "" : "not ", tap_run);

    va_start(args, fmt);
    vprintf(fmt, args);
    va_end(args);

    printf("\n");
    fflush(stdout);

    return ok;
}


/* the plan goes last, which TAP allows, so tests need not be counted */

static int
tap_done(void)
{
    printf("1..%d\n", tap_run);

    if (tap_failed) {
        tap_diag("failed %d of %d tests", tap_failed, tap_run);
    }

    return tap_failed ? EXIT_FAILURE : EXIT_SUCCESS;
}


/* xorshift64: cheap pseudo-random numbers for randomized cases */

static uint64_t
tap_rng(void)
{
    uint64_t  x;

    x = tap_rng_state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    tap_rng_state = x;

    return x;
}


#endif /* _NGX_OCI_TAP_H_INCLUDED_ */
