
/*
 * ngx_oci_manifest_check: a table of documents with the Content-Type they
 * are pushed with, the expected result, kind and error text; then the
 * helpers, ownership, and random mutations of the valid documents.
 *
 * In the table, JSON is written with ' for " to stay readable.
 */


#include <stdint.h>
#include <string.h>

#include "ngx_oci_grammar.h"
#include "ngx_oci_manifest_check.h"
#include "tap.h"


#define H64    "0123456789abcdef0123456789abcdef"                            \
               "0123456789abcdef0123456789abcdef"
#define D      "'sha256:" H64 "'"
#define D512   "'sha512:" H64 H64 "'"

#define OCI_M  "application/vnd.oci.image.manifest.v1+json"
#define OCI_I  "application/vnd.oci.image.index.v1+json"
#define DOC_M  "application/vnd.docker.distribution.manifest.v2+json"
#define DOC_L  "application/vnd.docker.distribution.manifest.list.v2+json"

#define CFG    "'config':{'mediaType':'application/vnd.oci.image.config."    \
               "v1+json','digest':" D ",'size':7023}"
#define LAYER  "{'mediaType':'application/vnd.oci.image.layer.v1.tar+gzip'," \
               "'digest':" D ",'size':32654}"
#define DESC   "{'mediaType':'application/vnd.oci.image.manifest.v1+json',"   \
               "'digest':" D ",'size':7143}"
#define PLAT   "'platform':{'architecture':'amd64','os':'linux'}"

/* the empty descriptor: "{}" embedded */
#define EMPTY  "{'mediaType':'application/vnd.oci.empty.v1+json','digest':"  \
               "'sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c"  \
               "060f61caaff8a','size':2,'data':'e30='}"

#define M(x)   "{'schemaVersion':2,'mediaType':'" OCI_M "'," x "}"
#define MD(d)  M(CFG ",'layers':[" d "]")
#define I(x)   "{'schemaVersion':2,'mediaType':'" OCI_I "'," x "}"

#define OK     NGX_OCI_MANIFEST_OK
#define INV    NGX_OCI_MANIFEST_INVALID
#define UNS    NGX_OCI_MANIFEST_UNSUPPORTED


typedef struct {
    const char  *name;
    const char  *ct;
    const char  *body;
    int          rc;
    int          kind;
    const char  *error;     /* substring of m.error, or NULL */
} case_t;


