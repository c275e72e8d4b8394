# The storage root's descriptor (docs/storage.md, "Links"): a worker keeps
# one per root for all its requests, a reload gives the new workers their
# own, a root replaced on disk is opened anew, and with open_file_cache
# pulls go through the cache, still never through a link.

BEGIN { push @INC, 't/lib' }
use strict;
use warnings;
use OCI::Harness;
use OCI::Test;
use Test::More;
use File::Path qw(make_path remove_tree);
use Time::HiRes qw(sleep);

plan skip_all => 'needs /proc' unless -d "/proc/$$/fd";

# the worker's descriptors that name the directory "$dir"
sub root_fds {
    my ($srv, $dir) = @_;
    my @n;
    for my $pid ($srv->worker_pids) {
        opendir my $dh, "/proc/$pid/fd" or next;
        for my $fd (grep { /^\d+$/ } readdir $dh) {
            my $to = readlink "/proc/$pid/fd/$fd" // next;
            push @n, "$pid/$fd" if $to eq $dir;
        }
    }
    return @n;
}

# a GET until it answers "$code", for at most 5 s (the root is looked at
# again once a second); the last answer
sub until_code {
    my ($srv, $path, $code) = @_;
    my $res;
    for (1 .. 50) {
        $res = $srv->req('GET', $path);
        last if $res->code == $code;
        sleep 0.1;
    }
    return $res;
}

my $srv = OCI::Harness->start(config => registry_conf('oci_delete on;'));
my $root = $srv->storage;

subtest 'a worker keeps one descriptor of the root' => sub {
    my $data = random_bytes(5000);
    my $d = push_blob($srv, 'keep/repo', $data)->{digest};
    blob_is $srv, 'keep/repo', $d, $data, 'pulled';
    my @fds = root_fds($srv, $root);
    is scalar(@fds), 1, 'between requests, the worker holds one descriptor of the root'
        or diag "@fds";
    $srv->req('GET', "/v2/keep/repo/blobs/$d") for 1 .. 30;
    $srv->req('GET', "/v2/keep/repo/manifests/nope") for 1 .. 10;
    is_deeply [ root_fds($srv, $root) ], \@fds, 'the same one after 40 more requests';
};

