# Manifest requests that fail on their own, one block each: invalid
# bodies, Content-Type and mediaType that disagree, Docker schema 1,
# invalid tags, unknown and malformed references, methods a manifest
# does not answer. Pushes that succeed, references, limits, conditional
# updates, races and deletes are t/030-manifest.t.
#
# A block with a "manifest" section PUTs it to /v2/invalid/bodies/
# manifests/<ref> ("reference", default "bad") with its "content_type" (default
# the OCI image manifest's), expects 400 and the "manifest_error" code
# (default MANIFEST_INVALID), and then that nothing is stored: GET by the
# body's digest and by the reference are 404 MANIFEST_UNKNOWN. With
# "push_blobs", the config and layer of good() are pushed first. The
# bodies are built from good(), a valid image manifest whose blobs are
# pushed in TEST 1 only: the module validates a body before it looks for
# the blobs it refers to.

BEGIN { push @INC, 't/lib' }   # appended: an installed Test::Nginx wins
use Test::Nginx::Socket 'no_plan';
use OCI::Test qw(default_config sha256 sha512 enc desc_of image_manifest index_manifest with_keys
                 OCI_MANIFEST OCI_INDEX OCI_CONFIG OCI_LAYER DOCKER_MANIFEST DOCKER_SCHEMA1);

repeat_each(2);
no_shuffle();

our $REPO = 'invalid/bodies';
our $CONFIG_BYTES = '{"architecture":"amd64","os":"linux"}';
our $LAYER_BYTES = 'layer bytes ' . ('x' x 100);

# the descriptors of good()'s config and layer; new ones each time, as
# JSON::XS encodes a number that was once interpolated as a string
sub config_desc { desc_of($CONFIG_BYTES, OCI_CONFIG) }
sub layer_desc  { desc_of($LAYER_BYTES, OCI_LAYER) }

# a valid image manifest, changed by with_keys(%changes)
sub good { with_keys(image_manifest(config => config_desc(), layers => [ layer_desc() ]), @_) }

# requests that push good()'s blobs to the repository
sub push_blobs {
    return ("POST /v2/$REPO/blobs/uploads/?digest=" . sha256($CONFIG_BYTES) . "\n$CONFIG_BYTES",
            "POST /v2/$REPO/blobs/uploads/?digest=" . sha256($LAYER_BYTES) . "\n$LAYER_BYTES");
}

add_block_preprocessor(default_config('oci_delete on;'));