static const case_t  cases[] = {

    /* valid */

    { "oci manifest", OCI_M, MD(LAYER), OK, NGX_OCI_MT_OCI_MANIFEST, NULL },
    { "oci manifest, no Content-Type", "", MD(LAYER), OK,
      NGX_OCI_MT_OCI_MANIFEST, NULL },
    { "oci manifest, Content-Type with parameters and case",
      "  Application/VND.oci.image.manifest.v1+JSON ; charset=utf-8", MD(LAYER),
      OK, NGX_OCI_MT_OCI_MANIFEST, NULL },
    { "oci manifest, blank Content-Type", " \t ", MD(LAYER), OK,
      NGX_OCI_MT_OCI_MANIFEST, NULL },
    { "oci manifest without mediaType, typed by Content-Type", OCI_M,
      "{'schemaVersion':2," CFG ",'layers':[" LAYER "]}", OK,
      NGX_OCI_MT_OCI_MANIFEST, NULL },
    { "oci manifest without mediaType, inferred from config", "",
      "{'schemaVersion':2," CFG ",'layers':[]}", OK,
      NGX_OCI_MT_OCI_MANIFEST, NULL },
    { "oci manifest, three layers", OCI_M, MD(LAYER "," LAYER "," LAYER), OK,
      NGX_OCI_MT_OCI_MANIFEST, NULL },
    { "oci artifact: empty config with data, no layers", OCI_M,
      M("'artifactType':'application/vnd.example+type','config':" EMPTY
        ",'layers':[]"), OK, NGX_OCI_MT_OCI_MANIFEST, NULL },
    { "oci artifact with an empty layer", OCI_M,
      M("'artifactType':'application/x.y','config':" EMPTY
        ",'layers':[" EMPTY "]"), OK, NGX_OCI_MT_OCI_MANIFEST, NULL },
    { "oci manifest with subject and annotations", OCI_M,
      M(CFG ",'layers':[],'subject':" DESC ",'annotations':{'a':'b','c':''}"),
      OK, NGX_OCI_MT_OCI_MANIFEST, NULL },
    { "descriptor with every optional field", OCI_M,
      MD("{'mediaType':'a/b','digest':" D ",'size':0,'urls':['https://x/y'],"
         "'annotations':{'k':'v'},'artifactType':'c/d'," PLAT "}"), OK,
      NGX_OCI_MT_OCI_MANIFEST, NULL },
    { "sha512 digests", OCI_M,
      MD("{'mediaType':'a/b','digest':" D512 ",'size':1}"), OK,
      NGX_OCI_MT_OCI_MANIFEST, NULL },
    { "largest size", OCI_M,
      MD("{'mediaType':'a/b','digest':" D ",'size':9223372036854775807}"), OK,
      NGX_OCI_MT_OCI_MANIFEST, NULL },
    { "unknown fields are ignored", OCI_M,
      M(CFG ",'layers':[],'x-extra':[1,{'y':null}]"), OK,
      NGX_OCI_MT_OCI_MANIFEST, NULL },
    { "foreign layer", OCI_M,
      MD("{'mediaType':'application/vnd.docker.image.rootfs.foreign.diff."
         "tar.gzip','digest':" D ",'size':5,'urls':['https://a/b']}"), OK,
      NGX_OCI_MT_OCI_MANIFEST, NULL },
    { "unicode in annotations", OCI_M,
      M(CFG ",'layers':[],'annotations':{'\\u00e9':"
        "'caf\xc3\xa9 \\ud83d\\ude00'}"),
      OK, NGX_OCI_MT_OCI_MANIFEST, NULL },
    { "oci index", OCI_I,
      I("'manifests':[{'mediaType':'" OCI_M "','digest':" D ",'size':7," PLAT
        "},{'mediaType':'" OCI_I "','digest':" D ",'size':8}]"), OK,
      NGX_OCI_MT_OCI_INDEX, NULL },
    { "oci index, empty", OCI_I, I("'manifests':[]"), OK,
      NGX_OCI_MT_OCI_INDEX, NULL },
    { "oci index, inferred from manifests", "",
      "{'schemaVersion':2,'manifests':[]}", OK, NGX_OCI_MT_OCI_INDEX, NULL },
    { "oci index with subject, artifactType, annotations", OCI_I,
      I("'manifests':[],'subject':" DESC ",'artifactType':'a/b',"
        "'annotations':{'x':'y'}"), OK, NGX_OCI_MT_OCI_INDEX, NULL },
    { "platform with optional fields", OCI_I,
      I("'manifests':[{'mediaType':'a/b','digest':" D ",'size':1,'platform':"
        "{'architecture':'arm64','os':'linux','variant':'v8','os.version':"
        "'10.0','os.features':['win32k'],'features':[]}}]"), OK,
      NGX_OCI_MT_OCI_INDEX, NULL },
    { "docker manifest", DOC_M,
      "{'schemaVersion':2,'mediaType':'" DOC_M "','config':{'mediaType':"
      "'application/vnd.docker.container.image.v1+json','digest':" D ","
      "'size':1},'layers':[" LAYER "]}", OK, NGX_OCI_MT_DOCKER_MANIFEST,
      NULL },
    { "docker manifest, no Content-Type", "",
      "{'schemaVersion':2,'mediaType':'" DOC_M "'," CFG ",'layers':["
      LAYER "]}", OK, NGX_OCI_MT_DOCKER_MANIFEST, NULL },
    { "docker list", DOC_L,
      "{'schemaVersion':2,'mediaType':'" DOC_L "','manifests':[{'mediaType':"
      "'" DOC_M "','digest':" D ",'size':1," PLAT "}]}", OK,
      NGX_OCI_MT_DOCKER_LIST, NULL },

    /* not JSON, or not an object */

    { "empty body", OCI_M, "", INV, 0, "invalid JSON" },
    { "not JSON", OCI_M, "hello", INV, 0, "invalid JSON" },
    { "truncated", OCI_M, "{'schemaVersion':2", INV, 0, "invalid JSON" },
    { "trailing garbage", OCI_M, MD(LAYER) "x", INV, 0, "invalid JSON" },
    { "two documents", OCI_M, MD(LAYER) MD(LAYER), INV, 0, "invalid JSON" },
    { "array", OCI_M, "[]", INV, 0, "not a JSON object" },
    { "string", OCI_M, "'x'", INV, 0, "invalid JSON" },
    { "null", OCI_M, "null", INV, 0, "invalid JSON" },
    { "duplicate key", OCI_M,
      "{'schemaVersion':2,'schemaVersion':2," CFG ",'layers':[]}", INV, 0,
      "duplicate" },
    { "duplicate key in a descriptor", OCI_M,
      MD("{'mediaType':'a/b','digest':" D ",'size':1,'size':2}"), INV, 0,
      "duplicate" },
    { "duplicate mediaType, one matching", OCI_M,
      "{'schemaVersion':2,'mediaType':'" OCI_I "','mediaType':'" OCI_M "',"
      CFG ",'layers':[]}", INV, 0, "duplicate" },
    { "invalid UTF-8", OCI_M,
      M(CFG ",'layers':[],'annotations':{'a':'\xff\xfe'}"), INV, 0,
      "invalid JSON" },
    { "overlong UTF-8", OCI_M,
      M(CFG ",'layers':[],'annotations':{'a':'\xc0\xaf'}"), INV, 0,
      "invalid JSON" },
    { "lone surrogate", OCI_M,
      M(CFG ",'layers':[],'annotations':{'a':'\\ud800'}"), INV, 0,
      "invalid JSON" },
    { "NUL escape", OCI_M,
      M(CFG ",'layers':[],'annotations':{'a':'x\\u0000y'}"), INV, 0,
      "invalid JSON" },
    { "huge integer", OCI_M,
      MD("{'mediaType':'a/b','digest':" D ",'size':99999999999999999999}"),
      INV, 0, "invalid JSON" },

    /* schemaVersion and media types */

    { "schemaVersion missing", OCI_M,
      "{'mediaType':'" OCI_M "'," CFG ",'layers':[]}", INV, 0,
      "schemaVersion: missing" },
    { "schemaVersion a string", OCI_M,
      "{'schemaVersion':'2','mediaType':'" OCI_M "'," CFG ",'layers':[]}",
      INV, 0, "schemaVersion" },
    { "schemaVersion a real", OCI_M,
      "{'schemaVersion':2.0,'mediaType':'" OCI_M "'," CFG ",'layers':[]}",
      INV, 0, "schemaVersion" },
    { "schemaVersion 3", OCI_M,
      "{'schemaVersion':3,'mediaType':'" OCI_M "'," CFG ",'layers':[]}",
      INV, 0, "schemaVersion" },
    { "schemaVersion 1 with an OCI mediaType", OCI_M,
      "{'schemaVersion':1,'mediaType':'" OCI_M "'," CFG ",'layers':[]}",
      INV, 0, "schemaVersion" },
    { "mediaType not a string", "",
      "{'schemaVersion':2,'mediaType':1," CFG ",'layers':[]}", INV, 0,
      "mediaType: not a string" },
    { "mediaType malformed", "",
      "{'schemaVersion':2,'mediaType':'oci manifest'," CFG ",'layers':[]}",
      INV, 0, "mediaType: malformed" },
    { "mediaType does not match Content-Type", OCI_I, MD(LAYER), INV, 0,
      "does not match" },
    { "mediaType vs Content-Type application/json", "application/json",
      MD(LAYER), INV, 0, "does not match" },
    { "mediaType differs by case from Content-Type, body not canonical",
      "", "{'schemaVersion':2,'mediaType':'Application/vnd.oci.image."
      "manifest.v1+json'," CFG ",'layers':[]}", UNS, 0, "not supported" },
    { "Content-Type malformed", "manifest please", MD(LAYER), INV, 0,
      "Content-Type: malformed" },
    { "unknown mediaType in the body", "",
      "{'schemaVersion':2,'mediaType':'application/vnd.foo+json'," CFG
      ",'layers':[]}", UNS, 0, "not supported" },
    { "unknown mediaType matching Content-Type", "application/vnd.foo+json",
      "{'schemaVersion':2,'mediaType':'application/vnd.foo+json'," CFG
      ",'layers':[]}", UNS, 0, "not supported" },
    { "unknown Content-Type, body without mediaType", "application/json",
      "{'schemaVersion':2," CFG ",'layers':[]}", UNS, 0, "Content-Type" },
    { "nothing tells the type", "", "{'schemaVersion':2,'layers':[]}", INV,
      0, "mediaType: missing" },
    { "docker Content-Type, body without mediaType", DOC_M,
      "{'schemaVersion':2," CFG ",'layers':[" LAYER "]}", INV, 0,
      "Docker manifests require it" },
    { "docker schema1 by Content-Type",
      "application/vnd.docker.distribution.manifest.v1+prettyjws",
      "{'schemaVersion':1,'name':'a','tag':'b','fsLayers':[]}", UNS, 0,
      "schema 1" },
    { "docker schema1 by schemaVersion", "",
      "{'schemaVersion':1,'name':'a','tag':'b','fsLayers':[]}", UNS, 0,
      "schema 1" },
    { "docker schema1 by mediaType", "",
      "{'schemaVersion':1,'mediaType':'application/vnd.docker.distribution."
      "manifest.v1+json'}", UNS, 0, "schema 1" },

    /* ambiguity, CVE-2021-41190 */

    { "manifest holding manifests", OCI_M,
      M(CFG ",'layers':[],'manifests':[]"), INV, 0, "manifests: not allowed" },
    { "index holding layers", OCI_I, I("'manifests':[],'layers':[]"), INV, 0,
      "layers: not allowed" },
    { "index holding config", OCI_I, I("'manifests':[]," CFG), INV, 0,
      "config: not allowed" },
    { "untyped document with manifests and config", "",
      "{'schemaVersion':2,'manifests':[]," CFG "}", INV, 0, "not allowed" },

    /* image manifest structure */

    { "config missing", OCI_M, M("'layers':[]"), INV, 0, "config: missing" },
    { "config not an object", OCI_M, M("'config':[],'layers':[]"), INV, 0,
      "config: not an object" },
    { "config null", OCI_M, M("'config':null,'layers':[]"), INV, 0,
      "config: not an object" },
    { "layers missing", OCI_M, M(CFG), INV, 0, "layers: missing" },
    { "layers an object", OCI_M, M(CFG ",'layers':{}"), INV, 0,
      "layers: not an array" },
    { "layer not an object", OCI_M, MD(LAYER ",7"), INV, 0,
      "layers[1]: not an object" },
    { "docker manifest without layers", DOC_M,
      "{'schemaVersion':2,'mediaType':'" DOC_M "'," CFG ",'layers':[]}", INV,
      0, "layers: empty" },
    { "artifactType not a string", OCI_M,
      M(CFG ",'layers':[],'artifactType':1"), INV, 0,
      "artifactType: not a string" },
    { "artifactType malformed", OCI_M,
      M(CFG ",'layers':[],'artifactType':'x'"), INV, 0,
      "artifactType: malformed" },
    { "annotations not an object", OCI_M,
      M(CFG ",'layers':[],'annotations':[]"), INV, 0,
      "annotations: not an object" },
    { "annotation value not a string", OCI_M,
      M(CFG ",'layers':[],'annotations':{'a':'b','org.x':1}"), INV, 0,
      "annotations['org.x']: not a string" },
    { "annotation value nested garbage", OCI_M,
      M(CFG ",'layers':[],'annotations':{'a':{'b':[[[{}]]]}}"), INV, 0,
      "annotations['a']: not a string" },
    { "annotation key quoted safely", OCI_M,
      M(CFG ",'layers':[],'annotations':{'\\'\\\\\\n':null}"), INV, 0,
      "annotations['?\?\?']" },
    { "subject not a descriptor", OCI_M,
      M(CFG ",'layers':[],'subject':{'mediaType':'a/b'}"), INV, 0,
      "subject.digest: missing" },

    /* descriptors */

    { "descriptor mediaType missing", OCI_M,
      MD("{'digest':" D ",'size':1}"), INV, 0, "layers[0].mediaType: missing" },
    { "descriptor mediaType not a string", OCI_M,
      MD("{'mediaType':[],'digest':" D ",'size':1}"), INV, 0,
      "layers[0].mediaType: not a string" },
    { "descriptor mediaType with parameters", OCI_M,
      MD("{'mediaType':'a/b; x=y','digest':" D ",'size':1}"), INV, 0,
      "layers[0].mediaType: malformed" },
    { "descriptor digest missing", OCI_M,
      MD(LAYER "," LAYER ",{'mediaType':'a/b','size':1}"), INV, 0,
      "layers[2].digest: missing" },
    { "descriptor digest malformed", OCI_M,
      MD(LAYER "," LAYER ",{'mediaType':'a/b','digest':'sha256:abc',"
         "'size':1}"), INV, 0, "layers[2].digest: malformed" },
    { "descriptor digest upper case", OCI_M,
      MD("{'mediaType':'a/b','digest':'sha256:0123456789ABCDEF0123456789abc"
         "def0123456789abcdef0123456789abcdef','size':1}"), INV, 0,
      "layers[0].digest: malformed" },
    { "descriptor digest unsupported", OCI_M,
      MD("{'mediaType':'a/b','digest':'md5:d41d8cd98f00b204e9800998ecf8427e'"
         ",'size':1}"), INV, 0, "layers[0].digest: unsupported algorithm" },
    { "descriptor digest not a string", OCI_M,
      MD("{'mediaType':'a/b','digest':1,'size':1}"), INV, 0,
      "layers[0].digest: not a string" },
    { "descriptor size missing", OCI_M,
      MD("{'mediaType':'a/b','digest':" D "}"), INV, 0,
      "layers[0].size: missing" },
    { "descriptor size negative", OCI_M,
      MD("{'mediaType':'a/b','digest':" D ",'size':-1}"), INV, 0,
      "layers[0].size: negative" },
    { "descriptor size a real", OCI_M,
      MD("{'mediaType':'a/b','digest':" D ",'size':1.5}"), INV, 0,
      "layers[0].size: not an integer" },
    { "descriptor size 1e30", OCI_M,
      MD("{'mediaType':'a/b','digest':" D ",'size':1e30}"), INV, 0,
      "layers[0].size: not an integer" },
    { "descriptor size a string", OCI_M,
      MD("{'mediaType':'a/b','digest':" D ",'size':'1'}"), INV, 0,
      "layers[0].size: not an integer" },
    { "descriptor size null", OCI_M,
      MD("{'mediaType':'a/b','digest':" D ",'size':null}"), INV, 0,
      "layers[0].size: not an integer" },
    { "urls not an array", OCI_M,
      MD("{'mediaType':'a/b','digest':" D ",'size':1,'urls':'x'}"), INV, 0,
      "layers[0].urls: not an array" },
    { "url not a string", OCI_M,
      MD("{'mediaType':'a/b','digest':" D ",'size':1,'urls':['x',2]}"), INV,
      0, "layers[0].urls[1]: not a string" },
    { "url empty", OCI_M,
      MD("{'mediaType':'a/b','digest':" D ",'size':1,'urls':['']}"), INV, 0,
      "layers[0].urls[0]: empty" },
    { "descriptor annotations not strings", OCI_M,
      MD("{'mediaType':'a/b','digest':" D ",'size':1,'annotations':"
         "{'k':true}}"), INV, 0, "layers[0].annotations['k']: not a string" },
    { "descriptor artifactType malformed", OCI_M,
      MD("{'mediaType':'a/b','digest':" D ",'size':1,'artifactType':'ab'}"),
      INV, 0, "layers[0].artifactType: malformed" },
    { "data not a string", OCI_M,
      MD("{'mediaType':'a/b','digest':" D ",'size':1,'data':1}"), INV, 0,
      "layers[0].data: not a string" },
    { "data not base64", OCI_M,
      MD("{'mediaType':'a/b','digest':" D ",'size':3,'data':'ab*d'}"), INV,
      0, "layers[0].data: not valid base64" },
    { "data unpadded", OCI_M,
      MD("{'mediaType':'a/b','digest':" D ",'size':2,'data':'e30'}"), INV, 0,
      "layers[0].data: not valid base64" },
    { "data with padding inside", OCI_M,
      MD("{'mediaType':'a/b','digest':" D ",'size':5,'data':'e3==e30='}"),
      INV, 0, "layers[0].data: not valid base64" },
    { "data with too much padding", OCI_M,
      MD("{'mediaType':'a/b','digest':" D ",'size':1,'data':'e==='}"), INV,
      0, "layers[0].data" },
    { "data length differs from size", OCI_M,
      MD("{'mediaType':'a/b','digest':" D ",'size':3,'data':'e30='}"), INV,
      0, "layers[0].data: decodes to 2 bytes, size is 3" },
    { "data digest mismatch", OCI_M,
      MD("{'mediaType':'a/b','digest':" D ",'size':2,'data':'e30='}"), INV,
      0, "layers[0].data: does not match the digest" },
    { "data empty, size 0, digest of nothing", OCI_M,
      MD("{'mediaType':'a/b','digest':'sha256:e3b0c44298fc1c149afbf4c8996fb9"
         "2427ae41e4649b934ca495991b7852b855','size':0,'data':''}"), OK,
      NGX_OCI_MT_OCI_MANIFEST, NULL },
    { "data, sha512", OCI_M,
      MD("{'mediaType':'a/b','digest':'sha512:27c74670adb75075fad058d5ceaf7b"
         "20c4e7786c83bae8a32f626f9782af34c9a33c2046ef60fd2a7878d378e29fec8"
         "51806bbd9a67878f3a9f1cda4830763fd','size':2,'data':'e30='}"), OK,
      NGX_OCI_MT_OCI_MANIFEST, NULL },
    { "platform not an object", OCI_I,
      I("'manifests':[{'mediaType':'a/b','digest':" D ",'size':1,"
        "'platform':'linux/amd64'}]"), INV, 0,
      "manifests[0].platform: not an object" },
    { "platform without os", OCI_I,
      I("'manifests':[{'mediaType':'a/b','digest':" D ",'size':1,"
        "'platform':{'architecture':'amd64'}}]"), INV, 0,
      "manifests[0].platform.os: missing" },
    { "platform architecture not a string", OCI_I,
      I("'manifests':[{'mediaType':'a/b','digest':" D ",'size':1,"
        "'platform':{'architecture':64,'os':'linux'}}]"), INV, 0,
      "manifests[0].platform.architecture: not a string" },
    { "platform os.features not an array", OCI_I,
      I("'manifests':[{'mediaType':'a/b','digest':" D ",'size':1,"
        "'platform':{'architecture':'a','os':'b','os.features':'x'}}]"), INV,
      0, "platform['os.features']: not an array" },
    { "platform features element", OCI_I,
      I("'manifests':[{'mediaType':'a/b','digest':" D ",'size':1,"
        "'platform':{'architecture':'a','os':'b','features':['x',{}]}}]"),
      INV, 0, "platform['features'][1]: not a string" },

    /* index structure */

    { "index manifests missing", OCI_I, I("'annotations':{}"), INV, 0,
      "manifests: missing" },
    { "index manifests not an array", OCI_I, I("'manifests':{}"), INV, 0,
      "manifests: not an array" },
    { "index entry broken", OCI_I, I("'manifests':[" DESC ",{}]"), INV, 0,
      "manifests[1].mediaType: missing" },
    { "index subject broken", OCI_I, I("'manifests':[],'subject':[]"), INV,
      0, "subject: not an object" },
    { "index annotations broken", OCI_I,
      I("'manifests':[],'annotations':{'a':[]}"), INV, 0,
      "annotations['a']: not a string" },
};


