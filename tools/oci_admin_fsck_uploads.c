
/*
 * oci-admin fsck: upload sessions (oci_admin_fsck_uploads.h).
 */


#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ngx_oci_grammar.h"
#include "ngx_oci_sha2.h"
#include "oci_admin_fsck_uploads.h"
#include "oci_admin_store.h"


/* the module's sweeper gets to an expired session within this */
#define OCI_FSCK_SWEEP_DELAY  (5 * 60)

#define OCI_FSCK_STATE_MAGIC  "OCIUPLD1"
#define OCI_FSCK_STATE_MAX    (8 + 8 + 2 + 255 + NGX_OCI_SHA2_STATE_SIZE)


/* a session: its files, if there */

typedef struct {
    char           id[NGX_OCI_UPLOAD_ID_LEN + 1];
    char           data_path[OCI_ADMIN_PATH_LEN];
    char           state_path[OCI_ADMIN_PATH_LEN];
    int            data;
    int            state;
    struct stat    data_st;
    struct stat    state_st;
} oci_fsck_session_t;


static void oci_admin_fsck_upload(oci_admin_fsck_t *fx,
    oci_fsck_session_t *s);
static int oci_admin_fsck_upload_judge(oci_admin_fsck_t *fx,
    oci_fsck_session_t *s, char *reason, size_t size);
static int oci_admin_fsck_upload_remove(oci_fsck_session_t *s,
    char *action, size_t size);
static int oci_admin_fsck_state(const char *path, uint64_t *offset,
    char *reason, size_t reason_len);


void
oci_admin_fsck_uploads(oci_admin_fsck_t *fx)
{
    int                 rc, data;
    char                path[OCI_ADMIN_PATH_LEN];
    size_t              i;
    oci_admin_ls_t      ls;
    oci_fsck_session_t  s;

    if (oci_admin_layout(path, fx->opt.storage, NGX_OCI_LAYOUT_UPLOADS, NULL,
                         0, NULL)
        < 0)
    {
        return;
    }

    rc = oci_admin_ls(path, &ls);
    if (rc != OCI_ADMIN_OK) {
        fx->errors += (rc == OCI_ADMIN_ERROR);
        return;
    }

    /* sorted: "<id>.data" comes right before "<id>.state" */

    for (i = 0; i < ls.n; i++) {
        if (ls.e[i].type != DT_REG
            || oci_admin_upload_file(ls.e[i].name, &data) != 0)
        {
            snprintf(path, sizeof(path), "%s/%s", NGX_OCI_LAYOUT_UPLOADS_DIR,
                     ls.e[i].name);
            oci_admin_fsck_stray(fx, path, "not part of an upload session");
            continue;
        }

        memset(&s, 0, sizeof(oci_fsck_session_t));

        memcpy(s.id, ls.e[i].name, NGX_OCI_UPLOAD_ID_LEN);

        s.data = data;
        s.state = !data;

        if (data && i + 1 < ls.n && ls.e[i + 1].type == DT_REG
            && strncmp(ls.e[i + 1].name, s.id, NGX_OCI_UPLOAD_ID_LEN) == 0
            && oci_admin_upload_file(ls.e[i + 1].name, &data) == 0
            && !data)
        {
            s.state = 1;
            i++;
        }

        oci_admin_fsck_upload(fx, &s);
    }

    oci_admin_ls_free(&ls);
}


static void
oci_admin_fsck_upload(oci_admin_fsck_t *fx, oci_fsck_session_t *s)
{
    int   kind, outcome;
    char  reason[256], action[256], ref[64];

    fx->uploads++;

    if (oci_admin_layout(s->data_path, fx->opt.storage,
                         NGX_OCI_LAYOUT_UPLOAD_DATA, NULL, 0, s->id)
        < 0
        || oci_admin_layout(s->state_path, fx->opt.storage,
                            NGX_OCI_LAYOUT_UPLOAD_STATE, NULL, 0, s->id)
           < 0)
    {
        return;
    }

    s->data = s->data && lstat(s->data_path, &s->data_st) == 0;
    s->state = s->state && lstat(s->state_path, &s->state_st) == 0;

    if (!s->data && !s->state) {
        return;
    }

    kind = oci_admin_fsck_upload_judge(fx, s, reason, sizeof(reason));
    if (kind == -1) {
        return;
    }

    outcome = OCI_FSCK_NOT_TRIED;
    action[0] = '\0';

    if (fx->repair) {
        outcome = oci_admin_fsck_upload_remove(s, action, sizeof(action));
    }

    snprintf(ref, sizeof(ref), "%s/%s", NGX_OCI_LAYOUT_UPLOADS_DIR, s->id);

    oci_admin_fsck_problem(fx, kind, NULL, ref, outcome, action, "%s",
                           reason);
}