subtest 'a reload: the new worker opens its own' => sub {
    my $data = random_bytes(7000);
    my $d = push_blob($srv, 'reload/repo', $data)->{digest};
    my @before = $srv->worker_pids;
    ok $srv->reload, 'reloaded' or diag $srv->error;
    blob_is $srv, 'reload/repo', $d, $data, 'pulled after the reload';
    my @fds = root_fds($srv, $root);
    is scalar(@fds), 1, 'one descriptor of the root' or diag "@fds";
    my ($pid) = split m{/}, $fds[0] // '0/0';
    ok !grep({ $_ == $pid } @before), 'held by a new worker';

    # another root on reload: the workers serve from it
    my $other = $srv->path('other');
    make_path($other);
    ok $srv->reload(config => registry_conf('oci_delete on;') =~ s/\$TEST_NGINX_STORAGE/$other/r),
        'reloaded with another root' or diag $srv->error;
    is_error $srv->req('GET', "/v2/reload/repo/blobs/$d"), 404, 'BLOB_UNKNOWN',
        'the blob of the first root is not in the second';
    my $more = random_bytes(3000);
    my $m = push_blob($srv, 'reload/repo', $more)->{digest};
    ok -f "$other/" . (blob_path($srv, $m) =~ s/^\Q$root\E\///r), 'a push lands in the new root';
    is scalar(root_fds($srv, $other)), 1, 'whose descriptor the worker holds';
    is scalar(root_fds($srv, $root)), 0, 'and no more the first one';
    ok $srv->reload(config => registry_conf('oci_delete on;')), 'back to the first root'
        or diag $srv->error;
    blob_is $srv, 'reload/repo', $d, $data, 'pulled from the first root again';
};

subtest 'a root replaced on disk is opened anew' => sub {
    my $data = random_bytes(6000);
    my $d = push_blob($srv, 'swap/repo', $data)->{digest};
    blob_is $srv, 'swap/repo', $d, $data, 'served from the root';

    my $old = $srv->path('storage.old');
    my $off = $srv->log_size;
    rename $root, $old or die "rename: $!";
    make_path($root);
    my $res = until_code($srv, "/v2/swap/repo/blobs/$d", 404);
    is_error $res, 404, 'BLOB_UNKNOWN', 'the new, empty root does not have the blob';
    like $srv->error_log_since($off), qr/storage root "\Q$root\E" was replaced, opened anew/,
        'the worker says it opened the root anew';

    my $more = random_bytes(4000);
    my $m = push_blob($srv, 'swap/repo', $more)->{digest};
    blob_is $srv, 'swap/repo', $m, $more, 'a push to the new root is served';
    ok -f blob_path($srv, $m), 'its content is in the new root';
    ok !-e $old . (blob_path($srv, $m) =~ s/^\Q$root\E//r), 'not in the old one';
    is scalar(root_fds($srv, $root)), 1, 'the worker still holds one descriptor';

    # and back: the old tree put in place again
    remove_tree($root);
    rename $old, $root or die "rename: $!";
    $res = until_code($srv, "/v2/swap/repo/blobs/$d", 200);
    is $res->code, 200, 'the first blob is served again once its root is back';
    is $res->content, $data, 'with its bytes';
};

stops_cleanly $srv, 'the default server';

subtest 'a root that is gone: 500 with the JSON body, until it is back' => sub {
    my $g = OCI::Harness->start(config => registry_conf());
    my $groot = $g->storage;
    my $data = random_bytes(2000);
    my $d = push_blob($g, 'gone/repo', $data)->{digest};
    my $away = $g->path('storage.away');
    rename $groot, $away or die "rename: $!";
    my $off = $g->log_size;
    my $res = until_code($g, "/v2/gone/repo/blobs/$d", 500);
    is_error $res, 500, 'UNKNOWN', 'no root: storage error';
    like $g->error_log_since($off), qr/\[crit\].*storage open\(\) "\Q$groot\E" failed/,
        'logged at crit with the root';
    rename $away, $groot or die "rename: $!";
    $res = until_code($g, "/v2/gone/repo/blobs/$d", 200);
    is $res->code, 200, 'served again once the root is back';
    is $g->crash_lines, '', 'no worker crashed';
};


subtest 'with open_file_cache: pulls through the cache, never through a link' => sub {
    my $c = OCI::Harness->start(config => registry_conf(
        'open_file_cache max=100 inactive=60s;', 'open_file_cache_valid 60s;'));
    my $r = $c->storage;
    my $data = random_bytes(9000);
    my $d = push_blob($c, 'cache/repo', $data)->{digest};
    blob_is $c, 'cache/repo', $d, $data, 'pulled';
    blob_is $c, 'cache/repo', $d, $data, 'pulled again (from the cache)';
    my $res = $c->req('GET', "/v2/cache/repo/blobs/$d", headers => [ Range => 'bytes=10-19' ]);
    is $res->code, 206, 'a range';
    is $res->content, substr($data, 10, 10), 'of the right bytes';

    # a link planted where a repository's blob is: never followed
    my $secret = random_bytes(100);
    my $s = sha256($secret);
    spew($c->path('secret'), $secret);
    my $link = link_path($c, 'cache/repo', '_blobs', $s);
    symlink $c->path('secret'), $link or die "symlink: $!";
    is_error $c->req('GET', "/v2/cache/repo/blobs/$s"), 404, 'BLOB_UNKNOWN',
        'a link planted in _blobs is not followed';
    unlink $link;
    stops_cleanly $c, 'open_file_cache';
};

done_testing;
