# oci-admin events: the listing (filters, --since, --json, --follow) and
# the webhook relay (a receiver in this script: the POSTs, their HMAC,
# retries then the dead-letter list, two relays sharing a group, SIGTERM),
# and oci-admin reindex adding no event. docs/events.md.

BEGIN { push @INC, 't/lib' }

use strict;
use warnings;
use Test::More;
use File::Temp qw(tempdir);
use Digest::SHA qw(hmac_sha256_hex);
use JSON::XS qw(decode_json);
use POSIX qw(WNOHANG);
use Time::HiRes qw(sleep);
use IO::Socket::INET;
use OCI::Harness;
use OCI::Redis;
use OCI::Test;

my $redis = OCI::Redis->start or plan skip_all => 'redis-server not found';
my $sock = $redis->socket;
eval { require HTTP::Daemon; 1 } or plan skip_all => 'HTTP::Daemon not installed';
need_admin();

my $TMP = tempdir('oci-events-XXXXXX', TMPDIR => 1, CLEANUP => 1);
my $STREAM = 'adm:events';
my @REDIS = ('--redis', "unix:$sock", '--prefix', 'adm:');

# events from a real registry: a push, a pull, a delete in two repositories
my $srv = OCI::Harness->start(config => registry_conf('oci_delete on;',
    "oci_redis unix:$sock;", 'oci_redis_prefix adm:;', 'oci_events on;',
    'oci_events_pulls on;'));