static char *
unquote(const char *s, size_t *len)
{
    char   *p;
    size_t  i, n;

    n = strlen(s);

    p = malloc(n + 1);
    if (p == NULL) {
        abort();
    }

    for (i = 0; i < n; i++) {
        p[i] = (s[i] == '\'') ? '"' : s[i];
    }

    p[n] = '\0';
    *len = n;

    return p;
}


static int
error_safe(const char *e)
{
    for ( /* void */ ; *e; e++) {
        if ((u_char) *e < 0x20 || (u_char) *e >= 0x7f || *e == '"'
            || *e == '\\')
        {
            return 0;
        }
    }

    return 1;
}


static void
test_table(void)
{
    int                 rc, good;
    char               *body;
    size_t              i, len;
    ngx_oci_manifest_t  m;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        body = unquote(cases[i].body, &len);

        rc = ngx_oci_manifest_parse((u_char *) body, len,
                                    (const u_char *) cases[i].ct,
                                    strlen(cases[i].ct), &m);

        good = (rc == cases[i].rc)
               && (rc != OK || m.kind == cases[i].kind)
               && (rc != OK || m.error[0] == '\0')
               && (rc == OK || m.root == NULL)
               && (cases[i].error == NULL
                   || strstr(m.error, cases[i].error) != NULL)
               && error_safe(m.error);

        tap_ok(good, "%s: %s", cases[i].name,
               rc == OK ? "ok" : rc == INV ? "invalid" : "unsupported")
            || (tap_diag("got rc %d kind %d error \"%s\"", rc, m.kind,
                         m.error), 0);

        ngx_oci_manifest_free(&m);
        free(body);
    }
}


