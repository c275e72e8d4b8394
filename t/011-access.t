# The per-repository access example of docs/access.md, as written there:
# the preprocessor takes the indented block of the document (its maps go
# into http {}, its location into the test server) with only the storage
# and the password file moved into the server root. "--- user" (one name,
# or with eval an array ref of one per request) sends that user's
# credentials. A mount's two answers, compared byte for byte, are in
# t/090-docs-examples.t.

BEGIN { push @INC, 't/lib' }   # appended: an installed Test::Nginx wins
use Test::Nginx::Socket 'no_plan';
use OCI::Test qw(doc_block sha256);

repeat_each(2);
no_shuffle();

# alice:secret, bob:secret, admin:secret
my %auth = (
    alice => 'Authorization: Basic YWxpY2U6c2VjcmV0',
    bob   => 'Authorization: Basic Ym9iOnNlY3JldA==',
    admin => 'Authorization: Basic YWRtaW46c2VjcmV0',
);

my $doc = doc_block('docs/access.md', qr/^\s*map "\$remote_user/);
$doc =~ s{/var/lib/nginx/oci\b}{\$TEST_NGINX_HTML_DIR/storage}g;
$doc =~ s{/etc/nginx/registry\.htpasswd\b}{\$TEST_NGINX_HTML_DIR/registry.htpasswd}g;
my ($maps) = $doc =~ /\A(.*?)^server \{/ms;
my ($location) = $doc =~ /^(    location \/v2\/ \{.*?^    \})/ms;
die "docs/access.md: no maps and location found\n" unless $maps && $location;

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value(http_config => $maps);
    $block->set_value(config => $location);

    $block->set_value(user_files => <<'FILES');
>>> registry.htpasswd
alice:{PLAIN}secret
bob:{PLAIN}secret
admin:{PLAIN}secret
FILES

    my $who = $block->user;
    if (ref $who eq 'ARRAY') {
        $block->set_value(more_headers => [ map { $auth{$_} // '' } @$who ]);
    } elsif ($who) {
        $block->set_value(more_headers => $auth{$who});
    }
});

# a blob, and a digest no repository holds
our $BLOB = 'a layer of alice';
our $D = sha256($BLOB);
our $NONE = sha256('held by nobody');

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



=== TEST 8: any user may pull, but not from another's private/
--- user eval
[qw(alice bob alice)]
--- request eval
[ "POST /v2/alice/private/lib/blobs/uploads/?digest=$::D\n$::BLOB",
  "GET /v2/alice/private/lib/blobs/$::D",
  "GET /v2/alice/private/lib/blobs/$::D" ]
--- error_code eval
[201, 403, 200]



=== TEST 9: a mount from a repository the user may not pull: a plain session, nothing linked
--- user eval
[qw(alice bob bob bob)]
--- request eval
[ "POST /v2/alice/private/lib/blobs/uploads/?digest=$::D\n$::BLOB",
  "POST /v2/bob/app/blobs/uploads/?mount=$::D&from=alice/private/lib",
  "POST /v2/bob/app/blobs/uploads/?mount=$::NONE&from=alice/private/lib",
  "HEAD /v2/bob/app/blobs/$::D" ]
--- error_code eval
[201, 202, 202, 404]
--- response_headers eval
[ "", "Range: 0-0\n!Docker-Content-Digest", "Range: 0-0\n!Docker-Content-Digest",
  "" ]
--- response_headers_like eval
[ "", "Location: /v2/bob/app/blobs/uploads/[0-9a-f]{32}",
  "Location: /v2/bob/app/blobs/uploads/[0-9a-f]{32}", "" ]
--- error_log eval
qr/mount of sha256:[0-9a-f]{64} from "alice\/private\/lib" into "bob\/app" not allowed by "oci_mount_allow"/



=== TEST 10: a mount from a repository the user may pull
--- user eval
[qw(alice bob bob)]
--- request eval
[ "POST /v2/alice/lib/blobs/uploads/?digest=$::D\n$::BLOB",
  "POST /v2/bob/app/blobs/uploads/?mount=$::D&from=alice/lib",
  "HEAD /v2/bob/app/blobs/$::D" ]
--- error_code eval
[201, 201, 200]
--- response_headers eval
[ "", "Location: /v2/bob/app/blobs/$::D\nDocker-Content-Digest: $::D", "" ]



=== TEST 11: the owner mounts from their own private/
--- user eval
[qw(alice alice alice)]
--- request eval
[ "POST /v2/alice/private/lib/blobs/uploads/?digest=$::D\n$::BLOB",
  "POST /v2/alice/app/blobs/uploads/?mount=$::D&from=alice/private/lib",
  "HEAD /v2/alice/app/blobs/$::D" ]
--- error_code eval
[201, 201, 200]
--- no_error_log
oci_mount_allow
