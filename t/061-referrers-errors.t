# Referrers requests answered without any referrer pushed, one block
# each: an unknown repository, malformed digests, a method the API does
# not answer, and no API at all without oci_redis. The referrers
# themselves, the subject policies and Redis failures are
# t/060-referrers.t.

BEGIN { push @INC, 't/lib' }   # appended: an installed Test::Nginx wins
use Test::Nginx::Socket;
use OCI::Redis;
use OCI::Test qw(default_config sha256 enc image_manifest empty_desc desc_of OCI_MANIFEST OCI_CONFIG OCI_INDEX
                 data_config);

my $redis = OCI::Redis->start;
plan skip_all => 'redis-server not found' unless $redis;
plan 'no_plan';
$ENV{TEST_NGINX_REDIS_SOCKET} = $redis->socket;

repeat_each(2);
no_shuffle();

# an image, and a signature-like artifact whose subject it is
our $CONFIG = '{"architecture":"amd64","os":"linux"}';
our $IMAGE = enc(image_manifest(config => desc_of($CONFIG, OCI_CONFIG), layers => []));
our $ARTIFACT = enc(image_manifest(artifactType => 'application/vnd.example.signature',
                                   config => empty_desc(), layers => [ empty_desc() ],
                                   subject => desc_of($IMAGE, OCI_MANIFEST)));

add_block_preprocessor(default_config('oci_delete on;', 'oci_redis unix:$TEST_NGINX_REDIS_SOCKET;'));

run_tests();

__DATA__

=== TEST 1: the referrers of a digest in an unknown repository: 200, an empty index
--- request eval
"GET /v2/nobody/here/referrers/sha256:" . ('a' x 64)
--- error_code: 200
--- response_headers eval
"Content-Type: " . ::OCI_INDEX
--- response_body
{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}



=== TEST 2: malformed digests are 400 DIGEST_INVALID
--- request eval
[ map { "GET /v2/x/referrers/$_" } 'sha256:xyz', 'sha256:' . ('A' x 64), 'md5:abc', 'latest' ]
--- error_code eval
[ (400) x 4 ]
--- response_headers
Content-Type: application/json
--- response_body_like: "code":"DIGEST_INVALID"



=== TEST 3: DELETE is 405
--- request eval
"DELETE /v2/x/referrers/sha256:" . ('a' x 64)
--- error_code: 405
--- response_headers
Content-Type: application/json
--- response_body_like: "code":"UNSUPPORTED"



=== TEST 4: without oci_redis a subject is accepted without OCI-Subject, and there is no referrers API
Clients fall back to the tag schema on the 404.
--- config eval
::data_config()
--- request eval
[ "POST /v2/n/blobs/uploads/?digest=" . ::sha256($::CONFIG) . "\n$::CONFIG",
  "POST /v2/n/blobs/uploads/?digest=" . ::sha256('{}') . "\n{}",
  "PUT /v2/n/manifests/v1\n$::IMAGE",
  "PUT /v2/n/manifests/sig\n$::ARTIFACT",
  "GET /v2/n/referrers/" . ::sha256($::IMAGE) ]
--- more_headers eval
"Content-Type: " . ::OCI_MANIFEST
--- error_code eval
[201, 201, 201, 201, 404]
--- response_headers eval
["", "", "", "!OCI-Subject\nDocker-Content-Digest: " . ::sha256($::ARTIFACT),
 "Content-Type: application/json"]
--- response_body_like eval
[qr/\A\z/, qr/\A\z/, qr/\A\z/, qr/\A\z/, qr/"code":"UNSUPPORTED"/]