static int
parse(const char *ct, const char *body, ngx_oci_manifest_t *m)
{
    int     rc;
    char   *b;
    size_t  len;

    b = unquote(body, &len);
    rc = ngx_oci_manifest_parse((u_char *) b, len, (const u_char *) ct,
                                strlen(ct), m);
    free(b);

    return rc;
}


static void
test_fields(void)
{
    int                 rc, alg;
    size_t              len;
    json_t             *root, *d;
    int64_t             size;
    const u_char       *dg;
    ngx_oci_manifest_t  m;

    rc = parse("", MD(LAYER), &m);

    tap_ok(rc == OK && m.owned && m.root && m.config && m.layers
           && json_array_size(m.layers) == 1 && m.manifests == NULL
           && m.subject == NULL && m.annotations == NULL
           && strcmp(m.media_type, OCI_M) == 0
           && strcmp(m.artifact_type,
                     "application/vnd.oci.image.config.v1+json") == 0,
           "image manifest fields; artifact_type from config");

    rc = ngx_oci_descriptor_digest(json_array_get(m.layers, 0), &dg, &len,
                                   &alg);
    tap_ok(rc == NGX_OCI_DIGEST_OK && len == 71 && alg == NGX_OCI_SHA256
           && memcmp(dg, "sha256:" H64, 71) == 0, "descriptor_digest");

    tap_ok(!ngx_oci_descriptor_is_foreign(json_array_get(m.layers, 0)),
           "regular layer is not foreign");

    size = -1;
    tap_ok(ngx_oci_descriptor_size(json_array_get(m.layers, 0), &size) == 0
           && size == 32654, "descriptor_size");

    d = json_pack("{s:I}", "size", (json_int_t) INT64_MAX);
    tap_ok(d && ngx_oci_descriptor_size(d, &size) == 0 && size == INT64_MAX,
           "descriptor_size of the largest size");
    json_decref(d);

    d = json_pack("{s:I}", "size", (json_int_t) -1);
    tap_ok(d && ngx_oci_descriptor_size(d, &size) == -1,
           "descriptor_size refuses a negative size");
    json_decref(d);

    d = json_pack("{s:f}", "size", 5.0);
    tap_ok(d && ngx_oci_descriptor_size(d, &size) == -1,
           "descriptor_size refuses a real");
    json_decref(d);

    d = json_pack("{s:s}", "size", "5");
    tap_ok(d && ngx_oci_descriptor_size(d, &size) == -1,
           "descriptor_size refuses a string");
    json_decref(d);

    ngx_oci_manifest_free(&m);
    ngx_oci_manifest_free(&m);

    tap_ok(m.root == NULL && m.owned == 0, "free twice is harmless");

    rc = parse(OCI_M, M("'artifactType':'x/y','config':" EMPTY
                        ",'layers':[],'subject':" DESC
                        ",'annotations':{'a':'b'}"), &m);

    tap_ok(rc == OK && strcmp(m.artifact_type, "x/y") == 0 && m.subject
           && json_is_object(m.annotations), "artifactType, subject, "
           "annotations");

    ngx_oci_manifest_free(&m);

    rc = parse(OCI_I, I("'manifests':[" DESC "]"), &m);

    tap_ok(rc == OK && m.artifact_type == NULL && m.config == NULL
           && m.layers == NULL && json_array_size(m.manifests) == 1
           && strcmp(m.media_type, OCI_I) == 0,
           "index fields; no artifact_type");

    ngx_oci_manifest_free(&m);

    rc = parse(DOC_M, "{'schemaVersion':2,'mediaType':'" DOC_M "',"
                      "'artifactType':7," CFG ",'layers':[" LAYER "]}", &m);

    tap_ok(rc == OK && strcmp(m.artifact_type,
                              "application/vnd.oci.image.config.v1+json")
                       == 0,
           "docker manifest: artifactType ignored");

    ngx_oci_manifest_free(&m);

    /* a caller-owned document keeps its reference count */

    root = json_loads("{\"schemaVersion\":2,\"manifests\":[]}", 0, NULL);

    rc = ngx_oci_manifest_check(root, NULL, 0, &m);
    ngx_oci_manifest_free(&m);

    tap_ok(rc == OK && root->refcount == 1 && m.root == NULL,
           "check() borrows the document");

    json_decref(root);

    /* foreign layers */

    root = json_loads("[{\"mediaType\":\"application/vnd.oci.image.layer."
                      "nondistributable.v1.tar+zstd\"},"
                      "{\"mediaType\":\"a/b\",\"urls\":[\"x\"]},"
                      "{\"mediaType\":\"a/b\",\"urls\":[]},"
                      "{\"mediaType\":\"application/vnd.docker.image.rootfs."
                      "foreign.diff.tar.gzip\"}, 5]", 0, NULL);

    tap_ok(ngx_oci_descriptor_is_foreign(json_array_get(root, 0))
           && ngx_oci_descriptor_is_foreign(json_array_get(root, 1))
           && !ngx_oci_descriptor_is_foreign(json_array_get(root, 2))
           && ngx_oci_descriptor_is_foreign(json_array_get(root, 3))
           && !ngx_oci_descriptor_is_foreign(json_array_get(root, 4)),
           "descriptor_is_foreign");

    tap_ok(ngx_oci_descriptor_digest(json_array_get(root, 0), NULL, NULL,
                                     NULL)
           == NGX_OCI_DIGEST_MALFORMED, "descriptor_digest without digest");

    json_decref(root);

    root = json_loads("{\"digest\":\"md5:x\"}", 0, NULL);
    rc = ngx_oci_descriptor_digest(root, &dg, &len, &alg);
    tap_ok(rc == NGX_OCI_DIGEST_UNSUPPORTED && len == 5 && alg == 0,
           "descriptor_digest of an unsupported algorithm");
    json_decref(root);

    /* kind helpers */

    tap_ok(ngx_oci_manifest_kind((u_char *) " " DOC_L " ;q=0.5",
                                 sizeof(DOC_L) + 7) == NGX_OCI_MT_DOCKER_LIST
           && ngx_oci_manifest_kind((u_char *) "text/plain", 10) == 0
           && ngx_oci_manifest_kind(NULL, 0) == 0,
           "manifest_kind");

    tap_ok(strcmp(ngx_oci_manifest_media_type(NGX_OCI_MT_OCI_INDEX), OCI_I)
           == 0 && ngx_oci_manifest_media_type(0) == NULL
           && ngx_oci_manifest_media_type(5) == NULL, "manifest_media_type");

    {
        char  err[32];

        root = json_loads("{\"mediaType\":\"a/b\"}", 0, NULL);
        rc = ngx_oci_descriptor_check(root, err, sizeof(err),
                                      "a-very-long-location-name-indeed");
        tap_ok(rc == INV && strlen(err) == sizeof(err) - 1,
               "descriptor_check truncates its error");
        json_decref(root);
    }
}