add_block_preprocessor(sub {
    my $block = shift;

    my $body = $block->manifest;
    return unless defined $body;
    my $ref = $block->reference // 'bad';
    my $code = $block->manifest_error // 'MANIFEST_INVALID';
    my @blobs = $block->push_blobs ? push_blobs() : ();
    $block->set_value(request => [ @blobs, "PUT /v2/$REPO/manifests/$ref\n$body",
                                   "GET /v2/$REPO/manifests/" . sha256($body),
                                   "GET /v2/$REPO/manifests/$ref" ]);
    $block->set_value(more_headers => 'Content-Type: ' . ($block->content_type // OCI_MANIFEST));
    $block->set_value(error_code => [ (201) x @blobs, 400, 404, 404 ]);
    $block->set_value(response_headers => [ ('') x @blobs, ('Content-Type: application/json') x 3 ]);
    $block->set_value(response_body_like => [ (qr/\A\z/) x @blobs, qr/"code":"(?:$code)"/,
                                              (qr/"code":"MANIFEST_UNKNOWN"/) x 2 ]);
});

run_tests();

__DATA__

=== TEST 1: good() is valid: accepted once its blobs are pushed, and served
--- request eval
[ ::push_blobs(), "PUT /v2/$::REPO/manifests/good\n" . ::enc(::good()),
  "GET /v2/$::REPO/manifests/good" ]
--- more_headers eval
"Content-Type: " . ::OCI_MANIFEST
--- error_code eval
[201, 201, 201, 200]
--- response_headers eval
["", "", "Docker-Content-Digest: " . ::sha256(::enc(::good())),
 "Docker-Content-Digest: " . ::sha256(::enc(::good())) . "\nContent-Type: " . ::OCI_MANIFEST]
--- response_body_like eval
[qr/\A\z/, qr/\A\z/, qr/\A\z/, qr/\A\Q${\ ::enc(::good())}\E\z/]



=== TEST 2: not JSON
--- manifest: {"schemaVersion":2,



=== TEST 3: not JSON at all
--- manifest: hello



=== TEST 4: a JSON array
--- manifest eval
'[' . ::enc(::good()) . ']'



=== TEST 5: duplicate keys
--- manifest eval
'{"schemaVersion":2,"schemaVersion":2,"mediaType":"' . ::OCI_MANIFEST . '","config":'
. ::enc(::config_desc()) . ',"layers":[' . ::enc(::layer_desc()) . ']}'



=== TEST 6: duplicate nested keys
--- manifest eval
my $c = ::config_desc();
'{"schemaVersion":2,"mediaType":"' . ::OCI_MANIFEST . qq(","config":{"mediaType":"$c->{mediaType}")
. qq(,"digest":"$c->{digest}","size":$c->{size},"size":$c->{size}},"layers":[)
. ::enc(::layer_desc()) . ']}'



=== TEST 7: schemaVersion 1
--- manifest eval
::enc(::good(schemaVersion => 1))



=== TEST 8: schemaVersion missing
--- manifest eval
::enc(::good(schemaVersion => undef))



=== TEST 9: schemaVersion "2"
--- manifest eval
::enc(::good(schemaVersion => '2'))



=== TEST 10: config missing
--- manifest eval
::enc(::good(config => undef))



=== TEST 11: layers not an array
--- manifest eval
::enc(::good(layers => ::layer_desc()))



=== TEST 12: a layer digest malformed
--- manifest eval
::enc(::good(layers => [ { %{ ::layer_desc() }, digest => 'sha256:xyz' } ]))



=== TEST 13: the config digest in uppercase
--- manifest eval
::enc(::good(config => { %{ ::config_desc() }, digest => uc ::sha256($::CONFIG_BYTES) }))



=== TEST 14: a layer digest of an unknown algorithm
--- manifest eval
::enc(::good(layers => [ { %{ ::layer_desc() }, digest => 'md5:' . ('a' x 32) } ]))



=== TEST 15: a negative layer size
--- manifest eval
::enc(::good(layers => [ { %{ ::layer_desc() }, size => -1 } ]))



=== TEST 16: a layer size that is a string
--- manifest eval
::enc(::good(layers => [ { %{ ::layer_desc() }, size => '' . length $::LAYER_BYTES } ]))



=== TEST 17: a layer without mediaType
--- manifest eval
::enc(::good(layers => [ ::with_keys(::layer_desc(), mediaType => undef) ]))



=== TEST 18: a config without mediaType
--- manifest eval
::enc(::good(config => ::with_keys(::config_desc(), mediaType => undef)))



=== TEST 19: index manifests not an array
--- manifest eval
::enc(::index_manifest(manifests => { a => 1 }))
--- content_type eval
::OCI_INDEX



=== TEST 20: an index child without digest
--- manifest eval
::enc(::index_manifest(manifests => [ { mediaType => ::OCI_MANIFEST, size => 10 } ]))
--- content_type eval
::OCI_INDEX



=== TEST 21: an empty body
--- manifest eval
''



=== TEST 22: an image manifest sent as an index
--- manifest eval
::enc(::good())
--- content_type eval
::OCI_INDEX
--- reference: x



=== TEST 23: an OCI image manifest sent as a Docker manifest, by digest
--- manifest eval
::enc(::good())
--- content_type eval
::DOCKER_MANIFEST
--- reference eval
::sha256(::enc(::good()))



=== TEST 24: an index sent as an image manifest
--- manifest eval
::enc(::index_manifest(manifests => []))
--- reference: y



=== TEST 25: Docker schema 1 is refused (MANIFEST_INVALID or UNSUPPORTED)
--- manifest eval
::enc({ schemaVersion => 1, name => $::REPO, tag => 'old', architecture => 'amd64',
        fsLayers => [ { blobSum => ::sha256($::LAYER_BYTES) } ], history => [], signatures => [] })
--- content_type eval
::DOCKER_SCHEMA1
--- reference: schema1
--- manifest_error: MANIFEST_INVALID|UNSUPPORTED
--- push_blobs: 1



=== TEST 26: Docker schema 1 sent as application/vnd.docker.distribution.manifest.v1+json
--- manifest eval
::enc({ schemaVersion => 1, name => $::REPO, tag => 'old', architecture => 'amd64',
        fsLayers => [ { blobSum => ::sha256($::LAYER_BYTES) } ], history => [], signatures => [] })
--- content_type: application/vnd.docker.distribution.manifest.v1+json
--- reference: schema1
--- manifest_error: [A-Z_]+
--- push_blobs: 1



=== TEST 27: a tag that starts with "-"
--- manifest eval
::enc(::good())
--- reference: -bad
--- push_blobs: 1



=== TEST 28: a tag that starts with "."
--- manifest eval
::enc(::good())
--- reference: .bad
--- push_blobs: 1



=== TEST 29: a tag of 129 characters
--- manifest eval
::enc(::good())
--- reference eval
'x' x 129
--- push_blobs: 1



=== TEST 30: an invalid ?tag= refuses the whole PUT: no tag is applied
--- request eval
[ ::push_blobs(),
  (map { "PUT /v2/$::REPO/manifests/" . ::sha256(::enc(::good())) . "?tag=good1&tag=$_\n"
         . ::enc(::good()) } '-bad', '.bad', 'x' x 129, 'a:b', '', 'a%20b'),
  "GET /v2/$::REPO/manifests/good1" ]
--- more_headers eval
"Content-Type: " . ::OCI_MANIFEST
--- error_code eval
[201, 201, (400) x 6, 404]
--- response_headers eval
["", "", ("Content-Type: application/json") x 7]
--- response_body_like eval
[qr/\A\z/, qr/\A\z/, (qr/"code":"[A-Z_]+"/) x 6, qr/"code":"MANIFEST_UNKNOWN"/]



=== TEST 31: unknown references are 404 MANIFEST_UNKNOWN, HEAD without a body
--- request eval
[ ::push_blobs(), "PUT /v2/$::REPO/manifests/exists\n" . ::enc(::good()),
  map({ "GET /v2/$::REPO/manifests/$_" } 'nosuchtag', ::sha256('unknown manifest'),
      ::sha512('x'), '-invalid-tag', ::sha256($::CONFIG_BYTES)),
  "GET /v2/no/such/repo/manifests/latest",
  "HEAD /v2/$::REPO/manifests/nosuchtag" ]
--- more_headers eval
"Content-Type: " . ::OCI_MANIFEST
--- error_code eval
[201, 201, 201, (404) x 7]
--- response_headers eval
["", "", "", ("Content-Type: application/json") x 6, ""]
--- response_body_like eval
[qr/\A\z/, qr/\A\z/, qr/\A\z/, (qr/"code":"MANIFEST_UNKNOWN"/) x 6, qr/\A\z/]



=== TEST 32: malformed digests are 400 DIGEST_INVALID for GET, DELETE and PUT
--- request eval
my $hex = substr ::sha256('unknown manifest'), 7;
my @bad = ('sha256:xyz', 'sha256:' . uc $hex, 'sha256:' . substr($hex, 1), "sha256:$hex" . '0',
           'md5:' . substr($hex, 0, 32), "sha512:$hex", 'sha256:');
[ (map { ("GET /v2/$::REPO/manifests/$_", "DELETE /v2/$::REPO/manifests/$_") } @bad),
  "PUT /v2/$::REPO/manifests/sha256:xyz\n{}" ]
--- more_headers eval
"Content-Type: " . ::OCI_MANIFEST
--- error_code eval
[ (400) x 15 ]
--- response_headers
Content-Type: application/json
--- response_body_like: "code":"DIGEST_INVALID"



=== TEST 33: POST and PATCH on a manifest, by tag and by digest, are 405 UNSUPPORTED and change nothing
--- request eval
my $json = ::enc(::good());
[ ::push_blobs(), "PUT /v2/$::REPO/manifests/v1\n$json",
  (map { my $m = $_; map { "$m /v2/$::REPO/manifests/$_\n$json" } 'v1', ::sha256($json) }
       'POST', 'PATCH'),
  "GET /v2/$::REPO/manifests/v1" ]
--- more_headers eval
"Content-Type: " . ::OCI_MANIFEST
--- error_code eval
[201, 201, 201, (405) x 4, 200]
--- response_headers eval
["", "", "", ("Content-Type: application/json") x 4,
 "Docker-Content-Digest: " . ::sha256(::enc(::good()))]
--- response_body_like eval
[qr/\A\z/, qr/\A\z/, qr/\A\z/, (qr/"code":"UNSUPPORTED"/) x 4, qr/\A\Q${\ ::enc(::good())}\E\z/]
