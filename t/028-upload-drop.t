# A session's data file that no blob shares (the content was there
# already, or the session is cancelled) can be big, and the file system
# frees its blocks when it is unlinked (ext4: some 400 ms for a GiB here).
# That happens off the event loop: renamed into _tmp/, then cut down in
# steps or unlinked on a thread pool, while the worker keeps answering.

BEGIN { push @INC, 't/lib' }
use strict;
use warnings;
use OCI::Harness;
use OCI::Test;
use Test::More;
use Time::HiRes qw(sleep);

my $MIB = 256;

sub entries {
    my ($dir) = @_;
    opendir my $dh, $dir or return 0;
    return scalar grep { !/^\./ } readdir $dh;
}

for my $pool (0, 1) {
    my $what = $pool ? 'on a thread pool' : 'in steps';
    my $srv = OCI::Harness->start(
        main_config => $pool ? 'thread_pool oci threads=2;' : '',
        config => registry_conf($pool ? 'oci_thread_pool oci;' : ''));
    my $tmp = $srv->storage . '/_tmp';

    subtest "a $MIB MiB upload of content already there, $what" => sub {
        my ($loc, $d) = big_upload($srv, 'drop/a', $MIB);
        ok $loc, 'the first upload' or return;
        is_status close_upload($srv, $loc, $d, timeout => 60), 201, 'closed';

        ($loc) = big_upload($srv, 'drop/b', $MIB);
        ok $loc, 'the same content again' or return;
        my $id = session_id($loc);

        # in steps, the data file is cut down in _tmp/ for a while
        my $from = $srv->log_size;
        my ($ok, $lat) = latencies_during($srv, sub {
            return 0 unless close_upload($srv, $loc, $d, timeout => 60)->code == 201;
            my $seen = -e "$tmp/$id";
            while (entries($tmp)) {
                sleep 0.002;
                $seen ||= -e "$tmp/$id";
            }
            return $pool || $seen;
        });
        ok $ok, 'closed with 201, and the data file freed'
            . ($pool ? '' : ' from _tmp/');
        # on a pool the close can be over before a second probe goes out
        cmp_ok scalar(@$lat), '>=', 1, 'GET /v2/ was sent meanwhile';
        # cut by 64 MiB: 256 MiB takes four steps
        is_stepped $srv, $from, $pool, 4, 'the freeing';
        is entries($srv->storage . '/_uploads'), 0, 'no session left';
        is -s blob_path($srv, $d), $MIB << 20, 'the blob is whole';
        is_status $srv->req('HEAD', "/v2/drop/b/blobs/$d"), 200, 'the second repository has it';
    };

    subtest "a $MIB MiB session cancelled, $what" => sub {
        my ($loc) = big_upload($srv, 'drop/c', $MIB);
        ok $loc, 'uploaded' or return;
        my $id = session_id($loc);
        my $from = $srv->log_size;
        my ($ok, $lat) = latencies_during($srv, sub {
            return 0 unless $srv->req('DELETE', $loc)->code == 204;
            my $seen = -e "$tmp/$id";
            while (entries($tmp)) {
                sleep 0.002;
                $seen ||= -e "$tmp/$id";
            }
            return $pool || $seen;
        });
        ok $ok, 'DELETE: 204, and the data file freed'
            . ($pool ? '' : ' from _tmp/');
        is_stepped $srv, $from, $pool, 4, 'the freeing';
        is entries($srv->storage . '/_uploads'), 0, 'no session left';
    };

    stops_cleanly($srv, $what);
}

done_testing;
