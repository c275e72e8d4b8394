# Blob requests that fail, one block each: unknown blobs, malformed
# digests, methods a blob does not answer, deletes switched off, and
# traversal attempts that must never reach the files planted around the
# storage. The flows (pulls, ranges, deletes) are in t/025-blob.t.

BEGIN { push @INC, 't/lib' }   # appended: an installed Test::Nginx wins
use Test::Nginx::Socket 'no_plan';
use OCI::Test qw(sha256 data_config);

repeat_each(2);
no_shuffle();
no_root_location();

our $HELLO = sha256('hello');
our ($HEX) = $HELLO =~ /^sha256:(.*)/;
our $UNKNOWN = sha256('never pushed');

# a secret beside the storage, in a "repository" outside it and in a
# blobs/ outside it; the storage is html/storage
our $SECRET = 'TOP-SECRET-' . join '', map { ('a' .. 'z')[rand 26] } 1 .. 16;
our $SD = sha256($SECRET);
our ($SHEX) = $SD =~ /^sha256:(.*)/;
our $LONG = join '/', ('a' x 100) x 3;                       # 302 bytes

# path, status, error code (undef: nginx answers, outside the registry)
our @TRAVERSAL = (
    [ '/v2/../secret', 404 ],
    [ "/v2/foo/../../secret/blobs/$SD", 404 ],
    [ "/v2/%2e%2e/blobs/$SD", 404 ],
    [ "/v2/%2e%2e/%2e%2e/secret/blobs/$SD", 400 ],
    [ "/v2/foo%2f..%2f../blobs/$SD", 404 ],
    [ "/v2/foo%2f..%2f..%2f..%2fevil/blobs/$SD", 400 ],
    [ "/v2/..%2f..%2fevil/blobs/$SD", 400 ],
    [ "/v2/x/..%2f..%2f..%2fevil/blobs/$SD", 400 ],
    [ "/v2//foo/blobs/$SD", 404, 'BLOB_UNKNOWN' ],            # merged slashes
    [ "/v2/Foo/blobs/$SD", 400, 'NAME_INVALID' ],
    [ "/v2/lib/App/blobs/$HELLO", 400, 'NAME_INVALID' ],
    [ "/v2/$LONG/blobs/$SD", 400, 'NAME_INVALID' ],           # name over 255 bytes
    [ '/v2/' . ('a' x 256) . "/blobs/$SD", 400, 'NAME_INVALID' ],
    [ '/v2/foo/blobs/sha256:../../x', 400, 'DIGEST_INVALID' ],
    [ '/v2/foo/blobs/sha256:..', 400, 'DIGEST_INVALID' ],
    [ '/v2/foo/blobs/sha256:..%2f..%2f..%2fsecret', 404, 'UNSUPPORTED' ],
    [ '/v2/foo/blobs/sha256:..%2f..%2f..%2f..%2fblobs%2fsha256%2f' . substr($SHEX, 0, 2)
      . "%2f$SHEX", 404, 'UNSUPPORTED' ],
    [ '/v2/foo/blobs/..', 404, 'UNSUPPORTED' ],
    [ '/v2/foo/blobs/%2e%2e', 404, 'UNSUPPORTED' ],
    [ "/v2/_blobs/blobs/$SD", 400, 'NAME_INVALID' ],
    [ "/v2/foo/_blobs/blobs/$SD", 400, 'NAME_INVALID' ],     # a name component _blobs
    [ "/v2/../evil/blobs/$SD", 404 ],
    [ "/v2/.%2e/evil/blobs/$SD", 404 ],
    [ "/v2/foo/blobs/$SD%00", 400 ],
    [ "/v2/foo%00/blobs/$SD", 400 ],
);

# nothing but the registry answers: no location serves the html directory
add_block_preprocessor(sub {
    my $block = shift;
    $block->set_value(config => ::data_config('oci_delete on;')
                                . "    location / {\n        return 404;\n    }\n")
        unless defined $block->config;
});

run_tests();

__DATA__

