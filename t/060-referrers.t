# Subjects, the referrers API and its index in Redis: the spec's referrers
# scenarios, each subject policy, deletes, and Redis stopped, restarted and
# paused in the middle of a run. Requests answered without any referrer
# (bad digests, methods, no oci_redis) are t/061-referrers-errors.t.

BEGIN { push @INC, 't/lib' }

use strict;
use warnings;
use Test::More;
use JSON::XS qw(decode_json);
use Time::HiRes qw(sleep time);
use OCI::Harness;
use OCI::Redis;
use OCI::Test;

my $redis = OCI::Redis->start or plan skip_all => 'redis-server not found';
my $sock = $redis->socket;

use constant {
    SIGNATURE => 'application/vnd.example.signature',
    SBOM      => 'application/vnd.example.sbom',
};

# a registry with deletes, and the referrers index in our Redis
sub registry {
    my (%o) = @_;
    return OCI::Harness->start(workers => $o{workers} // 1,
        config => registry_conf('oci_delete on;', "oci_redis unix:$sock;", $o{extra} // ''));
}

# PUT of a manifest (a hash): (response, digest, size). Artifacts carry
# the empty config; it is put in the repository first.
sub push_doc {
    my ($srv, $name, $ref, $doc) = @_;
    if ($doc->{config} && $doc->{config}{digest} eq EMPTY_DIGEST) {
        $srv->req('POST', "/v2/$name/blobs/uploads/?digest=" . EMPTY_DIGEST, body => '{}');
    }
    my ($res, $desc) = push_manifest($srv, $name, $ref, $doc);
    return ($res, $desc->{digest}, $desc->{size});
}

# an image whose content is unique to this run
my $n = 0;
sub push_image {
    my ($srv, $name, $tag) = @_;
    $n++;
    my ($res, $desc) = push_manifest($srv, $name, $tag // "v$n", new_image($srv, $name));
    is $res->code, 201, "image $n pushed";
    return $desc;
}

sub artifact {
    my ($subject, $type, %o) = @_;
    $n++;
    return { schemaVersion => 2, mediaType => OCI_MANIFEST,
             artifactType => $type, config => empty_desc(), layers => [ empty_desc() ],
             subject => $subject,
             annotations => { 'org.example.n' => "$n", %{ $o{annotations} // {} } } };
}

sub referrers {
    my ($srv, $name, $digest, $query, @headers) = @_;
    my $res = $srv->req('GET', "/v2/$name/referrers/$digest" . ($query // ''),
                        headers => \@headers);
    my $body = $res->code == 200 ? decode_json($res->content) : undef;
    return ($res, $body);
}

sub digests { [ map { $_->{digest} } @{ $_[0]{manifests} } ] }

subtest 'referrers pushed after their subject, image manifests and indexes' => sub {
    my $srv = registry();
    my $subject = push_image($srv, 'app');

    my @want;
    my $art = artifact($subject, SIGNATURE, annotations => { 'org.example.kind' => 'sig' });
    my ($res, $d, $size) = push_doc($srv, 'app', 'sig', $art);
    is $res->code, 201, 'signature pushed';
    is $res->header('OCI-Subject'), $subject->{digest}, 'OCI-Subject';
    push @want, { mediaType => OCI_MANIFEST, digest => $d, size => $size,
                  artifactType => SIGNATURE, annotations => $art->{annotations} };

    # artifactType comes from the config when the manifest has none
    my $cfg = push_blob($srv, 'app', '{"sbom":true}', SBOM);
    my $sbom = { schemaVersion => 2, mediaType => OCI_MANIFEST,
                 config => $cfg, layers => [], subject => $subject };
    my $sbom_digest = sha256(enc($sbom));
    ($res, $d, $size) = push_doc($srv, 'app', $sbom_digest, $sbom);
    is $res->code, 201, 'sbom pushed by digest';
    push @want, { mediaType => OCI_MANIFEST, digest => $d, size => $size,
                  artifactType => SBOM };

    # an index can be a referrer too, and has no artifactType then
    my $idx = { schemaVersion => 2, mediaType => OCI_INDEX,
                manifests => [], subject => $subject };
    ($res, $d, $size) = push_doc($srv, 'app', 'idx', $idx);
    is $res->code, 201, 'index referrer pushed';
    is $res->header('OCI-Subject'), $subject->{digest}, 'OCI-Subject on an index';
    push @want, { mediaType => OCI_INDEX, digest => $d, size => $size };

    my $body;
    ($res, $body) = referrers($srv, 'app', $subject->{digest});
    is $res->code, 200, 'status 200';
    is $res->header('Content-Type'), OCI_INDEX, 'index media type';
    is $body->{schemaVersion}, 2, 'schemaVersion';
    is $body->{mediaType}, OCI_INDEX, 'mediaType in the body';
    is_deeply $body->{manifests}, [ sort { $a->{digest} cmp $b->{digest} } @want ],
        'descriptors, in digest order';
    ok !defined $res->header('OCI-Filters-Applied'), 'no filter header';

    # an image manifest without a subject is not a referrer of anything
    ($res, $body) = referrers($srv, 'app', $want[0]{digest});
    is_deeply $body->{manifests}, [], 'a referrer has no referrers';
};

subtest 'referrers pushed before their subject' => sub {
    my $srv = registry();
    my $missing = { mediaType => OCI_MANIFEST, size => 100,
                    digest => sha256("not yet $$") };
    my ($res, $d) = push_doc($srv, 'early', 'sig', artifact($missing, SIGNATURE));
    is $res->code, 201, 'accepted although the subject does not exist';
    is $res->header('OCI-Subject'), $missing->{digest}, 'OCI-Subject';
    ok !defined $res->header('Warning'), 'no warning under "accept"';

    my $body;
    ($res, $body) = referrers($srv, 'early', $missing->{digest});
    is_deeply digests($body), [$d], 'listed before the subject exists';

    my $subject = push_image($srv, 'early');
    ($res, $body) = referrers($srv, 'early', $subject->{digest});
    is_deeply $body->{manifests}, [], 'the new image has its own (empty) list';
};

subtest 'filtering by artifactType' => sub {
    my $srv = registry();
    my $subject = push_image($srv, 'f');
    my (%by);
    for my $t (SIGNATURE, SIGNATURE, SBOM, 'application/vnd.example.other') {
        my ($res, $d) = push_doc($srv, 'f', "t$n", artifact($subject, $t));
        is $res->code, 201, "$t pushed";
        push @{ $by{$t} }, $d;
    }

    my ($res, $body) = referrers($srv, 'f', $subject->{digest},
                                 '?artifactType=' . SIGNATURE);
    is $res->header('OCI-Filters-Applied'), 'artifactType', 'filter header';
    is_deeply digests($body), [ sort @{ $by{+SIGNATURE} } ], 'only signatures';

    ($res, $body) = referrers($srv, 'f', $subject->{digest},
                              '?artifactType=' . SIGNATURE . '&artifactType='
                              . 'application%2Fvnd.example.sbom');
    is_deeply digests($body), [ sort @{ $by{+SIGNATURE} }, @{ $by{+SBOM} } ],
        'two filters, one percent-encoded';

    ($res, $body) = referrers($srv, 'f', $subject->{digest},
                              '?artifactType=application/none');
    is $res->code, 200, 'no match is still 200';
    is_deeply $body->{manifests}, [], 'and empty';
};

subtest 'pages follow Link headers, each entry once, in order' => sub {
    my $srv = registry(extra => 'oci_referrers_page_size 2;');
    my $subject = push_image($srv, 'p');
    my @all;
    for (1 .. 5) {
        my ($res, $d) = push_doc($srv, 'p', "a$_", artifact($subject, SIGNATURE));
        push @all, $d;
    }

    my (@seen, $pages);
    my $url = "/v2/p/referrers/$subject->{digest}";
    while ($url) {
        my $res = $srv->req('GET', $url);
        is $res->code, 200, 'page ' . ($pages // 0);
        my $body = decode_json($res->content);
        ok @{ $body->{manifests} } <= 2, 'at most the page size';
        push @seen, @{ digests($body) };
        my $link = $res->header('Link') // '';
        ($url) = $link =~ /^<([^>]+)>; rel="next"$/;
        last if ++$pages > 5;
    }
    is $pages, 3, 'three pages';
    is_deeply \@seen, [ sort @all ], 'every referrer exactly once, in order';

    my $res = $srv->req('GET', "/v2/p/referrers/$subject->{digest}?n=1&artifactType=" . SIGNATURE);
    like $res->header('Link'), qr/[?&]n=1&last=sha256:[0-9a-f]{64}&artifactType=/,
        'the next page keeps n and the filter';
};

subtest 'ETag changes exactly when the list does; If-None-Match gives 304' => sub {
    my $srv = registry();
    my $subject = push_image($srv, 'e');
    my ($res, $body) = referrers($srv, 'e', $subject->{digest});
    my $empty_etag = $res->header('ETag');
    like $empty_etag, qr/^"[0-9a-f]{64}"$/, 'an ETag for the empty list';

    $res = $srv->req('GET', "/v2/e/referrers/$subject->{digest}",
                     headers => [ 'If-None-Match' => $empty_etag ]);
    is $res->code, 304, '304 when nothing changed';
    is $res->content, '', 'without a body';

    my $art = artifact($subject, SIGNATURE);
    push_doc($srv, 'e', 'sig', $art);
    ($res) = referrers($srv, 'e', $subject->{digest});
    my $etag = $res->header('ETag');
    isnt $etag, $empty_etag, 'a new referrer changes the ETag';

    push_doc($srv, 'e', 'sig2', $art);
    ($res) = referrers($srv, 'e', $subject->{digest});
    is $res->header('ETag'), $etag, 'pushing the same referrer again does not';

    $res = $srv->req('GET', "/v2/e/referrers/$subject->{digest}",
                     headers => [ 'If-None-Match' => $empty_etag ]);
    is $res->code, 200, 'an old ETag gets the new list';
};

subtest 'subject policies' => sub {
    my $missing = { mediaType => OCI_MANIFEST, size => 10,
                    digest => sha256("missing $$") };

    my $srv = registry(extra => 'oci_subject_policy warn;');
    my ($res, $d) = push_doc($srv, 'w', 'sig', artifact($missing, SIGNATURE));
    is $res->code, 201, 'warn: accepted';
    is $res->header('Warning'),
        qq{299 - "subject $missing->{digest} not found in w"}, 'warn: Warning header';
    my $body;
    ($res, $body) = referrers($srv, 'w', $missing->{digest});
    is_deeply digests($body), [$d], 'warn: indexed';
    my $subject = push_image($srv, 'w');
    ($res) = push_doc($srv, 'w', 'sig2', artifact($subject, SIGNATURE));
    ok !defined $res->header('Warning'), 'warn: no warning when the subject exists';

    $srv = registry(extra => 'oci_subject_policy reject;');
    ($res, $d) = push_doc($srv, 'r', 'sig', artifact($missing, SIGNATURE));
    is $res->code, 400, 'reject: 400';
    is error_code($res), 'MANIFEST_BLOB_UNKNOWN', 'reject: MANIFEST_BLOB_UNKNOWN';
    is decode_json($res->content)->{errors}[0]{detail}{digest}, $missing->{digest},
        'reject: the subject in the detail';
    is $srv->req('GET', "/v2/r/manifests/$d")->code, 404, 'reject: nothing stored';
    is $srv->req('GET', '/v2/r/manifests/sig')->code, 404, 'reject: no tag';
    ($res, $body) = referrers($srv, 'r', $missing->{digest});
    is_deeply $body->{manifests}, [], 'reject: not indexed';

    $subject = push_image($srv, 'r');
    ($res) = push_doc($srv, 'r', 'sig', artifact($subject, SIGNATURE));
    is $res->code, 201, 'reject: accepted once the subject is there';

    # a subject in another repository does not count
    ($res) = push_doc($srv, 'r2', 'sig', artifact($subject, SIGNATURE));
    is $res->code, 400, 'reject: a subject in another repository is missing';
};

subtest 'deletes' => sub {
    my $srv = registry();
    my $subject = push_image($srv, 'd', 'latest');
    my ($res, $sig) = push_doc($srv, 'd', 'sig', artifact($subject, SIGNATURE));
    my (undef, $keep) = push_doc($srv, 'd', 'keep', artifact($subject, SBOM));

    $res = $srv->req('DELETE', "/v2/d/manifests/$sig");
    is $res->code, 202, 'referrer deleted';
    my ($r, $body) = referrers($srv, 'd', $subject->{digest});
    is_deeply digests($body), [$keep], 'and no longer listed';

    $res = $srv->req('DELETE', "/v2/d/manifests/$subject->{digest}");
    is $res->code, 202, 'subject deleted';
    is $srv->req('GET', '/v2/d/manifests/latest')->code, 404, 'subject gone';
    ($r, $body) = referrers($srv, 'd', $subject->{digest});
    is_deeply digests($body), [$keep],
        'its referrers stay listed: subject is a weak reference';
};

subtest 'an index entry without a stored manifest is never listed' => sub {
    my $srv = registry();
    my $subject = push_image($srv, 's');
    my (undef, $real) = push_doc($srv, 's', 'sig', artifact($subject, SIGNATURE));
    my $ghost = sha256("ghost $$");
    my $key = "oci:{s\@$subject->{digest}}";
    $redis->cli('ZADD', "$key:refs", 0, $ghost);
    $redis->cli('HSET', "$key:desc", $ghost,
                qq({"mediaType":"${\ OCI_MANIFEST}","digest":"$ghost","size":1}));

    my ($res, $body) = referrers($srv, 's', $subject->{digest});
    is_deeply digests($body), [$real], 'the ghost is not listed';
    is $redis->cli('ZSCORE', "$key:refs", $ghost), '', 'and dropped from the index';
    is $redis->cli('HEXISTS', "$key:desc", $ghost), '0', 'both keys';
};

# the digest right after $d in digest order (same algorithm and length)
sub next_digest {
    my ($d, $k) = @_;
    my ($alg, $hex) = split /:/, $d;
    my @h = split //, $hex;
    for (1 .. $k) {
        my $i = $#h;
        while ($h[$i] eq 'f') { $h[$i--] = '0' }
        $h[$i] = sprintf '%x', hex($h[$i]) + 1;
    }
    return "$alg:" . join '', @h;
}

# index entries for manifests that are not stored, as a lost answer or a
# failed delete leaves them
sub add_ghosts {
    my ($name, $subject, $type, @ghosts) = @_;
    my $key = "oci:{$name\@$subject}";
    for my $g (@ghosts) {
        $redis->cli('ZADD', "$key:refs", 0, $g);
        $redis->cli('ZADD', "$key:type:$type", 0, $g);
        $redis->cli('HSET', "$key:desc", $g,
            qq({"mediaType":"${\ OCI_MANIFEST}","digest":"$g","size":1,)
            . qq("artifactType":"$type"}));
    }
}

# follows Link from $url to the end: the digests seen and the page count
sub walk {
    my ($srv, $url) = @_;
    my (@seen, $pages);
    while ($url) {
        my $res = $srv->req('GET', $url);
        last unless $res->code == 200;
        push @seen, @{ digests(decode_json($res->content)) };
        ($url) = ($res->header('Link') // '') =~ /^<([^>]+)>; rel="next"$/;
        last if ++$pages > 50;
    }
    return (\@seen, $pages);
}

subtest 'a walk sees every stored referrer, whatever stale entries lie between' => sub {
    my $srv = registry();
    my $subject = push_image($srv, 'walk');
    my (@stored, %type);
    for (1 .. 4) {
        my $t = $_ % 2 ? SIGNATURE : SBOM;
        my ($res, $d) = push_doc($srv, 'walk', "a$_", artifact($subject, $t));
        push @stored, $d;
        $type{$d} = $t;
    }
    @stored = sort @stored;

    # before the first, one after each (three after the second: a whole
    # page of them), after the last; of either type
    my @ghosts = ('sha256:' . ('0' x 64), 'sha256:' . ('f' x 64),
                  map({ next_digest($_, 1) } @stored),
                  next_digest($stored[1], 2), next_digest($stored[1], 3));
    my $i = 0;
    my %ghosts = (SIGNATURE, [], SBOM, []);
    push @{ $ghosts{ $i++ % 2 ? SIGNATURE : SBOM } }, $_ for @ghosts;

    my %filters = (
        'none'   => [ '', \@stored ],
        'one'    => [ '&artifactType=' . SIGNATURE,
                      [ grep { $type{$_} eq SIGNATURE } @stored ] ],
        'two'    => [ '&artifactType=' . SBOM . '&artifactType=' . SIGNATURE,
                      \@stored ],
    );

    for my $n (1 .. 3) {
        for my $f (sort keys %filters) {
            my ($query, $want) = @{ $filters{$f} };
            add_ghosts('walk', $subject->{digest}, $_, @{ $ghosts{$_} })
                for keys %ghosts;
            my ($seen, $pages) =
                walk($srv, "/v2/walk/referrers/$subject->{digest}?n=$n$query");
            is_deeply $seen, $want,
                "n=$n, filter $f: every stored referrer once, in order"
                or diag "in $pages pages";
        }
    }

    my $key = "oci:{walk\@$subject->{digest}}";
    is_deeply [ sort @{ $redis->call('ZRANGE', "$key:type:" . SBOM, 0, -1) },
                @{ $redis->call('ZRANGE', "$key:type:" . SIGNATURE, 0, -1) } ],
              \@stored, 'the ghosts are dropped from the sets per type too';
};

subtest 'oci-admin reindex after FLUSHALL answers exactly as before' => sub {
    my $admin = ($ENV{OCI_BUILD} // 'build') . '/oci-admin';
    plan skip_all => "$admin not built (make tools)" unless -x $admin;

    my $srv = registry();
    my $subject = push_image($srv, 'rb/app');
    push_doc($srv, 'rb/app', "s$_", artifact($subject, $_ % 2 ? SIGNATURE : SBOM))
        for 1 .. 3;

    # an older client's referrers, kept only in the spec's fallback tag
    my $old = push_image($srv, 'rb/app');
    my $legacy = artifact(undef, SIGNATURE);
    delete $legacy->{subject};
    my ($res, $ld, $lsize) = push_doc($srv, 'rb/app', 'legacy', $legacy);
    is $res->code, 201, 'a signature pushed without subject';
    (my $fallback = $old->{digest}) =~ s/:/-/;
    ($res) = push_doc($srv, 'rb/app', $fallback,
        { schemaVersion => 2, mediaType => OCI_INDEX, manifests => [
            { mediaType => OCI_MANIFEST, digest => $ld, size => $lsize,
              artifactType => SIGNATURE } ] });
    is $res->code, 201, "fallback tag $fallback pushed";

    my ($before, $body) = referrers($srv, 'rb/app', $subject->{digest});
    is @{ $body->{manifests} }, 3, 'three referrers listed';
    my ($filtered) = referrers($srv, 'rb/app', $subject->{digest},
                               '?artifactType=' . SBOM);
    my $pushed = $redis->dump('oci:{rb/app@*');
    ok exists $pushed->{"oci:{rb/app\@$subject->{digest}}:type:" . SBOM},
        'a set per artifact type';
    ($res, $body) = referrers($srv, 'rb/app', $old->{digest});
    is_deeply $body->{manifests}, [], 'the fallback tag is not in the index yet';

    is $redis->cli('FLUSHALL'), 'OK', 'FLUSHALL';
    ($res, $body) = referrers($srv, 'rb/app', $subject->{digest});
    is_deeply $body->{manifests}, [], 'the index is empty';

    my $out = `$admin reindex --quiet --storage @{[ $srv->storage ]} --redis unix:$sock 2>&1`;
    is $? >> 8, 0, 'reindex succeeds' or diag $out;

    ($res, $body) = referrers($srv, 'rb/app', $subject->{digest});
    is $res->content, $before->content, 'the same body as before';
    is $res->header('ETag'), $before->header('ETag'), 'and the same ETag';
    ($res) = referrers($srv, 'rb/app', $subject->{digest}, '?artifactType=' . SBOM);
    is $res->content, $filtered->content, 'the same filtered body';
    my $rebuilt = $redis->dump('oci:{rb/app@*');
    delete $rebuilt->{$_} for grep { !exists $pushed->{$_} } keys %$rebuilt;
    is_deeply $rebuilt, $pushed, 'the keys the module wrote, byte for byte';

    ($res, $body) = referrers($srv, 'rb/app', $old->{digest});
    is_deeply digests($body), [$ld], 'the fallback tag\'s entries are merged';
    is $body->{manifests}[0]{artifactType}, SIGNATURE, 'with their artifactType';

    $out = `$admin reindex --json --storage @{[ $srv->storage ]} --redis unix:$sock 2>&1`;
    my $summary = eval { decode_json($out) } // {};
    is_deeply [ @$summary{qw(added removed rewritten)} ], [0, 0, 0],
        'a second run changes nothing' or diag $out;

    # a set per type that lost a member, one that holds a stranger, one
    # no descriptor names any more
    my $key = "oci:{rb/app\@$subject->{digest}}";
    my $sbom = $pushed->{"$key:type:" . SBOM}[0];
    $redis->call('ZREM', "$key:type:" . SBOM, $sbom);
    $redis->call('ZADD', "$key:type:" . SIGNATURE, 0, $sbom);
    $redis->call('ZADD', "$key:type:application/orphan", 0, $sbom);
    $redis->call('ZADD', "oci:{rb/gone\@$subject->{digest}}:type:x", 0, $sbom);
    $out = `$admin reindex --json --storage @{[ $srv->storage ]} --redis unix:$sock 2>&1`;
    $summary = eval { decode_json($out) } // {};
    is_deeply [ @$summary{qw(added removed rewritten)} ], [0, 1, 3],
        'the sets are corrected' or diag $out;
    $rebuilt = $redis->dump('oci:{rb/app@*');
    delete $rebuilt->{$_} for grep { !exists $pushed->{$_} } keys %$rebuilt;
    is_deeply $rebuilt, $pushed, 'as the module wrote them';
    is $redis->call('EXISTS', "$key:type:application/orphan"), 0,
        'a set no descriptor names is emptied';
    is $redis->call('EXISTS', "oci:{rb/gone\@$subject->{digest}}:type:x"), 0,
        'as is one of a repository gone';
};

subtest 'a slow query times out alone; the next one on the connection is answered' => sub {
    # Redis holds every command from t=0 to t=1.6; A is sent at t=0 and
    # times out at 1.2; B, sent at 0.8 behind A on the same connection,
    # is answered at 1.6, before its own deadline (2.0), though A's reply
    # comes first. Margins of 0.4 s each way.
    my $srv = registry(extra => 'oci_redis_timeout 1200ms;');
    my $subject = push_image($srv, 'slow');
    my (undef, $d) = push_doc($srv, 'slow', 'sig', artifact($subject, SIGNATURE));
    my $url = "/v2/slow/referrers/$subject->{digest}";
    is $srv->req('GET', $url)->code, 200, 'the connection to Redis is up';

    my $off = $srv->log_size;
    my ($a, $b) = ($srv->connect, $srv->connect);
    my $t0 = time;
    is $redis->call('CLIENT', 'PAUSE', 1600, 'ALL'), 'OK', 'Redis paused for 1.6 s';
    $a->send(OCI::Client::build_request('GET', $url));
    sleep 0.8;
    $b->send(OCI::Client::build_request('GET', $url));

    my $res = $a->read_response('GET');
    my $took = time - $t0;
    is $res->code, 503, 'the slow query: 503';
    is error_code($res), 'UNAVAILABLE', 'UNAVAILABLE';
    cmp_ok $took, '<', 1.6, 'at its own deadline, before Redis answered';

    $res = $b->read_response('GET');
    is $res->code, 200, 'the query behind it is answered' or diag dump_res($res);
    is_deeply digests(decode_json($res->content)), [$d], 'with the referrer'
        if $res->code == 200;
    $a->close;
    $b->close;

    my $log = $srv->error_log_since($off);
    like $log, qr/1 of 2 pending queries not answered in time, their answers will be dropped/,
        'the timeout is logged, for the one query';
    unlike $log, qr/closing the connection/, 'the connection was not reset';
    is $srv->req('GET', $url)->code, 200, 'and it still serves';

    # stuck: no answer one more timeout after the deadline resets it
    $srv = registry(extra => 'oci_redis_timeout 300ms;');
    is $srv->req('GET', $url)->code, 200, 'another registry, connected';
    $off = $srv->log_size;
    $redis->pause;
    is $srv->req('GET', $url)->code, 503, 'Redis stopped: 503 after 0.3 s';
    sleep 0.6;
    $redis->resume;
    like $srv->error_log_since($off), qr/closing the connection/,
        'a connection stuck for twice the timeout is reset';
    is $srv->req('GET', $url)->code, 200, 'a new one serves';
};

subtest 'Redis stopped, restarted and paused during a run' => sub {
    my $srv = registry(workers => 2, extra => 'oci_redis_timeout 500ms;');
    my $subject = push_image($srv, 'fault', 'latest');
    my ($res, $before) = push_doc($srv, 'fault', 'before', artifact($subject, SIGNATURE));
    is $res->code, 201, 'referrer pushed while Redis is up';

    $redis->stop;

    is $srv->req('GET', '/v2/fault/manifests/latest')->code, 200,
        'Redis down: manifest pulls work';
    is $srv->req('GET', "/v2/fault/blobs/" . EMPTY_DIGEST)->code, 200,
        'Redis down: blob pulls work';
    my $config = push_blob($srv, 'fault', 'blob while down');
    is $srv->req('GET', "/v2/fault/blobs/$config->{digest}")->code, 200,
        'Redis down: blob pushes and pulls work';
    my $plain = push_image($srv, 'fault');

    my $art = artifact($subject, SIGNATURE);
    my $d;
    for (1 .. 3) {
        ($res, $d) = push_doc($srv, 'fault', 'during', $art);
        is $res->code, 503, 'Redis down: a push with a subject gets 503';
        is error_code($res), 'UNAVAILABLE', 'UNAVAILABLE';
        like $res->header('Retry-After'), qr/^\d+$/, 'Retry-After';
    }
    is $srv->req('GET', "/v2/fault/manifests/$d")->code, 404,
        'nothing stored for it';
    is $srv->req('GET', '/v2/fault/manifests/during')->code, 404, 'no tag';
    ($res) = referrers($srv, 'fault', $subject->{digest});
    is $res->code, 503, 'referrers: 503';

    ok $redis->start_again, 'Redis restarted (empty: it keeps no data)';

    # a worker that failed to connect more than once waits before trying
    # again: at most 2 s (docs/referrers.md, oci_redis)
    sleep 2.1;

    ($res) = push_doc($srv, 'fault', 'during', $art);
    is $res->code, 201, 'the retried push succeeds once Redis is back';
    my $body;
    ($res, $body) = referrers($srv, 'fault', $subject->{digest});
    is_deeply digests($body), [$d],
        'listed (the entry from before the restart needs oci-admin reindex)';

    # paused: the query times out, the push is withdrawn; when Redis wakes
    # up it applies the queued MULTI, which readers must not believe
    $redis->pause;
    my $t0 = time;
    my $late = artifact($subject, SIGNATURE);
    my $ld;
    ($res, $ld) = push_doc($srv, 'fault', 'late', $late);
    my $took = time - $t0;
    is $res->code, 503, 'Redis paused: 503';
    cmp_ok $took, '<', 3, 'within the timeout, not hanging';
    is $srv->req('GET', '/v2/fault/manifests/latest')->code, 200,
        'Redis paused: pulls still answer';
    $redis->resume;
    sleep 0.3;

    is $srv->req('GET', "/v2/fault/manifests/$ld")->code, 404,
        'the timed-out push left nothing stored';
    ($res, $body) = referrers($srv, 'fault', $subject->{digest});
    is $res->code, 200, 'Redis back: referrers answer';
    ok !grep({ $_ eq $ld } @{ digests($body) }),
        'an entry Redis applied late is not listed: its manifest is not stored';

    ($res) = push_doc($srv, 'fault', 'late', $late);
    is $res->code, 201, 'and the retry succeeds';
    ($res, $body) = referrers($srv, 'fault', $subject->{digest});
    is_deeply digests($body), [ sort $d, $ld ], 'now listed';

    # Redis was down: nginx logs the failed connect()s at crit
    is $srv->crash_lines, '', 'no worker crashed';
};

done_testing;
