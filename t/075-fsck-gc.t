# oci-admin fsck and gc on storage trees built by hand as docs/storage.md
# lays them out (docs/admin.md describes both commands).
#
# gc judges ages by the later of a file's mtime and ctime, and a test
# cannot set a ctime back; so gc runs with the hidden --age-offset 10d
# (ages computed as if it were ten days later) and a file is made young by
# giving it an mtime in the future.

BEGIN { push @INC, 't/lib' }
use strict;
use warnings;
use Test::More;
use Compress::Zlib qw(crc32);
use Digest::SHA qw(sha256_hex);
use File::Find;
use File::Path qw(make_path remove_tree);
use File::Temp qw(tempdir);
use IPC::Open3;
use JSON::XS qw(decode_json);
use Symbol qw(gensym);
use OCI::Test;

need_admin();

my $OFFSET = 10 * 86400;        # --age-offset 10d

my $TMP = tempdir('oci-fsck-gc-XXXXXX', TMPDIR => 1, CLEANUP => 1);
my $S;                          # the storage being built

# --- building a storage ----------------------------------------------------

# an image manifest with blobs of its own in the repository
sub image_in {
    my ($name, $salt, %o) = @_;
    my $config = $o{config} // store_blob($S, $name, "config $salt", OCI_CONFIG);
    my @layers = @{ $o{layers} // [ store_blob($S, $name, "layer $salt") ] };
    return enc(image_manifest(config => $config, layers => \@layers, subject => $o{subject},
                              artifactType => $o{artifactType}));
}

sub index_listing { enc(index_manifest(manifests => [@_])) }

# a referrer: an artifact with the empty config and a layer of its own
sub referrer {
    my ($name, $salt, $subject) = @_;
    my $empty = store_blob($S, $name, '{}', OCI_EMPTY);
    return store_manifest($S, $name, image_in($name, $salt, config => $empty,
        subject => $subject, artifactType => "application/vnd.example.$salt"));
}

# an mtime that is $age seconds old for gc --age-offset 10d
sub young {
    my ($age, @paths) = @_;
    my $t = time + $OFFSET - $age;
    utime $t, $t, @paths or die "utime @paths: $!";
}

# an upload session as ngx_oci_session.c writes it, nothing received yet
sub put_session {
    my ($id, $name) = @_;
    my @iv = (0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
              0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19);
    my $sha = 'OCIH' . pack('C C n Q>', 1, 1, 0, 0) . join('', map { pack('Q>', $_) } @iv)
        . ("\0" x 128);
    $sha .= pack('N', crc32($sha));
    spew("$S/_uploads/$id.data", '');
    spew("$S/_uploads/$id.state", 'OCIUPLD1' . pack('Q> n', 0, length $name) . $name . $sha);
}

# every file and directory: type, inode, links, size, content digest
sub snapshot {
    my %t;
    find({ no_chdir => 1, wanted => sub {
        my @st = lstat $_;
        $t{$_} = -d _ ? 'dir' : join ':', $st[1], $st[3], $st[7],
            (-f _ ? sha256_hex(slurp($_) // '') : 'other');
    } }, $S);
    return \%t;
}

# --- running the tool -------------------------------------------------------

sub fsck { oci_admin_json('fsck', '--storage', $S, @_) }

sub gc { oci_admin_json('gc', '--storage', $S, '--age-offset', '10d', @_) }

# the problems of a fsck --json, as "kind repository ref"
sub problems {
    my ($j) = @_;
    return [ sort map { join ' ', $_->{kind}, $_->{repository} // '-', $_->{ref} }
             @{ $j->{problems} // [] } ];
}

# --- usage ------------------------------------------------------------------

{
    $S = "$TMP/empty";
    make_path($S);

    my ($rc, $out) = oci_admin('--help');
    like $out, qr/\bfsck\b.*\bgc\b/s, 'oci-admin --help lists fsck and gc';

    ($rc, $out) = oci_admin('fsck', '--help');
    is $rc, 0, 'fsck --help: exit 0';
    like $out, qr/--storage <root>.*--repair.*--json.*--quiet/s, 'fsck --help lists the options';

    ($rc, $out) = oci_admin('gc', '--help');
    is $rc, 0, 'gc --help: exit 0';
    like $out, qr/--untagged.*--grace.*--orphan-referrers-grace.*--redis.*--dry-run/s,
        'gc --help lists the options';
    unlike $out, qr/pause-after-mark|age-offset/, '... but not the test hooks';

    my $err;
    ($rc, $out, $err) = oci_admin('fsck');
    is $rc, 1, 'fsck without --storage: exit 1';
    ($rc) = oci_admin('fsck', '--storage', "$TMP/nowhere");
    is $rc, 1, 'fsck of a storage that does not exist: exit 1';
    ($rc, $out, $err) = oci_admin('gc', '--storage', $S, '--grace', '1y');
    is $rc, 1, 'gc --grace 1y: exit 1';
    like $err, qr/--grace "1y" is not a duration/, '... and says so';
    ($rc) = oci_admin('gc', '--storage', $S, '--prefix', 'a{');
    is $rc, 1, 'gc --prefix with "{": exit 1';
    ($rc, $out, $err) = oci_admin('gc', '--storage', $S, '--redis', "unix:$TMP/none.sock");
    is $rc, 2, 'gc with Redis unreachable: exit 2';

    ($rc, $out) = oci_admin('fsck', '--storage', $S);
    is $rc, 0, 'fsck of an empty storage: exit 0';
    like $out, qr/^fsck: 0 blob files .* 0 problems, 0 repaired, 0 remain; 0 errors; [\d.]+ s\n\z/,
        '... and the summary line';
    ($rc, $out) = oci_admin('gc', '--storage', $S);
    is $rc, 0, 'gc of an empty storage: exit 0';
    like $out, qr/^gc: 0 repositories, .*deleted 0 manifests, 0 blob links, 0 blob files/,
        '... and the summary line';
}

# --- fsck -------------------------------------------------------------------

$S = "$TMP/fsck";
make_path($S);
my $XATTRS = xattrs_work($S);

my $app = 'library/app';
my $layer = store_blob($S, $app, 'layer bytes of m1');
my $m1 = store_manifest($S, $app, image_in($app, 'm1', layers => [ $layer ]));
store_tag($S, $app, 'v1', $m1->{digest});
my $m2 = store_manifest($S, $app, image_in($app, 'm2'));
my $i1 = store_manifest($S, $app, index_listing($m1, $m2));
store_tag($S, $app, 'multi', $i1->{digest});
my $r1 = referrer($app, 'sig', $m1);
my $other = store_blob($S, 'other', 'a blob of another repository');

{
    my ($rc, $j, $err) = fsck();
    is $rc, 0, 'a clean tree: exit 0' or diag $err;
    is $err, '', '... nothing on stderr';
    is_deeply [ @$j{qw(repositories manifests tags problems_found remaining errors)} ],
              [ 2, 4, 2, 0, 0, 0 ], 'repositories, manifests, tags, no problems'
        or diag explain $j;
    is $j->{blob_files}, 11, 'every blob file hashed';
    is_deeply $j->{problems}, [], 'an empty list of problems';
    is $j->{counts}{corrupt}, 0, 'counts per kind';
}

# break things

my $layer_bytes = 'layer bytes of m1';
{
    # in place: the repository link shares the inode
    open my $f, '+<:raw', blob_path($S, $layer->{digest}) or die $!;
    print $f 'L';
    close $f;
}
my $corrupt_actual = sha256('Layer bytes of m1');

store_tag($S, $app, 'gone', sha256('never pushed'));
unlink link_path($S, $app, '_manifests', $m2->{digest}) . '.type';
spew(link_path($S, $app, '_manifests', sha256('deleted')) . '.type', OCI_MANIFEST);

# a copy instead of a hard link, and a link whose blobs/ file is gone
my $copy = store_blob($S, 'other', 'copied, not linked');
unlink link_path($S, 'other', '_blobs', $copy->{digest});
spew(link_path($S, 'other', '_blobs', $copy->{digest}), 'copied, not linked');
my $lost = store_blob($S, 'other', 'its blobs/ file is lost');
unlink blob_path($S, $lost->{digest});

my $bad_id = 'a' x 32;
spew("$S/_uploads/$bad_id.state", 'garbage');
spew("$S/_uploads/$bad_id.data", 'x');
my $old_id = 'b' x 32;
put_session($old_id, $app);
utime time - 7200, time - 7200, "$S/_uploads/$old_id.state", "$S/_uploads/$old_id.data";
my $new_id = 'c' x 32;
put_session($new_id, $app);

my @found = sort
    "corrupt - $layer->{digest}",
    "corrupt $app $layer->{digest}",
    "dangling-tag $app gone",
    "missing-type $app $m2->{digest}",
    "orphan-type $app " . sha256('deleted'),
    "unlinked other $copy->{digest}",
    "unlinked other $lost->{digest}",
    "upload-corrupt - _uploads/$bad_id",
    "upload-expired - _uploads/$old_id";

{
    my $before = snapshot();
    my ($rc, $j, $err) = fsck();
    is $rc, 3, 'problems: exit 3';
    is_deeply problems($j), [ sort @found, "missing-manifest $app $i1->{digest}" ],
        'each problem found, once; the index misses m2, not served without .type'
        or diag $err;
    is_deeply snapshot(), $before, 'without --repair nothing changes';

    my $blob_rel = 'blobs/sha256/' . substr($layer->{digest}, 7, 2) . '/' . substr($layer->{digest}, 7);
    like $err, qr/^oci-admin: corrupt - \Q$layer->{digest}\E: \Q$blob_rel\E: the content is \Q$corrupt_actual\E$/m,
        'stderr: kind, repository, digest, what is wrong';
    like $err, qr/^oci-admin: dangling-tag \Q$app\E gone: points to \Q${\ sha256('never pushed')}\E, which is not stored$/m,
        'stderr: the dangling tag';
    like $err, qr/^oci-admin: missing-type \Q$app $m2->{digest}\E: no \.type file$/m,
        'stderr: the missing .type';
    is $j->{counts}{corrupt}, 2, 'JSON: counts per kind';
    is $j->{counts}{unlinked}, 2, 'JSON: two links that are not the blobs/ file';
    is $j->{remaining}, 10, 'JSON: ten remain';
    my ($p) = grep { $_->{kind} eq 'dangling-tag' } @{ $j->{problems} };
    is_deeply $p, { kind => 'dangling-tag', repository => $app, ref => 'gone',
                    problem => "points to ${\ sha256('never pushed')}, which is not stored",
                    repaired => JSON::XS::false, action => undef },
        'JSON: a problem';
}

{
    my ($rc, $out, $err) = oci_admin('fsck', '--storage', $S, '--quiet');
    my $without = $XATTRS ? ' (3 without their type attribute)' : '';
    like $out, qr/^fsck: 12 blob files \(\d+ bytes hashed\), 2 repositories, 4 manifests\Q$without\E, 3 tags, 3 upload sessions; 10 problems \(2 corrupt, 2 unlinked, 1 missing-type, 1 missing-manifest, 1 orphan-type, 1 dangling-tag, 1 upload-corrupt, 1 upload-expired\), 0 repaired, 10 remain; 0 errors; [\d.]+ s\n\z/,
        'the summary line' or diag $out;
}

# --repair

{
    my ($rc, $j, $err) = fsck('--repair');
    is $rc, 3, '--repair: exit 3, a manifest now misses its layer';
    is_deeply problems($j), [ sort @found, "missing-blob $app $m1->{digest}" ],
        '... found the same (the index finds m2 repaired), and m1 misses its layer'
        or diag $err;
    is $j->{repaired}, 9, '... nine repaired';
    is $j->{remaining}, 1, '... one remains';
    like $err, qr/^oci-admin: missing-blob \Q$app $m1->{digest}\E: layers\[0\] \Q$layer->{digest}\E is not in the repository; not repaired: push the blob again, or delete the manifest$/m,
        '... the manifest, not repaired' or diag $err;

    my ($q) = glob "$S/_quarantine/*";
    ok $q && -d $q, 'a quarantine directory of the run';
    like $q, qr{/_quarantine/\d{8}T\d{6}Z$}, '... named by the time';
    my $qfile = "$q/blobs/sha256/" . substr($layer->{digest}, 7, 2) . '/' . substr($layer->{digest}, 7);
    is slurp($qfile), 'Layer bytes of m1', 'the corrupt content is in quarantine, not deleted';
    like $err, qr/^oci-admin: corrupt - \Q$layer->{digest}\E: .*; repaired: moved to _quarantine\/\d{8}T\d{6}Z\/blobs\//m,
        '... and says where';
    ok !-e blob_path($S, $layer->{digest}), 'the blobs/ file is gone';
    ok !-e link_path($S, $app, '_blobs', $layer->{digest}), 'the repository link is removed';

    ok !-e "$S/repositories/$app/_tags/gone", 'the dangling tag is removed';
    ok -e "$S/repositories/$app/_tags/v1", 'the other tags are not';
    is slurp(link_path($S, $app, '_manifests', $m2->{digest}) . '.type'), OCI_MANIFEST,
        'the missing .type is recreated from mediaType';
    ok !-e link_path($S, $app, '_manifests', sha256('deleted')) . '.type', 'the orphan .type is removed';

    my @a = stat link_path($S, 'other', '_blobs', $copy->{digest});
    my @b = stat blob_path($S, $copy->{digest});
    is "$a[0]:$a[1]", "$b[0]:$b[1]", 'the copy is replaced by a hard link';
    @a = stat link_path($S, 'other', '_blobs', $lost->{digest});
    @b = stat blob_path($S, $lost->{digest});
    ok @b && "$a[0]:$a[1]" eq "$b[0]:$b[1]", 'the lost blobs/ file is linked again';

    ok !-e "$S/_uploads/$bad_id.state" && !-e "$S/_uploads/$bad_id.data", 'the corrupt session is removed';
    ok !-e "$S/_uploads/$old_id.state", 'the expired session is removed';
    ok -e "$S/_uploads/$new_id.state", 'the live session is not';
    ok !glob("$S/_tmp/*"), 'nothing left in _tmp/';
}

{
    my ($rc, $j, $err) = fsck();
    is $rc, 3, 'after --repair: exit 3';
    is_deeply problems($j), [ "missing-blob $app $m1->{digest}" ],
        '... for the manifest that misses its layer only' or diag $err;

    store_blob($S, $app, $layer_bytes);
    ($rc, $j, $err) = fsck();
    is $rc, 0, 'the layer pushed again: exit 0' or diag $err;
}

# strays are reported, never touched

{
    spew("$S/stray.txt", 'x');
    spew("$S/blobs/sha256/ab/not-a-digest", 'x');
    spew("$S/repositories/$app/_manifests/sha256/junk", 'x');
    spew("$S/repositories/$app/_other/x", 'x');
    spew("$S/repositories/$app/_tags/Not:A:Tag", 'x');
    spew("$S/repositories/notes.txt", 'x');
    make_path("$S/repositories/Bad/_manifests");
    my ($rc, $j, $err) = fsck('--repair');
    is $rc, 3, 'strays: exit 3, even with --repair';
    is_deeply problems($j), [ sort map { "stray - $_" } 'stray.txt', 'blobs/sha256/ab/not-a-digest',
        "repositories/$app/_manifests/sha256/junk", "repositories/$app/_other",
        "repositories/$app/_tags/Not:A:Tag", 'repositories/notes.txt', 'repositories/Bad' ],
        '... each reported' or diag $err;
    like $err, qr/^oci-admin: stray - repositories\/Bad: not a valid repository name; not repaired: left alone/m,
        '... an invalid repository name';
    ok -e "$S/stray.txt" && -e "$S/repositories/$app/_other/x", '... and left alone';
    remove_tree("$S/stray.txt", "$S/blobs/sha256/ab", "$S/repositories/$app/_manifests/sha256/junk",
        "$S/repositories/$app/_other", "$S/repositories/$app/_tags/Not:A:Tag",
        "$S/repositories/notes.txt", "$S/repositories/Bad");
    ($rc) = fsck();
    is $rc, 0, 'strays removed: exit 0';
}

# an unusable .type, a tag without a digest, a manifest that is not valid,
# sha512 content

{
    my $m3 = store_manifest($S, $app, image_in($app, 'm3'));
    spew(link_path($S, $app, '_manifests', $m3->{digest}) . '.type', " \n");
    spew("$S/repositories/$app/_tags/junk", 'not a digest');
    my $bad = store_manifest($S, $app, '{"schemaVersion":2,"mediaType":"' . OCI_MANIFEST . '"}');
    my $big = 'sha512 content ' x 100;
    my $d512 = sha512($big);
    spew(blob_path($S, $d512), $big);
    make_path("$S/repositories/$app/_blobs/sha512");
    link blob_path($S, $d512), link_path($S, $app, '_blobs', $d512) or die $!;

    my ($rc, $j, $err) = fsck('--repair');
    is $rc, 3, 'an invalid manifest cannot be repaired: exit 3';
    is_deeply problems($j), [ sort "bad-type $app $m3->{digest}", "bad-tag $app junk",
        "invalid-manifest $app $bad->{digest}" ], 'bad-type, bad-tag, invalid-manifest'
        or diag $err;
    like $err, qr/^oci-admin: invalid-manifest \Q$app $bad->{digest}\E: not a valid \Q${\ OCI_MANIFEST}\E: .*config.*; not repaired: push it again or delete it$/m,
        '... says why it is not valid';
    is slurp(link_path($S, $app, '_manifests', $m3->{digest}) . '.type'), OCI_MANIFEST,
        'the .type rewritten';
    ok !-e "$S/repositories/$app/_tags/junk", 'the tag moved to quarantine';
    ok scalar(grep { -e "$_/repositories/$app/_tags/junk" } glob "$S/_quarantine/*"),
        '... where it is';
    unlink link_path($S, $app, '_manifests', $bad->{digest}), link_path($S, $app, '_manifests', $bad->{digest}) . '.type';
    spew(blob_path($S, $d512), 'x' . $big);
    ($rc, $j, $err) = fsck();
    is $rc, 3, 'a corrupt sha512 blob: exit 3';
    is_deeply problems($j), [ sort "corrupt - $d512", "corrupt $app $d512" ],
        'a corrupt sha512 blob is found' or diag $err;
    spew(blob_path($S, $d512), $big);       # in place: the link shares it
    ($rc) = fsck();
    is $rc, 0, 'then: exit 0';
}

# a corrupt manifest: quarantined with its .type, the tag naming it removed

{
    my $mc = store_manifest($S, $app, image_in($app, 'mc'));
    store_tag($S, $app, 'mc', $mc->{digest});
    {
        open my $f, '+<:raw', blob_path($S, $mc->{digest}) or die $!;
        print $f '{"schemaVersion":2}';
        close $f;
    }
    my ($rc, $j, $err) = fsck('--repair');
    is_deeply problems($j), [ sort "corrupt - $mc->{digest}", "corrupt $app $mc->{digest}",
        "dangling-tag $app mc" ], 'a manifest copy with other bytes: found' or diag $err;
    is $rc, 0, '... all repaired: exit 0' or diag $err;
    my $hex = substr($mc->{digest}, 7);
    my ($q) = grep { -e "$_/blobs/sha256/" . substr($hex, 0, 2) . "/$hex" } glob "$S/_quarantine/*";
    ok $q, 'the corrupt manifest is in quarantine';
    ok !-e link_path($S, $app, '_manifests', $mc->{digest}), '... its link removed';
    ok -e "$q/repositories/$app/_manifests/sha256/$hex.type", '... its .type moved along';
    like $err, qr/^oci-admin: corrupt \Q$app $mc->{digest}\E: repositories\/\Q$app\E\/_manifests\/sha256\/$hex: a hard link of corrupt content; repaired: removed, the content is in quarantine$/m,
        '... and the link is reported';
    ok !-e "$S/repositories/$app/_tags/mc", 'the tag naming it is removed';
    ($rc) = fsck();
    is $rc, 0, 'then: exit 0';
}

# the copy of the media type a manifest's content keeps (user.oci.type):
# counted when missing, set by --repair; one naming another type than
# .type is a problem, emptied by --repair

SKIP: {
    skip "the file system keeps no user.* attributes", 12 unless $XATTRS;
    my $ma = store_manifest($S, 'attr/app', image_in('attr/app', 'ma'));
    my $mb = store_manifest($S, 'attr/app', image_in('attr/app', 'mb'));
    store_blob($S, 'attr/other', $_) for 'config ma', 'layer ma';
    store_manifest($S, 'attr/other', slurp(blob_path($S, $ma->{digest})));
    my ($rc, $j, $err) = fsck();
    is $rc, 0, 'manifests without the attribute: exit 0' or diag $err;
    is $j->{type_attributes_missing}, 3, 'JSON: each manifest of a repository counted';
    is $j->{type_attributes_set}, 0, '... none set';
    ok !defined type_attr($S, $ma->{digest}), '... nor changed';

    ($rc, $j, $err) = fsck('--repair');
    is $rc, 0, '--repair: exit 0' or diag $err;
    is $j->{type_attributes_set}, 2, 'JSON: attributes set, one per content';
    is type_attr($S, $ma->{digest}), OCI_MANIFEST, 'the type of content in two repositories';
    ($rc, $j) = fsck();
    is $j->{type_attributes_missing}, 0, 'none missing any more';

    set_type_attr($S, $mb->{digest}, OCI_INDEX);
    ($rc, $j, $err) = fsck();
    is $rc, 3, 'an attribute naming another type: exit 3';
    is_deeply problems($j), [ "type-attribute attr/app $mb->{digest}" ], '... the problem'
        or diag $err;
    like $err, qr/^oci-admin: type-attribute attr\/app \Q$mb->{digest}\E: its content's user\.oci\.type is \Q${\ OCI_INDEX}\E, its \.type \Q${\ OCI_MANIFEST}\E$/m,
        '... says which types';
    ($rc, $j, $err) = fsck('--repair');
    is type_attr($S, $mb->{digest}), '', '--repair empties it';
    ($rc) = fsck();
    is $rc, 0, 'then: exit 0';
}

# --- gc ---------------------------------------------------------------------

$S = "$TMP/gc";

# shared/a and shared/b push the same layer; b's manifest is then deleted
my $shared = store_blob($S, 'shared/a', 'a layer both push');
store_blob($S, 'shared/b', 'a layer both push');
my $ma = store_manifest($S, 'shared/a', image_in('shared/a', 'ma', layers => [ $shared ]));
store_tag($S, 'shared/a', 'latest', $ma->{digest});
my $mb = store_manifest($S, 'shared/b', image_in('shared/b', 'mb', layers => [ $shared ]));
my $cb = sha256('config mb');
unlink link_path($S, 'shared/b', '_manifests', $mb->{digest}) . '.type',
       link_path($S, 'shared/b', '_manifests', $mb->{digest});

# app: what --untagged keeps and deletes
my $g1 = store_manifest($S, $app, image_in($app, 'g1'));
store_tag($S, $app, 'v1', $g1->{digest});
my $c2 = store_manifest($S, $app, image_in($app, 'c2'));
my $c3 = store_manifest($S, $app, image_in($app, 'c3'));
my $gi = store_manifest($S, $app, index_listing($c2, $c3));
store_tag($S, $app, 'multi', $gi->{digest});
my $sbom = referrer($app, 'sbom', $g1);
my $sbom_sig = referrer($app, 'sbom-sig', $sbom);
my $c2_sig = referrer($app, 'c2-sig', $c2);
my $u1 = store_manifest($S, $app, image_in($app, 'u1'));
my $u1_sig = referrer($app, 'u1-sig', $u1);
my $orphan_old = referrer($app, 'orphan-old', { mediaType => OCI_MANIFEST, digest => sha256('absent'), size => 1 });
my $orphan_new = referrer($app, 'orphan-new', { mediaType => OCI_MANIFEST, digest => sha256('later'), size => 1 });
young(2 * 3600, blob_path($S, $orphan_new->{digest}));
my $uy = store_manifest($S, $app, image_in($app, 'uy'));
young(600, blob_path($S, $uy->{digest}));

my $junk_old = store_blob($S, $app, 'a blob no manifest uses');
my $junk_new = store_blob($S, $app, 'a blob just uploaded');
young(600, blob_path($S, $junk_new->{digest}));
my $loose_old = store_blob($S, undef, 'in blobs/ only');
my $loose_new = store_blob($S, undef, 'in blobs/ only, young');
young(600, blob_path($S, $loose_new->{digest}));

spew("$S/_tmp/old", 'old temporary');
young(2 * 86400 + 3600, "$S/_tmp/old");
spew("$S/_tmp/new", 'new temporary');
young(3600, "$S/_tmp/new");
put_session('d' x 32, $app);
young(3 * 86400, "$S/_uploads/" . ('d' x 32) . '.data', "$S/_uploads/" . ('d' x 32) . '.state');

sub size_of { return (lstat $_[0])[7] }

# what a gc without --untagged deletes
my @gone_links = (link_path($S, 'shared/b', '_blobs', $shared->{digest}),
                  link_path($S, 'shared/b', '_blobs', $cb),
                  link_path($S, $app, '_blobs', $junk_old->{digest}));
my @gone_files = (blob_path($S, $cb), blob_path($S, $mb->{digest}), blob_path($S, $junk_old->{digest}),
                  blob_path($S, $loose_old->{digest}));
my $gone_bytes = 0;
$gone_bytes += size_of($_) for @gone_files;

# and what --untagged deletes then: u1, its referrer and the old orphan
my @gone_manifests = ($u1, $u1_sig, $orphan_old);
my @gone_links2 = map { link_path($S, $app, '_blobs', $_) }
    sha256('config u1'), sha256('layer u1'), sha256('layer u1-sig'),
    sha256('layer orphan-old');
my @gone_files2 = ((map { blob_path($S, $_->{digest}) } @gone_manifests),
    map { blob_path($S, $_) } sha256('config u1'), sha256('layer u1'),
    sha256('layer u1-sig'), sha256('layer orphan-old'));
my $gone_bytes2 = 0;
$gone_bytes2 += size_of($_) for @gone_files2;

my @kept_manifests = ($g1, $c2, $c3, $gi, $sbom, $sbom_sig, $c2_sig, $orphan_new, $uy);

{
    my $before = snapshot();
    my ($rc, $j, $err) = gc('--dry-run');
    is $rc, 0, 'gc --dry-run: exit 0' or diag $err;
    is_deeply snapshot(), $before, '--dry-run changes nothing';
    is_deeply [ @$j{qw(dry_run deleted_manifests deleted_blob_links deleted_blob_files freed_bytes deleted_temporary)} ],
              [ JSON::XS::true, 0, 3, 4, $gone_bytes, 3 ],
        '--dry-run: what would go: links, files, bytes, temporary files' or diag explain $j;
    is_deeply [ @$j{qw(repositories manifests)} ], [ 3, 13 ], 'repositories, manifests';

    # and names it: the links, the files with their sizes, the temporaries
    my @links = sort map { "$_->[0]\@$_->[1]" } ['shared/b', $shared->{digest}],
        ['shared/b', $cb], [$app, $junk_old->{digest}];
    my @files = sort map { $_ . ' ' . size_of(blob_path($S, $_)) }
        $cb, $mb->{digest}, $junk_old->{digest}, $loose_old->{digest};
    my @tmp = sort map { $_ . ' ' . size_of($_) } "$S/_tmp/old",
        map { "$S/_uploads/" . ('d' x 32) . $_ } '.data', '.state';
    my $w = $j->{would_delete} // {};
    is_deeply [ sort map { "$_->{repository}\@$_->{digest}" } @{ $w->{blob_links} // [] } ],
        \@links, '--dry-run --json: the blob links it would delete' or diag explain $w;
    is_deeply [ sort map { "$_->{digest} $_->{bytes}" } @{ $w->{blob_files} // [] } ],
        \@files, '... the blob files, with their sizes';
    is_deeply [ sort map { "$_->{path} $_->{bytes}" } @{ $w->{temporary} // [] } ],
        \@tmp, '... the temporary files';
    is_deeply $w->{manifests}, [], '... and no manifest';

    my $out;
    ($rc, $out) = oci_admin('gc', '--storage', $S, '--age-offset', '10d', '--dry-run');
    is_deeply [ sort grep { /^would delete/ } split /\n/, $out ],
        [ sort((map { "would delete blob link $_" } @links),
               (map { s/ (\d+)$/ ($1 bytes)/r } map { "would delete blob file $_" } @files),
               (map { s/ (\d+)$/ ($1 bytes)/r } map { "would delete temporary file $_" } @tmp)) ],
        '--dry-run: a line for each, before the summary' or diag $out;
    like $out, qr/^gc \(dry run\): 3 repositories, 13 manifests, \d+ blob links, \d+ blob files; would delete 0 manifests, 3 blob links, 4 blob files \($gone_bytes bytes\), 3 temporary files \(\d+ bytes\); kept \d+ younger than the grace/m,
        '--dry-run: the summary line' or diag $out;
}

{
    my ($rc, $j, $err) = gc();
    is $rc, 0, 'gc: exit 0' or diag $err;
    is_deeply [ @$j{qw(deleted_manifests deleted_blob_links deleted_blob_files freed_bytes deleted_temporary)} ],
              [ 0, 3, 4, $gone_bytes, 3 ], 'gc: as the dry run said' or diag explain $j;
    ok !-e $_, 'gone: ' . ($_ =~ s{^\Q$S/\E}{}r) for @gone_links, @gone_files;
    ok -e blob_path($S, $shared->{digest}), 'a blob shared/a still uses survives';
    ok -e link_path($S, 'shared/a', '_blobs', $shared->{digest}), '... with its link in shared/a';
    ok -e link_path($S, $app, '_blobs', $junk_new->{digest}), 'a young unreferenced link is kept';
    ok -e blob_path($S, $loose_new->{digest}), 'a young blob file nobody links is kept';
    ok -e link_path($S, $app, '_manifests', $_->{digest}), 'without --untagged, manifests stay'
        for @gone_manifests;
    ok !-e "$S/_tmp/old", 'an old temporary file is removed';
    ok -e "$S/_tmp/new", 'a newer one is not';
    ok !glob("$S/_uploads/*"), 'the abandoned upload session is removed';

    ($rc, $j) = gc();
    is_deeply [ @$j{qw(deleted_manifests deleted_blob_links deleted_blob_files deleted_temporary)} ],
              [ 0, 0, 0, 0 ], 'a second run deletes nothing';
}

# the referrers index, with Redis

my $redis;
eval { require OCI::Redis; $redis = OCI::Redis->start };
my @redis = $redis ? ('--redis', 'unix:' . $redis->socket) : ();

sub refs_of {
    my ($subject) = @_;
    return [ grep { length } split /\n/, $redis->cli('ZRANGE', "oci:{$app\@$subject->{digest}}:refs", 0, -1) ];
}

SKIP: {
    skip 'redis-server is not installed', 4 unless $redis;
    my ($rc, $out, $err) = oci_admin('reindex', '--storage', $S, @redis, '--quiet');
    is $rc, 0, 'reindex before gc --untagged' or diag $err;
    is_deeply refs_of($u1), [ $u1_sig->{digest} ], '... indexes the referrer of u1';
    ok scalar(grep { /:type:/ } keys %{ $redis->dump("oci:{$app\@$u1->{digest}}*") }),
        '... in the set of its artifact type too';
    is $redis->cli('HEXISTS', "oci:{$app\@${\ sha256('absent')}}:desc", $orphan_old->{digest}), 1,
        '... and the old orphan';
}

{
    my $before = snapshot();
    my ($rc, $j, $err) = gc('--untagged', '--dry-run');
    is $rc, 0, 'gc --untagged --dry-run: exit 0' or diag $err;
    is_deeply snapshot(), $before, '... changes nothing';
    is_deeply [ @$j{qw(deleted_manifests deleted_blob_links deleted_blob_files freed_bytes)} ],
              [ 3, 4, 7, $gone_bytes2 ], '... and says what would go' or diag explain $j;
    is_deeply [ sort map { "$_->{repository}\@$_->{digest}" } @{ $j->{would_delete}{manifests} // [] } ],
        [ sort map { "$app\@$_->{digest}" } @gone_manifests ],
        '... naming the manifests' or diag explain $j->{would_delete};
    my ($out);
    ($rc, $out) = oci_admin('gc', '--storage', $S, '--age-offset', '10d', '--untagged', '--dry-run');
    is_deeply [ sort grep { /^would delete manifest / } split /\n/, $out ],
        [ sort map { "would delete manifest $app\@$_->{digest}" } @gone_manifests ],
        '... in text too' or diag $out;
}

{
    my ($rc, $j, $err) = gc('--untagged', @redis);
    is $rc, 0, 'gc --untagged: exit 0' or diag $err;
    is_deeply [ @$j{qw(deleted_manifests deleted_blob_links deleted_blob_files freed_bytes kept_orphans)} ],
              [ 3, 4, 7, $gone_bytes2, 1 ], '... as the dry run said' or diag explain $j;
    for my $m (@gone_manifests) {
        my $l = link_path($S, $app, '_manifests', $m->{digest});
        ok !-e $l && !-e "$l.type", "deleted: manifest $m->{digest}, link and .type";
    }
    ok !-e $_, 'gone: ' . ($_ =~ s{^\Q$S/\E}{}r) for @gone_links2, @gone_files2;
    ok -e link_path($S, $app, '_manifests', $_->{digest}) && -e link_path($S, $app, '_manifests', $_->{digest}) . '.type',
        "kept: $_->{digest}" for @kept_manifests;
    ok -e link_path($S, $app, '_blobs', sha256('{}')), 'the empty config kept referrers share stays';

    SKIP: {
        skip 'redis-server is not installed', 4 unless $redis;
        is $j->{unindexed}, 2, 'two referrers removed from the index';
        is_deeply refs_of($u1), [], 'the referrer of u1 is gone from the index';
        is_deeply $redis->dump("oci:{$app\@$u1->{digest}}*"), {},
            '... from every key of its pair';
        is_deeply refs_of($g1), [ $sbom->{digest} ], 'the referrers of kept manifests are not';
    }

    ($rc, $j, $err) = fsck();
    is $rc, 0, 'fsck after gc: exit 0' or diag $err;
}

# orphan referrers past their grace, with a shorter one

{
    my ($rc, $j, $err) = gc('--untagged', '--orphan-referrers-grace', '1h');
    is $j->{deleted_manifests}, 1, 'a shorter --orphan-referrers-grace: the young orphan goes too';
    ok !-e link_path($S, $app, '_manifests', $orphan_new->{digest}), '... deleted';
}

# a repository that only ever got blobs is collected; one with a corrupt
# manifest is not touched at all

{
    my $abandoned = store_blob($S, 'abandoned/upload', 'pushed, never used');
    my $broken = 'broken/repo';
    my $unused = store_blob($S, $broken, 'unused, but the repository is broken');
    my $mx = store_manifest($S, $broken, image_in($broken, 'mx'));
    {
        open my $f, '+<:raw', blob_path($S, $mx->{digest}) or die $!;
        print $f 'X';
        close $f;
    }
    my ($rc, $j, $err) = gc('--untagged');
    is $rc, 3, 'a repository with a corrupt manifest: exit 3';
    like $err, qr/^oci-admin: \Q$S\E\/repositories\/\Q$broken\E: not collected: manifest \Q$mx->{digest}\E is corrupt; "oci-admin fsck" tells more$/m,
        '... it is not collected, and says why' or diag $err;
    is $j->{skipped_repositories}, 1, '... counted';
    ok -e link_path($S, $broken, '_blobs', $unused->{digest}), '... its unused blob stays';
    ok -e link_path($S, $broken, '_manifests', $mx->{digest}), '... and its manifest';
    ok !-e link_path($S, 'abandoned/upload', '_blobs', $abandoned->{digest}),
        'a repository with blobs only is collected';
    ok !-e blob_path($S, $abandoned->{digest}), '... and the content';
    remove_tree("$S/repositories/broken");
}

# pushes while gc runs: what a manifest pushed after the mark, or a tag set
# after it, refers to is kept

{
    my $name = 'push/during';
    my $x = store_blob($S, $name, 'uploaded long ago, used by a manifest pushed during gc');
    my $z = store_blob($S, $name, 'uploaded long ago, used by nothing');
    my $t = store_manifest($S, $name, image_in($name, 't'));

    my $err = gensym;
    my $pid = open3(my $in, my $out, $err, admin_command('gc', '--storage', $S,
                    '--age-offset', '10d', '--untagged', '--json', '--pause-after-mark', '2'));
    close $in;
    my $line = <$err> // '';
    like $line, qr/^oci-admin: gc: marked, pausing 2 s$/, 'gc paused after the mark';

    my $n = store_manifest($S, $name, image_in($name, 'n', layers => [ $x ]));
    store_tag($S, $name, 'late', $t->{digest});

    my $stdout = do { local $/; <$out> } // '';
    my $stderr = do { local $/; <$err> } // '';
    waitpid $pid, 0;
    is $? >> 8, 0, 'gc: exit 0' or diag $stderr;
    my $j = eval { decode_json($stdout) } // {};

    ok -e link_path($S, $name, '_blobs', $x->{digest}), 'a blob a manifest pushed during gc uses is kept';
    ok -e link_path($S, $name, '_manifests', $n->{digest}), '... and the manifest';
    ok -e link_path($S, $name, '_manifests', $t->{digest}), 'a manifest tagged during gc is kept';
    ok -e link_path($S, $name, '_blobs', sha256('config t')), '... and its blobs';
    ok !-e link_path($S, $name, '_blobs', $z->{digest}), 'an unused old blob of the same repository goes';
    ok !-e blob_path($S, $z->{digest}), '... and its content';
}

done_testing;
