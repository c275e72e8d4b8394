# Self-test of OCI::Harness (t/lib/OCI/Harness.pm) against plain nginx:
# requests, a chunked body, pipelining, a reload and a restart.

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use OCI::Harness;

my $echo = <<'CONF';
    location = /echo {
        proxy_set_header X-Body $request_body;
        proxy_set_header X-TE $http_transfer_encoding;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/back;
    }
    location = /back {
        return 200 "body=[$http_x_body] te=[$http_x_te]\n";
    }
CONF

my $srv = OCI::Harness->start(
    config  => $echo . '    location = /v { return 200 "v1 $TEST_NGINX_STORAGE\n"; }',
    workers => 2,
);

ok -d $srv->storage, 'storage dir exists';
opendir my $dh, $srv->storage or die;
is scalar(grep { !/^\./ } readdir $dh), 0, 'storage dir is empty';
like $srv->url('/x'), qr{^http://127\.0\.0\.1:\d+/x$}, 'url';

my $res = $srv->req('GET', '/v');
is $res->code, 200, 'GET /v';
is $res->content, "v1 " . $srv->storage . "\n", 'config saw $TEST_NGINX_STORAGE';
is $res->request->uri, $srv->url('/v'), 'request recorded';

$res = $srv->req('PUT', '/echo', headers => [ 'X-Foo' => 'bar' ], body => 'abcd');
is $res->code, 200, 'PUT with a body';
is $res->content, "body=[abcd] te=[]\n", 'body arrived';

$res = $srv->req('PUT', '/echo', chunked => [ 'ab', 'cd', 'ef' ], pause => 0.02);
is $res->content, "body=[abcdef] te=[chunked]\n", 'chunked body arrived';

$res = $srv->req('PUT', '/echo', body => [ 'he', 'llo' ], pause => 0.02);
is $res->content, "body=[hello] te=[]\n", 'body in pieces arrived';

my @res = $srv->raw("GET /v HTTP/1.1\r\nHost: x\r\n\r\n"
                  . "HEAD /v HTTP/1.1\r\nHost: x\r\n\r\n"
                  . "GET /nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                    methods => [qw(GET HEAD GET)]);
is_deeply [ map { $_->code } @res ], [ 200, 200, 404 ], 'pipelined: three responses';
is $res[1]->content, '', 'pipelined HEAD has no body';

my $c = $srv->connect;
is $c->request('GET', '/v')->code, 200, 'keepalive 1';
is $c->request('GET', '/v')->header('Connection'), 'keep-alive', 'keepalive 2';
$c->close;

$res = $srv->raw("GET /v HTTP/1.1\r\nHost: x\r\n", timeout => 1);
is $res->code, 599, 'incomplete request: no response';
like $res->header('Client-Error'), qr/timed out/, 'client timeout reported';

my $valgrind = $ENV{TEST_NGINX_USE_VALGRIND};   # then: no master, no workers
my $off = $srv->log_size;
my @old = sort $srv->worker_pids;
is scalar(@old), $valgrind ? 0 : 2, 'two workers';
ok $srv->reload(config => $echo . '    location = /v { return 200 "v2\n"; }'), 'reload'
    or diag $srv->error;
is $srv->req('GET', '/v')->content, "v2\n", 'new config serves';
my %old = map { $_ => 1 } @old;
ok !(grep { $old{$_} } $srv->worker_pids), 'old workers are gone';
like $srv->error_log_since($off), $valgrind ? qr/exit/ : qr/reconfiguring/,
    'error_log_since sees the reload';

ok !$srv->reload(config => 'bogus_directive;'), 'bad config is refused on reload';
like $srv->error, qr/unknown directive "bogus_directive"/, 'with the emerg message';
is $srv->req('GET', '/v')->content, "v2\n", 'old config still serves';

open my $fh, '>', $srv->storage . '/keep' or die;
close $fh;
is $srv->stop, 0, 'nginx exits cleanly';
ok !$srv->alive, 'stopped';
ok $srv->start, 'restart';
ok -e $srv->storage . '/keep', 'storage survives a restart';
is $srv->req('GET', '/v')->code, 200, 'serves after restart';

my $bad = OCI::Harness->launch(config => 'nonsense_here;');
ok !$bad->alive, 'a bad config does not start';
like $bad->error, qr/\[emerg\].*unknown directive "nonsense_here"/, 'emerg message available';

is $srv->crash_lines, '', 'no worker crashed';
is $srv->stop, 0, 'clean exit';
is $srv->valgrind_errors, '', 'valgrind reports no errors' if $valgrind;
done_testing;
