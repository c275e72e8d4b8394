# oci-admin reindex: a storage tree built by hand as docs/storage.md lays
# it out, a redis-server of our own on a unix socket, and the referrers
# index checked key by key (docs/admin.md).

BEGIN { push @INC, 't/lib' }
use strict;
use warnings;
use Test::More;
use File::Temp qw(tempdir);
use Digest::SHA qw(sha256_hex sha512_hex);
use JSON::XS qw(decode_json);
use OCI::Redis;
use OCI::Test;

my $redis = OCI::Redis->start or plan skip_all => 'redis-server is not installed';
need_admin();

my $TMP = tempdir('oci-reindex-XXXXXX', TMPDIR => 1, CLEANUP => 1);
my $STORAGE = "$TMP/storage";
my $SOCK = $redis->socket;

# every key of the current database: { key => [zset pairs] | {hash} | string }
sub dump_keys { $redis->dump(@_) }

# --- storage ----------------------------------------------------------------

sub desc_json {
    my ($d) = @_;
    return qq({"mediaType":"$d->{mediaType}","digest":"$d->{digest}","size":$d->{size}});
}

sub image_json {
    my (%o) = @_;
    my $config = $o{config} // qq({"mediaType":") . OCI_CONFIG . qq(","digest":")
        . sha256("config $o{salt}") . qq(","size":42});
    my $j = qq({"schemaVersion":2,"mediaType":") . OCI_MANIFEST . '"';
    $j .= qq(,"artifactType":"$o{artifactType}") if $o{artifactType};
    $j .= qq(,"config":$config,"layers":[{"mediaType":") . OCI_LAYER
        . qq(","digest":") . sha256("layer $o{salt}") . qq(","size":7}]);
    $j .= qq(,"subject":) . desc_json($o{subject}) if $o{subject};
    $j .= qq(,"annotations":$o{annotations}) if $o{annotations};
    return "$j}";
}

sub index_json {
    my (%o) = @_;
    my $j = qq({"schemaVersion":2,"mediaType":") . OCI_INDEX . '"';
    $j .= qq(,"artifactType":"$o{artifactType}") if $o{artifactType};
    $j .= qq(,"manifests":[) . join(',', map { desc_json($_) } @{ $o{manifests} }) . ']';
    $j .= qq(,"subject":) . desc_json($o{subject}) if $o{subject};
    $j .= qq(,"annotations":$o{annotations}) if $o{annotations};
    return "$j}";
}

# the descriptor the index must hold, as ngx_oci_index_descriptor()
# writes it: mediaType, digest, size, artifactType, annotations
sub expect_desc {
    my ($d, $artifact_type, $annotations) = @_;
    my $j = substr(desc_json($d), 0, -1);
    $j .= qq(,"artifactType":"$artifact_type") if defined $artifact_type;
    $j .= qq(,"annotations":$annotations) if defined $annotations;
    return "$j}";
}

my $EMPTY_CONFIG = qq({"mediaType":") . OCI_EMPTY . qq(","digest":")
    . sha256('{}') . qq(","size":2});

# library/app, nested: an image and an index as subjects, four referrers
my $app = 'library/app';
my $m1 = store_manifest($STORAGE, $app, image_json(salt => 'm1'));
my $i1 = store_manifest($STORAGE, $app, index_json(manifests => [$m1]));

my $r1_ann = '{"org.example.b":"2","org.example.a":"1"}';
my $r1 = store_manifest($STORAGE, $app, image_json(salt => 'r1', config => $EMPTY_CONFIG,
    artifactType => 'application/vnd.example.signature', subject => $m1,
    annotations => $r1_ann));
my $r2 = store_manifest($STORAGE, $app, image_json(salt => 'r2', subject => $m1,
    config => qq({"mediaType":"application/vnd.example.sbom.config.v1+json","digest":")
        . sha256('sbom') . qq(","size":4})));
my $r3 = store_manifest($STORAGE, $app, index_json(manifests => [$r1],
    artifactType => 'application/vnd.example.bundle', subject => $m1,
    annotations => '{"org.example.kind":"bundle"}'));
# a referrer of the index, stored under its sha512 digest
my $r4 = store_manifest($STORAGE, $app, image_json(salt => 'r4', config => $EMPTY_CONFIG,
    artifactType => 'application/vnd.example.attestation', subject => $i1), alg => 'sha512');
store_tag($STORAGE, $app, 'v1', $m1->{digest});

# a corrupt referrer: its bytes do not hash to its name
my $bad_json = image_json(salt => 'bad', config => $EMPTY_CONFIG,
    artifactType => 'application/vnd.example.bad', subject => $m1);
my $bad = store_manifest($STORAGE, $app, $bad_json,
    digest => sha256("$bad_json tampered"));

# a link whose .type is gone (a delete cut short) is not stored
my $half = store_manifest($STORAGE, $app, image_json(salt => 'half', config => $EMPTY_CONFIG,
    artifactType => 'application/vnd.example.half', subject => $m1), no_type => 1);

# "library" is a repository too, its referrer's subject is not stored
my $lib_subject = { mediaType => OCI_MANIFEST, digest => sha256('absent'), size => 99 };
my $r6 = store_manifest($STORAGE, 'library', image_json(salt => 'r6', config => $EMPTY_CONFIG,
    artifactType => 'application/vnd.example.note', subject => $lib_subject));

# other/deep/repo: a fallback tag from before the referrers API, listing
# A (no subject field), C (which also names the subject) and B, not stored
my $deep = 'other/deep/repo';
my $s_digest = sha256('legacy subject');
(my $s_tag = $s_digest) =~ s/:/-/;
my $s_desc = { mediaType => OCI_MANIFEST, digest => $s_digest, size => 123 };
my $fa = store_manifest($STORAGE, $deep, image_json(salt => 'fa', config => $EMPTY_CONFIG,
    artifactType => 'application/vnd.example.legacy-sig'));
my $fc = store_manifest($STORAGE, $deep, image_json(salt => 'fc', config => $EMPTY_CONFIG,
    artifactType => 'application/vnd.example.legacy-sbom', subject => $s_desc));
my $fb = { mediaType => OCI_MANIFEST, digest => sha256('never pushed'), size => 5 };
my $fi = store_manifest($STORAGE, $deep, index_json(manifests => [$fa, $fb, $fc]));
store_tag($STORAGE, $deep, $s_tag, $fi->{digest});
# a tag that looks like one but points to an image manifest: not a list
store_tag($STORAGE, $deep, 'sha256-' . sha256_hex('other subject'), $fa->{digest});

# sha512 subjects: the tag holds the first 64 hex digits only, the rest is
# found from the manifest stored (X) or from the entries' subject (Y)
my $x512 = store_manifest($STORAGE, $deep, image_json(salt => 'x512'), alg => 'sha512');
my $fd = store_manifest($STORAGE, $deep, image_json(salt => 'fd', config => $EMPTY_CONFIG,
    artifactType => 'application/vnd.example.d'));
my $fi2 = store_manifest($STORAGE, $deep, index_json(manifests => [$fd]));
store_tag($STORAGE, $deep, 'sha512-' . substr($x512->{digest}, 7, 64), $fi2->{digest});
my $y512 = { mediaType => OCI_MANIFEST, digest => sha512('y'), size => 77 };
my $fe = store_manifest($STORAGE, $deep, image_json(salt => 'fe', config => $EMPTY_CONFIG,
    artifactType => 'application/vnd.example.e', subject => $y512));
my $fi3 = store_manifest($STORAGE, $deep, index_json(manifests => [$fe]));
store_tag($STORAGE, $deep, 'sha512-' . substr($y512->{digest}, 7, 64), $fi3->{digest});
# and a sha512 tag whose subject nothing tells
my $z_tag = 'sha512-' . substr(sha512_hex('z'), 0, 64);
store_tag($STORAGE, $deep, $z_tag, $fi2->{digest});

# not repositories: an invalid name, a directory of the registry's own
store_manifest($STORAGE, 'Bad', image_json(salt => 'x', subject => $m1));
store_manifest($STORAGE, 'library/app/_blobs/x', image_json(salt => 'y', subject => $m1));

my %expect = (
    "oci:{$app\@$m1->{digest}}" => {
        $r1->{digest} => expect_desc($r1, 'application/vnd.example.signature', $r1_ann),
        $r2->{digest} => expect_desc($r2, 'application/vnd.example.sbom.config.v1+json'),
        $r3->{digest} => expect_desc($r3, 'application/vnd.example.bundle',
                                     '{"org.example.kind":"bundle"}'),
    },
    "oci:{$app\@$i1->{digest}}" => {
        $r4->{digest} => expect_desc($r4, 'application/vnd.example.attestation'),
    },
    "oci:{library\@$lib_subject->{digest}}" => {
        $r6->{digest} => expect_desc($r6, 'application/vnd.example.note'),
    },
    "oci:{$deep\@$s_digest}" => {
        $fa->{digest} => expect_desc($fa, 'application/vnd.example.legacy-sig'),
        $fc->{digest} => expect_desc($fc, 'application/vnd.example.legacy-sbom'),
    },
    "oci:{$deep\@$x512->{digest}}" => {
        $fd->{digest} => expect_desc($fd, 'application/vnd.example.d'),
    },
    "oci:{$deep\@$y512->{digest}}" => {
        $fe->{digest} => expect_desc($fe, 'application/vnd.example.e'),
    },
);

sub expected_dump {
    my ($prefix) = @_;
    my %d;
    for my $pair (keys %expect) {
        (my $k = $pair) =~ s/^oci:/$prefix/;
        $d{"$k:refs"} = [ map { ($_, 0) } sort keys %{ $expect{$pair} } ];
        $d{"$k:desc"} = { %{ $expect{$pair} } };
        for my $digest (sort keys %{ $expect{$pair} }) {
            my $type = decode_json($expect{$pair}{$digest})->{artifactType};
            push @{ $d{"$k:type:$type"} }, $digest, 0 if defined $type;
        }
    }
    # the catalog: the repositories with valid names that hold manifests
    $d{"${prefix}catalog"} = [ map { ($_, 0) } sort 'library', $app, $deep ];
    return \%d;
}

# --- running the tool -------------------------------------------------------

sub reindex {
    return oci_admin('reindex', '--storage', $STORAGE, '--redis', "unix:$SOCK", @_);
}

sub reindex_json {
    return oci_admin_json('reindex', '--storage', $STORAGE, '--redis', "unix:$SOCK", @_);
}

# --- usage ------------------------------------------------------------------

{
    my ($rc, $out) = oci_admin('--help');
    is $rc, 0, 'oci-admin --help: exit 0';
    like $out, qr/^usage: oci-admin <command>.*\breindex\b/s, 'oci-admin --help lists reindex';

    ($rc, $out) = oci_admin('reindex', '--help');
    is $rc, 0, 'reindex --help: exit 0';
    like $out, qr/--storage <root>.*--redis <addr>.*--prefix.*--json.*--quiet/s,
        'reindex --help lists the options';

    my $err;
    ($rc, $out, $err) = oci_admin('reindex', '--redis', "unix:$SOCK");
    is $rc, 1, 'no --storage: exit 1';
    like $err, qr/--storage and --redis are required/, '... and says so';

    ($rc) = oci_admin('reindex', '--storage', $STORAGE, '--redis', "unix:$SOCK", '--db', 'x');
    is $rc, 1, '--db x: exit 1';
    ($rc) = oci_admin('reindex', '--storage', $STORAGE, '--redis', "unix:$SOCK", '--prefix', 'a{b');
    is $rc, 1, '--prefix with "{": exit 1';
    ($rc) = oci_admin('reindex', '--storage', "$TMP/nowhere", '--redis', "unix:$SOCK");
    is $rc, 1, 'a storage that does not exist: exit 1';
    ($rc) = oci_admin('frobnicate');
    is $rc, 1, 'unknown command: exit 1';

    ($rc) = oci_admin('reindex', '--storage', $STORAGE, '--redis', 'localhost:0');
    is $rc, 1, 'a malformed --redis: exit 1';

    ($rc, $out, $err) = oci_admin('reindex', '--storage', $STORAGE, '--redis', "unix:$TMP/none.sock");
    is $rc, 2, 'Redis unreachable: exit 2';
    like $err, qr/cannot connect to Redis/, '... and says so';
}

# --- first run: stale and wrong entries are there already -------------------

my $bogus = sha256('bogus');
$redis->call('ZADD', "oci:{$app\@$m1->{digest}}:refs", 0, $bogus);
$redis->call('HSET', "oci:{$app\@$m1->{digest}}:desc", $bogus, '{"bogus":1}');
# right member, wrong score and descriptor
$redis->call('ZADD', "oci:{$app\@$m1->{digest}}:refs", 5, $r1->{digest});
$redis->call('HSET', "oci:{$app\@$m1->{digest}}:desc", $r1->{digest}, '{"old":1}');
# the corrupt manifest and the half-deleted one were indexed once
$redis->call('ZADD', "oci:{$app\@$m1->{digest}}:refs", 0, $bad->{digest}, 0, $half->{digest});
# a stored manifest listed under a subject it does not refer to
$redis->call('ZADD', "oci:{$app\@$i1->{digest}}:refs", 0, $r1->{digest});
$redis->call('HSET', "oci:{$app\@$i1->{digest}}:desc", $r1->{digest}, '{}');
# a repository that is gone
$redis->call('ZADD', "oci:{gone/repo\@$m1->{digest}}:refs", 0, $r2->{digest});
$redis->call('HSET', "oci:{gone/repo\@$m1->{digest}}:desc", $r2->{digest}, '{}');
# the fallback entry not stored
$redis->call('ZADD', "oci:{$deep\@$s_digest}:refs", 0, $fb->{digest});
# not the index's: left alone
$redis->call('SET', 'oci:unrelated', 'keep');
$redis->call('SET', "oci:{$app\@$m1->{digest}}:lock", 'keep');
$redis->call('ZADD', 'oci:{NotAName@sha256:x}:refs', 0, 'keep');

{
    my $before = dump_keys();
    my ($rc, $j, $err) = reindex_json('--dry-run');
    is $rc, 3, 'dry run: exit 3, as the run will' or diag $err;
    ok $j->{dry_run}, 'dry run: says so';
    is_deeply [ @$j{qw(removed rewritten added)} ], [ 6, 1, 8 ],
        'dry run: counts the changes the run makes (the sets per type too)'
        or diag explain $j;
    is_deeply dump_keys(), $before, 'dry run: changes nothing';
}

{
    my ($rc, $j, $err) = reindex_json();
    is $rc, 3, 'first run: exit 3, corrupt content found' or diag $err;
    like $err, qr{\Q$STORAGE/repositories/$app/_manifests/sha256/\E\S+: corrupt, skipped: the content is \Q${\ sha256($bad_json)}\E\n}s,
        'the corrupt manifest is reported' or diag $err;
    like $err, qr{"Bad" is not a valid repository name, skipped}, 'the invalid name is reported';
    like $err, qr{/_tags/$z_tag: found no sha512 subject it lists referrers of, skipped},
        'a sha512 tag whose subject is unknown is reported';
    like $err, qr{key "oci:\{NotAName\@sha256:x\}:refs" is not that of a repository}, 'a key that does not parse is reported';
    unlike $err, qr{_blobs}, 'nothing under _blobs was looked at';

    is_deeply [ @$j{qw(repositories manifests referrers_indexed fallback_entries
                       fallback_missing skipped_corrupt removed rewritten added errors)} ],
              [ 3, 17, 9, 4, 1, 1, 6, 1, 8, 0 ],
              'repositories, manifests, referrers_indexed, fallback_entries, '
              . 'fallback_missing, skipped_corrupt, removed, rewritten, added, errors'
        or diag explain $j;
    ok defined $j->{seconds} && $j->{seconds} >= 0, 'seconds';

    my $dump = { %{ dump_keys('oci:{*}:*') }, %{ dump_keys('oci:catalog') } };
    my $want = expected_dump('oci:');
    $want->{"oci:{$app\@$m1->{digest}}:lock"} = 'keep';
    $want->{'oci:{NotAName@sha256:x}:refs'} = [ 'keep', 0 ];
    is_deeply $dump, $want, 'the index is exactly what the storage holds'
        or diag explain $dump;
    is $redis->call('GET', 'oci:unrelated'), 'keep', 'other keys of the prefix are left alone';

    is $redis->call('HGET', "oci:{$app\@$m1->{digest}}:desc", $r1->{digest}),
       qq({"mediaType":"@{[OCI_MANIFEST]}","digest":"$r1->{digest}","size":$r1->{size},)
       . qq("artifactType":"application/vnd.example.signature","annotations":$r1_ann}),
       'an image manifest: artifactType and annotations in their order';
    like $redis->call('HGET', "oci:{$app\@$m1->{digest}}:desc", $r2->{digest}),
       qr/"artifactType":"application\/vnd.example.sbom.config.v1\+json"}$/,
       'without artifactType: config.mediaType';
    like $redis->call('HGET', "oci:{$app\@$m1->{digest}}:desc", $r3->{digest}),
       qr/^\{"mediaType":"\Q@{[OCI_INDEX]}\E",.*"annotations":\{"org.example.kind":"bundle"\}\}$/,
       'an index as a referrer';
    is_deeply $redis->call('ZRANGE', "oci:{$deep\@$s_digest}:refs", 0, -1),
        [ sort $fa->{digest}, $fc->{digest} ],
        'fallback tag: the stored entries, the missing one not listed';
}

$redis->call('DEL', 'oci:{NotAName@sha256:x}:refs', "oci:{$app\@$m1->{digest}}:lock", 'oci:unrelated');

# --- idempotency ------------------------------------------------------------

my $before = dump_keys();

{
    my ($rc, $out, $err) = reindex();
    is $rc, 3, 'second run: exit 3 still';
    like $out, qr/^reindex: 3 repositories, 17 manifests, 9 referrers indexed \(4 from fallback tags, 1 listed there but not stored\); 0 added, 0 removed, 0 rewritten; catalog: 0 added, 0 removed; 1 corrupt skipped, 0 errors; [\d.]+ s\n\z/,
        'second run: the summary line' or diag "$out$err";
    like $out, qr/; 0 added, 0 removed, 0 rewritten; catalog: 0 added, 0 removed; 1 corrupt skipped, 0 errors; [\d.]+ s\n\z/,
        'second run: no changes' or diag "$out$err";
    is_deeply dump_keys(), $before, 'second run: same keys and values';
}

# --- without the corrupt manifest: exit 0 -----------------------------------

{
    my ($alg, $hex) = split /:/, $bad->{digest};
    unlink "$STORAGE/repositories/$app/_manifests/$alg/$hex",
           "$STORAGE/repositories/$app/_manifests/$alg/$hex.type";
    my ($rc, $out, $err) = reindex('--quiet');
    is $rc, 0, 'nothing corrupt: exit 0' or diag $err;
    like $out, qr/0 added, 0 removed, 0 rewritten; catalog: 0 added, 0 removed; 0 corrupt skipped, 0 errors;/,
        '... and no changes';
    is $err, "oci-admin: $STORAGE/repositories/Bad: \"Bad\" is not a valid "
             . "repository name, skipped\n"
             . "oci-admin: $STORAGE/repositories/$deep/_tags/$z_tag: found no "
             . "sha512 subject it lists referrers of, skipped\n"
             . "oci-admin: reindex: 1 repositories with invalid names skipped\n",
        'stderr: the invalid name and the unknown sha512 subject only';
}

# --- FLUSHALL, then reindex restores the same keys --------------------------

{
    $redis->call('FLUSHALL');
    is_deeply dump_keys(), {}, 'flushed';
    my ($rc, $j) = reindex_json();
    is $rc, 0, 'reindex after FLUSHALL: exit 0';
    is $j->{added}, 9, 'nine entries added';
    is_deeply dump_keys(), $before, 'the same keys and values as before';
}

# --- prefixes do not touch each other ---------------------------------------

{
    $redis->call('ZADD', "other:{gone/repo\@$m1->{digest}}:refs", 0, $r2->{digest});
    my ($rc, $j) = reindex_json('--prefix', 'other:');
    is $rc, 0, '--prefix other: exit 0';
    is $j->{removed}, 1, 'the stale entry under other: removed';
    is_deeply dump_keys('other:*'), expected_dump('other:'), 'the index under other:';
    is_deeply dump_keys('oci:*'), $before, 'oci: untouched';

    $redis->call('ZADD', "other:{gone/repo\@$m1->{digest}}:refs", 0, $r2->{digest});
    $redis->call('ZADD', "oci*:{gone/repo\@$m1->{digest}}:refs", 0, $r2->{digest});
    ($rc, $j) = reindex_json();
    is $j->{removed}, 0, 'a run for oci: removes nothing under other: or oci*:';
    is $redis->call('ZSCORE', "other:{gone/repo\@$m1->{digest}}:refs", $r2->{digest}), 0,
        'other: stale entry still there';

    ($rc, $j) = reindex_json('--prefix', 'oci*:');
    is $j->{removed}, 1, 'a glob character in the prefix matches itself only';
    is_deeply dump_keys('oci:*'), $before, 'oci: untouched by oci*:';
    $redis->call('DEL', map { "oci*:$_" } map { s/^oci://r } keys %$before);
    $redis->call('DEL', keys %{ dump_keys('other:*') });
}

# --- --db -------------------------------------------------------------------

{
    my ($rc, $j) = reindex_json('--db', 2);
    is $rc, 0, '--db 2: exit 0';
    is $j->{added}, 9, '--db 2: all added';
    $redis->call('SELECT', 2);
    is_deeply dump_keys(), $before, '--db 2: the same index in database 2';
    $redis->call('FLUSHDB');
    $redis->call('SELECT', 0);
    is_deeply dump_keys(), $before, 'database 0 untouched';
}

# --- a manifest deleted, a referrer pushed behind the index's back ----------

{
    my ($alg, $hex) = split /:/, $r2->{digest};
    unlink "$STORAGE/repositories/$app/_manifests/$alg/$hex.type",
           "$STORAGE/repositories/$app/_manifests/$alg/$hex";
    my $r7 = store_manifest($STORAGE, $deep, image_json(salt => 'r7', config => $EMPTY_CONFIG,
        artifactType => 'application/vnd.example.new', subject => $m1));

    my ($rc, $j) = reindex_json();
    is_deeply [ @$j{qw(added removed rewritten)} ], [ 1, 1, 0 ], 'one added, one removed';
    is_deeply $redis->call('ZRANGE', "oci:{$app\@$m1->{digest}}:refs", 0, -1),
        [ sort $r1->{digest}, $r3->{digest} ], 'the deleted referrer is gone';
    is $redis->call('HGET', "oci:{$deep\@$m1->{digest}}:desc", $r7->{digest}),
        expect_desc($r7, 'application/vnd.example.new'), 'the new one is there';
}

# --- a key of the wrong type: left alone, exit 4 ----------------------------

{
    my $key = "oci:{library\@$lib_subject->{digest}}:desc";
    $redis->call('DEL', $key);
    $redis->call('SET', $key, 'not a hash');
    my ($rc, $out, $err) = reindex();
    is $rc, 4, 'a key of the wrong type: exit 4';
    like $err, qr/key "\Q$key\E": WRONGTYPE .*, left alone/, '... reported';
    like $out, qr/, 1 errors;/, '... and counted';
    is $redis->call('GET', $key), 'not a hash', '... and left alone';
    $redis->call('DEL', $key);
    ($rc, $out) = reindex();
    is $rc, 0, 'once removed: exit 0';
    like $out, qr/; 0 added, 0 removed, 1 rewritten;/,
        '... and the entry, in the sorted set still, is rewritten';
    is $redis->call('HGET', $key, $r6->{digest}), expect_desc($r6, 'application/vnd.example.note'),
        '... with its descriptor';
}

done_testing;
