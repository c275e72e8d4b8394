# GET /v2/_catalog from the catalog in Redis (docs/api.md#catalog): sorted
# names with slashes, dots, dashes and underscores, ?n= and ?last= paging
# with Link to the end, n=0, bad n, last past the end, the page size
# limit, deletes, oci-admin reindex rebuilding the same answers (and
# --dry-run reporting the differences), Redis down, no oci_redis,
# $oci_action, and bearer tokens that must grant registry:catalog:*.

BEGIN { push @INC, 't/lib' }

use strict;
use warnings;
use Test::More;
use File::Spec;
use OCI::Harness;
use OCI::Redis;
use OCI::Test;
use Time::HiRes qw(sleep);

my $redis = OCI::Redis->start or plan skip_all => 'redis-server not found';
my $sock = $redis->socket;
need_admin();

my $KEY = 'oci:catalog';

sub registry {
    my (@more) = @_;
    return OCI::Harness->start(
        config => registry_conf('oci_delete on;', "oci_redis unix:$sock;",
                                'add_header X-OCI-Action "$oci_action" always;',
                                @more));
}

sub catalog {
    my ($srv, $query, @headers) = @_;
    my $res = $srv->req('GET', '/v2/_catalog' . ($query // ''), headers => \@headers);
    return ($res, $res->code == 200 ? dec($res->content) : undef);
}

# every page, following Link from $query; (names, pages, links)
sub all_pages {
    my ($srv, $query) = @_;
    my (@names, @links, $pages);
    my $path = '/v2/_catalog' . ($query // '');
    while (defined $path && ++$pages <= 50) {
        my $res = $srv->req('GET', $path);
        is $res->code, 200, "GET $path: 200" or return ([], $pages, \@links);
        push @names, @{ dec($res->content)->{repositories} };
        my $link = $res->header('Link');
        push @links, $link if defined $link;
        ($path) = defined $link ? $link =~ /^<([^>]+)>; rel="next"\z/ : ();
        ok defined $path, "Link is <...>; rel=\"next\": $link" if defined $link;
    }
    return (\@names, $pages, \@links);
}

sub reindex { oci_admin_json('reindex', '--storage', $_[0]->storage, '--redis', "unix:$sock",
                             @_[1 .. $#_]) }

my @repos = qw(a a-b a.b a/b a/b/c a__b b library/alpine z0/y.z-1);
my @sorted = sort @repos;    # byte order: "a-b" < "a.b" < "a/b" < "a__b"
my %image;

my $srv = registry();

subtest 'empty registry' => sub {
    my ($res, $body) = catalog($srv);
    is $res->code, 200, 'answers 200';
    is $res->header('Content-Type'), 'application/json', 'Content-Type';
    is $res->content, qq({"repositories":[]}\n), 'no repositories';
    is $res->header('Link'), undef, 'no Link';
    is $res->header('X-OCI-Action'), 'catalog', '$oci_action is "catalog"';
};

subtest 'pushes list their repositories, sorted' => sub {
    for my $name (@repos) {
        my ($res, $desc) = push_manifest($srv, $name, 'v1', new_image($srv, $name));
        is $res->code, 201, "$name pushed";
        $image{$name} = $desc;
    }
    push_blob($srv, 'only/blobs', 'a blob without a manifest');

    my ($res, $body) = catalog($srv);
    is $res->code, 200, 'answers 200';
    is_deeply $body->{repositories}, \@sorted,
        'every repository with a manifest, in byte order; none with only blobs';
    is $res->header('Link'), undef, 'one page: no Link';

    ($res, $body) = catalog($srv, '', 'Connection' => 'close');
    my $head = $srv->req('HEAD', '/v2/_catalog');
    is $head->code, 200, 'HEAD: 200';
    is $head->content, '', 'HEAD: no body';
    is $head->header('Content-Length'), length($res->content), 'HEAD: the length of GET';

    is_deeply $redis->call('ZRANGE', $KEY, 0, -1, 'WITHSCORES'),
        [ map { ($_, 0) } @sorted ], "the set $KEY, all scores 0";

    ($res) = push_manifest($srv, 'a', 'v2', new_image($srv, 'a'));
    is $res->code, 201, 'a second manifest in a';
    is $redis->call('ZCARD', $KEY), scalar @sorted, 'listed once';
};

subtest 'paging with n and Link to the end' => sub {
    for my $n (1, 2, 4, scalar @sorted, 100) {
        my ($names, $pages, $links) = all_pages($srv, "?n=$n");
        is_deeply $names, \@sorted, "n=$n: every name once, in order";
        my $want = int((@sorted + $n - 1) / $n);
        is $pages, $want, "n=$n: $want pages";
        is scalar @$links, $want - 1, "n=$n: a Link on every page but the last";
    }
    my ($res) = catalog($srv, '?n=2');
    is $res->header('Link'), qq{</v2/_catalog?n=2&last=a-b>; rel="next"}, 'the first Link';
    ($res) = catalog($srv, '?n=3&last=a-b');
    is $res->header('Link'), qq{</v2/_catalog?n=3&last=a/b/c>; rel="next"},
        'a name with slashes in Link, as it is';
};

subtest 'last' => sub {
    my ($res, $body) = catalog($srv, '?last=a/b');
    is_deeply $body->{repositories}, [ grep { $_ gt 'a/b' } @sorted ], 'after a/b, exclusive';
    ($res, my $escaped) = catalog($srv, '?last=a%2Fb');
    is_deeply $escaped, $body, 'last=a%2Fb is last=a/b';
    ($res, $body) = catalog($srv, '?last=a0');
    is_deeply $body->{repositories}, [ grep { $_ gt 'a0' } @sorted ],
        'a last that is not a repository';
    ($res, $body) = catalog($srv, '?last=zzz');
    is $res->code, 200, 'last past the end: 200';
    is_deeply $body->{repositories}, [], 'last past the end: empty';
    is $res->header('Link'), undef, 'last past the end: no Link';
    ($res, $body) = catalog($srv, "?n=2&last=$sorted[-3]");
    is_deeply $body->{repositories}, [ @sorted[-2, -1] ], 'the last page, exactly full';
    is $res->header('Link'), undef, 'a full last page has no Link';
};

subtest 'n=0 and bad n' => sub {
    my ($res, $body) = catalog($srv, '?n=0');
    is $res->code, 200, 'n=0: 200';
    is_deeply $body, { repositories => [] }, 'n=0: an empty list';
    is $res->header('Link'), undef, 'n=0: no Link';
    for my $bad ('-1', 'abc', '1x', '') {
        is_error($srv->req('GET', "/v2/_catalog?n=$bad"), 400, 'UNSUPPORTED', "n=$bad");
    }
    is_error($srv->req('POST', '/v2/_catalog'), 405, 'UNSUPPORTED', 'POST');
    is_error($srv->req('DELETE', '/v2/_catalog'), 405, 'UNSUPPORTED', 'DELETE');
    is_error($srv->req('GET', '/v2/_catalog/x'), 404, 'UNSUPPORTED', '/v2/_catalog/x');
};

subtest 'oci_catalog_page_size bounds n' => sub {
    my $small = registry('oci_catalog_page_size 3;');
    my ($res, $body) = catalog($small, '?n=1000');
    is scalar @{ $body->{repositories} }, 3, 'n=1000: 3 names';
    is $res->header('Link'), qq{</v2/_catalog?n=3&last=$sorted[2]>; rel="next"}, 'Link with n=3';
    ($res, $body) = catalog($small);
    is scalar @{ $body->{repositories} }, 3, 'no n: 3 names';
    my ($names) = all_pages($small);
    is_deeply $names, [ sort @{ $redis->call('ZRANGE', $KEY, 0, -1) } ],
        'all pages list the set';
    $small->stop;
};

subtest 'junk in the set is not listed' => sub {
    $redis->call('ZADD', $KEY, 0, 'a0"],"x":["');
    $redis->call('ZADD', $KEY, 0, 'Upper');
    my ($res, $body) = catalog($srv);
    is $res->code, 200, 'answers 200';
    is_deeply $body->{repositories}, \@sorted, 'members that are not names are left out';
    my ($names) = all_pages($srv, '?n=1');
    is_deeply $names, \@sorted, 'and paging goes past them';
};

subtest 'reindex rebuilds the same catalog' => sub {
    my ($rc, $j) = reindex($srv, '--dry-run');
    is $rc, 0, 'dry run: exit 0';
    is_deeply [ @$j{qw(catalog_added catalog_removed)} ], [ 0, 2 ],
        'dry run: the two junk members would go';
    is $redis->call('ZCARD', $KEY), @sorted + 2, 'dry run: nothing changed';

    ($rc, $j) = reindex($srv);
    is $rc, 0, 'reindex: exit 0';
    is_deeply [ @$j{qw(catalog_added catalog_removed)} ], [ 0, 2 ], 'two removed';
    my $before = $redis->dump($KEY);
    my @pages = map { $srv->req('GET', "/v2/_catalog$_")->content } '', '?n=2', '?n=3&last=a';

    $redis->call('FLUSHALL');
    my ($res, $body) = catalog($srv);
    is_deeply $body->{repositories}, [], 'FLUSHALL: empty';
    ($rc, $j) = reindex($srv);
    is $rc, 0, 'reindex after FLUSHALL: exit 0';
    is $j->{catalog_added}, scalar @sorted, 'every repository added';
    is_deeply $redis->dump($KEY), $before, 'the same set, byte for byte';
    is_deeply [ map { $srv->req('GET', "/v2/_catalog$_")->content } '', '?n=2', '?n=3&last=a' ],
        \@pages, 'the same answers';

    ($rc, $j) = reindex($srv);
    is_deeply [ @$j{qw(catalog_added catalog_removed)} ], [ 0, 0 ], 'a second run changes nothing';
};

subtest 'deletes: a repository stays listed while it has _manifests' => sub {
    my $d = $image{'a.b'}{digest};
    is $srv->req('DELETE', "/v2/a.b/manifests/$d")->code, 202, 'the only manifest of a.b deleted';
    my ($res, $body) = catalog($srv);
    is_deeply $body->{repositories}, \@sorted, 'a.b is still listed';
    my ($rc, $j) = reindex($srv, '--dry-run');
    is_deeply [ @$j{qw(catalog_added catalog_removed)} ], [ 0, 0 ], 'reindex agrees';

    # the operator removes the repository's directory
    my $dir = File::Spec->catdir($srv->storage, 'repositories', 'a.b');
    is system('rm', '-rf', $dir), 0, 'repositories/a.b removed';
    ($rc, $j) = reindex($srv);
    is_deeply [ @$j{qw(catalog_added catalog_removed)} ], [ 0, 1 ], 'reindex removes a.b';
    ($res, $body) = catalog($srv);
    is_deeply $body->{repositories}, [ grep { $_ ne 'a.b' } @sorted ], 'a.b is gone';
};

subtest 'Redis down' => sub {
    $redis->stop;
    my $res = $srv->req('GET', '/v2/_catalog');
    is_error($res, 503, 'UNAVAILABLE', 'the catalog');
    is $res->header('Retry-After'), '5', 'Retry-After: 5';
    ($res) = push_manifest($srv, 'pushed/without-redis', 'v1',
                           new_image($srv, 'pushed/without-redis'));
    is $res->code, 201, 'a push without a subject still works';

    ok $redis->start_again, 'Redis back, empty';
    my ($rc, $j) = reindex($srv);
    is $rc, 0, 'reindex';
    # the client waits (backoff, at most 2 s) before it connects again
    my ($body, $deadline) = (undef, time + 5);
    ($res, $body) = catalog($srv);
    while (!$body && time < $deadline) {
        sleep 0.2;
        ($res, $body) = catalog($srv);
    }
    ok((grep { $_ eq 'pushed/without-redis' } @{ $body->{repositories} || [] }),
       'reindex lists the repository pushed while Redis was down');
};

subtest 'without oci_redis' => sub {
    my $plain = OCI::Harness->start(config => registry_conf());
    is_error($plain->req('GET', '/v2/_catalog'), 404, 'UNSUPPORTED', 'GET /v2/_catalog');
    is_error($plain->req('GET', '/v2/_catalog?n=0'), 404, 'UNSUPPORTED', 'n=0 too');
    $plain->stop;
};

subtest 'bearer tokens need registry:catalog:*' => sub {
    my $dir = File::Spec->rel2abs("t/servroot/065-catalog.keys.$$");
    my $key = token_key($dir, 'rsa', 'rsa');
    my $tok = registry('oci_token_realm "https://auth.test/token";',
                       'oci_token_service registry.test;',
                       'oci_token_issuer test-issuer;',
                       "oci_token_key $key->{pub};");
    my $token = sub {
        my $now = time;
        return jwt_sign($key, { iss => 'test-issuer', sub => 'alice', aud => 'registry.test',
                                exp => $now + 300, nbf => $now - 10, iat => $now - 10,
                                jti => unique(), access => [ @_ ] });
    };

    my $res = $tok->req('GET', '/v2/_catalog');
    is_error($res, 401, 'UNAUTHORIZED', 'no token');
    is $res->header('WWW-Authenticate'),
        'Bearer realm="https://auth.test/token",service="registry.test",'
        . 'scope="registry:catalog:*"', 'the challenge asks registry:catalog:*';

    $res = $tok->req('GET', '/v2/_catalog', headers => [ Authorization => 'Bearer '
        . $token->({ type => 'repository', name => 'a', actions => [ 'pull', 'push' ] }) ]);
    is_error($res, 401, 'UNAUTHORIZED', 'a token for a repository');
    like $res->header('WWW-Authenticate'), qr/error="insufficient_scope"/, 'insufficient_scope';

    $res = $tok->req('GET', '/v2/_catalog', headers => [ Authorization => 'Bearer '
        . $token->({ type => 'registry', name => 'catalog', actions => [ 'pull' ] }) ]);
    is $res->code, 401, 'registry:catalog:pull is not enough';

    $res = $tok->req('GET', '/v2/_catalog', headers => [ Authorization => 'Bearer '
        . $token->({ type => 'registry', name => 'catalog', actions => [ '*' ] }) ]);
    is $res->code, 200, 'registry:catalog:*: 200';
    ok scalar @{ dec($res->content)->{repositories} }, 'it lists every repository';
    $tok->stop;
    system('rm', '-rf', $dir);
};

is $srv->crash_lines, '', 'no worker crashed';

done_testing;
