# The tag list: GET /v2/<name>/tags/list with ?n= and ?last=, the Link
# header, oci_tags_page_size, unknown and empty repositories, nested names,
# as docs/api.md ("Tags") and the distribution spec promise. Requests that
# fail (unknown repositories, bad names and ?n=) are t/041-tags-errors.t.

BEGIN { push @INC, 't/lib' }
use strict;
use warnings;
use OCI::Harness;
use OCI::Test;
use Test::More;

# repositories under small/ have pages of at most 3 tags
my $LOCATION = registry_conf('oci_delete on;', <<'NESTED');
location /v2/small/ {
    oci_tags_page_size 3;
}
NESTED

# --- helpers ---------------------------------------------------------------

# tags the manifest with each tag; one ok() for all
sub tag_all {
    my ($srv, $name, $json, @tags) = @_;
    my @failed;
    for my $t (@tags) {
        my $res = put_manifest($srv, $name, $t, $json, OCI_MANIFEST);
        push @failed, "$t: " . $res->code if $res->code != 201;
    }
    is_deeply \@failed, [], scalar(@tags) . " tags pushed to $name";
}

# GET of a tag list URL: the response and the decoded body ({} if not JSON)
sub get_list {
    my ($srv, $path) = @_;
    my $res = $srv->req('GET', $path);
    my $j = dec($res->content);
    return ($res, ref $j eq 'HASH' ? $j : {});
}

# a 200 tag list of the given tags, without Link unless $link is given
sub is_list {
    my ($srv, $path, $name, $tags, $link, $what) = @_;
    my ($res, $j) = get_list($srv, $path);
    my $ok = is $res->code, 200, "$what: 200";
    $ok &&= like $res->header('Content-Type') // '', qr{^application/json(?:$|;)}, "$what: Content-Type";
    $ok &&= is_deeply [ sort keys %$j ], ['name', 'tags'], "$what: name and tags";
    $ok &&= is $j->{name}, $name, "$what: name";
    $ok &&= is_deeply $j->{tags}, $tags, "$what: tags";
    if (defined $link) {
        $ok &&= is $res->header('Link'), $link, "$what: Link";
    } else {
        $ok &&= is $res->header('Link'), undef, "$what: no Link";
    }
    diag dump_res($res) unless $ok;
    return $res;
}

sub next_link {
    my ($name, $n, $last) = @_;
    return "</v2/$name/tags/list?n=$n&last=$last>; rel=\"next\"";
}

# --- the server -----------------------------------------------------------

my $srv = OCI::Harness->start(config => $LOCATION);

my @MIXED = ('latest', 'Latest', 'LATEST', 'v1.0', 'v1.0-rc1', 'v1.0_1', 'v1-0', 'v10', 'v9',
             '1', '10', '9', '0.1', '_private', '__', 'a', 'A', 'Z', 'z', 'a.b', 'a-b', 'a_b',
             'a--b', 'a..b', 'sha256-abc', 'x' x 128);
my @SORTED = sort { $a cmp $b } @MIXED;         # byte order: no locale in effect here
my $NAME = 'lib/sorted';

subtest 'tags/list is sorted by byte value' => sub {
    my $json = enc(new_image($srv, $NAME));
    tag_all($srv, $NAME, $json, @MIXED);
    is_deeply [ @SORTED[0 .. 3] ], ['0.1', '1', '10', '9'], 'the expected order starts with digits';
    is_list $srv, "/v2/$NAME/tags/list", $NAME, \@SORTED, undef, 'all tags';
    my ($res) = get_list($srv, "/v2/$NAME/tags/list");
    my $tags = (dec($res->content) || {})->{tags} || [];
    my @pairs = grep { $tags->[$_ - 1] ge $tags->[$_] } 1 .. $#$tags;
    is_deeply \@pairs, [], 'each tag is greater than the one before, byte-wise';
    is $res->header('Docker-Distribution-API-Version'), 'registry/2.0', 'API version header';

    $res = $srv->req('HEAD', "/v2/$NAME/tags/list");
    is $res->code, 200, 'HEAD: 200';
    is $res->content, '', 'HEAD: no body';
};

