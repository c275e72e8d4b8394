# Upload requests refused before any session exists, one block each: a
# method the uploads endpoint does not answer, malformed digests and
# algorithms, malformed ?mount= and ?from=. Upload sessions themselves
# (chunks, ranges, closing, expiry) are t/020-upload.t.

BEGIN { push @INC, 't/lib' }   # appended: an installed Test::Nginx wins
use Test::Nginx::Socket 'no_plan';
use OCI::Test qw(sha256 default_config);

repeat_each(2);
no_shuffle();

our $HELLO = sha256('hello');

add_block_preprocessor(default_config('oci_delete on;'));

run_tests();

__DATA__

=== TEST 1: GET on the uploads endpoint is 405 UNSUPPORTED
--- request
GET /v2/open/repo/blobs/uploads/
--- error_code: 405
--- response_headers
Content-Type: application/json
--- response_body_like: "code":"UNSUPPORTED"



=== TEST 2: a monolithic POST with a malformed digest is 400 DIGEST_INVALID
--- request
POST /v2/mono/blobs/uploads/?digest=sha256:xyz
abc
--- error_code: 400
--- response_headers
Content-Type: application/json
--- response_body_like: "code":"DIGEST_INVALID"



=== TEST 3: ?digest-algorithm= other than sha256 and sha512 (case matters) is 400 DIGEST_INVALID
--- request eval
[ "POST /v2/sha512/repo/blobs/uploads/?digest-algorithm=md5",
  "POST /v2/sha512/repo/blobs/uploads/?digest-algorithm=SHA512" ]
--- error_code eval
[400, 400]
--- response_headers
Content-Type: application/json
--- response_body_like: "code":"DIGEST_INVALID"



=== TEST 4: a malformed ?mount= is 400 DIGEST_INVALID, a malformed ?from= 400 NAME_INVALID; nothing is mounted
--- request eval
[ "POST /v2/mount/a/blobs/uploads/?digest=$::HELLO\nhello",
  (map { "POST /v2/mount/e/blobs/uploads/?mount=$_&from=mount/a" }
       'sha256:xyz', 'md5:' . ('0' x 32), 'sha256:' . uc(substr $::HELLO, 7), 'sha256:../../x'),
  (map { "POST /v2/mount/e/blobs/uploads/?mount=$::HELLO&from=$_" }
       'Mount/A', '../mount/a', 'mount//a', '-a', 'mount/a/'),
  "HEAD /v2/mount/e/blobs/$::HELLO" ]
--- error_code eval
[201, (400) x 9, 404]
--- response_headers eval
["", ("Content-Type: application/json") x 10]
--- response_body_like eval
[qr/\A\z/, (qr/"code":"DIGEST_INVALID"/) x 4, (qr/"code":"NAME_INVALID"/) x 5, qr/\A\z/]
