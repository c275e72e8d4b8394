# The "oci_redis" directive: its address and parameters, and the errors
# nginx -t gives for each way of getting them wrong. A password is never
# echoed back in an error.

BEGIN { push @INC, 't/lib' }   # appended: an installed Test::Nginx wins
use Test::Nginx::Socket 'no_plan';
use OCI::Test qw(data_config);

no_shuffle();

# "--- redis" holds the directive's arguments for the registry location

add_block_preprocessor(sub {
    my $block = shift;
    my $redis = $block->redis;

    return unless defined $redis;

    chomp $redis;
    $block->set_value(config => data_config("oci_redis $redis;"));
});

run_tests();

__DATA__

=== TEST 1: an address with a password and a database is accepted
--- redis
127.0.0.1:6390 password=s3cret db=2
--- request
GET /v2/
--- error_code: 200
--- no_error_log
s3cret



=== TEST 2: a unix socket is accepted
--- redis
unix:/nonexistent/redis.sock
--- request
GET /v2/
--- error_code: 200



=== TEST 3: "off" is accepted
--- redis
off
--- request
GET /v2/
--- error_code: 200



=== TEST 4: an empty password is refused
--- redis
127.0.0.1:6390 password=
--- must_die
--- error_log
invalid or repeated "oci_redis" parameter "password="



=== TEST 5: a second password is refused without echoing either
--- redis
127.0.0.1:6390 password=s3cret password=other
--- must_die
--- error_log
invalid or repeated "oci_redis" parameter "password="
--- no_error_log
s3cret
other



=== TEST 6: a database that is not a number is refused
--- redis
127.0.0.1:6390 db=two
--- must_die
--- error_log
invalid or repeated "oci_redis" parameter "db=two"



=== TEST 7: a second database is refused
--- redis
127.0.0.1:6390 db=1 db=2
--- must_die
--- error_log
invalid or repeated "oci_redis" parameter "db=2"



=== TEST 8: an unknown parameter is refused
--- redis
127.0.0.1:6390 timeout=1
--- must_die
--- error_log
invalid or repeated "oci_redis" parameter "timeout=1"



=== TEST 9: "off" takes nothing more
--- redis
off db=1
--- must_die
--- error_log
takes no other parameter with "off"



=== TEST 10: more than an address and two parameters is refused
--- redis
127.0.0.1:6390 password=s3cret db=1 db=2
--- must_die
--- error_log
takes an address, then "password=" and "db=" if needed
--- no_error_log
s3cret



=== TEST 11: a port out of range is refused
--- redis
127.0.0.1:99999
--- must_die
--- error_log
invalid port in "oci_redis" address "127.0.0.1:99999"



=== TEST 12: an address with a path is refused
--- redis
127.0.0.1:6390/0
--- must_die
--- error_log
invalid host in "oci_redis" address "127.0.0.1:6390/0"