static void
test_big(void)
{
    int                 rc;
    char               *body, *p;
    size_t              i, n, len;
    ngx_oci_manifest_t  m;

    /* ten thousand layers */

    n = 10000;
    len = 200 + n * (sizeof(LAYER) + 1);

    body = malloc(len);
    if (body == NULL) {
        abort();
    }

    p = body + sprintf(body, "{'schemaVersion':2," CFG ",'layers':[");

    for (i = 0; i < n; i++) {
        p += sprintf(p, "%s%s", i ? "," : "", LAYER);
    }

    strcpy(p, "]}");

    rc = parse("", body, &m);

    tap_ok(rc == OK && json_array_size(m.layers) == n,
           "manifest with %zu layers", n);

    ngx_oci_manifest_free(&m);

    /* deep nesting: jansson's depth limit, no stack overflow */

    n = 100000;

    body = realloc(body, 2 * n + 64);
    if (body == NULL) {
        abort();
    }

    p = body + sprintf(body, "{'schemaVersion':2,'x':");
    memset(p, '[', n);
    memset(p + n, ']', n);
    strcpy(p + 2 * n, "}");

    rc = parse("", body, &m);
    tap_ok(rc == INV, "100000 nested arrays rejected: %s", m.error);
    ngx_oci_manifest_free(&m);

    free(body);
}


