# What a stored manifest promises about the storage: a descriptor's size
# is that of the content it references, and a tag never names a manifest
# that is not stored, even when a DELETE by digest runs between the
# storing of a PUT by tag and the writing of its tag (docs/api.md,
# "Manifests").

BEGIN { push @INC, 't/lib' }
use strict;
use warnings;
use Test::More;
use POSIX ();
use Time::HiRes qw(sleep time);
use OCI::Harness;
use OCI::Redis;
use OCI::Test;

my $redis = OCI::Redis->start;
my @index = $redis ? ('oci_redis unix:' . $redis->socket . ';') : ();

my $srv = OCI::Harness->start(workers => 1,
                              config => registry_conf('oci_delete on;', @index));

subtest 'a descriptor whose size is not the stored one is MANIFEST_INVALID' => sub {
    my $name = 'sizes/check';
    my $m = new_image($srv, $name);
    my ($config, $layer) = ($m->{config}, $m->{layers}[0]);

    my %cases = (
        'layer one byte longer' => [ { %$m, layers => [ { %$layer, size => $layer->{size} + 1 } ] },
                                     $layer->{digest} ],
        'layer one byte shorter' => [ { %$m, layers => [ { %$layer, size => $layer->{size} - 1 } ] },
                                      $layer->{digest} ],
        'config of size 0' => [ { %$m, config => { %$config, size => 0 } }, $config->{digest} ],
    );
    for my $what (sort keys %cases) {
        my ($doc, $digest) = @{ $cases{$what} };
        my $json = enc($doc);
        my $res = put_manifest($srv, $name, 'v1', $json, OCI_MANIFEST);
        is_error $res, 400, 'MANIFEST_INVALID', $what
            and is error_json($res)->{detail}{digest}, $digest, "$what: detail.digest";
        is_unknown $srv, $name, sha256($json), "$what: not stored";
    }
    is_unknown $srv, $name, 'v1', 'no tag was written';

    my $json = enc($m);
    is_created put_manifest($srv, $name, 'v1', $json, OCI_MANIFEST), $name, sha256($json),
        'the right sizes';

    my $child = desc_of($json, OCI_MANIFEST);
    for my $size ($child->{size} + 1, $child->{size} - 1) {
        my $index = enc(index_manifest(manifests => [ { %$child, size => $size } ]));
        my $res = put_manifest($srv, $name, 'idx', $index, OCI_INDEX);
        is_error $res, 400, 'MANIFEST_INVALID', "index child of size $size";
        is error_json($res)->{detail}{digest}, $child->{digest}, 'detail.digest is the child';
    }
    my $index = enc(index_manifest(manifests => [ $child ]));
    is_created put_manifest($srv, $name, 'idx', $index, OCI_INDEX), $name, sha256($index),
        'index with the child\'s size';
};

subtest 'a size that is not a non-negative integer is MANIFEST_INVALID' => sub {
    my $name = 'sizes/grammar';
    my $m = new_image($srv, $name);
    my $json = enc($m);
    my $n = $m->{layers}[0]{size};
    for my $size ("$n.0", '1e2', '-0.5', "\"$n\"", 'null', 'true', '-1',
                  '99999999999999999999', '-9223372036854775808')
    {
        (my $bad = $json) =~ s/("size":)$n\b/$1$size/ or die "no layer size in $json";
        is_error put_manifest($srv, $name, 'v', $bad, OCI_MANIFEST), 400, 'MANIFEST_INVALID',
            "layer size $size";
    }
    is_unknown $srv, $name, 'v', 'no tag was written';
};

# A PUT by tag that has stored its manifest waits for its tag's lock,
# which the test holds; meanwhile the manifest's files go as a DELETE by
# digest removes them; then the lock is released and the PUT writes its
# tag.
sub put_while_deleted {
    my ($name, $tag, $json) = @_;
    my $d = sha256($json);
    my $link = link_path($srv, $name, '_manifests', $d);
    my $release = hold_tag_lock($srv, $name, $tag);

    my $pid = open(my $out, '-|') // die "fork: $!";
    if ($pid == 0) {
        my $res = put_manifest($srv, $name, $tag, $json, OCI_MANIFEST);
        print $res->code, ' ', error_code($res);
        print STDERR dump_res($res) if $ENV{OCI_DEBUG};
        POSIX::_exit(0);
    }

    my $t0 = time;
    sleep 0.01 until -e $link || time - $t0 > 5;
    ok -e $link, 'the PUT stored its manifest and waits for the tag lock';
    unlink "$link.type", $link;
    ok !-e $link, 'the manifest was deleted meanwhile';
    $release->();

    my $got = do { local $/; <$out> };
    close $out;
    return $got // '';
}

subtest 'a tag written after a DELETE of its manifest: the manifest is stored again' => sub {
    my $name = 'race/delete';
    my $json = enc(new_image($srv, $name));
    my $d = sha256($json);

    is put_while_deleted($name, 'v1', $json), '201 ', 'the PUT by tag is 201';
    is_served $srv, $name, 'v1', $json, OCI_MANIFEST, $d, 'by its tag';
    is_served $srv, $name, $d, $json, OCI_MANIFEST, $d, 'by its digest';
    is slurp(link_path($srv, $name, '_manifests', $d) . '.type'),
        OCI_MANIFEST, 'its type file is back';
};

subtest 'a manifest with a subject deleted before its tag: 503, nothing tagged' => sub {
    plan skip_all => 'redis-server not found' unless $redis;
    my $name = 'race/subject';
    my $base = enc(new_image($srv, $name));
    is put_manifest($srv, $name, sha256($base), $base, OCI_MANIFEST)->code, 201, 'the subject';
    my $json = enc(new_image($srv, $name, subject => desc_of($base, OCI_MANIFEST)));
    my $d = sha256($json);

    is put_while_deleted($name, 'sig', $json), '503 UNAVAILABLE', 'the PUT by tag is 503';
    is_unknown $srv, $name, 'sig', 'no tag was written';
    is_unknown $srv, $name, $d, 'the manifest stays deleted';

    is_created put_manifest($srv, $name, 'sig', $json, OCI_MANIFEST), $name, $d, 'pushed again';
    is_served $srv, $name, 'sig', $json, OCI_MANIFEST, $d, 'then it is tagged';
};

stops_cleanly $srv;

done_testing;