=== TEST 1: an unknown blob is 404 BLOB_UNKNOWN, in a repository that exists and in one that does not
--- request eval
[ "POST /v2/lib/app/blobs/uploads/?digest=$::HELLO\nhello",
  "GET /v2/lib/app/blobs/$::UNKNOWN",
  "HEAD /v2/lib/app/blobs/$::UNKNOWN",
  "GET /v2/never/pushed/blobs/$::UNKNOWN" ]
--- error_code eval
[201, 404, 404, 404]
--- response_headers eval
["", "Content-Type: application/json", "", "Content-Type: application/json"]
--- response_body_like eval
[qr/\A\z/, qr/"code":"BLOB_UNKNOWN"/, qr/\A\z/, qr/"code":"BLOB_UNKNOWN"/]



=== TEST 2: malformed digests are 400 DIGEST_INVALID
--- request eval
[ (map { "GET /v2/lib/app/blobs/$_" }
       'sha256:xyz', 'sha256:' . uc($::HEX), 'md5:' . substr($::HEX, 0, 32),
       'sha256:' . substr($::HEX, 1), "sha256:$::HEX" . "0", "sha512:$::HEX",
       'sha256:', $::HEX, "SHA256:$::HEX", "sha256:$::HEX:x"),
  "DELETE /v2/lib/app/blobs/sha256:xyz" ]
--- error_code eval
[ (400) x 11 ]
--- response_headers
Content-Type: application/json
--- response_body_like: "code":"DIGEST_INVALID"



=== TEST 3: POST, PUT and PATCH on a blob are 405 UNSUPPORTED, and change nothing
--- request eval
[ "POST /v2/lib/app/blobs/uploads/?digest=$::HELLO\nhello",
  (map { "$_ /v2/lib/app/blobs/$::HELLO\nabcd" } qw(POST PUT PATCH)),
  "GET /v2/lib/app/blobs/$::HELLO" ]
--- error_code eval
[201, 405, 405, 405, 200]
--- response_headers eval
["", ("Content-Type: application/json") x 3, "Content-Type: application/octet-stream"]
--- response_body_like eval
[qr/\A\z/, (qr/"code":"UNSUPPORTED"/) x 3, qr/\Ahello\z/]



=== TEST 4: with deletes off (the default), DELETE is 405 UNSUPPORTED and the blob stays
--- config eval
::data_config()
--- request eval
[ "POST /v2/nodel/blobs/uploads/?digest=$::HELLO\nhello",
  "DELETE /v2/nodel/blobs/$::HELLO",
  "DELETE /v2/nodel/blobs/$::UNKNOWN",
  "GET /v2/nodel/blobs/$::HELLO" ]
--- error_code eval
[201, 405, 405, 200]
--- response_headers eval
["", "Content-Type: application/json", "Content-Type: application/json", ""]
--- response_body_like eval
[qr/\A\z/, qr/"code":"UNSUPPORTED"/, qr/"code":"UNSUPPORTED"/, qr/\Ahello\z/]



=== TEST 5: traversal attempts never reach outside the storage
nginx refuses some paths itself (400, or 404 where the dot segments take
the request out of the registry location); what stays in the registry is
refused by name or digest, or is no route. No answer holds the secret.
--- user_files eval
[ [ 'secret', $::SECRET ],
  [ "evil/_blobs/sha256/$::SHEX", $::SECRET ],
  [ 'blobs/sha256/' . substr($::SHEX, 0, 2) . "/$::SHEX", $::SECRET ],
  [ 'storage/secret', $::SECRET ] ]
--- request eval
[ map { "GET $_->[0]" } @::TRAVERSAL ]
--- error_code eval
[ map { $_->[1] } @::TRAVERSAL ]
--- response_headers eval
[ map { defined $_->[2] ? "Docker-Distribution-API-Version: registry/2.0\nContent-Type: application/json"
                        : "!Docker-Distribution-API-Version" } @::TRAVERSAL ]
--- response_body_like eval
[ map { defined $_->[2] ? qr/\A(?!.*\Q$::SECRET\E).*"code":"$_->[2]"/s
                        : qr/\A(?!.*\Q$::SECRET\E).*<title>$_->[1] /s } @::TRAVERSAL ]
