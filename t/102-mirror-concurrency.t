# Twenty clients pull one 64 MiB blob that the mirror has not stored, all
# at once, from a mirror of two workers in front of docker-registry: one
# request fetches it from the upstream (the fill lock), the others wait
# for it and are served from the storage. Every client gets the exact
# bytes; the upstream saw exactly one GET of the blob; the blob is stored
# once, its fill file gone. Each client has a deadline (the whole is
# bounded), the bodies are hashed as they arrive. Then a lock that makes
# no progress is outwaited (oci_proxy_wait).
#
# Needs docker-registry.

BEGIN { push @INC, 't/lib' }
use strict;
use warnings;
use OCI::Harness;
use OCI::Distribution;
use OCI::Test;
use OCI::Upstream;
use Test::More;
use Digest::SHA;
use File::Temp qw(tempdir);
use HTTP::Tiny;
use POSIX qw(_exit WNOHANG);
use Time::HiRes qw(sleep time);

plan skip_all => 'docker-registry is not installed (make test installs it)'
    unless which('docker-registry');

my $CLIENTS = 20;
my $SIZE = 64 * 1024 * 1024;
my $DEADLINE = 300;           # seconds, for each client and for the whole

my $up = OCI::Distribution->start or BAIL_OUT($OCI::Distribution::WHY);
my $bytes = random_bytes($SIZE);
my $desc = $up->push_blob('lib/big', $bytes);
my $digest = $desc->{digest};
undef $bytes;

my $mirror = OCI::Harness->start(workers => 2, log_level => 'info',
    config => mirror_conf([ [ $up, 'up.test' ] ]));
my $url = $mirror->url("/v2/lib/big/blobs/$digest");

# Each client: a GET, the body hashed as it comes, the outcome in a file.
my $out = tempdir(CLEANUP => 1);
my @pids;
for my $i (1 .. $CLIENTS) {
    my $pid = fork // die "fork: $!";
    if (!$pid) {
        my $sha = Digest::SHA->new(256);
        my $n = 0;
        my $res = HTTP::Tiny->new(timeout => $DEADLINE)->request('GET', $url, {
            data_callback => sub { $sha->add($_[0]); $n += length $_[0] } });
        spew("$out/$i", join ' ', $res->{status}, $n, 'sha256:' . $sha->hexdigest,
             $res->{headers}{'docker-content-digest'} // '-');
        _exit(0);
    }
    push @pids, $pid;
}

my $end = time + $DEADLINE + 30;
my %left = map { $_ => 1 } @pids;
while (%left && time < $end) {
    for my $pid (keys %left) {
        delete $left{$pid} if waitpid($pid, WNOHANG) == $pid;
    }
    sleep 0.1;
}
kill 'KILL', keys %left;
waitpid $_, 0 for keys %left;
is scalar(keys %left), 0, "the $CLIENTS clients ended within their deadline";

my @got = map { slurp("$out/$_") } 1 .. $CLIENTS;
my @bad = grep { $got[$_] ne "200 $SIZE $digest $digest" } 0 .. $#got;
is_deeply [ map { 'client ' . ($_ + 1) . ": $got[$_]" } @bad ], [],
    "every client got 200, $SIZE bytes of digest $digest, and the digest header";

is $up->requests('GET', "/v2/lib/big/blobs/$digest"), 1, 'the upstream saw exactly one GET of the blob';
ok eventually(sub { -f link_path($mirror, 'lib/big', '_blobs', $digest) }),
    'linked into the repository';
is -s blob_path($mirror, $digest), $SIZE, 'the blob is stored';
my $sha = Digest::SHA->new(256)->addfile(blob_path($mirror, $digest), 'b');
is 'sha256:' . $sha->hexdigest, $digest, 'with its digest';
is_deeply [ eventually(sub { !fill_files($mirror) }) ? () : fill_files($mirror) ], [],
    'no fill file left';

# A fill lock held by a request that makes no progress (a file planted by
# hand, fresh, so not yet taken over): a pull waits oci_proxy_wait, then
# fetches the blob from the upstream itself.
subtest 'oci_proxy_wait: the lock of another fetch outwaited' => sub {
    my $waiting = OCI::Harness->start(config => mirror_conf([ [ $up, 'up.test' ] ],
                                                              'oci_proxy_wait 1s;'));
    my $small = random_bytes(50_000);
    my $d = $up->push_blob('lib/wait', $small)->{digest};
    my $lock = fill_path($waiting, $d);
    spew($lock, '');
    # well before the lock would be taken over as stale (30 s)
    my $res = $waiting->req('GET', "/v2/lib/wait/blobs/$d", timeout => 15);
    ok $res->code == 200 && $res->content eq $small, 'the exact bytes, after the wait'
        or diag dump_res($res);
    is $up->requests('GET', "/v2/lib/wait/blobs/$d"), 1, 'fetched from the upstream';
    ok -e $lock, 'the other fetch\'s lock is left to it';
    unlink $lock;
    $res = $waiting->req('GET', "/v2/lib/wait/blobs/$d", timeout => 30);
    ok $res->code == 200 && $res->content eq $small, 'the lock gone: pulled again';
    ok eventually(sub { -f blob_path($waiting, $d) }), 'and stored (once the fetch has ended)';
    stops_cleanly $waiting, 'the waiting mirror';
};

stops_cleanly $mirror;
done_testing;
