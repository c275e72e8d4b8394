
/*
 * Query arguments: the scanner of a repeatable argument ("?tag=a&tag=b",
 * "?artifactType=x&artifactType=y"). Pure, so the unit tests and a fuzzer
 * drive the same code the module runs.
 */


#ifndef _NGX_OCI_QUERY_H_INCLUDED_
#define _NGX_OCI_QUERY_H_INCLUDED_


#include <stddef.h>
#include <sys/types.h>


/*
 * The next "name=value" of the query args[0 .. *len - 1], consumed from
 * *args as it is scanned. Returns 1 with *value and *value_len set (the
 * value still percent-encoded, possibly empty), or 0 when no such
 * argument is left. "name" alone, without "=", is not a match.
 */
int ngx_oci_query_next(const u_char **args, size_t *len, const char *name,
    size_t name_len, const u_char **value, size_t *value_len);


#endif /* _NGX_OCI_QUERY_H_INCLUDED_ */
