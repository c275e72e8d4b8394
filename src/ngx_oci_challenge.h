
/*
 * What a pull-through cache reads from an upstream registry that asks
 * for credentials (docs/mirrors.md): the challenge of its 401
 * (WWW-Authenticate, RFC 7235), the URL of the token request the
 * challenge leads to, the JSON reply of the token endpoint (the Docker
 * token spec), and the Basic credentials sent with the request.  Pure
 * (libc and jansson): the module, the unit tests and the fuzzer run the
 * same code, and nothing an upstream sends can make a header value or a
 * URL the module builds break out of its field.
 */


#ifndef _NGX_OCI_CHALLENGE_H_INCLUDED_
#define _NGX_OCI_CHALLENGE_H_INCLUDED_


#include <stddef.h>
#include <sys/types.h>


/* the longest token kept: it goes into an Authorization header */
#define NGX_OCI_CHALLENGE_TOKEN_MAX   4096

/* the largest token reply read */
#define NGX_OCI_CHALLENGE_REPLY_MAX   65536

/* a lifetime outside 1..EXPIRES_MAX is malformed; below MIN, raised */
#define NGX_OCI_CHALLENGE_EXPIRES_MIN      60
#define NGX_OCI_CHALLENGE_EXPIRES_MAX      (86400L * 366)


/* bytes of the input */
typedef struct {
    const u_char                *data;
    size_t                       len;
} ngx_oci_challenge_str_t;


typedef enum {
    NGX_OCI_CHALLENGE_NONE = 0,
    NGX_OCI_CHALLENGE_BASIC,
    NGX_OCI_CHALLENGE_BEARER
} ngx_oci_challenge_scheme_e;


/*
 * The challenge chosen.  The parameters are those of a Bearer challenge
 * (all empty for Basic), NUL-terminated, with the quoted-pair escapes
 * of a quoted-string removed; none holds a NUL or a control byte other
 * than a tab.
 */
typedef struct {
    ngx_oci_challenge_scheme_e   scheme;
    char                         realm[1024];
    char                         service[256];
    char                         scope[1024];
    char                         error[64];
} ngx_oci_challenge_t;


/*
 * One WWW-Authenticate value: one or more challenges separated by
 * commas, each "scheme" alone, "scheme token68" or "scheme
 * name=value, ..." (a value is a token or a quoted-string; white space
 * may surround "=" and ",").  Scheme and parameter names are
 * case-insensitive.  Returns 0 with ch filled from the first Bearer
 * challenge, or from the first Basic one when there is no Bearer; -1
 * when the value is malformed or names neither Basic nor Bearer.
 *
 * Every Basic and Bearer challenge of the value must be well formed:
 * a known parameter (realm, service, scope, error; Basic's realm and
 * charset) given twice, or longer than its field, is -1; unknown ones
 * are ignored.  A Bearer challenge needs a realm that is an absolute
 * http:// or https:// URL: a host (a name, an IPv4 address or an IPv6
 * one in brackets), an optional port, no userinfo, no fragment, and
 * only the characters of RFC 3986 (no space, control byte or byte above
 * 0x7e; "%" followed by two hex digits).
 */
int ngx_oci_challenge_parse(const u_char *p, size_t len,
    ngx_oci_challenge_t *ch);

/*
 * The token request's URL: the realm, then "?" (or "&" when the realm
 * has a query already; nothing when it ends in "?" or "&") and
 * "service=<s>&scope=<s>", each only when not empty, its value
 * percent-encoded (%XX, upper case) but for RFC 3986's unreserved
 * characters.  A scope that is not NULL replaces ch->scope.  Returns
 * the length written, buf NUL-terminated, or 0 when it does not fit in
 * size bytes with its NUL or when ch has no realm.
 */
size_t ngx_oci_challenge_token_url(char *buf, size_t size,
    const ngx_oci_challenge_t *ch, const char *scope);

/*
 * A token endpoint's reply: a JSON object (up to
 * NGX_OCI_CHALLENGE_REPLY_MAX bytes, without duplicate keys) with
 * "token" or "access_token" (a string; "token" is used when both are
 * there and not empty), "expires_in" (an integer of seconds, 60 when
 * absent) and other members ignored.  The token must be 1 to
 * NGX_OCI_CHALLENGE_TOKEN_MAX visible ASCII bytes (no space): it is
 * written NUL-terminated into tok (NGX_OCI_CHALLENGE_TOKEN_MAX + 1
 * bytes), the lifetime into *expires (raised to 60 when shorter, as the
 * Docker token spec says; below 1 or above 366 days is malformed).
 * Returns 0, or -1 with tok empty and *expires untouched.
 */
int ngx_oci_challenge_token_parse(const u_char *p, size_t len, char *tok,
    long *expires);

/*
 * "Basic " and the base64 of a credentials line ("user:password"), as
 * it is; returns the length written, buf NUL-terminated, or 0 when it
 * does not fit in size bytes with its NUL.
 */
size_t ngx_oci_challenge_basic(char *buf, size_t size, const char *userpass,
    size_t len);


#endif /* _NGX_OCI_CHALLENGE_H_INCLUDED_ */