subtest '?n= pages with a Link header; following it lists every tag once' => sub {
    is_list $srv, "/v2/$NAME/tags/list?n=2", $NAME, [ @SORTED[0, 1] ],
        next_link($NAME, 2, $SORTED[1]), 'n=2';

    for my $n (1, 2, 3, 5, 7, scalar(@SORTED) - 1) {
        my ($path, @seen, $pages, $bad) = ("/v2/$NAME/tags/list?n=$n");
        while (defined $path) {
            my ($res, $j) = get_list($srv, $path);
            if ($res->code != 200 || ++$pages > 100) { $bad = dump_res($res); last }
            my @t = @{ $j->{tags} || [] };
            if (@t > $n) { $bad = "page of " . scalar(@t) . " tags for n=$n"; last }
            push @seen, @t;
            my $link = $res->header('Link');
            if (!defined $link) { $path = undef; last }
            my $want = next_link($NAME, $n, $t[-1] // '');
            if ($link ne $want) { $bad = "Link '$link', wanted '$want'"; last }
            if (@t != $n) { $bad = "short page of " . scalar(@t) . " with a Link"; last }
            ($path) = $link =~ /^<([^>]+)>/;
        }
        ok !defined $bad, "n=$n: the pages are well-formed" or diag $bad;
        is_deeply \@seen, \@SORTED, "n=$n: every tag exactly once, in order, in $pages pages";
        is $pages, int((@SORTED + $n - 1) / $n), "n=$n: the last page has no Link";
    }

    is_list $srv, "/v2/$NAME/tags/list?n=" . scalar(@SORTED), $NAME, \@SORTED, undef,
        'n = the number of tags: one page, no Link';
    is_list $srv, "/v2/$NAME/tags/list?n=1000", $NAME, \@SORTED, undef, 'n larger than the number of tags';
};

subtest '?n=0 and ?last=' => sub {
    is_list $srv, "/v2/$NAME/tags/list?n=0", $NAME, [], undef, 'n=0: empty list';
    is_list $srv, "/v2/$NAME/tags/list?n=0&last=$SORTED[2]", $NAME, [], undef, 'n=0 with last';

    is_list $srv, "/v2/$NAME/tags/list?last=$SORTED[4]", $NAME, [ @SORTED[5 .. $#SORTED] ], undef,
        'last is exclusive';
    is_list $srv, "/v2/$NAME/tags/list?last=$SORTED[4]&n=2", $NAME, [ @SORTED[5, 6] ],
        next_link($NAME, 2, $SORTED[6]), 'last with n=2';
    is_list $srv, "/v2/$NAME/tags/list?n=2&last=$SORTED[-3]", $NAME, [ @SORTED[-2, -1] ], undef,
        'the last page ends exactly: no Link';
    is_list $srv, "/v2/$NAME/tags/list?last=$SORTED[-1]", $NAME, [], undef, 'last = the last tag';
    is_list $srv, "/v2/$NAME/tags/list?last=zzzz", $NAME, [], undef, 'last beyond the end';
    is_list $srv, "/v2/$NAME/tags/list?last=~", $NAME, [], undef, 'last after every tag byte';

    # a last that is no tag: the list starts at the next one
    my ($after) = grep { $_ gt 'b' } @SORTED;
    is_list $srv, "/v2/$NAME/tags/list?n=1&last=b", $NAME, [$after], next_link($NAME, 1, $after),
        'last between two tags';
    is_list $srv, "/v2/$NAME/tags/list?last=", $NAME, \@SORTED, undef, 'empty last: from the start';
    is_list $srv, "/v2/$NAME/tags/list?last=.", $NAME, \@SORTED, undef, 'last before every tag';
};

subtest 'oci_tags_page_size caps n' => sub {
    my $name = 'small/repo';
    my $json = enc(new_image($srv, $name));
    my @tags = map { "t$_" } 1 .. 7;
    tag_all($srv, $name, $json, @tags);
    is_list $srv, "/v2/$name/tags/list?n=10", $name, [qw(t1 t2 t3)], next_link($name, 3, 't3'),
        'n=10 is capped to 3, with a Link';
    my ($res) = get_list($srv, "/v2/$name/tags/list");
    my $j = dec($res->content) || {};
    is_deeply $j->{tags}, [qw(t1 t2 t3)], 'without n: 3 tags';
    like $res->header('Link') // '', qr{^</v2/small/repo/tags/list\?n=3&last=t3>; rel="next"$},
        'without n: a Link to the next page';
    is_list $srv, "/v2/$name/tags/list?n=2", $name, [qw(t1 t2)], next_link($name, 2, 't2'),
        'a smaller n is kept';
    is_list $srv, "/v2/$name/tags/list?n=10&last=t3", $name, [qw(t4 t5 t6)], next_link($name, 3, 't6'),
        'the second page';
    is_list $srv, "/v2/$name/tags/list?n=3&last=t6", $name, ['t7'], undef, 'the last page';
    is_list $srv, "/v2/$name/tags/list?n=3&last=t4", $name, [qw(t5 t6 t7)], undef,
        'a full last page has no Link';
};

subtest 'a repository without tags has an empty list' => sub {
    my $name = 'empty/blobs-only';
    push_blob($srv, $name, 'just a blob');
    is_list $srv, "/v2/$name/tags/list", $name, [], undef, 'blobs only';
    is_list $srv, "/v2/$name/tags/list?n=5", $name, [], undef, 'blobs only, n=5';

    my $name2 = 'empty/by-digest';
    my $json = enc(new_image($srv, $name2));
    is put_manifest($srv, $name2, sha256($json), $json, OCI_MANIFEST)->code, 201, 'pushed by digest';
    is_list $srv, "/v2/$name2/tags/list", $name2, [], undef, 'manifest by digest only';

    my $name3 = 'empty/untagged';
    $json = enc(new_image($srv, $name3));
    is put_manifest($srv, $name3, 'gone', $json, OCI_MANIFEST)->code, 201, 'pushed by tag';
    is $srv->req('DELETE', "/v2/$name3/manifests/gone")->code, 202, 'tag deleted';
    is_list $srv, "/v2/$name3/tags/list", $name3, [], undef, 'after the only tag was deleted';
};

subtest 'nested names and prefixes keep separate tag lists' => sub {
    my %tags = ('a' => [qw(only-a shared)], 'a/b' => [qw(only-ab shared)],
                'a/b/c' => [qw(only-abc shared)], 'ab' => [qw(only-ab2)],
                'a/bc' => [qw(only-abc2)], 'n/tags' => [qw(in-tags)],
                'n/manifests' => [qw(in-manifests list)], 'n/blobs/uploads' => [qw(in-uploads)]);
    for my $name (sort keys %tags) {
        my $json = enc(new_image($srv, $name));
        tag_all($srv, $name, $json, @{ $tags{$name} });
    }
    for my $name (sort keys %tags) {
        is_list $srv, "/v2/$name/tags/list", $name, [ sort @{ $tags{$name} } ], undef, "tags of $name";
    }
    is $srv->req('DELETE', '/v2/a/b/manifests/shared')->code, 202, 'untag shared in a/b';
    is_list $srv, '/v2/a/b/tags/list', 'a/b', ['only-ab'], undef, 'a/b lost it';
    is_list $srv, '/v2/a/tags/list', 'a', [qw(only-a shared)], undef, 'a kept it';
    is_list $srv, '/v2/a/b/c/tags/list', 'a/b/c', [qw(only-abc shared)], undef, 'a/b/c kept it';
};

subtest '100 tags: all listed, in order' => sub {
    my $name = 'many/tags';
    my $json = enc(new_image($srv, $name));
    my @tags = map { sprintf 'r%03d', $_ } reverse 0 .. 99;
    tag_all($srv, $name, $json, @tags);
    is_list $srv, "/v2/$name/tags/list", $name, [ sort @tags ], undef, '100 tags';
    is_list $srv, "/v2/$name/tags/list?n=50", $name, [ (sort @tags)[0 .. 49] ],
        next_link($name, 50, 'r049'), 'the first 50';
    is_list $srv, "/v2/$name/tags/list?n=50&last=r049", $name, [ (sort @tags)[50 .. 99] ], undef,
        'the other 50';

    # moving and deleting tags shows in the list at once
    my $other = enc(new_image($srv, $name));
    is put_manifest($srv, $name, 'r050', $other, OCI_MANIFEST)->code, 201, 'r050 moved';
    is $srv->req('DELETE', "/v2/$name/manifests/" . sha256($json))->code, 202,
        'the manifest of 99 tags deleted';
    is_list $srv, "/v2/$name/tags/list", $name, ['r050'], undef, 'only the moved tag is left';
};

stops_cleanly $srv;

done_testing;
