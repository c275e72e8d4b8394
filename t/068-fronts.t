# Several fronts on one storage (docs/operations.md, "Several nginx
# servers, one storage"): the front's location and the balancer of the
# document, read from it and run as written (addresses, the storage path
# and the Redis seeds replaced): three fronts on one storage root, a Redis
# Cluster of three masters with a replica each, and a plain nginx
# balancing over the fronts, all on 127.0.0.1.  Upload sessions hop
# fronts (also while a request of theirs is in progress on another), a
# tag pushed through the three at once, skopeo pushing through one front
# and pulling through another, the referrers, catalog and tag-list
# answers byte for byte the same on every front, the page cache
# invalidated by a push through another front, two fronts sweeping the
# same _uploads/ and _tmp/, oci-admin gc while the fronts take pushes.

BEGIN { push @INC, 't/lib' }

use strict;
use warnings;
use Test::More;
use Time::HiRes qw(time sleep);
use JSON::XS qw(decode_json);
use POSIX qw(WNOHANG);
use OCI::Harness;
use OCI::Redis;
use OCI::Sandbox;
use OCI::Test;

use constant SIGNATURE => 'application/vnd.example.signature';
use constant SBOM      => 'application/vnd.example.sbom';

my $DOC = 'docs/operations.md';
my $FRONT    = doc_block($DOC, qr/^\s*# on each front/);
my $UPSTREAM = doc_block($DOC, qr/^\s*upstream oci_fronts/);
my $BALANCER = doc_block($DOC, qr/^\s*# the balancer's location/);
like $FRONT, qr{oci_storage /srv/oci;.*oci_redis cluster=}s,
    "$DOC: the front's location";
is scalar(() = $UPSTREAM =~ /^\s*server 10\.0\.0\.1\d:5000;/mg), 3,
    "$DOC: the upstream names three fronts";
like $BALANCER, qr{proxy_pass http://oci_fronts;}, "$DOC: the balancer's location";

my $cluster = OCI::Redis::Cluster->start
    or plan skip_all => 'no Redis Cluster could be started';

sub front_conf {
    my ($storage, @more) = @_;
    my $t = $FRONT;
    $t =~ s{oci_storage /srv/oci;}{oci_storage $storage;} or die 'no storage';
    $t =~ s{cluster=[^;]+;}{'cluster=' . $cluster->seeds . ';'}e or die 'no redis';
    $t =~ s/^\}\s*\z/join('', map { "    $_\n" } @more) . "}\n"/me;
    return $t;
}

# three fronts: the first one's storage is everybody's
my @F = (OCI::Harness->start(workers => 2, log_level => 'info',
                             config => front_conf('$TEST_NGINX_STORAGE')));
my $S = $F[0]->storage;
push @F, map { OCI::Harness->start(workers => 2, log_level => 'info',
                                   config => front_conf($S)) } 1, 2;

my $i = 0;
(my $upstream = $UPSTREAM) =~ s/10\.0\.0\.1\d:5000/'127.0.0.1:' . $F[$i++]->port/ge;
my $LB = OCI::Harness->start(log_level => 'info', http_config => $upstream,
                             config => $BALANCER);

my @ALL = (@F, $LB);
sub names { ('front 0', 'front 1', 'front 2', 'balancer') }

# the access-log lines of a session's PATCHes, per front
sub patches_seen {
    my ($loc) = @_;
    my $id = session_id($loc);
    return map {
        my $log = slurp($_->path('logs', 'access.log')) // '';
        scalar(() = $log =~ /"PATCH [^"]*\Q$id\E[^"]*" 202 /g);
    } @F;
}

subtest 'an upload session hops fronts' => sub {
    my $data = random_bytes(30_000);
    my $loc = start_upload($F[0], 'hop/direct');
    for my $n (0 .. 5) {
        my $res = patch_chunk($F[($n + 1) % 3], $loc,
                              substr($data, $n * 5000, 5000), $n * 5000);
        is_status $res, 202, "PATCH $n on front " . (($n + 1) % 3);
        is $res->header('Range'), '0-' . ($n * 5000 + 4999), 'its Range';
    }
    is status_range($_, $loc), '0-29999', 'the session as every front sees it'
        for @ALL;
    upload_closes $F[2], $loc, 'hop/direct', $data, 'closed on front 2';
    blob_is($_, 'hop/direct', sha256($data), $data, 'on every front') for @ALL;
    my @left = grep { -e } session_files($F[0], $loc);
    is "@left", '', 'no session file left';

    # through the balancer: round robin spreads the PATCHes
    $data = random_bytes(90_000);
    $loc = start_upload($LB, 'hop/balanced');
    my @res = upload_chunks($LB, $loc, $data, (10_000) x 9);
    is join(' ', map { $_->code } @res), join(' ', (202) x 9),
        'nine PATCHes through the balancer';
    # a front logs a request after its answer is on its way: wait for
    # the last lines
    my ($until, @seen) = (time + 10);
    do { sleep 0.05 if @seen; @seen = patches_seen($loc) }
        while eval { $seen[0] + $seen[1] + $seen[2] } < 9 && time < $until;
    is scalar(grep { $_ > 0 } @seen), 3, 'every front took some of them'
        or diag "PATCHes per front: @seen";
    is eval { $seen[0] + $seen[1] + $seen[2] }, 9, 'each one once';
    upload_closes $LB, $loc, 'hop/balanced', $data, 'through the balancer';
};

# whether a process holds flock() on the file, as /proc/locks says
sub flocked {
    my ($file) = @_;
    my $ino = (stat $file)[1] // return 0;
    return (slurp('/proc/locks') // '')
        =~ /\bFLOCK\s+ADVISORY\s+WRITE\s+\d+\s+[0-9a-f]+:[0-9a-f]+:$ino\s/;
}

subtest 'a session busy on one front is busy on the others' => sub {
    my $data = random_bytes(20_000);
    my $loc = start_upload($F[0], 'hop/busy');
    my $c = $F[0]->connect;
    ok $c->send("PATCH $loc HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
                . "Content-Range: 0-19999\r\nContent-Length: 20000\r\n\r\n"
                . substr($data, 0, 10_000)), 'front 0: half of a PATCH sent';
    my ($file) = session_files($F[0], $loc);
    my $until = time + 10;
    sleep 0.05 until flocked($file) || time > $until;
    ok flocked($file), "front 0 holds the lock of the session's data file";
    my $res = patch_chunk($F[1], $loc, 'abcd', 0);
    is_error $res, 416, 'BLOB_UPLOAD_INVALID', 'front 1: a second PATCH';
    is $res->header('Range'), '0-0', 'with the Range committed so far';
    is_error close_upload($F[2], $loc, sha256('abcd'), body => 'abcd'), 416,
        'BLOB_UPLOAD_INVALID', 'front 2: a closing PUT';
    is_error $F[1]->req('DELETE', $loc), 416, 'BLOB_UPLOAD_INVALID',
        'front 1: a DELETE';
    ok $c->send(substr($data, 10_000)), 'front 0: the rest sent';
    $res = $c->read_response('PATCH');
    $c->close;
    is_status $res, 202, 'front 0: the first PATCH completes';
    upload_closes $F[1], $loc, 'hop/busy', $data, 'closed on front 1';
};

subtest 'one tag pushed through the three fronts at once' => sub {
    my @winners;
    for my $round (1 .. 8) {
        my @bytes = map { enc(new_image($F[$_], 'race/tag')) } 0 .. 2;
        my @c = map { $F[$_]->connect } 0 .. 2;
        for my $k (0 .. 2) {
            $c[$k]->send("PUT /v2/race/tag/manifests/v1 HTTP/1.1\r\n"
                         . "Host: localhost\r\nConnection: close\r\n"
                         . 'Content-Type: ' . OCI_MANIFEST . "\r\n"
                         . 'Content-Length: ' . length($bytes[$k]) . "\r\n\r\n"
                         . $bytes[$k]);
        }
        my @codes = map { my $r = $_->read_response('PUT'); $_->close; $r->code } @c;
        is "@codes", '201 201 201', "round $round: each front stored its push";
        my @tags = map { sha256($_->req('GET', '/v2/race/tag/manifests/v1')->content) } @ALL;
        my %pushed = map { sha256($_) => 1 } @bytes;
        ok $pushed{ $tags[0] }, "round $round: the tag names one of them";
        is scalar(grep { $_ eq $tags[0] } @tags), 4, "round $round: on every front";
    }
    opendir my $dh, "$S/repositories/race/tag/_tags" or die $!;
    my @locks = grep { /\.lock/ } readdir $dh;
    is "@locks", '', 'no lock file left';
};

# --- skopeo ---------------------------------------------------------------

SKIP: {
    skip 'skopeo not installed (make test installs it)', 1 unless which('skopeo');
    subtest 'skopeo pushes through one front and pulls through another' => sub {
        my $sb = OCI::Sandbox->new('oci-fronts');
        my $dir = $sb->dir;
        my $src = "$dir/src";
        mkdir "$dir/files";
        spew("$dir/files/hello", "hello from the fronts $$\n");
        my ($rc, undef, $err) = run_cmd([ 'tar', '-C', "$dir/files", '-czf',
                                          "$dir/layer.tgz", 'hello' ]);
        is $rc, 0, 'a layer made with tar' or diag $err;
        my $layer = slurp("$dir/layer.tgz");
        my $config = enc({ architecture => 'amd64', os => 'linux',
                           rootfs => { type => 'layers',
                                       diff_ids => [ sha256(`gzip -dc $dir/layer.tgz`) ] } });
        my $m = enc(image_manifest(
            config => { mediaType => OCI_CONFIG, digest => sha256($config),
                        size => length $config },
            layers => [ { mediaType => OCI_LAYER, digest => sha256($layer),
                          size => length $layer } ]));
        mkdir $_ for $src, "$src/blobs", "$src/blobs/sha256";
        spew("$src/blobs/sha256/" . (sha256($_) =~ s/^sha256://r), $_)
            for $config, $layer, $m;
        spew("$src/oci-layout", '{"imageLayoutVersion":"1.0.0"}');
        spew("$src/index.json", enc({ schemaVersion => 2, manifests => [ {
            mediaType => OCI_MANIFEST, digest => sha256($m), size => length $m,
            annotations => { 'org.opencontainers.image.ref.name' => 'v1' } } ] }));
        $sb->give_away;

        my @reg = map { '127.0.0.1:' . $_->port } @ALL;
        $sb->run_ok('push through front 0', 'skopeo', 'copy', '--preserve-digests',
                    '--dest-tls-verify=false', "oci:$src:v1",
                    "docker://$reg[0]/fronts/skopeo:v1") or return;
        for my $k (1, 3) {
            $sb->run_ok("pull through $reg[$k]", 'skopeo', 'copy',
                        '--preserve-digests', '--src-tls-verify=false',
                        "docker://$reg[$k]/fronts/skopeo:v1", "oci:$dir/out$k:v1")
                or next;
            my $idx = decode_json(slurp("$dir/out$k/index.json"));
            is $idx->{manifests}[0]{digest}, sha256($m), 'the same manifest digest';
            is slurp("$dir/out$k/blobs/sha256/" . (sha256($layer) =~ s/^sha256://r)),
                $layer, 'the same layer';
        }
        my $tags = $sb->run_ok('list-tags through front 2', 'skopeo', 'list-tags',
                               '--tls-verify=false', "docker://$reg[2]/fronts/skopeo");
        is_deeply eval { decode_json($tags)->{Tags} }, ['v1'], 'v1 listed';
    };
}

# --- the same answers everywhere ------------------------------------------

sub referrer {
    my ($srv, $name, $type, $subject) = @_;
    $srv->req('POST', "/v2/$name/blobs/uploads/?digest=" . EMPTY_DIGEST,
              body => '{}');
    my $doc = { schemaVersion => 2, mediaType => OCI_MANIFEST,
                artifactType => $type, config => empty_desc(),
                layers => [ empty_desc() ], subject => $subject,
                annotations => { 'org.example.u' => unique() } };
    my ($res, $desc) = push_manifest($srv, $name, sha256(enc($doc)), $doc);
    is $res->code, 201, "a $type referrer pushed" or diag dump_res($res);
    return $desc->{digest};
}

sub same_everywhere {
    my ($path, $what) = @_;
    my $first = $F[0]->req('GET', $path);
    is $first->code, 200, "$what: 200 from front 0" or diag dump_res($first);
    same_answer($ALL[$_]->req('GET', $path), $first, "$what, " . (names())[$_])
        for 1 .. $#ALL;
    return $first;
}

subtest 'referrers, catalog and tags: the same bytes on every front' => sub {
    my ($res, $subj) = push_manifest($F[1], 'same/app', 'v1', new_image($F[1], 'same/app'));
    is $res->code, 201, 'subject pushed through front 1';
    push_manifest($F[2], 'same/app', "t$_", new_image($F[2], 'same/app')) for 1 .. 4;
    push_manifest($F[$_ % 3], "same/other$_", 'v1', new_image($F[$_ % 3], "same/other$_"))
        for 1 .. 3;
    my @refs = map { referrer($F[$_ % 3], 'same/app', $_ % 2 ? SIGNATURE : SBOM, $subj) }
               0 .. 5;
    my $D = $subj->{digest};
    my $r = "/v2/same/app/referrers/$D";

    # twice: rendered from the index, then from the page cache
    for my $pass ('first', 'second') {
        same_everywhere($r, "$pass read, referrers");
        same_everywhere("$r?artifactType=" . enc_q(SIGNATURE), "$pass read, signatures");
        same_everywhere("$r?artifactType=" . enc_q(SBOM), "$pass read, SBOMs");
    }
    my $list = decode_json(same_everywhere($r, 'referrers')->content);
    is_deeply [ sort map { $_->{digest} } @{ $list->{manifests} } ], [ sort @refs ],
        'every referrer listed';
    same_everywhere('/v2/_catalog', 'catalog');
    same_everywhere('/v2/_catalog?n=2', 'catalog, first page');
    same_everywhere('/v2/_catalog?n=2&last=same/other1', 'catalog, a later page');
    same_everywhere('/v2/same/app/tags/list', 'tags');
    same_everywhere('/v2/same/app/tags/list?n=2', 'tags, first page');
    same_everywhere('/v2/same/app/tags/list?n=2&last=t2', 'tags, a later page');

    # the page cached on front 2 gives way to a push through front 0
    my $new = referrer($F[0], 'same/app', SIGNATURE, $subj);
    same_everywhere($r, 'after a push through front 0');
    $list = decode_json($F[2]->req('GET', $r)->content);
    ok grep({ $_->{digest} eq $new } @{ $list->{manifests} }),
        'front 2 lists what front 0 took';
    is_status $F[1]->req('DELETE', "/v2/same/app/manifests/$new"), 202,
        'deleted through front 1';
    same_everywhere($r, 'after a delete through front 1');
    $list = decode_json($F[2]->req('GET', $r)->content);
    ok !grep({ $_->{digest} eq $new } @{ $list->{manifests} }), 'gone on front 2';
};

sub enc_q { my ($s) = @_; $s =~ s/([^A-Za-z0-9._~-])/sprintf '%%%02X', ord $1/ger }

# --- the sweepers of two fronts -------------------------------------------

sub entries {
    my ($dir) = @_;
    opendir my $dh, $dir or die "$dir: $!";
    my @e = sort grep { !/^\./ } readdir $dh;
    return @e;
}

subtest 'two fronts sweep the same _uploads/ and _tmp/' => sub {
    my @W = (OCI::Harness->start(log_level => 'info',
                 config => registry_conf('oci_upload_timeout 4s;')));
    my $T = $W[0]->storage;
    push @W, OCI::Harness->start(log_level => 'info',
        config => OCI::Test::_location($T, 'oci_upload_timeout 4s;'));
    my $live = start_upload($W[0], 'sweep/repo');
    is_status patch_chunk($W[1], $live, 'abcd', 0), 202, 'a live session';

    # made aside, then put in place at once: both sweepers find them all
    my ($n, $old) = (3000, time - 86400);
    my $aside = "$T/_uploads.new";
    mkdir $aside or die $!;
    for my $k (1 .. $n) {
        my $id = sprintf '%032x', $k;
        for my $f ("$aside/$id.data", "$aside/$id.state") {
            open my $fh, '>', $f or die "$f: $!";
            close $fh;
            utime $old, $old, $f or die "$f: $!";
        }
    }
    # two big ones, freed off the event loop through _tmp/
    for my $id ('b' x 32, 'c' x 32) {
        open my $fh, '>', "$aside/$id.data" or die $!;
        truncate $fh, 20 << 20 or die $!;
        close $fh;
        spew("$aside/$id.state", '');
        utime $old, $old, "$aside/$id.data", "$aside/$id.state" or die $!;
    }
    open my $big, '>', "$T/_tmp/stray-big" or die $!;
    truncate $big, 20 << 20 or die $!;
    close $big;
    utime $old, $old, "$T/_tmp/stray-big" or die $!;
    for my $k (1 .. 200) {
        my $f = "$T/_tmp/stray-$k";
        spew($f, 'x');
        utime $old, $old, $f or die $!;
    }
    rename $_, $aside . '/' . ($_ =~ s{.*/}{}r) or die "$_: $!"
        for session_files($W[0], $live);
    my @off = map { $_->log_size } @W;
    rename "$T/_uploads", "$T/_uploads.old" or die $!;
    rename $aside, "$T/_uploads" or die $!;
    rmdir "$T/_uploads.old" or die $!;

    my $until = time + 60;
    sleep 0.2 while time < $until
        && (entries("$T/_uploads") > 2 || grep { /^stray|^[bc]{32}/ } entries("$T/_tmp"));
    my @left = entries("$T/_uploads");
    is scalar(@left), 2, 'only the live session is left in _uploads/'
        or diag scalar(@left) . ' entries left';
    my @tmp = grep { /^stray|^[bc]{32}/ } entries("$T/_tmp");
    is "@tmp", '', 'nothing of ours left in _tmp/';
    my @logs = map { $W[$_]->error_log_since($off[$_]) } 0, 1;
    my @swept = map { scalar(() = /removing abandoned upload/g) } @logs;
    is $swept[0] + $swept[1], $n + 2, 'every session removed once'
        or diag "per front: @swept";
    # which front's timer comes first, and whether it is done before the
    # other's comes, is the machine's: both usually share the work
    note "sessions removed per front: @swept";
    my @bad = grep { /\[(?:error|crit|alert|emerg)\]/ } map { split /\n/ } @logs;
    is join("\n", @bad), '', 'no error logged by either front';

    is_status patch_chunk($W[0], $live, 'efgh', 4), 202, 'the live session goes on';
    upload_closes $W[1], $live, 'sweep/repo', 'abcdefgh', 'and closes';
    is $_->crash_lines, '', 'no worker crashed' for @W;
};

# --- gc while the fronts take pushes --------------------------------------

subtest 'oci-admin gc while the fronts take pushes' => sub {
    need_admin() or return;

    # something for gc to remove: an image whose manifest is deleted
    my ($res, $gone) = push_manifest($F[0], 'gc/app', 'old', new_image($F[0], 'gc/app'));
    is_status $F[1]->req('DELETE', "/v2/gc/app/manifests/$gone->{digest}"), 202,
        'an image deleted';

    my $stop = $F[0]->path('gc.stop');
    my $pid = fork // die "fork: $!";
    if (!$pid) {
        my $runs = 0;
        until (-e $stop || $runs >= 100) {
            my ($rc) = oci_admin('gc', '--storage', $S, '--untagged', '--json');
            POSIX::_exit(1) if $rc;
            $runs++;
            spew("$stop.done", $runs);
        }
        spew("$stop.runs", $runs);
        POSIX::_exit(0);    # not through Test::Builder's END
    }
    # 30 pushes at least, and on until gc has run twice meanwhile (on a
    # loaded machine a gc can outlast 30 pushes); 300 at most
    my (%pushed, $k);
    for ($k = 1; $k <= 300; $k++) {
        last if $k > 30 && (slurp("$stop.done") || 0) >= 2;
        my $doc = new_image($F[$k % 3], 'gc/app');
        my ($r, $d) = push_manifest($F[($k + 1) % 3], 'gc/app', "t$k", $doc);
        $pushed{"t$k"} = [ $doc, $d->{digest} ] if $r->code == 201;
    }
    $k--;
    spew($stop, '');
    waitpid $pid, 0;
    is $?, 0, 'gc succeeded every time';
    my $runs = slurp("$stop.runs") // 0;
    cmp_ok $runs, '>=', 2, "gc ran $runs times while the pushes went on";
    is scalar(keys %pushed), $k, "every push accepted ($k)";
    my $bad = 0;
    for my $tag (sort keys %pushed) {
        my ($doc, $digest) = @{ $pushed{$tag} };
        my $f = $F[int rand 3];
        $bad++ unless sha256($f->req('GET', "/v2/gc/app/manifests/$tag")->content) eq $digest;
        for my $b ($doc->{config}, @{ $doc->{layers} }) {
            $bad++ unless $f->req('GET', "/v2/gc/app/blobs/$b->{digest}")->code == 200;
        }
    }
    is $bad, 0, 'every image pushed meanwhile is served whole';
    my ($rc, $j) = oci_admin_json('fsck', '--storage', $S);
    is $rc, 0, 'fsck finds nothing wrong' or diag explain $j;
};

is $_->crash_lines, '', 'no worker crashed' for @ALL;
stops_cleanly($_) for reverse @ALL;
done_testing;
