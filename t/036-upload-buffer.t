# Upload bodies are gathered into a 256 KiB buffer and written when it is
# full and when the body ends (docs/storage.md, "Upload sessions"): sizes
# around that boundary, fixed-length and chunked, monolithic and in
# chunks; Content-Range that lies; a client that goes away mid-body.

BEGIN { push @INC, 't/lib' }
use strict;
use warnings;
use OCI::Harness;
use OCI::Test;
use Test::More;
use Time::HiRes qw(sleep);

my $B = 256 * 1024;

my $srv = OCI::Harness->start(config => registry_conf('oci_delete on;'));

subtest 'monolithic POSTs of sizes around the buffer' => sub {
    for my $n (1, $B - 1, $B, $B + 1, 2 * $B - 1, 2 * $B + 1, 3 * $B + 12345) {
        my $data = random_bytes($n);
        my $d = sha256($data);
        my $res = $srv->req('POST', "/v2/size/fixed/blobs/uploads/?digest=$d", body => $data);
        is_status $res, 201, "$n bytes, fixed length";
        blob_is $srv, 'size/fixed', $d, $data, "$n bytes, fixed length";

        # chunked, in pieces that straddle the buffer's end
        $data = random_bytes($n);
        $d = sha256($data);
        my @pieces;
        my $p = 0;
        for my $len (1000, $B - 1000 - 1, 2, 7000, $B + 5) {
            last if $p >= $n;
            push @pieces, substr($data, $p, $len);
            $p += $len;
        }
        push @pieces, substr($data, $p) if $p < $n;
        $res = $srv->req('POST', "/v2/size/chunked/blobs/uploads/?digest=$d",
                         chunked => \@pieces);
        is_status $res, 201, "$n bytes, chunked";
        blob_is $srv, 'size/chunked', $d, $data, "$n bytes, chunked";
    }
};

subtest 'PATCH chunks that end on and around the buffer' => sub {
    for my $first ($B - 1, $B, $B + 1) {
        my $data = random_bytes($first + $B + 3);
        my $loc = start_upload($srv, 'size/patch');
        my $res = patch_chunk($srv, $loc, substr($data, 0, $first), 0);
        is_status $res, 202, "first chunk of $first bytes";
        is $res->header('Range'), '0-' . ($first - 1), 'its Range';
        my ($data_file) = session_files($srv, $loc);
        is -s $data_file, $first, 'all of it is on disk once the PATCH is answered';
        $res = $srv->req('PATCH', $loc, chunked => [ substr($data, $first, 10),
                                                    substr($data, $first + 10) ]);
        is_status $res, 202, 'second chunk, chunked, without Content-Range';
        upload_closes $srv, $loc, 'size/patch', $data, "after a first chunk of $first bytes";
    }
};

subtest 'Content-Range that lies leaves the session as it was' => sub {
    my $data = random_bytes(2 * $B + 100);
    my $loc = start_upload($srv, 'lies/repo');
    is_status patch_chunk($srv, $loc, substr($data, 0, $B + 7), 0), 202, 'a first chunk';

    # a body longer than its Content-Range: refused once it passes the end
    my $res = $srv->req('PATCH', $loc,
        headers => [ 'Content-Range' => ($B + 7) . '-' . ($B + 7 + 999) ],
        chunked => [ substr($data, $B + 7, 600), substr($data, $B + 7 + 600, $B) ]);
    is_error $res, 400, 'SIZE_INVALID', 'a chunked body longer than its Content-Range';
    is status_range($srv, $loc), '0-' . ($B + 6), 'the session is where it was';

    # shorter
    $res = $srv->req('PATCH', $loc,
        headers => [ 'Content-Range' => ($B + 7) . '-' . (2 * $B + 99) ],
        chunked => [ substr($data, $B + 7, 1000) ]);
    is_error $res, 400, 'SIZE_INVALID', 'a chunked body shorter than its Content-Range';
    is status_range($srv, $loc), '0-' . ($B + 6), 'the session is where it was';

    # Content-Length and Content-Range that disagree
    $res = $srv->req('PATCH', $loc,
        headers => [ 'Content-Range' => ($B + 7) . '-' . ($B + 7 + 9) ],
        body => substr($data, $B + 7, 11));
    is_error $res, 400, 'SIZE_INVALID', 'Content-Length and Content-Range disagree';
    is status_range($srv, $loc), '0-' . ($B + 6), 'the session is where it was';

    is_status patch_chunk($srv, $loc, substr($data, $B + 7), $B + 7), 202, 'the true rest';
    upload_closes $srv, $loc, 'lies/repo', $data, 'after the lies';
};

subtest 'a client that goes away mid-body' => sub {
    my $data = random_bytes(3 * $B + 50);
    my $loc = start_upload($srv, 'abort/repo');
    is_status patch_chunk($srv, $loc, substr($data, 0, 1000), 0), 202, 'a first chunk';

    # more than a buffer's worth sent, then the connection closed
    my $c = $srv->connect;
    my $len = length($data) - 1000;
    ok $c->send("PATCH $loc HTTP/1.1\r\nHost: localhost\r\n"
                . "Content-Range: 1000-" . (length($data) - 1) . "\r\n"
                . "Content-Length: $len\r\n\r\n" . substr($data, 1000, $B + 5000)),
        'head and part of the body sent';
    sleep 0.2;
    $c->close;

    my $res;
    for (1 .. 50) {
        $res = patch_chunk($srv, $loc, substr($data, 1000), 1000);
        last if $res->code != 416;
        sleep 0.1;
    }
    is_status $res, 202, 'the whole rest, once the cut-off request is over';
    upload_closes $srv, $loc, 'abort/repo', $data, 'after a client went away';

    # a monolithic POST cut off: no blob appears
    my $mono = random_bytes(2 * $B);
    my $d = sha256($mono);
    $c = $srv->connect;
    ok $c->send("POST /v2/abort/mono/blobs/uploads/?digest=$d HTTP/1.1\r\nHost: localhost\r\n"
                . 'Content-Length: ' . length($mono) . "\r\n\r\n" . substr($mono, 0, $B + 1)),
        'a monolithic POST, half sent';
    sleep 0.2;
    $c->close;
    sleep 0.2;
    is_error $srv->req('GET', "/v2/abort/mono/blobs/$d"), 404, 'BLOB_UNKNOWN', 'no blob';
    ok !-e blob_path($srv, $d), 'no content file';
};

stops_cleanly $srv;

done_testing;
