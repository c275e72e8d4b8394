# Blob upload sessions: POST, PATCH, PUT, GET, DELETE on
# /v2/<name>/blobs/uploads/, as docs/api.md ("Push") promises, checked on
# the wire and on disk (docs/storage.md). Requests refused before any
# session exists are t/022-upload-errors.t.

BEGIN { push @INC, 't/lib' }
use strict;
use warnings;
use OCI::Harness;
use OCI::Test;
use Test::More;
use Digest::SHA;
use POSIX ();
use Time::HiRes qw(sleep time);

my $LOCATION = registry_conf('oci_delete on;');

my $ZERO = 'sha256:' . ('0' x 64);

# --- the main server ----------------------------------------------------------

my $srv = OCI::Harness->start(config => $LOCATION);

subtest 'POST opens a session' => sub {
    my ($loc, $res) = start_upload($srv, 'open/repo');
    like $loc, qr{^/v2/open/repo/blobs/uploads/[0-9a-f]{32}$}, 'Location names the session';
    is $res->header('Range'), '0-0', 'an empty session reports Range: 0-0';
    is $res->header('Docker-Upload-UUID'), session_id($loc), 'Docker-Upload-UUID is the id';
    is $res->header('Docker-Distribution-API-Version'), 'registry/2.0', 'API version header';
    ok -f $_, "$_ exists" for session_files($srv, $loc);
    my $loc2 = start_upload($srv, 'open/repo');
    like $loc2, qr{/[0-9a-f]{32}$}, 'second session';
    isnt session_id($loc2), session_id($loc), 'two POSTs give different ids';

    my @uploads = files_under($srv->storage . '/_uploads');
    is_error $srv->req('POST', '/v2/Open/repo/blobs/uploads/'), 400, 'NAME_INVALID',
        'POST with an invalid name';
    is_deeply [ files_under($srv->storage . '/_uploads') ], \@uploads, 'no session was created for it';
    is_error $srv->req('POST', $loc), 405, 'UNSUPPORTED', 'POST on a session';
};

subtest 'monolithic POST with ?digest=' => sub {
    my $data = random_bytes(10_000);
    my $d = sha256($data);
    my $res = $srv->req('POST', "/v2/mono/blobs/uploads/?digest=$d", body => $data);
    is_status $res, 201, 'monolithic upload';
    is $res->header('Location'), "/v2/mono/blobs/$d", 'Location is the blob';
    is $res->header('Docker-Content-Digest'), $d, 'Docker-Content-Digest';
    blob_is $srv, 'mono', $d, $data, 'monolithic blob';
    ok -f blob_path($srv, $d), 'content file under blobs/';
    ok -f link_path($srv, 'mono', '_blobs', $d), 'link in the repository';
    is +(stat blob_path($srv, $d))[3], 2, 'the repository link is a hard link to the content';

    $res = $srv->req('POST', "/v2/mono/blobs/uploads/?digest=$d", body => $data);
    is_status $res, 201, 'the same blob pushed again';
    is +(stat blob_path($srv, $d))[3], 2, 'still one content file and one link';
    blob_is $srv, 'mono', $d, $data, 'pushed twice';

    my $more = random_bytes(3000);
    $res = $srv->req('POST', '/v2/mono/blobs/uploads/?digest=' . sha256($more),
        chunked => [ substr($more, 0, 1000), substr($more, 1000) ], pause => 0.02);
    is_status $res, 201, 'monolithic POST with a chunked body';
    blob_is $srv, 'mono', sha256($more), $more, 'chunked monolithic blob';
};

subtest 'monolithic POST with a wrong digest stores nothing' => sub {
    my $data = random_bytes(5000);
    my @uploads = files_under($srv->storage . '/_uploads');
    my $res = $srv->req('POST', "/v2/monobad/blobs/uploads/?digest=$ZERO", body => $data);
    is_error $res, 400, 'DIGEST_INVALID', 'declared digest differs from the body';
    ok !-e blob_path($srv, $ZERO), 'no content file for the declared digest';
    ok !-e blob_path($srv, sha256($data)), 'no content file for the actual digest';
    is_deeply [ files_under($srv->storage . '/repositories/monobad') ], [], 'nothing in the repository';
    is_deeply [ files_under($srv->storage . '/_uploads') ], \@uploads, 'no session file left behind';
    is_error $srv->req('GET', "/v2/monobad/blobs/" . sha256($data)), 404, 'BLOB_UNKNOWN',
        'the content is not readable';
};

