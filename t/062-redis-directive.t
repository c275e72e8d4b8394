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



=== TEST 10: more than an address and three parameters is refused
--- redis
127.0.0.1:6390 password=s3cret db=1 db=2 db=3
--- must_die
--- error_log
takes an address, "sentinel=" or "cluster=", then "master=", "password=" and "db=" if needed
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



=== TEST 13: a repeated parameter is refused
--- redis
127.0.0.1:6390 db=1 db=2
--- must_die
--- error_log
invalid or repeated "oci_redis" parameter "db=2"



=== TEST 14: sentinels need a master name
--- redis
sentinel=127.0.0.1:26390,127.0.0.1:26391
--- must_die
--- error_log
takes "master=" with "sentinel="



=== TEST 15: a master name only goes with sentinels
--- redis
127.0.0.1:6390 master=main
--- must_die
--- error_log
takes "master=" only with "sentinel="



=== TEST 16: one plain address, not a list
--- redis
127.0.0.1:6390,127.0.0.1:6391
--- must_die
--- error_log
"oci_redis" takes one address, or "sentinel=" or "cluster=" with a list



=== TEST 17: a cluster has no database but 0
--- redis
cluster=127.0.0.1:7390 db=1
--- must_die
--- error_log
takes no "db=" other than 0 with "cluster="



=== TEST 18: sentinels and cluster nodes are TCP addresses
--- redis
cluster=127.0.0.1:7390,unix:/tmp/x.sock
--- must_die
--- error_log
"oci_redis" takes a list of "host:port" with "sentinel=" and "cluster="



=== TEST 19: an empty member of the list is refused
--- redis
sentinel=127.0.0.1:26390,,127.0.0.1:26391 master=main
--- must_die
--- error_log
"oci_redis" takes a list of "host:port" with "sentinel=" and "cluster="



=== TEST 20: sentinels with a master name are accepted
--- redis
sentinel=127.0.0.1:26390,127.0.0.1:26391 master=main password=s3cret db=2
--- request
GET /v2/
--- error_code: 200
--- no_error_log
s3cret



=== TEST 21: cluster nodes are accepted
--- redis
cluster=127.0.0.1:7390,127.0.0.1:7391 password=s3cret
--- request
GET /v2/
--- error_code: 200
