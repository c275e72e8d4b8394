# Tag list requests that fail, one block each: unknown repositories,
# prefixes and children of one that exists, an invalid name, a method
# the list does not answer, an invalid ?n=. Lists and paging are
# t/040-tags.t.

BEGIN { push @INC, 't/lib' }   # appended: an installed Test::Nginx wins
use Test::Nginx::Socket 'no_plan';
use OCI::Test qw(sha256 default_config);

repeat_each(2);
no_shuffle();

# lib/sorted exists: a blob was pushed to it
our $PUSH = "POST /v2/lib/sorted/blobs/uploads/?digest=" . sha256('hello') . "\nhello";

add_block_preprocessor(default_config());

run_tests();

__DATA__

=== TEST 1: unknown repositories are 404 NAME_UNKNOWN, also a prefix or a child of one that exists
--- request eval
[ $::PUSH,
  "GET /v2/lib/sorted/tags/list",
  "GET /v2/no/such/repo/tags/list",
  "GET /v2/nosuchrepo/tags/list?n=2",
  "GET /v2/lib/tags/list",
  "GET /v2/lib/sorted/x/tags/list",
  "HEAD /v2/no/such/repo/tags/list" ]
--- error_code eval
[201, 200, 404, 404, 404, 404, 404]
--- response_headers eval
["", ("Content-Type: application/json") x 5, ""]
--- response_body_like eval
[qr/\A\z/, qr/\A\{"name":"lib\/sorted","tags":\[\]\}/, (qr/"code":"NAME_UNKNOWN"/) x 4, qr/\A\z/]



=== TEST 2: a name that breaks the grammar is 400 NAME_INVALID
--- request
GET /v2/Bad_Name/tags/list
--- error_code: 400
--- response_headers
Content-Type: application/json
--- response_body_like: "code":"NAME_INVALID"



=== TEST 3: POST on the tag list is 405 UNSUPPORTED
--- request
POST /v2/lib/sorted/tags/list
--- error_code: 405
--- response_headers
Content-Type: application/json
--- response_body_like: "code":"UNSUPPORTED"



=== TEST 4: an invalid ?n= is 400 with a JSON error
--- request eval
[ $::PUSH, map { "GET /v2/lib/sorted/tags/list?n=$_" } 'abc', '-1', '1.5', '', '0x10', '2x' ]
--- error_code eval
[201, (400) x 6]
--- response_headers eval
["", ("Content-Type: application/json") x 6]
--- response_body_like eval
[qr/\A\z/, (qr/"code":"[A-Z_]+"/) x 6]