sub wait_len {
    my ($key, $n, $type) = @_;
    for (1 .. 100) {
        my $len = $redis->call($type // 'XLEN', $key);
        return $len if $len >= $n;
        sleep 0.05;
    }
    return $redis->call($type // 'XLEN', $key);
}

my ($res, $desc) = push_manifest($srv, 'adm/a', 'v1', new_image($srv, 'adm/a'));
is $res->code, 201, 'pushed to adm/a';
wait_len($STREAM, 1);
is $srv->req('GET', '/v2/adm/a/manifests/v1')->code, 200, 'pulled';
wait_len($STREAM, 2);
my ($res2) = push_manifest($srv, 'adm/b', 'v1', new_image($srv, 'adm/b'));
is $res2->code, 201, 'pushed to adm/b';
wait_len($STREAM, 3);
is $srv->req('DELETE', '/v2/adm/b/manifests/v1')->code, 202, 'tag deleted';
is wait_len($STREAM, 4), 4, 'four events in the stream';
my @ids = map { $_->[0] } @{ $redis->call('XRANGE', $STREAM, '-', '+') };

sub events_cmd {
    my ($rc, $out, $err) = oci_admin('events', @REDIS, @_);
    is $rc, 0, "events @_: exit 0" or diag $err;
    return [ split /\n/, $out ];
}

subtest 'the listing and its filters' => sub {
    my $lines = events_cmd();
    is scalar @$lines, 4, 'four lines';
    like $lines->[0], qr/^\Q$ids[0]\E \d{4}-\d\d-\d\dT\S+Z push adm\/a tag=v1 digest=sha256:[0-9a-f]{64}$/,
        'a line: stream id, timestamp, action, repository, tag, digest';
    like $lines->[3], qr/ delete adm\/b tag=v1$/, 'the tag delete: no digest';

    my $json = events_cmd('--json');
    my @ev = map { decode_json($_) } @$json;
    is_deeply [ map { $_->{action} } @ev ], [qw(push pull push delete)], '--json: the envelopes';
    is $ev[0]{target}{digest}, $desc->{digest}, 'as recorded';

    is_deeply [ map { decode_json($_)->{target}{repository} } @{ events_cmd('--json', '--repository', 'adm/b') } ],
              [qw(adm/b adm/b)], '--repository';
    is_deeply [ map { decode_json($_)->{action} } @{ events_cmd('--json', '--action', 'push') } ],
              [qw(push push)], '--action';
    is scalar @{ events_cmd('--repository', 'adm/a', '--action', 'delete') }, 0, 'both';
    is_deeply [ map { (split / /)[0] } @{ events_cmd('--since', $ids[2]) } ], [ @ids[2, 3] ],
        '--since an ID: from it on';
    is scalar @{ events_cmd('--since', '1h') }, 4, '--since 1h: all four';
    my ($rc, $out, $err) = oci_admin('events', @REDIS, '--action', 'mount');
    is $rc, 1, 'an unknown action is a usage error';
    ($rc) = oci_admin('events', '--prefix', 'adm:');
    is $rc, 1, 'without --redis: a usage error';
};

# a background oci-admin; stdout and stderr to files
sub spawn {
    my ($name, @args) = @_;
    my $pid = fork // die "fork: $!";
    if (!$pid) {
        open STDOUT, '>', "$TMP/$name.out" or die;
        open STDERR, '>', "$TMP/$name.err" or die;
        exec admin_command(@args) or die "exec: $!";
    }
    return $pid;
}

# SIGTERM, then its exit status (undef if it did not stop within 10 s)
sub stop {
    my ($pid) = @_;
    kill 'TERM', $pid;
    for (1 .. 200) {
        return $? >> 8 if waitpid($pid, WNOHANG) == $pid;
        sleep 0.05;
    }
    kill 'KILL', $pid;
    waitpid $pid, 0;
    return undef;
}

subtest '--follow shows new events until SIGTERM' => sub {
    my $pid = spawn('follow', 'events', @REDIS, '--follow', '--json', '--repository', 'adm/c');
    sleep 0.3;
    my ($r) = push_manifest($srv, 'adm/c', 'v1', new_image($srv, 'adm/c'));
    is $r->code, 201, 'pushed to adm/c';
    my $out = '';
    for (1 .. 100) {
        $out = OCI::Test::slurp("$TMP/follow.out") // '';
        last if $out =~ /\n/;
        sleep 0.05;
    }
    my @lines = split /\n/, $out;
    is scalar @lines, 1, 'one line';
    is eval { decode_json($lines[0])->{target}{repository} }, 'adm/c', 'the new push';
    is stop($pid), 0, 'SIGTERM: exit 0';
    @ids = map { $_->[0] } @{ $redis->call('XRANGE', $STREAM, '-', '+') };
    is scalar @ids, 5, 'five events now';
};

# the receiver: each POST appended to a file as one JSON line (headers,
# body); answers 500 to the first $fail POSTs (-1: to all)
sub receiver {
    my ($name, $fail) = @_;
    my $d = HTTP::Daemon->new(LocalAddr => '127.0.0.1', LocalPort => 0, ReuseAddr => 1)
        or die "HTTP::Daemon: $!";
    my $port = $d->sockport;
    my $pid = fork // die;
    if (!$pid) {
        my $n = 0;
        while (my $c = $d->accept) {
            while (my $req = $c->get_request) {
                $n++;
                open my $fh, '>>', "$TMP/$name.posts" or die;
                print $fh JSON::XS->new->canonical->encode({
                    method => $req->method,
                    type => scalar $req->header('Content-Type'),
                    sig => scalar $req->header('X-OCI-Signature-256'),
                    body => $req->content }), "\n";
                close $fh;
                my $bad = $fail < 0 || $n <= $fail;
                $c->send_response(HTTP::Response->new($bad ? 500 : 200));
            }
            $c->close;
        }
        POSIX::_exit(0);
    }
    return ($pid, "http://127.0.0.1:$port/hook");
}

sub posts {
    my ($name, $n) = @_;
    my @p;
    for (1 .. 200) {
        @p = map { decode_json($_) } split /\n/, OCI::Test::slurp("$TMP/$name.posts") // '';
        last if @p >= $n;
        sleep 0.05;
    }
    return \@p;
}

OCI::Test::spew("$TMP/secret", "s3cret\n");

subtest 'relay: every event POSTed once, signed, acknowledged' => sub {
    my ($rpid, $url) = receiver('ok', 0);
    my $pid = spawn('relay1', 'events', 'relay', @REDIS, '--url', $url, '--group', 'g1',
                    '--since', '0', '--secret-file', "$TMP/secret");
    my $posts = posts('ok', 5);
    is scalar @$posts, 5, 'five POSTs';
    is_deeply [ map { $_->{method} } @$posts ], [ ('POST') x 5 ], 'POST';
    is $posts->[0]{type}, 'application/vnd.docker.distribution.events.v1+json',
        'the reference registry\'s media type';
    my @bodies = map { decode_json($_->{body}) } @$posts;
    is_deeply [ map { scalar @{ $_->{events} } } @bodies ], [ 1, 1, 1, 1, 1 ], 'one event each';
    is_deeply [ map { $_->{events}[0]{action} } @bodies ], [qw(push pull push delete push)],
        'in the order of the stream';
    is_deeply [ map { $_->{sig} } @$posts ],
              [ map { 'sha256=' . hmac_sha256_hex($_->{body}, 's3cret') } @$posts ],
        'each signed with HMAC-SHA256 of the secret';
    isnt $posts->[0]{sig}, 'sha256=' . hmac_sha256_hex($posts->[0]{body}, 'other'),
        'which another secret does not give';
    sleep 0.2;
    is stop($pid), 0, 'SIGTERM: exit 0';
    like OCI::Test::slurp("$TMP/relay1.err"), qr/5 delivered, 0 retries, 0 dead-lettered/,
        'its summary';
    is $redis->call('XPENDING', $STREAM, 'g1')->[0], 0, 'nothing pending: all acknowledged';
    kill 'KILL', $rpid;
    waitpid $rpid, 0;
};

subtest 'relay: a failing receiver gets retries, then the dead-letter list' => sub {
    my ($rpid, $url) = receiver('bad', -1);
    my $pid = spawn('relay2', 'events', 'relay', @REDIS, '--url', $url, '--group', 'g2',
                    '--since', $ids[3], '--retries', '2', '--backoff', '20ms');
    my $dead = wait_len('adm:events:dead', 1, 'LLEN');
    is $dead, 1, 'one entry in the dead-letter list';
    my $posts = posts('bad', 3);
    is scalar @$posts, 3, 'three attempts: the POST and two retries';
    my $d = decode_json($redis->call('LINDEX', 'adm:events:dead', 0));
    is $d->{id}, $ids[4], 'the entry after --since';
    is $d->{attempts}, 3, 'attempts';
    is $d->{error}, 'HTTP status 500', 'the last error';
    is $d->{url}, $url, 'the receiver';
    is $d->{event}{target}{repository}, 'adm/c', 'the event itself';
    ok !defined $posts->[0]{sig}, 'no signature without a secret';
    is stop($pid), 0, 'SIGTERM: exit 0';
    is $redis->call('XPENDING', $STREAM, 'g2')->[0], 0, 'acknowledged once dead-lettered';
    kill 'KILL', $rpid;
    waitpid $rpid, 0;
};

subtest 'relay: a receiver that recovers gets the event on a retry' => sub {
    my ($rpid, $url) = receiver('flaky', 2);
    my $pid = spawn('relay3', 'events', 'relay', @REDIS, '--url', $url, '--group', 'g3',
                    '--since', $ids[3], '--retries', '3', '--backoff', '20ms');
    my $posts = posts('flaky', 3);
    is scalar @$posts, 3, 'two failures, then 200';
    sleep 0.2;
    is stop($pid), 0, 'SIGTERM: exit 0';
    like OCI::Test::slurp("$TMP/relay3.err"), qr/1 delivered, 2 retries, 0 dead-lettered/,
        'delivered, after two retries';
    is $redis->call('XPENDING', $STREAM, 'g3')->[0], 0, 'acknowledged';
    kill 'KILL', $rpid;
    waitpid $rpid, 0;
};

subtest 'relay: two relays of one group share the events, none twice' => sub {
    my ($rpid, $url) = receiver('shared', 0);
    my $start = $redis->call('XREVRANGE', $STREAM, '+', '-', 'COUNT', 1)->[0][0];
    my @pids = map { spawn("share$_", 'events', 'relay', @REDIS, '--url', $url,
                           '--group', 'g4', '--consumer', "c$_", '--batch', '1') } 1, 2;
    sleep 0.5;
    for my $i (1 .. 20) {
        $redis->call('XADD', $STREAM, '*', 'action', 'push', 'repository', 'adm/s',
                     'event', qq({"id":"e$i","action":"push","target":{"repository":"adm/s"}}));
    }
    my $posts = posts('shared', 20);
    sleep 0.3;
    $posts = posts('shared', 20);
    my @got = sort map { decode_json($_->{body})->{events}[0]{id} } @$posts;
    is_deeply \@got, [ sort map { "e$_" } 1 .. 20 ], 'each of the 20 events, once';
    is_deeply [ map { stop($_) } @pids ], [ 0, 0 ], 'both stop on SIGTERM';
    my %c = map { $_->[1] => $_->[5] } @{ $redis->call('XINFO', 'CONSUMERS', $STREAM, 'g4') };
    is_deeply [ sort keys %c ], [qw(c1 c2)], 'two consumers in the group';
    is $redis->call('XPENDING', $STREAM, 'g4')->[0], 0, 'nothing pending';
    kill 'KILL', $rpid;
    waitpid $rpid, 0;
};

subtest 'oci-admin reindex adds no event' => sub {
    my $len = $redis->call('XLEN', $STREAM);
    my ($rc, $out, $err) = oci_admin('reindex', '--storage', $srv->storage, @REDIS);
    is $rc, 0, 'reindex: exit 0' or diag $err;
    is $redis->call('XLEN', $STREAM), $len, 'the stream is as it was';
};

done_testing;
