
/*
 * Header values built from request or stored bytes: the URI-references
 * of Location and Link, and quoted strings (a Link's rel, a Warning's
 * text).  Whatever the bytes, the value stays one header field with the
 * parameters the registry wrote: every byte that could end the field,
 * the <...> or the quoted string, or start a parameter, is
 * percent-encoded.  Pure (libc only), so the unit tests and a fuzzer
 * drive the same code.
 *
 * Each builder takes the output buffer, or NULL to only count: call it
 * once with NULL for the length, allocate, call it again.
 */


#ifndef _NGX_OCI_LINK_H_INCLUDED_
#define _NGX_OCI_LINK_H_INCLUDED_


#include <stddef.h>
#include <sys/types.h>


typedef struct {
    const u_char  *data;
    size_t         len;
} ngx_oci_link_str_t;


/* an initializer for a literal part: NGX_OCI_LINK_LITERAL("/v2/") */
#define NGX_OCI_LINK_LITERAL(s)  { (const u_char *) (s), sizeof(s) - 1 }


typedef struct {
    ngx_oci_link_str_t  name;
    ngx_oci_link_str_t  value;
} ngx_oci_link_param_t;


/*
 * Copies src, percent-encoding (%XX, upper case) every byte but
 * ALPHA, DIGIT and "-._~/:"; returns the bytes written (or needed).
 */
size_t ngx_oci_link_escape(u_char *dst, const u_char *src, size_t len);

/*
 * A URI-reference: the parts of the path one after the other, then
 * "?name=value&name=value..." when there are parameters; every part,
 * name and value escaped.  Returns the bytes written (or needed).
 */
size_t ngx_oci_link_uri(u_char *dst, const ngx_oci_link_str_t *path,
    size_t npath, const ngx_oci_link_param_t *params, size_t nparams);

/* "<uri>; rel=\"rel\"", the URI as ngx_oci_link_uri() writes it */
size_t ngx_oci_link_header(u_char *dst, const ngx_oci_link_str_t *path,
    size_t npath, const ngx_oci_link_param_t *params, size_t nparams,
    const ngx_oci_link_str_t *rel);

/*
 * A quoted-string: "\"" text "\"", with "\"" and "\\" as quoted pairs,
 * "%" and every byte outside printable ASCII as %XX.
 */
size_t ngx_oci_link_quoted(u_char *dst, const u_char *src, size_t len);


#endif /* _NGX_OCI_LINK_H_INCLUDED_ */