/* the kind of the session's problem, and why; -1 when it has none */

static int
oci_admin_fsck_upload_judge(oci_admin_fsck_t *fx, oci_fsck_session_t *s,
    char *reason, size_t size)
{
    int64_t   newest, idle, timeout;
    uint64_t  offset;

    newest = s->data ? oci_admin_mtime(&s->data_st) : 0;

    if (s->state && oci_admin_mtime(&s->state_st) > newest) {
        newest = oci_admin_mtime(&s->state_st);
    }

    idle = (oci_admin_clock() - newest) / OCI_ADMIN_NS;
    timeout = fx->upload_timeout / OCI_ADMIN_NS;

    reason[0] = '\0';

    if (s->state) {
        if (oci_admin_fsck_state(s->state_path, &offset, reason, size)
            != OCI_ADMIN_OK)
        {
            return OCI_FSCK_UPLOAD_CORRUPT;
        }

        if (!s->data) {
            /* the module removes the state first */
            snprintf(reason, size, "a state without a data file");
            return OCI_FSCK_UPLOAD_CORRUPT;
        }

        if ((uint64_t) s->data_st.st_size < offset) {
            snprintf(reason, size, "the data file has %llu bytes, the "
                     "state says %llu",
                     (unsigned long long) s->data_st.st_size,
                     (unsigned long long) offset);
            return OCI_FSCK_UPLOAD_CORRUPT;
        }

    } else if (idle > timeout) {
        /* a session being opened has a data file only, for a moment */
        snprintf(reason, size, "a data file without a state");
        return OCI_FSCK_UPLOAD_CORRUPT;
    }

    if (idle <= timeout + OCI_FSCK_SWEEP_DELAY) {
        return -1;
    }

    snprintf(reason, size, "idle for %lld s", (long long) idle);

    return OCI_FSCK_UPLOAD_EXPIRED;
}


/* as the module's sweeper: not while a request holds it; the outcome */

static int
oci_admin_fsck_upload_remove(oci_fsck_session_t *s, char *action,
    size_t size)
{
    int  fd, outcome;

    outcome = OCI_FSCK_FAILED;

    fd = s->data ? oci_admin_upload_lock(s->data_path) : -1;

    if (s->data && fd == -1) {
        snprintf(action, size, "open(): %s", strerror(errno));

    } else if (fd == -2) {
        snprintf(action, size, "in use by a request");

    } else if ((s->state && unlink(s->state_path) != 0 && errno != ENOENT)
               || (s->data && unlink(s->data_path) != 0 && errno != ENOENT))
    {
        snprintf(action, size, "unlink(): %s", strerror(errno));

    } else {
        outcome = OCI_FSCK_REPAIRED;
        snprintf(action, size, "removed");
    }

    if (fd >= 0) {
        close(fd);
    }

    return outcome;
}


/* the state file as ngx_oci_session.c writes it */

static int
oci_admin_fsck_state(const char *path, uint64_t *offset, char *reason,
    size_t reason_len)
{
    int              rc;
    char             why[200];
    u_char          *buf, *p;
    size_t           len, i;
    ngx_oci_sha2_t   sha;

    rc = oci_admin_read(path, OCI_FSCK_STATE_MAX + 1, NULL, &buf, &len, why,
                        sizeof(why));

    if (rc == OCI_ADMIN_MISSING || rc == OCI_ADMIN_ERROR) {
        snprintf(reason, reason_len, "state: %s", why);
        return OCI_ADMIN_CORRUPT;
    }

    rc = OCI_ADMIN_CORRUPT;
    p = buf;

    if (buf == NULL || len < 8 + 8 + 2
        || memcmp(p, OCI_FSCK_STATE_MAGIC, 8) != 0)
    {
        goto done;
    }

    p += 8;

    *offset = 0;

    for (i = 0; i < 8; i++) {
        *offset = (*offset << 8) | *p++;
    }

    i = (p[0] << 8) | p[1];
    p += 2;

    if (len == 8 + 8 + 2 + i + NGX_OCI_SHA2_STATE_SIZE
        && ngx_oci_name_valid(p, i)
        && ngx_oci_sha2_load(&sha, p + i, NGX_OCI_SHA2_STATE_SIZE) == 0
        && sha.total == *offset)
    {
        rc = OCI_ADMIN_OK;
    }

done:

    if (rc != OCI_ADMIN_OK) {
        snprintf(reason, reason_len, "the state file is corrupt");
    }

    free(buf);

    return rc;
}