subtest 'chunked upload in one chunk' => sub {
    my $data = random_bytes(3000);
    my $loc = start_upload($srv, 'chunk/one');
    my $res = patch_chunk($srv, $loc, $data, 0);
    is_status $res, 202, 'PATCH';
    is $res->header('Range'), '0-2999', 'Range covers the chunk';
    is $res->header('Location'), $loc, 'Location of the session';
    is -s (session_files($srv, $loc))[0], 3000, 'data file holds the chunk';
    $res = close_upload($srv, $loc, sha256($data));
    is_status $res, 201, 'closing PUT';
    is $res->header('Location'), '/v2/chunk/one/blobs/' . sha256($data), 'Location is the blob';
    is $res->header('Docker-Content-Digest'), sha256($data), 'Docker-Content-Digest';
    blob_is $srv, 'chunk/one', sha256($data), $data, 'one chunk';
    is_error $srv->req('GET', $loc), 404, 'BLOB_UPLOAD_UNKNOWN', 'the closed session is gone';
    ok !-e $_, "$_ removed" for session_files($srv, $loc);
};

subtest 'chunked upload in two chunks' => sub {
    my $data = random_bytes(7001);
    my $loc = start_upload($srv, 'chunk/two');
    my @res = upload_chunks($srv, $loc, $data, 4096, 2905);
    is_status $res[0], 202, 'first PATCH';
    is $res[0]->header('Range'), '0-4095', 'Range after the first chunk';
    is_status $res[1], 202, 'second PATCH';
    is $res[1]->header('Range'), '0-7000', 'Range after the second chunk';
    upload_closes $srv, $loc, 'chunk/two', $data, 'two chunks';
};

