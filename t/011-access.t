# The per-repository access example of docs/access.md, as written there.

BEGIN { push @INC, 't/lib' }   # appended: an installed Test::Nginx wins
use Test::Nginx::Socket 'no_plan';

repeat_each(2);
no_shuffle();

# alice:secret, bob:secret, admin:secret
my %auth = (
    alice => 'Authorization: Basic YWxpY2U6c2VjcmV0',
    bob   => 'Authorization: Basic Ym9iOnNlY3JldA==',
    admin => 'Authorization: Basic YWRtaW46c2VjcmV0',
);

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value(http_config => <<'CONF');
    map "$remote_user:$oci_action:$oci_repository" $oci_forbidden {
        default                     1;
        "~^:"                       0;    # no user: auth_basic says 401
        "~^[^:]+:(pull)?:"          0;    # any user: /v2/ and pulls
        "~^([^:]+):push:\1/"        0;    # alice may push alice/...
        "~^admin:"                  0;    # admin may do anything
    }
CONF

    $block->set_value(config => <<'CONF');
        location /v2/ {
            oci_registry on;
            oci_storage $TEST_NGINX_HTML_DIR/storage;
            oci_delete on;
            client_max_body_size 0;

            auth_basic "registry";
            auth_basic_user_file $TEST_NGINX_HTML_DIR/registry.htpasswd;

            if ($oci_forbidden) {
                return 403;
            }
        }
CONF

    $block->set_value(user_files => <<'FILES');
>>> registry.htpasswd
alice:{PLAIN}secret
bob:{PLAIN}secret
admin:{PLAIN}secret
FILES

    my $who = $block->user;
    $block->set_value(more_headers => $auth{$who}) if $who;
});

run_tests();

__DATA__

=== TEST 1: anonymous: 401 with a JSON body and the Basic challenge
--- request
GET /v2/
--- error_code: 401
--- response_headers
WWW-Authenticate: Basic realm="registry"
Content-Type: application/json
--- response_body_like: "code":"UNAUTHORIZED"



=== TEST 2: any user may call /v2/
--- user: bob
--- request
GET /v2/
--- error_code: 200



=== TEST 3: any user may pull any repository
--- user: bob
--- request
GET /v2/alice/app/tags/list
--- error_code: 404
--- response_body_like: "code":"NAME_UNKNOWN"



=== TEST 4: a user may push under their own name
--- user: alice
--- request
POST /v2/alice/app/blobs/uploads/
--- error_code: 202
--- response_headers_like
Location: /v2/alice/app/blobs/uploads/[0-9a-f]{32}



=== TEST 5: but not under someone else's
--- user: alice
--- request
POST /v2/bob/app/blobs/uploads/
--- error_code: 403
--- response_body_like: "code":"DENIED"



=== TEST 6: nor delete, even their own
--- user: alice
--- request
DELETE /v2/alice/app/manifests/latest
--- error_code: 403



=== TEST 7: admin may delete anywhere
--- user: admin
--- request
DELETE /v2/bob/app/manifests/latest
--- error_code: 404
--- response_body_like: "code":"MANIFEST_UNKNOWN"
