# Closing an upload with a digest of another algorithm than the one the
# session hashed with as the bytes arrived (the conformance suite opens
# without ?digest-algorithm= and closes with sha512): the data file is
# hashed again off the event loop, in steps from a timer or on a thread
# pool (oci_thread_pool), and the server keeps answering meanwhile.

BEGIN { push @INC, 't/lib' }
use strict;
use warnings;
use OCI::Harness;
use OCI::Test;
use Test::More;
use Digest::SHA;
use POSIX ();

for my $pool (0, 1) {
    my $what = $pool ? 'on a thread pool' : 'in steps from a timer';
    my $srv = OCI::Harness->start(
        main_config => $pool ? 'thread_pool oci threads=2;' : '',
        config => registry_conf($pool ? 'oci_thread_pool oci;' : ''));

    subtest "sha256 session closed with sha512, $what" => sub {
        my $data = random_bytes(3_000_000);
        my $d = sha512($data);
        my $loc = start_upload($srv, 'rehash/repo');
        is_status $_, 202, 'PATCH'
            for upload_chunks($srv, $loc, $data, 1_000_000, 2_000_000);
        my $res = close_upload($srv, $loc, $d);
        is_status $res, 201, 'closing with the sha512 digest';
        is $res->header('Docker-Content-Digest'), $d, 'Docker-Content-Digest';
        is $res->header('Location'), "/v2/rehash/repo/blobs/$d", 'Location';
        blob_is $srv, 'rehash/repo', $d, $data, 'the blob, by its sha512 digest';
        ok !-e blob_path($srv, sha256($data)), 'nothing under sha256';
        is_deeply [ files_under($srv->storage . '/_uploads') ], [], 'the session ended';

        $loc = start_upload($srv, 'rehash/repo');
        is_status close_upload($srv, $loc, sha512('x'), body => 'x'), 201,
            'a closing PUT with the last chunk in its body';
        blob_is $srv, 'rehash/repo', sha512('x'), 'x', 'that blob';

        $loc = start_upload($srv, 'rehash/repo');
        is_status close_upload($srv, $loc, sha512('')), 201, 'an empty blob';

        $loc = start_upload($srv, 'rehash/repo', 'digest-algorithm=sha512');
        is_status patch_chunk($srv, $loc, 'abcd', 0), 202, 'PATCH';
        is_status close_upload($srv, $loc, sha256('abcd')), 201,
            'and the other way: a sha512 session closed with sha256';
        blob_is $srv, 'rehash/repo', sha256('abcd'), 'abcd', 'that blob';
    };

    subtest "a digest that does not match, $what" => sub {
        my $data = random_bytes(100_000);
        my $loc = start_upload($srv, 'rehash/bad');
        is_status patch_chunk($srv, $loc, $data, 0), 202, 'PATCH';
        is_error close_upload($srv, $loc, sha512("$data!")), 400, 'DIGEST_INVALID',
            'closing with the sha512 digest of other bytes';
        ok !-e blob_path($srv, sha512("$data!")), 'nothing stored under it';
        ok !-e blob_path($srv, sha512($data)), 'nor under the real one';
        is_error $srv->req('GET', $loc), 404, 'BLOB_UPLOAD_UNKNOWN', 'the session is gone';
        is_deeply [ files_under($srv->storage . '/_uploads') ], [], 'its files too';
    };

    subtest "a big file hashed again while others are served, $what" => sub {
        my $mib = 192;
        my ($loc, $d256, $d512) = big_upload($srv, 'rehash/big', $mib);
        ok $loc, "$mib MiB uploaded" or return;
        my $from = $srv->log_size;
        my ($ok, $lat) = latencies_during($srv, sub {
            close_upload($srv, $loc, $d512, timeout => 60)->code == 201;
        });
        ok $ok, 'closing with the sha512 digest: 201';
        cmp_ok scalar(@$lat), '>=', 2, 'GET /v2/ was answered during the re-hash';
        # 192 MiB in half-megabyte steps: 384
        is_stepped $srv, $from, $pool, 300, 'the re-hash';
        ok -f blob_path($srv, $d512), 'the blob is stored';
        is -s blob_path($srv, $d512), $mib << 20, 'whole';
    };

    subtest "a reload while a session is hashed again, $what" => sub {
        my ($loc, undef, $d512) = big_upload($srv, 'rehash/reload', 128);
        ok $loc, '128 MiB uploaded' or return;
        my $pid = fork // die "fork: $!";
        if (!$pid) {
            my $code = close_upload($srv, $loc, $d512, timeout => 60)->code;
            POSIX::_exit($code == 201 ? 0 : 1);
        }
        select undef, undef, undef, 0.2;
        ok $srv->reload, 'reloaded meanwhile'
            or diag $srv->error;
        waitpid $pid, 0;
        is $?, 0, 'the old worker finished the job: 201';
        ok -f blob_path($srv, $d512), 'the blob is stored';
    };

    stops_cleanly($srv, $what);
}

subtest 'oci_thread_pool names a pool nginx knows' => sub {
    my $x = OCI::Harness->launch(config => registry_conf('oci_thread_pool nosuch;'));
    ok !$x->alive, 'an undeclared pool is refused';
    like $x->error, qr/unknown thread pool "nosuch"/, 'by name';
    $x->stop if $x->alive;
    my $d = OCI::Harness->launch(config => registry_conf('oci_thread_pool default;'));
    ok $d->alive, '"default" needs no thread_pool directive' or diag $d->error;
    $d->stop if $d->alive;
    my $o = OCI::Harness->launch(config => registry_conf('oci_thread_pool off;'));
    ok $o->alive, 'off' or diag $o->error;
    $o->stop if $o->alive;
};

done_testing;