/* random byte edits of the valid documents: no crash, consistent answers */

static void
test_mutations(size_t rounds)
{
    int                 rc, k;
    char               *body;
    size_t              i, j, len, bad, counts[3];
    ngx_oci_manifest_t  m;

    static const char  interesting[] = "{}[]\":,0123456789-.e\\ atfn'";

    bad = 0;
    counts[0] = counts[1] = counts[2] = 0;

    for (i = 0; i < rounds; i++) {
        do {
            j = (size_t) (tap_rng() % (sizeof(cases) / sizeof(cases[0])));
        } while (cases[j].rc != OK);

        body = unquote(cases[j].body, &len);

        for (k = (int) (tap_rng() % 4) + 1; k; k--) {
            if (tap_rng() & 1) {
                body[tap_rng() % len] = (char) tap_rng();

            } else {
                body[tap_rng() % len] = interesting[tap_rng()
                                                % (sizeof(interesting) - 1)];
            }
        }

        rc = ngx_oci_manifest_parse((u_char *) body, len,
                                    (const u_char *) cases[j].ct,
                                    strlen(cases[j].ct), &m);

        if (rc < 0 || rc > 2
            || (rc == OK && (m.kind < 1 || m.kind > 4 || !m.media_type
                             || m.error[0] != '\0'))
            || (rc != OK && (m.error[0] == '\0' || m.root != NULL))
            || !error_safe(m.error))
        {
            if (bad++ < 5) {
                tap_diag("mutation of \"%s\": rc %d error \"%s\"",
                         cases[j].name, rc, m.error);
            }

        } else {
            counts[rc]++;
        }

        ngx_oci_manifest_free(&m);
        free(body);
    }

    tap_ok(bad == 0, "%zu mutated documents: %zu ok, %zu invalid, "
           "%zu unsupported", rounds, counts[0], counts[1], counts[2]);
}


int
main(void)
{
    tap_rng_state = 0x853c49e6748fea9bULL;

    test_table();
    test_fields();
    test_big();
    test_mutations(50000);

    return tap_done();
}
