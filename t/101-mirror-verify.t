# A mirror verifies what it stores: between it and docker-registry stands a
# proxy that flips one bit in the middle of every blob body (same length,
# same headers, the upstream's Docker-Content-Digest). The client never
# gets a complete body with the wrong digest as a clean answer (the module
# cuts the connection at its end), nothing is stored (no file under
# blobs/, no link in the repository, no fill file left), the error log
# names the mismatch, and the next pull asks the upstream again. Then,
# through the real upstream (a reload), the same blob pulls and is stored.
# Blobs of a few kilobytes and of several megabytes (many buffers).
#
# Needs docker-registry and HTTP::Daemon (libhttp-daemon-perl).

BEGIN { push @INC, 't/lib' }
use strict;
use warnings;
use OCI::Harness;
use OCI::Distribution;
use OCI::Test;
use OCI::Upstream;
use Test::More;

plan skip_all => 'docker-registry is not installed (make test installs it)'
    unless which('docker-registry');
plan skip_all => 'HTTP::Daemon is not installed (make test installs libhttp-daemon-perl)'
    unless eval { require HTTP::Daemon; 1 };

my $up = OCI::Distribution->start or BAIL_OUT($OCI::Distribution::WHY);
my $bad = OCI::Upstream::Corrupting->start($up);

my $mirror = OCI::Harness->start(config => mirror_conf([ [ $bad, 'up.test' ] ]));

my %blob = map { $_ => random_bytes($_) } 7000, 6 * 1024 * 1024 + 5;
my %desc = map { $_ => $up->push_blob('lib/verify', $blob{$_}) } keys %blob;

for my $size (sort { $a <=> $b } keys %blob) {
    my $d = $desc{$size}{digest};
    my $path = "/v2/lib/verify/blobs/$d";
    subtest "a blob of $size bytes, corrupted on its way" => sub {
        for my $try (1, 2) {
            my $off = $mirror->log_size;
            my $seen = $bad->corrupted;
            my $res = $mirror->req('GET', $path, timeout => 60);
            is $bad->corrupted, $seen + 1, "pull $try: the proxy changed the body it passed";
            my $complete = $res->code == 200 && length($res->content) == $size;
            ok !$complete || sha256($res->content) eq $d,
                "pull $try: no complete body with the wrong digest as a clean answer"
                or diag 'got ' . $res->code . ', ' . length($res->content) . ' bytes';
            ok $res->code != 200 || length($res->content) < $size,
                "pull $try: the answer is cut short"
                or diag dump_res($res);
            ok !-e blob_path($mirror, $d), "pull $try: nothing under blobs/";
            ok !-e link_path($mirror, 'lib/verify', '_blobs', $d), "pull $try: no link in the repository";
            is_deeply [ fill_files($mirror) ], [], "pull $try: no fill file left in _tmp/";
            my ($hex) = $d =~ /:(\w+)/;
            my @lines = grep { /\[(?:error|warn|crit|alert)\]/ && /\Q$hex\E/ }
                split /^/m, $mirror->error_log_since($off);
            ok scalar(grep { /digest|match/i } @lines),
                "pull $try: the error log names the mismatch of $d"
                or diag $mirror->error_log_tail(10, $mirror->error_log_since($off));
        }
        is $up->requests('GET', $path), 2, 'the upstream was asked on each pull';
        my $res = $mirror->req('HEAD', $path);
        is $res->code, 200, 'HEAD is still relayed';
        ok !-e blob_path($mirror, $d), 'and stores nothing';
    };
}

ok $mirror->reload(config => mirror_conf([ [ $up, 'up.test' ] ])),
    'the mirror reloaded with the real upstream' or diag $mirror->error;

for my $size (sort { $a <=> $b } keys %blob) {
    my $d = $desc{$size}{digest};
    subtest "the blob of $size bytes through the real upstream" => sub {
        my $res = $mirror->req('GET', "/v2/lib/verify/blobs/$d", timeout => 60);
        ok $res->code == 200 && $res->content eq $blob{$size}, 'pulled, the exact bytes'
            or diag 'got ' . $res->code . ', ' . length($res->content) . ' bytes';
        is $res->header('Docker-Content-Digest'), $d, 'Docker-Content-Digest';
        # published when the fetch ends, which may be after the client got all
        ok eventually(sub { -f link_path($mirror, 'lib/verify', '_blobs', $d) }),
            'linked into the repository';
        ok slurp(blob_path($mirror, $d)) eq $blob{$size}, 'stored under blobs/, byte for byte';
        is_deeply [ eventually(sub { !fill_files($mirror) }) ? () : fill_files($mirror) ], [],
            'no fill file left';
        my $asked = $up->requests('GET', "/v2/lib/verify/blobs/$d");
        $res = $mirror->req('GET', "/v2/lib/verify/blobs/$d", timeout => 60);
        ok $res->code == 200 && $res->content eq $blob{$size}, 'pulled again';
        is $up->requests('GET', "/v2/lib/verify/blobs/$d"), $asked, 'from the storage';
    };
}

stops_cleanly $mirror;
done_testing;
