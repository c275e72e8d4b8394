# The base endpoint, routing, JSON error bodies for errors raised by the
# module and by other modules, configuration checks and the variables.

BEGIN { push @INC, 't/lib' }   # appended: an installed Test::Nginx wins
use Test::Nginx::Socket 'no_plan';
use OCI::Test qw(data_config default_config);

repeat_each(2);
no_shuffle();

add_block_preprocessor(sub {
    my $block = shift;

    # a block with an "htpasswd" section runs behind auth_basic, with that
    # password file
    if (defined(my $users = $block->htpasswd)) {
        $block->set_value(user_files => ">>> htpasswd\n$users");
        $block->set_value(config => data_config('auth_basic "registry";',
            'auth_basic_user_file $TEST_NGINX_HTML_DIR/htpasswd;'));
    }
});

add_block_preprocessor(default_config());

run_tests();

__DATA__

=== TEST 1: base endpoint answers 200 with the API version header
--- request
GET /v2/
--- error_code: 200
--- response_headers
Docker-Distribution-API-Version: registry/2.0
Content-Type: application/json
--- response_body: {}
--- no_error_log
[error]



=== TEST 2: base endpoint without the trailing slash
--- config
    location /v2 {
        oci_registry on;
        oci_storage $TEST_NGINX_HTML_DIR/storage;
        client_max_body_size 0;
    }
--- request
HEAD /v2
--- error_code: 200
--- response_headers
Docker-Distribution-API-Version: registry/2.0
--- response_body