subtest 'chunked upload in 50 chunks of random sizes' => sub {
    my @sizes = map { 1 + int rand 5000 } 1 .. 50;
    my $total = 0;
    $total += $_ for @sizes;
    my $data = random_bytes($total);
    my $loc = start_upload($srv, 'chunk/many');
    my @res = upload_chunks($srv, $loc, $data, @sizes);
    my ($pos, @bad) = (0);
    for my $i (0 .. $#res) {
        $pos += $sizes[$i];
        push @bad, "chunk $i: " . $res[$i]->code . ' ' . ($res[$i]->header('Range') // '')
            . ' ' . ($res[$i]->header('Location') // '')
            unless $res[$i]->code == 202 && ($res[$i]->header('Range') // '') eq "0-" . ($pos - 1)
                && ($res[$i]->header('Location') // '') eq $loc;
    }
    is_deeply \@bad, [], 'every PATCH: 202, Range 0-<last byte>, Location';
    is status_range($srv, $loc), "0-" . ($total - 1), 'status reports all bytes';
    upload_closes $srv, $loc, 'chunk/many', $data, '50 chunks';
};

subtest 'closing PUT carrying the last chunk' => sub {
    my $data = random_bytes(6000);
    my $loc = start_upload($srv, 'chunk/last');
    is_status patch_chunk($srv, $loc, substr($data, 0, 2500), 0), 202, 'first chunk by PATCH';
    my $res = close_upload($srv, $loc, sha256($data),
        headers => [ 'Content-Range' => '2500-5999' ], body => substr($data, 2500));
    is_status $res, 201, 'PUT with the last chunk';
    is $res->header('Docker-Content-Digest'), sha256($data), 'Docker-Content-Digest';
    blob_is $srv, 'chunk/last', sha256($data), $data, 'last chunk in the PUT';

    my $all = random_bytes(1234);
    $loc = start_upload($srv, 'chunk/last');
    is_status close_upload($srv, $loc, sha256($all), body => $all), 201,
        'a whole blob in the closing PUT (no Content-Range)';
    blob_is $srv, 'chunk/last', sha256($all), $all, 'blob in the PUT';
};

subtest 'PATCH with chunked transfer-encoding, appended in order' => sub {
    my @parts = map { random_bytes(1000 + int rand 3000) } 1 .. 3;
    my $loc = start_upload($srv, 'te/chunked');
    my $len = 0;
    for my $i (0 .. $#parts) {
        my $p = $parts[$i];
        my @pieces = (substr($p, 0, 100), substr($p, 100, 900), substr($p, 1000));
        my $res = $srv->req('PATCH', $loc, chunked => \@pieces, pause => 0.01);
        $len += length $p;
        is_status $res, 202, "chunked PATCH $i";
        is $res->header('Range'), '0-' . ($len - 1), "Range after PATCH $i";
    }
    my $res = $srv->req('PATCH', $loc);
    is_status $res, 202, 'an empty PATCH';
    is $res->header('Range'), '0-' . ($len - 1), 'Range unchanged by it';
    my $data = join '', @parts;
    upload_closes $srv, $loc, 'te/chunked', $data, 'chunked PATCHes';
};

subtest 'out-of-order and overlapping chunks are 416, the session stays' => sub {
    my $data = random_bytes(300);
    my $loc = start_upload($srv, 'order/repo');
    is_status patch_chunk($srv, $loc, substr($data, 0, 100), 0), 202, 'first chunk';

    my $res = patch_chunk($srv, $loc, substr($data, 150, 50), 150);
    is_error $res, 416, 'BLOB_UPLOAD_INVALID', 'chunk starting past the end';
    is $res->header('Range'), '0-99', '416 carries the current Range';
    is $res->header('Location'), $loc, '416 carries the Location';

    $res = $srv->req('GET', $loc);
    is_status $res, 204, 'status GET after the 416';
    is $res->header('Range'), '0-99', 'Range unchanged';

    $res = patch_chunk($srv, $loc, substr($data, 50, 100), 50);
    is_error $res, 416, 'BLOB_UPLOAD_INVALID', 'overlapping chunk (starts before the end)';
    is $res->header('Range'), '0-99', 'overlap 416 carries the current Range';
    is status_range($srv, $loc), '0-99', 'Range still unchanged';

    $res = patch_chunk($srv, $loc, substr($data, 100), 100);
    is_status $res, 202, 'the right next chunk is accepted';
    is $res->header('Range'), '0-299', 'Range after it';
    upload_closes $srv, $loc, 'order/repo', $data, 'after the rejected chunks';
};

subtest 'lying Content-Range is SIZE_INVALID and commits nothing' => sub {
    my $head = random_bytes(100);
    my $tail = random_bytes(50);
    my $loc = start_upload($srv, 'lying/repo');
    is_status patch_chunk($srv, $loc, $head, 0), 202, 'first chunk';

    my $res = $srv->req('PATCH', $loc,
        headers => [ 'Content-Range' => '100-149' ], body => substr($tail, 0, 40));
    is_error $res, 400, 'SIZE_INVALID', 'Content-Length smaller than the range';
    is status_range($srv, $loc), '0-99', 'Range unchanged';

    $res = $srv->req('PATCH', $loc,
        headers => [ 'Content-Range' => '100-149', 'Content-Length' => 60 ],
        body => random_bytes(60));
    is_error $res, 400, 'SIZE_INVALID', 'Content-Length larger than the range';
    is status_range($srv, $loc), '0-99', 'Range unchanged';

    $res = $srv->req('PATCH', $loc, headers => [ 'Content-Range' => '100-149' ],
        chunked => [ random_bytes(30), random_bytes(30) ], pause => 0.05);
    is_error $res, 400, 'SIZE_INVALID', 'chunked body longer than the range';
    is status_range($srv, $loc), '0-99', 'Range unchanged';

    $res = $srv->req('PATCH', $loc, headers => [ 'Content-Range' => '100-149' ],
        chunked => [ random_bytes(20), random_bytes(10) ], pause => 0.05);
    is_error $res, 400, 'SIZE_INVALID', 'chunked body shorter than the range';
    is status_range($srv, $loc), '0-99', 'Range unchanged';

    $res = patch_chunk($srv, $loc, substr($tail, 0, 10), 100);
    is_status $res, 202, 'a correct chunk (shorter than what the refused ones left) works';
    is $res->header('Range'), '0-109', 'Range after it';
    is -s (session_files($srv, $loc))[0], 110, 'bytes past the accepted ones are cut off';

    $res = close_upload($srv, $loc, sha256($head . $tail),
        headers => [ 'Content-Range' => '110-149' ], body => substr($tail, 10, 39));
    is_error $res, 400, 'SIZE_INVALID', 'closing PUT with a lying Content-Range';
    is status_range($srv, $loc), '0-109', 'Range unchanged';

    $res = patch_chunk($srv, $loc, substr($tail, 10), 110);
    is_status $res, 202, 'the next correct chunk';
    is $res->header('Range'), '0-149', 'Range after it';
    is -s (session_files($srv, $loc))[0], 150, 'the data file holds exactly the accepted bytes';
    is_status close_upload($srv, $loc, sha256($head . $tail)), 201, 'closing PUT';
    blob_is $srv, 'lying/repo', sha256($head . $tail), $head . $tail,
        'bytes of the refused chunks were overwritten';
};

subtest 'malformed Content-Range is 400 BLOB_UPLOAD_INVALID' => sub {
    my $loc = start_upload($srv, 'badrange/repo');
    for my $cr ('abc', '5-3', '0-', '-3', 'bytes=x-y', '0-3/2', '0x0-3', '0 - 3') {
        my $res = $srv->req('PATCH', $loc, headers => [ 'Content-Range' => $cr ], body => 'abcd');
        is_error $res, 400, 'BLOB_UPLOAD_INVALID', "Content-Range: $cr";
    }
    is status_range($srv, $loc), '0-0', 'nothing was appended';

    # end + 1 would overflow off_t: without a Content-Length, a wrapped
    # limit once let the chunk through unbounded
    for my $cr ('0-9223372036854775807', 'bytes 0-9223372036854775807/*') {
        my $res = $srv->req('PATCH', $loc, headers => [ 'Content-Range' => $cr ],
            chunked => [ 'abcd', 'efgh' ], pause => 0.05);
        is_error $res, 400, 'BLOB_UPLOAD_INVALID', "Content-Range: $cr, chunked";
        is status_range($srv, $loc), '0-0', 'nothing was appended';
    }
    my $res = $srv->req('PATCH', $loc,
        headers => [ 'Content-Range' => '0-9223372036854775806' ], body => 'abcd');
    is_error $res, 400, 'SIZE_INVALID', 'the largest range, with a Content-Length';
    is status_range($srv, $loc), '0-0', 'nothing was appended';
};

subtest 'digest mismatch on the closing PUT drops the session' => sub {
    my $data = random_bytes(2000);
    my $loc = start_upload($srv, 'mismatch/repo');
    is_status patch_chunk($srv, $loc, $data, 0), 202, 'chunk';
    my $wrong = sha256($data . 'x');
    my $res = close_upload($srv, $loc, $wrong);
    is_error $res, 400, 'DIGEST_INVALID', 'closing with a digest of other content';
    ok !-e blob_path($srv, $wrong), 'no content file for the declared digest';
    ok !-e blob_path($srv, sha256($data)), 'no content file for the actual digest';
    is_deeply [ files_under($srv->storage . '/repositories/mismatch') ], [], 'no repository link';
    is_error $srv->req('GET', $loc), 404, 'BLOB_UPLOAD_UNKNOWN', 'the session is gone';
    ok !-e $_, "$_ removed" for session_files($srv, $loc);
    is_error close_upload($srv, $loc, sha256($data)), 404, 'BLOB_UPLOAD_UNKNOWN',
        'closing again with the right digest';
    is_error $srv->req('GET', "/v2/mismatch/repo/blobs/" . sha256($data)), 404, 'BLOB_UNKNOWN',
        'the content is not readable';
};

subtest 'closing PUT without or with a malformed ?digest=' => sub {
    my $loc = start_upload($srv, 'nodigest/repo');
    is_status patch_chunk($srv, $loc, 'abcd', 0), 202, 'chunk';
    is_error $srv->req('PUT', $loc), 400, 'DIGEST_INVALID', 'PUT without ?digest=';
    is_error close_upload($srv, $loc, 'sha256:xyz'), 400, 'DIGEST_INVALID', 'PUT ?digest=sha256:xyz';
    is_error close_upload($srv, $loc, 'md5:' . ('0' x 32)), 400, 'DIGEST_INVALID', 'PUT ?digest=md5:...';
    is_deeply [ files_under($srv->storage . '/repositories/nodigest') ], [], 'nothing in the repository';
};

subtest 'upload status GET and DELETE' => sub {
    my $loc = start_upload($srv, 'status/repo');
    my $res = $srv->req('GET', $loc);
    is_status $res, 204, 'status of an empty session';
    is $res->header('Location'), $loc, 'Location';
    is $res->header('Range'), '0-0', 'Range 0-0';
    is $res->content, '', 'no body';
    is_status patch_chunk($srv, $loc, 'x' x 10, 0), 202, 'chunk';
    $res = $srv->req('GET', $loc);
    is_status $res, 204, 'status after a chunk';
    is $res->header('Range'), '0-9', 'Range 0-9';
    is $res->header('Location'), $loc, 'Location';

    my @files = session_files($srv, $loc);
    ok -f $_, "$_ exists" for @files;
    $res = $srv->req('DELETE', $loc);
    is_status $res, 204, 'DELETE cancels';
    is_error $srv->req('GET', $loc), 404, 'BLOB_UPLOAD_UNKNOWN', 'status after DELETE';
    ok !-e $_, "$_ removed" for @files;
    is_error patch_chunk($srv, $loc, 'y', 10), 404, 'BLOB_UPLOAD_UNKNOWN', 'PATCH after DELETE';
    is_error $srv->req('DELETE', $loc), 404, 'BLOB_UPLOAD_UNKNOWN', 'DELETE again';
};

subtest 'a session is bound to its repository; ids must be 32 hex' => sub {
    my $loc = start_upload($srv, 'owner/repo');
    is_status patch_chunk($srv, $loc, 'abcd', 0), 202, 'chunk in the owning repository';
    my $id = session_id($loc);
    for my $other ('other', 'owner', 'owner/repo/sub', 'owner/rep') {
        my $oloc = "/v2/$other/blobs/uploads/$id";
        is_error $srv->req('GET', $oloc), 404, 'BLOB_UPLOAD_UNKNOWN', "GET through $other";
        is_error patch_chunk($srv, $oloc, 'efgh', 4), 404, 'BLOB_UPLOAD_UNKNOWN', "PATCH through $other";
        is_error close_upload($srv, $oloc, sha256('abcd')), 404, 'BLOB_UPLOAD_UNKNOWN',
            "PUT through $other";
        is_error $srv->req('DELETE', $oloc), 404, 'BLOB_UPLOAD_UNKNOWN', "DELETE through $other";
    }
    ok -f $_, "$_ still exists" for session_files($srv, $loc);
    is status_range($srv, $loc), '0-3', 'the session is untouched';
    is_deeply [ files_under($srv->storage . '/repositories/other') ], [], 'nothing stored in the other repository';

    for my $bad (uc($id), substr($id, 1), $id . '0', 'g' . substr($id, 1), 'xyz', 'z' x 32) {
        is_error $srv->req('GET', "/v2/owner/repo/blobs/uploads/$bad"), 404, 'BLOB_UPLOAD_UNKNOWN',
            "id '$bad'";
    }
    is_status close_upload($srv, $loc, sha256('abcd')), 201, 'closing in the owning repository';
};

subtest '?digest-algorithm=sha512' => sub {
    my $data = random_bytes(5000);
    my $d = sha512($data);
    my ($loc, $res) = start_upload($srv, 'sha512/repo', 'digest-algorithm=sha512');
    is $res->header('Range'), '0-0', 'Range 0-0';
    my @res = upload_chunks($srv, $loc, $data, 1000, 4000);
    is_status $_, 202, 'PATCH' for @res;
    $res = close_upload($srv, $loc, $d);
    is_status $res, 201, 'closing with the sha512 digest';
    is $res->header('Location'), "/v2/sha512/repo/blobs/$d", 'Location';
    is $res->header('Docker-Content-Digest'), $d, 'Docker-Content-Digest';
    ok -f blob_path($srv, $d), 'content under blobs/sha512/';
    ok -f link_path($srv, 'sha512/repo', '_blobs', $d), 'link under _blobs/sha512/';
    $res = $srv->req('GET', "/v2/sha512/repo/blobs/$d");
    is_status $res, 200, 'GET by sha512 digest';
    ok $res->content eq $data, 'content equal';
    is $res->header('Docker-Content-Digest'), $d, 'Docker-Content-Digest on GET';

    my $mono = random_bytes(777);
    $res = $srv->req('POST', '/v2/sha512/repo/blobs/uploads/?digest=' . sha512($mono), body => $mono);
    is_status $res, 201, 'monolithic POST with a sha512 digest';
    blob_is $srv, 'sha512/repo', sha512($mono), $mono, 'monolithic sha512 blob';

    $loc = start_upload($srv, 'sha512/repo', 'digest-algorithm=sha512');
    is_status patch_chunk($srv, $loc, $data, 0), 202, 'PATCH';
    is_error close_upload($srv, $loc, sha256("$data!")), 400, 'DIGEST_INVALID',
        'sha256 close of a sha512 session with a digest of other bytes '
        . '(t/023-upload-rehash.t: with the right one)';
    ok !-e blob_path($srv, sha256("$data!")), 'nothing stored under sha256';

    $loc = start_upload($srv, 'sha512/repo', 'digest-algorithm=sha256');
    is_status close_upload($srv, $loc, sha256('z'), body => 'z'), 201,
        '?digest-algorithm=sha256 is the default algorithm';
};

subtest 'concurrent pushes of the same blob' => sub {
    my $data = random_bytes(1 << 20);
    my $d = sha256($data);
    my $n = 4;
    my %kids;
    for my $k (1 .. $n) {
        my $pid = fork // die "fork: $!";
        if (!$pid) {
            my $rc = 0;
            my $res = $srv->req('POST', '/v2/race/repo/blobs/uploads/');
            my $loc = $res->header('Location');
            $rc = 1 unless $res->code == 202 && $loc;
            for (my $pos = 0; !$rc && $pos < length $data; $pos += 131072) {
                $res = patch_chunk($srv, $loc, substr($data, $pos, 131072), $pos);
                $rc = 2 unless $res->code == 202;
            }
            $rc ||= close_upload($srv, $loc, $d)->code == 201 ? 0 : 3;
            POSIX::_exit($rc);
        }
        $kids{$pid} = $k;
    }
    my @rc;
    for my $pid (keys %kids) {
        waitpid $pid, 0;
        push @rc, $? >> 8;
    }
    is_deeply \@rc, [ (0) x $n ], "all $n pushes: 202 for every chunk, 201 on close";
    my ($alg, $hex) = split /:/, $d;
    is_deeply [ grep { m{/\Q$hex\E$} } files_under($srv->storage . '/blobs') ],
        [ "sha256/" . substr($hex, 0, 2) . "/$hex" ], 'exactly one content file';
    is_deeply [ files_under($srv->storage . '/repositories/race/repo/_blobs') ], ["sha256/$hex"],
        'exactly one link in the repository';
    is +(stat blob_path($srv, $d))[3], 2, 'the content file has two names (content + link)';
    blob_is $srv, 'race/repo', $d, $data, 'raced blob';
};

subtest 'concurrent PATCH on the same session' => sub {
    my $data = random_bytes(20_000);
    my $loc = start_upload($srv, 'busy/repo');
    my $c1 = $srv->connect;
    ok $c1->send("PATCH $loc HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
                 . "Content-Range: 0-19999\r\nContent-Length: 20000\r\n\r\n"
                 . substr($data, 0, 10_000)), 'first PATCH: head and half of its body sent';
    sleep 0.3;
    my $res = patch_chunk($srv, $loc, 'abcd', 0);
    is_error $res, 416, 'BLOB_UPLOAD_INVALID', 'second PATCH while the first is in progress';
    is $res->header('Range'), '0-0', 'busy 416 carries the Range';
    is $res->header('Location'), $loc, 'busy 416 carries the Location';
    $res = close_upload($srv, $loc, sha256('abcd'), body => 'abcd');
    is_error $res, 416, 'BLOB_UPLOAD_INVALID', 'closing PUT while the first is in progress';
    is_error $srv->req('DELETE', $loc), 416, 'BLOB_UPLOAD_INVALID', 'DELETE while the first is in progress';
    ok $c1->send(substr($data, 10_000)), 'rest of the first body sent';
    $res = $c1->read_response('PATCH');
    $c1->close;
    is_status $res, 202, 'the first PATCH completes';
    is $res->header('Range'), '0-19999', 'with all its bytes';
    upload_closes $srv, $loc, 'busy/repo', $data, 'after the refused PATCH';
};

subtest 'a 64 MiB blob in one chunked PATCH' => sub {
    my $mib = random_bytes(1 << 20);
    my $sha = Digest::SHA->new(256);
    my $loc = start_upload($srv, 'large/repo');
    my $c = $srv->connect(timeout => 30);
    my $ok = $c->send("PATCH $loc HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
                      . "Transfer-Encoding: chunked\r\n\r\n");
    for my $i (0 .. 63) {
        my $chunk = pack('N', $i) . substr($mib, 4);   # every MiB differs
        $sha->add($chunk);
        $ok &&= $c->send(sprintf("%x\r\n", length $chunk) . $chunk . "\r\n");
    }
    $ok &&= $c->send("0\r\n\r\n");
    ok $ok, '64 MiB sent' or diag $c->write_error;
    my $res = $c->read_response('PATCH');
    $c->close;
    is_status $res, 202, 'chunked PATCH of 64 MiB';
    is $res->header('Range'), '0-' . (64 * 1048576 - 1), 'Range covers 64 MiB';
    my $d = 'sha256:' . $sha->hexdigest;
    $res = close_upload($srv, $loc, $d);
    is_status $res, 201, 'closing PUT';
    is $res->header('Docker-Content-Digest'), $d, 'digest matches';
    is -s blob_path($srv, $d), 64 * 1048576, 'content file is 64 MiB';
    open my $fh, '<:raw', blob_path($srv, $d) or die $!;
    is 'sha256:' . Digest::SHA->new(256)->addfile($fh)->hexdigest, $d, 'stored bytes hash to the digest';
    $res = $srv->req('HEAD', "/v2/large/repo/blobs/$d");
    is $res->header('Content-Length'), 64 * 1048576, 'HEAD reports the size';
};

subtest 'cross-repository mount' => sub {
    my $data = random_bytes(4000);
    my $d = push_blob($srv, 'mount/a', $data)->{digest};

    my $res = $srv->req('POST', "/v2/mount/b/blobs/uploads/?mount=$d&from=mount/a");
    is_status $res, 201, 'mount from a repository that has the blob';
    is $res->header('Location'), "/v2/mount/b/blobs/$d", 'Location is the blob in b';
    is $res->header('Docker-Content-Digest'), $d, 'Docker-Content-Digest';
    blob_is $srv, 'mount/b', $d, $data, 'mounted blob';
    ok -f link_path($srv, 'mount/b', '_blobs', $d), 'link in b';
    is +(stat blob_path($srv, $d))[3], 3, 'the same content file, linked from a and b';

    $res = $srv->req('POST', "/v2/mount/c/blobs/uploads/?mount=$d&from=mount/empty");
    is_status $res, 202, 'mount from a repository without the blob';
    like $res->header('Location'), qr{^/v2/mount/c/blobs/uploads/[0-9a-f]{32}$}, 'a new session instead';
    is $res->header('Range'), '0-0', 'empty session';
    is_status $srv->req('GET', $res->header('Location')), 204, 'the session exists';
    is_error $srv->req('GET', "/v2/mount/c/blobs/$d"), 404, 'BLOB_UNKNOWN', 'nothing mounted in c';

    $res = $srv->req('POST', "/v2/mount/d/blobs/uploads/?mount=$d");
    is_status $res, 202, 'mount without from';
    like $res->header('Location'), qr{^/v2/mount/d/blobs/uploads/[0-9a-f]{32}$}, 'a new session';
    is_error $srv->req('GET', "/v2/mount/d/blobs/$d"), 404, 'BLOB_UNKNOWN', 'never mounted without from';
    ok !-e link_path($srv, 'mount/d', '_blobs', $d), 'no link in d';
};

# --- several workers, reload, restart -------------------------------------

subtest 'a session survives other workers, a reload and a restart' => sub {
    my $w = OCI::Harness->start(config => $LOCATION, workers => 2);
    my $data = random_bytes(60_000);
    my $loc = start_upload($w, 'workers/repo');
    my @res = upload_chunks($w, $loc, $data, (2000) x 10);   # 10 connections
    is_deeply [ map { $_->code } @res ], [ (202) x 10 ], 'ten chunks on ten connections: 202 each'
        or diag join "\n", map { $_->code . ' ' . $_->content } @res;
    is status_range($w, $loc), '0-19999', 'Range after them';

    ok $w->reload, 'reload' or diag $w->error;
    is status_range($w, $loc), '0-19999', 'the session is known after the reload';
    my $res = patch_chunk($w, $loc, substr($data, 20_000, 20_000), 20_000);
    is_status $res, 202, 'chunk after the reload';
    is $res->header('Range'), '0-39999', 'Range';

    is $w->stop, 0, 'stopped' or diag $w->error_log_tail(30);
    ok $w->start, 'started again' or diag $w->error;
    is status_range($w, $loc), '0-39999', 'the session is known after the restart';
    $res = close_upload($w, $loc, sha256($data),
        headers => [ 'Content-Range' => '40000-59999' ], body => substr($data, 40_000));
    is_status $res, 201, 'closed after the restart';
    blob_is $w, 'workers/repo', sha256($data), $data, 'across workers, reload and restart';
    stops_cleanly $w;
};

# --- abandoned sessions -------------------------------------------------------

subtest 'abandoned sessions expire and are swept' => sub {
    my $e = OCI::Harness->start(config => registry_conf('oci_delete on;', 'oci_upload_timeout 3s;'));
    my $idle = start_upload($e, 'expire/repo');
    my $gone = start_upload($e, 'expire/repo');
    is_status patch_chunk($e, $gone, 'abcd', 0), 202, 'a chunk for the session that will expire';
    my $busy = start_upload($e, 'expire/repo');
    my @swept = session_files($e, $idle);
    ok -f $_, "$_ exists" for @swept;
    # a session in use does not expire: a chunk every second, 2 s short of
    # the timeout, for long enough that the two others are surely expired
    my @kept;
    for my $i (0 .. 4) {
        sleep 1;
        push @kept, patch_chunk($e, $busy, "$i", $i)->code;
    }
    is_deeply \@kept, [ (202) x 5 ], 'a session receiving a chunk every second stays alive';
    is_error $e->req('GET', $gone), 404, 'BLOB_UPLOAD_UNKNOWN', 'status of an expired session';
    is_error patch_chunk($e, $gone, 'efgh', 4), 404, 'BLOB_UPLOAD_UNKNOWN', 'PATCH of an expired session';
    is_error close_upload($e, $gone, sha256('abcd')), 404, 'BLOB_UPLOAD_UNKNOWN',
        'PUT of an expired session';
    my $deadline = time + 10;
    sleep 0.2 while (grep { -e } @swept) && time < $deadline;
    ok !-e $_, "$_ swept" for @swept;
    ok !-e $_, "$_ gone" for session_files($e, $gone);

    is status_range($e, $busy), '0-4', 'the session in use is still there';
    ok -f $_, "$_ kept" for session_files($e, $busy);

    my $fresh = start_upload($e, 'expire/repo');
    is_status patch_chunk($e, $fresh, 'abcd', 0), 202, 'a new session works';
    is_status close_upload($e, $fresh, sha256('abcd')), 201, 'and closes';
};

stops_cleanly $srv;

done_testing;