=== TEST 3: base endpoint refuses POST
--- request
POST /v2/
--- error_code: 405
--- response_headers
Content-Type: application/json
--- response_body_like: ^\{"errors":\[\{"code":"UNSUPPORTED"



=== TEST 4: an unknown path under /v2/ is a JSON 404
--- request
GET /v2/foo/bar/baz
--- error_code: 404
--- response_headers
Content-Type: application/json
--- response_body_like: "code":"UNSUPPORTED"



=== TEST 5: invalid repository names
--- request eval
[
    "GET /v2/Foo/tags/list",
    "GET /v2/foo--/tags/list",
    "GET /v2/foo..bar/tags/list",
    "GET /v2/a___b/tags/list",
    "GET /v2/-a/manifests/latest",
    "GET /v2/" . ("a" x 256) . "/tags/list",
]
--- error_code eval
[400, 400, 400, 400, 400, 400]
--- response_body_like eval
[
    qr/"code":"NAME_INVALID"/, qr/"code":"NAME_INVALID"/,
    qr/"code":"NAME_INVALID"/, qr/"code":"NAME_INVALID"/,
    qr/"code":"NAME_INVALID"/, qr/"code":"NAME_INVALID"/,
]



=== TEST 6: a 255-byte name is valid
--- request eval
"GET /v2/" . ("a" x 255) . "/tags/list"
--- error_code: 404
--- response_body_like: "code":"NAME_UNKNOWN"



=== TEST 7: traversal through percent-encoding and dot segments never leaves the storage
nginx itself refuses a path that climbs above the root (400) and resolves
the dot segments of the rest, which can take a request out of the registry
location altogether; what stays in it is routed after decoding and fails
the grammar.
--- user_files
>>> secret
top secret
--- request eval
[
    "GET /v2/%2e%2e/%2e%2e/secret/blobs/sha256:0000000000000000000000000000000000000000000000000000000000000000",
    "GET /v2/foo/..%2f..%2fsecret/tags/list",
    "GET /v2/foo%2F..%2F..%2Fsecret/manifests/latest",
    "GET /v2/foo/manifests/..",
    "GET /v2/foo/blobs/sha256:..%2f..%2f..%2fsecret",
    "GET /v2//foo//tags/list",
]
--- error_code eval
[400, 404, 404, 404, 404, 404]
--- response_body_like eval
[qr/400 Bad Request/, qr/404 Not Found/, qr/404 Not Found/,
 qr/"code":"UNSUPPORTED"/, qr/"code":"UNSUPPORTED"/, qr/NAME_UNKNOWN/]



=== TEST 8: errors raised by auth_basic are JSON and keep WWW-Authenticate
--- htpasswd
alice:{PLAIN}secret
--- request
GET /v2/
--- error_code: 401
--- response_headers
Content-Type: application/json
WWW-Authenticate: Basic realm="registry"
Docker-Distribution-API-Version: registry/2.0
--- response_body_like: ^\{"errors":\[\{"code":"UNAUTHORIZED","message":"authentication required","detail":\{\}\}\]\}$



=== TEST 9: auth_basic lets the right user through
--- htpasswd
alice:{PLAIN}secret
--- request
GET /v2/
--- more_headers
Authorization: Basic YWxpY2U6c2VjcmV0
--- error_code: 200
--- response_body: {}



=== TEST 10: limit_req rejections are TOOMANYREQUESTS with Retry-After
--- http_config
    limit_req_zone $oci_repository$connection zone=repo:1m rate=1r/m;
--- config
    location /v2/ {
        oci_registry on;
        oci_storage $TEST_NGINX_HTML_DIR/storage;
        client_max_body_size 0;
        limit_req zone=repo;
        limit_req_status 429;
    }
--- pipelined_requests eval
["GET /v2/foo/tags/list", "GET /v2/foo/tags/list"]
--- error_code eval
[404, 429]
--- response_headers_like eval
["Content-Type: application/json", "Retry-After: \\d+"]
--- response_body_like eval
[qr/"code":"NAME_UNKNOWN"/, qr/"code":"TOOMANYREQUESTS"/]



=== TEST 11: deny gives DENIED
--- config
    location /v2/ {
        oci_registry on;
        oci_storage $TEST_NGINX_HTML_DIR/storage;
        client_max_body_size 0;
        deny all;
    }
--- request
GET /v2/
--- error_code: 403
--- response_body_like: "code":"DENIED"



=== TEST 12: variables follow the routing, in every phase
--- config
    location /v2/ {
        oci_registry on;
        oci_storage $TEST_NGINX_HTML_DIR/storage;
        client_max_body_size 0;
        add_header X-Repo $oci_repository always;
        add_header X-Ref $oci_reference always;
        add_header X-Action $oci_action always;
    }
--- pipelined_requests eval
[
    "GET /v2/library/alpine/manifests/3.19",
    "DELETE /v2/library/alpine/manifests/sha256:4444444444444444444444444444444444444444444444444444444444444444",
    "HEAD /v2/a/b/c/blobs/sha256:4444444444444444444444444444444444444444444444444444444444444444",
    "GET /v2/a/blobs/uploads/0123456789abcdef0123456789abcdef",
    "GET /v2/",
]
--- error_code eval
[404, 405, 404, 404, 200]
--- response_headers eval
[
    "X-Repo: library/alpine\nX-Ref: 3.19\nX-Action: pull",
    "X-Repo: library/alpine\nX-Action: delete",
    "X-Repo: a/b/c\nX-Action: pull",
    "X-Repo: a\nX-Ref: 0123456789abcdef0123456789abcdef\nX-Action: push",
    "X-Repo:\nX-Action:",
]



=== TEST 13: per-repository access with map on $oci_repository and $oci_action
--- http_config
    map "$oci_action:$oci_repository" $oci_denied {
        default            1;
        ~^pull:public/     0;
        "~^:$"             0;
    }
--- config
    location /v2/ {
        oci_registry on;
        oci_storage $TEST_NGINX_HTML_DIR/storage;
        client_max_body_size 0;
        if ($oci_denied) {
            return 403;
        }
    }
--- pipelined_requests eval
[
    "GET /v2/",
    "GET /v2/public/app/tags/list",
    "GET /v2/private/app/tags/list",
    "POST /v2/public/app/blobs/uploads/",
]
--- error_code eval
[200, 404, 403, 403]
--- response_body_like eval
[qr/^\{\}$/, qr/NAME_UNKNOWN/, qr/DENIED/, qr/DENIED/]



=== TEST 14: oci_registry without oci_storage fails nginx -t with a hint
--- config
    location /v2/ {
        oci_registry on;
        client_max_body_size 0;
    }
--- must_die
--- error_log
no "oci_storage" is set



=== TEST 15: the default client_max_body_size is refused in a registry location
--- config
    location /v2/ {
        oci_registry on;
        oci_storage $TEST_NGINX_HTML_DIR/storage;
    }
--- must_die
--- error_log
set "client_max_body_size 0;"



=== TEST 16: oci_max_manifest_size below the spec's 4 MiB is refused
--- config
    location /v2/ {
        oci_registry on;
        oci_storage $TEST_NGINX_HTML_DIR/storage;
        oci_max_manifest_size 1m;
        client_max_body_size 0;
    }
--- must_die
--- error_log
"oci_max_manifest_size" must be at least 4m



=== TEST 17: oci_storage twice in one block is refused
--- config
    location /v2/ {
        oci_registry on;
        oci_storage $TEST_NGINX_HTML_DIR/storage;
        oci_storage $TEST_NGINX_HTML_DIR/other;
        client_max_body_size 0;
    }
--- must_die
--- error_log
"oci_storage" directive is duplicate



=== TEST 18: settings are inherited from the server block
--- config
    oci_storage $TEST_NGINX_HTML_DIR/storage;
    oci_registry on;
    client_max_body_size 0;

    location /v2/ {
    }

    location /other {
        oci_registry off;
        return 200 "plain\n";
    }
--- pipelined_requests eval
["GET /v2/", "GET /other"]
--- error_code eval
[200, 200]
--- response_body eval
["{}", "plain\n"]



=== TEST 19: a location without the module keeps nginx's own error pages
--- config
    location /v2/ {
        oci_registry on;
        oci_storage $TEST_NGINX_HTML_DIR/storage;
        client_max_body_size 0;
    }
    location /static/ {
        return 404;
    }
--- request
GET /static/x
--- error_code: 404
--- response_headers
Content-Type: text/html
!Docker-Distribution-API-Version



=== TEST 20: nginx creates the storage directories
--- config
    location /v2/ {
        oci_registry on;
        oci_storage $TEST_NGINX_HTML_DIR/store/;
        client_max_body_size 0;
    }
    location = /check {
        root $TEST_NGINX_HTML_DIR/store;
        try_files /_uploads/ /_tmp/ =404;
        return 200 "dirs\n";
    }
--- request
GET /check
--- error_code: 200



=== TEST 21: a Redis key prefix with a brace is refused
--- config
    location /v2/ {
        oci_registry on;
        oci_storage $TEST_NGINX_HTML_DIR/storage;
        client_max_body_size 0;
        oci_redis unix:/nonexistent.sock;
        oci_redis_prefix "reg{1}:";
    }
--- must_die
--- error_log
"oci_redis_prefix" must not contain "{" or "}"



=== TEST 22: an unknown subject policy is refused
--- config
    location /v2/ {
        oci_registry on;
        oci_storage $TEST_NGINX_HTML_DIR/storage;
        client_max_body_size 0;
        oci_subject_policy strict;
    }
--- must_die
--- error_log
invalid value "strict"
