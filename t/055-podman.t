# End to end with podman and buildah: buildah builds two small images from
# scratch (an OCI one and a Docker schema 2 one), podman and buildah push
# them over plain HTTP, podman removes and pulls them back (digests, image
# IDs and layers unchanged), pushes a two-platform manifest list and pulls
# one platform out of it. Then the login flow against a location behind
# auth_basic: podman login with a wrong password fails, without credentials
# a push gets 401, with the stored credentials push and pull work, and
# after podman logout a pull is refused again. Last, the same through the
# Docker token flow, with the module's own issuer at /token: podman login
# gets a token with alice's password, pushes and pulls with it, cannot
# push to a repository the grants do not give alice, and pulls
# anonymously (an anonymous token) after logout.
#
# buildah and podman run rootless as `nobody` (when the test runs as
# root), with every directory they use (storage with the vfs driver,
# runroot, tmpdir, HOME, XDG_*, auth file, registries.conf, policy.json)
# inside one scratch directory: nothing touches the machine's container
# storage or caches. If they cannot run here (no user namespaces, say),
# the test says why and covers the login + push + pull flow with skopeo
# and an OCI layout built by umoci instead.
#
# Needs podman, buildah and htpasswd (apache2-utils); skopeo and umoci for
# the fallback. TEST_OCI_NO_PODMAN=1 forces the fallback.

BEGIN { push @INC, 't/lib' }
use strict;
use warnings;
use OCI::Harness;
use OCI::Sandbox;
use OCI::Test;
use Test::More;
use Digest::SHA qw(sha256_hex);
use File::Path qw(make_path);
use File::Spec;
use JSON::XS qw(decode_json);
use Time::HiRes qw(time sleep);

my $T0 = time;

plan skip_all => 'htpasswd not installed (apache2-utils; make test installs it)'
    unless which('htpasswd');
my @podman_missing = grep { !which($_) } qw(podman buildah);
my @skopeo_missing = grep { !which($_) } qw(skopeo umoci);
plan skip_all => "neither podman/buildah nor skopeo/umoci are installed"
    if @podman_missing && @skopeo_missing;

my $ACCEPT = join ', ', OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST, DOCKER_LIST;

# --- the scratch directory ------------------------------------------------------
#
# The sandbox runs the tools as nobody when we are root; their storage
# (the vfs driver), runroot, tmpdir and policy are in it too.

my $SB = OCI::Sandbox->new('oci-podman')->containers;
my $TMP = $SB->dir;
make_path("$TMP/ctx");

# A tool must succeed: one test; stdout without trailing white space, or
# undef.
sub tool_ok {
    my $out = $SB->run_ok(@_);
    return defined $out ? $out =~ s/\s+\z//r : undef;
}

# --- the registries -------------------------------------------------------------
#
# One open registry, one behind auth_basic (alice:secret, bcrypt, made with
# htpasswd -bB as an operator would). Both log what the module saw.

my $HTPASSWD = "$TMP/registry.htpasswd";
{
    my ($rc, undef, $err) = run_cmd([ 'htpasswd', '-bBc', $HTPASSWD, 'alice', 'secret' ]);
    die "htpasswd: exit $rc\n$err" if $rc;
}
chmod 0644, $HTPASSWD;

my $HTTP = q{log_format e2e '$request_method $request_uri $status $remote_user '
                            '$oci_action $oci_repository $request_length';};

my $open = OCI::Harness->start(http_config => $HTTP, log_level => 'info', config => <<'CONF');
    location /v2/ {
        oci_registry on;
        oci_storage $TEST_NGINX_STORAGE;
        client_max_body_size 0;
        access_log logs/e2e.log e2e;
    }
CONF
my $auth = OCI::Harness->start(http_config => $HTTP, log_level => 'info',
                               vars => { TEST_NGINX_HTPASSWD => $HTPASSWD }, config => <<'CONF');
    location /v2/ {
        oci_registry on;
        oci_storage $TEST_NGINX_STORAGE;
        client_max_body_size 0;
        auth_basic "registry";
        auth_basic_user_file $TEST_NGINX_HTPASSWD;
        access_log logs/e2e.log e2e;
    }
CONF

# Token auth: the issuer at /token (alice's password through auth_basic,
# anonymous requests get pull only), the registry checks its tokens.
my $KEYS = File::Spec->rel2abs("t/servroot/055-podman.keys.$$");
END { system('rm', '-rf', $KEYS) if $KEYS && Test::More->builder->is_passing }
my $TKEY = token_key($KEYS, 'p256', 'p256');
chmod 0644, $TKEY->{key};    # the workers read it, as whatever user
my $token = OCI::Harness->start(http_config => $HTTP . <<'HTTP', log_level => 'info',
    map $http_authorization $token_auth {
        ""      off;
        default "registry";
    }
    map "$remote_user:$oci_token_scope_type:$oci_token_scope_name" $token_grant {
        default                     "";
        "~^:repository:"            "pull";
        "~^alice:repository:alice/" "pull,push";
        "~^alice:repository:"       "pull";
    }
HTTP
    vars => { TEST_NGINX_HTPASSWD => $HTPASSWD, TEST_NGINX_KEY => $TKEY->{key},
              TEST_NGINX_PUB => $TKEY->{pub} }, config => <<'CONF');
    location /v2/ {
        oci_registry on;
        oci_storage $TEST_NGINX_STORAGE;
        client_max_body_size 0;
        oci_token_realm "http://127.0.0.1:$TEST_NGINX_SERVER_PORT/token";
        oci_token_service e2e-registry;
        oci_token_issuer e2e-issuer;
        oci_token_key $TEST_NGINX_PUB;
        access_log logs/e2e.log e2e;
    }
    location = /token {
        auth_basic $token_auth;
        auth_basic_user_file $TEST_NGINX_HTPASSWD;
        oci_token_issue e2e-issuer;
        oci_token_service e2e-registry;
        oci_token_signing_key $TEST_NGINX_KEY;
        oci_token_grant $token_grant;
        access_log logs/token.log e2e;
    }
CONF

my $REG  = '127.0.0.1:' . $open->port;
my $AREG = '127.0.0.1:' . $auth->port;
my $TREG = '127.0.0.1:' . $token->port;

sub access_log { slurp($_[0]->path('logs', 'e2e.log')) }

# The manifest the registry serves for a reference: (digest of its bytes,
# Docker-Content-Digest, Content-Type, decoded body).
sub served {
    my ($srv, $repo, $ref, @auth) = @_;
    my $res = $srv->req('GET', "/v2/$repo/manifests/$ref", headers => [ Accept => $ACCEPT, @auth ]);
    return ('', '', '', {}) unless $res->code == 200;
    return ('sha256:' . sha256_hex($res->content), $res->header('Docker-Content-Digest') // '',
            $res->header('Content-Type') // '', dec($res->content) || {});
}

# What the auth_basic location answers without credentials.
my $res = $auth->req('GET', '/v2/');
is $res->code, 401, 'auth location: /v2/ without credentials is 401';
is $res->header('WWW-Authenticate'), 'Basic realm="registry"', 'with the Basic challenge';
like $res->content, qr/"code":"UNAUTHORIZED"/, 'and the JSON error body';

# --- can podman and buildah run here? ---------------------------------------------

my $why_not;
if ($ENV{TEST_OCI_NO_PODMAN}) {
    $why_not = 'TEST_OCI_NO_PODMAN is set';
} elsif (@podman_missing) {
    $why_not = "@podman_missing not installed (make test installs them)";
} else {
    $SB->give_away;
    my ($rc, $out, $err) = $SB->run('buildah', 'from', '--name', 'probe', 'scratch');
    if ($rc) {
        $why_not = "buildah cannot create a working container here (exit $rc): " . $SB->quiet($err);
        # the usual reason: no user namespace for a rootless buildah
        my ($urc, undef, $uerr) = $SB->run('unshare', '--user', '--map-root-user', 'true');
        $why_not .= "; unshare --user fails too (exit $urc): $uerr" if $urc;
    } else {
        $SB->run('buildah', 'rm', 'probe');
        ($rc, $out, $err) = $SB->run('podman', 'images');
        $why_not = "podman cannot open its storage here (exit $rc): " . $SB->quiet($err) if $rc;
    }
}
diag "podman/buildah part skipped: $why_not" if $why_not;

# --- podman and buildah -----------------------------------------------------------

my %IMG;          # name => { id (config digest), layers (diff IDs) } as built

# buildah from scratch + two files of random content + config + commit.
sub build_image {
    my ($name, %o) = @_;
    my $ctx = "$TMP/ctx/$name";
    make_path($ctx);
    spew("$ctx/data.bin", random_bytes($o{size} // 200_000));
    spew("$ctx/hello.txt", "hello from $name " . sha256_hex(random_bytes(32)) . "\n");
    $SB->give_away;
    my $c = tool_ok("buildah from scratch ($name)", 'buildah', 'from', '--name', "wc-$name", 'scratch')
        // return;
    tool_ok("buildah copy ($name)", 'buildah', 'copy', $c, "$ctx/data.bin", "$ctx/hello.txt", '/data/')
        // return;
    tool_ok("buildah config ($name)", 'buildah', 'config', '--os', 'linux', '--arch', $o{arch} // 'amd64',
            '--cmd', '/data/hello.txt', '--label', "test=$name", $c) // return;
    tool_ok("buildah commit ($name)", 'buildah', 'commit', '--format', $o{format} // 'oci',
            '--rm', $c, "localhost/e2e/$name:v1") // return;
    my $out = tool_ok("podman inspect ($name)", 'podman', 'image', 'inspect', "localhost/e2e/$name:v1")
        // return;
    my $info = (dec($out) || [])->[0] || {};
    return $IMG{$name} = { id => $info->{Id}, layers => $info->{RootFS}{Layers} || [] };
}

sub inspect_image {
    my ($ref) = @_;
    my ($rc, $out) = $SB->run('podman', 'image', 'inspect', $ref);
    return $rc ? {} : (dec($out) || [])->[0] || {};
}

sub podman_part {
    plan skip_all => $why_not if $why_not;

    build_image('app', size => 3 * 1024 * 1024 + 17) or return;
    build_image('docker', format => 'docker') or return;
    build_image('arm', arch => 'arm64') or return;
    is scalar @{ $IMG{app}{layers} }, 1, 'the app image has one layer';

    # podman push of the OCI image
    my $dfile = "$TMP/tmp/app.digest";
    tool_ok('podman push --tls-verify=false', 'podman', 'push', '--tls-verify=false',
            '--digestfile', $dfile, 'localhost/e2e/app:v1', "docker://$REG/e2e/app:v1") // return;
    my $pushed = slurp($dfile) =~ s/\s+\z//r;
    like $pushed, qr/^sha256:[0-9a-f]{64}$/, 'podman wrote the pushed digest';
    my ($sha, $dcd, $ct, $m) = served($open, 'e2e/app', 'v1');
    is $sha, $pushed, 'the registry serves the manifest podman pushed, byte for byte';
    is $dcd, $pushed, 'Docker-Content-Digest agrees';
    is $ct, OCI_MANIFEST, 'as an OCI image manifest';
    is slurp($open->storage . '/repositories/e2e/app/_tags/v1') =~ s/\s+\z//r, $pushed,
        'the tag file holds the digest';
    my $log = access_log($open);
    like $log, qr{^PUT /v2/e2e/app/manifests/v1 201 - push e2e/app }m, 'access log: the manifest PUT';
    like $log, qr{^PATCH /v2/e2e/app/blobs/uploads/\S+ 202 - push e2e/app (\d+)}m,
        'access log: a PATCH of the layer';

    # podman rmi + pull: same digest, same image
    tool_ok('podman rmi', 'podman', 'rmi', 'localhost/e2e/app:v1') // return;
    is inspect_image('localhost/e2e/app:v1')->{Id}, undef, 'the image is gone locally';
    tool_ok('podman pull --tls-verify=false', 'podman', 'pull', '--tls-verify=false', "$REG/e2e/app:v1")
        // return;
    my $info = inspect_image("$REG/e2e/app:v1");
    is $info->{Digest}, $pushed, 'podman inspect: the pulled digest equals the pushed one';
    is $info->{Id}, $IMG{app}{id}, 'same image ID (config digest) as built';
    is_deeply $info->{RootFS}{Layers}, $IMG{app}{layers}, 'same layers (diff IDs) as built';
    if (which('skopeo')) {
        my $out = $SB->run_ok('skopeo inspect --raw', 'skopeo', 'inspect', '--tls-verify=false',
                           '--raw', "docker://$REG/e2e/app:v1");
        is 'sha256:' . sha256_hex($out // ''), $pushed, 'skopeo inspect --raw: the same manifest bytes';
    }
    tool_ok('podman pull by digest', 'podman', 'pull', '--tls-verify=false', "$REG/e2e/app\@$pushed");

    # a second repository: podman knows the blobs are in e2e/app and mounts them
    my $off = length access_log($open);
    tool_ok('podman push of the pulled image to e2e/copy', 'podman', 'push', '--tls-verify=false',
            "$REG/e2e/app:v1", "docker://$REG/e2e/copy:v1");
    my @mounts = substr(access_log($open), $off) =~ m{^POST /v2/e2e/copy/blobs/uploads/\?\S*mount=\S* (\d+) }mg;
    ok scalar(grep { $_ == 201 } @mounts), 'podman mounted blobs from e2e/app (201)'
        or diag substr(access_log($open), $off);
    is((served($open, 'e2e/copy', 'v1'))[0], $pushed, 'e2e/copy:v1 is the same manifest');

    # buildah push of the Docker-format image
    my $ddfile = "$TMP/tmp/docker.digest";
    tool_ok('buildah push --tls-verify=false', 'buildah', 'push', '--tls-verify=false',
            '--digestfile', $ddfile, 'localhost/e2e/docker:v1', "docker://$REG/e2e/docker:v1")
        // return;
    my $dpushed = slurp($ddfile) =~ s/\s+\z//r;
    ($sha, $dcd, $ct) = served($open, 'e2e/docker', 'v1');
    is $sha, $dpushed, 'buildah: the registry serves the pushed manifest';
    is $ct, DOCKER_MANIFEST, 'as a Docker schema 2 manifest';
    tool_ok('podman rmi (docker)', 'podman', 'rmi', 'localhost/e2e/docker:v1');
    tool_ok('podman pull (docker)', 'podman', 'pull', '--tls-verify=false', "$REG/e2e/docker:v1");
    $info = inspect_image("$REG/e2e/docker:v1");
    is $info->{Digest}, $dpushed, 'the Docker-format image round-trips with its digest';
    is $info->{Id}, $IMG{docker}{id}, 'and its image ID';

    # a manifest list of two platforms, pushed with --all
    tool_ok('podman manifest create', 'podman', 'manifest', 'create', 'localhost/e2e/multi:v1') // return;
    tool_ok('podman manifest add amd64', 'podman', 'manifest', 'add', 'localhost/e2e/multi:v1',
            "containers-storage:$REG/e2e/app:v1") // return;
    tool_ok('podman manifest add arm64', 'podman', 'manifest', 'add', 'localhost/e2e/multi:v1',
            'containers-storage:localhost/e2e/arm:v1') // return;
    my $mfile = "$TMP/tmp/multi.digest";
    tool_ok('podman manifest push --all', 'podman', 'manifest', 'push', '--all', '--tls-verify=false',
            '--digestfile', $mfile, 'localhost/e2e/multi:v1', "docker://$REG/e2e/multi:v1") // return;
    my $mpushed = slurp($mfile) =~ s/\s+\z//r;
    ($sha, $dcd, $ct, $m) = served($open, 'e2e/multi', 'v1');
    is $sha, $mpushed, 'the registry serves the pushed manifest list';
    like $ct, qr/^(?:\Q${\ DOCKER_LIST}\E|\Q${\ OCI_INDEX}\E)$/, 'as a list/index';
    is_deeply [ sort map { $_->{platform}{architecture} } @{ $m->{manifests} || [] } ],
              [qw(amd64 arm64)], 'of amd64 and arm64';
    for my $d (@{ $m->{manifests} || [] }) {
        is $open->req('HEAD', "/v2/e2e/multi/manifests/$d->{digest}")->code, 200,
            "the $d->{platform}{architecture} manifest is in e2e/multi by digest";
    }
    tool_ok('podman rmi (arm)', 'podman', 'rmi', 'localhost/e2e/arm:v1');
    tool_ok('podman pull --arch arm64 from the list', 'podman', 'pull', '--tls-verify=false',
            '--arch', 'arm64', "$REG/e2e/multi:v1") // return;
    $info = inspect_image("$REG/e2e/multi:v1");
    is $info->{Id}, $IMG{arm}{id}, 'the arm64 image came out of the list';
    is $info->{Architecture}, 'arm64', 'podman inspect: arm64';

    # --- login ---
    my $AUTHFILE = "$TMP/home/podman-auth.json";     # empty: podman wants it to exist
    my @AF = ('--authfile', $AUTHFILE);
    spew($AUTHFILE, qq({"auths":{}}\n));
    chown $SB->uid, $SB->gid, $AUTHFILE if defined $SB->uid;
    my ($rc, undef, $err) = $SB->run('podman', 'login', '--tls-verify=false', @AF, '-u', 'alice',
                                   '--password-stdin', $AREG, { stdin => "wrong\n" });
    isnt $rc, 0, 'podman login with a wrong password fails';
    like $err, qr/401|unauthorized|invalid username\/password/i, 'saying the credentials are wrong'
        or diag $SB->quiet($err);
    unlike slurp($AUTHFILE), qr/\Q$AREG\E/, 'and stores nothing';

    $off = length access_log($auth);
    ($rc, undef, $err) = $SB->run('podman', 'push', '--tls-verify=false', @AF, "$REG/e2e/app:v1",
                                "docker://$AREG/alice/app:v1");
    isnt $rc, 0, 'podman push without credentials fails';
    like $err, qr/401|unauthorized|authentication required/i, 'as unauthorized' or diag $SB->quiet($err);
    $log = substr(access_log($auth), $off);
    like $log, qr{^\S+ /v2/\S* 401 - }m, 'access log: 401 for the anonymous requests';
    unlike $log, qr{ 20[12] }, 'nothing was accepted';

    tool_ok('podman login -u alice -p secret', 'podman', 'login', '--tls-verify=false', @AF,
            '-u', 'alice', '-p', 'secret', $AREG) // return;
    my $stored = dec(slurp($AUTHFILE)) || {};
    ok $stored->{auths}{$AREG}{auth}, 'the credentials are in the private auth file';
    tool_ok('podman push with the stored credentials', 'podman', 'push', '--tls-verify=false', @AF,
            '--digestfile', "$TMP/tmp/auth.digest", "$REG/e2e/app:v1", "docker://$AREG/alice/app:v1")
        // return;
    my $apushed = slurp("$TMP/tmp/auth.digest") =~ s/\s+\z//r;
    $log = substr(access_log($auth), $off);
    like $log, qr{^PUT /v2/alice/app/manifests/v1 201 alice push alice/app }m,
        'access log: the manifest PUT as alice';
    my @alice = ('Authorization' => 'Basic YWxpY2U6c2VjcmV0');
    is((served($auth, 'alice/app', 'v1', @alice))[0], $apushed, 'the registry holds what was pushed');
    tool_ok('podman rmi', 'podman', 'rmi', '-f', "$REG/e2e/app:v1", "$REG/e2e/multi:v1");
    tool_ok('podman pull with the stored credentials', 'podman', 'pull', '--tls-verify=false', @AF,
            "$AREG/alice/app:v1") // return;
    $info = inspect_image("$AREG/alice/app:v1");
    is $info->{Digest}, $apushed, 'the pulled digest equals the pushed one';
    is $info->{Id}, $IMG{app}{id}, 'same image ID as built';

    tool_ok('podman logout', 'podman', 'logout', @AF, $AREG);
    ($rc, undef, $err) = $SB->run('podman', 'pull', '--tls-verify=false', @AF, "$AREG/alice/app:v1");
    isnt $rc, 0, 'after logout a pull is refused';
    like $err, qr/401|unauthorized|authentication required/i, 'as unauthorized' or diag $SB->quiet($err);
}

# --- the fallback: skopeo (login, copy) against the same locations ---------------

sub skopeo_part {
    plan skip_all => 'podman and buildah ran' unless $why_not;
    plan skip_all => "@skopeo_missing not installed" if @skopeo_missing;

    my $SRC = "$TMP/src";
    for my $cmd ([ 'init', '--layout', $SRC ], [ 'new', '--image', "$SRC:image" ]) {
        my ($rc, undef, $err) = run_cmd([ 'umoci', @$cmd ]);
        die "umoci @$cmd: $err" if $rc;
    }
    spew("$TMP/ctx/data.bin", random_bytes(300_000));
    my ($rc, undef, $err) = run_cmd([ 'umoci', 'insert', '--image', "$SRC:image", "$TMP/ctx/data.bin",
                                      '/data.bin' ]);
    die "umoci insert: $err" if $rc;
    $SB->give_away;
    my $index = decode_json(slurp("$SRC/index.json"));
    my $digest = $index->{manifests}[0]{digest};

    tool_ok('skopeo copy to the open registry', 'skopeo', 'copy', '--preserve-digests',
            '--dest-tls-verify=false', "oci:$SRC:image", "docker://$REG/e2e/app:v1") // return;
    is((served($open, 'e2e/app', 'v1'))[0], $digest, 'the registry serves the pushed manifest');

    my $AUTHFILE = "$TMP/home/skopeo-auth.json";
    my @AF = ('--authfile', $AUTHFILE);
    ($rc, undef, $err) = $SB->run('skopeo', 'login', '--tls-verify=false', @AF, '-u', 'alice', '-p', 'wrong', $AREG);
    isnt $rc, 0, 'skopeo login with a wrong password fails';
    my $off = length access_log($auth);
    ($rc, undef, $err) = $SB->run('skopeo', 'copy', '--dest-tls-verify=false', @AF, "oci:$SRC:image",
                                "docker://$AREG/alice/app:v1");
    isnt $rc, 0, 'skopeo copy without credentials fails';
    like $err, qr/401|unauthorized|authentication required/i, 'as unauthorized' or diag $SB->quiet($err);
    like substr(access_log($auth), $off), qr{^\S+ /v2/\S* 401 - }m, 'access log: 401';
    tool_ok('skopeo login -u alice -p secret', 'skopeo', 'login', '--tls-verify=false', @AF,
            '-u', 'alice', '-p', 'secret', $AREG) // return;
    tool_ok('skopeo copy with the stored credentials', 'skopeo', 'copy', '--preserve-digests',
            '--dest-tls-verify=false', @AF, "oci:$SRC:image", "docker://$AREG/alice/app:v1") // return;
    my $out = $SB->run_ok('skopeo inspect --raw with the stored credentials', 'skopeo', 'inspect',
                       '--tls-verify=false', @AF, '--raw', "docker://$AREG/alice/app:v1");
    is 'sha256:' . sha256_hex($out // ''), $digest, 'the same manifest bytes come back';
    tool_ok('skopeo copy --creds (no auth file)', 'skopeo', 'copy', '--src-tls-verify=false',
            '--src-creds', 'alice:secret', "docker://$AREG/alice/app:v1", "oci:$TMP/pulled:image");
    is decode_json(slurp("$TMP/pulled/index.json"))->{manifests}[0]{digest}, $digest,
        'pulled layout: same digest';
}

# --- podman through the token flow ----------------------------------------------

sub podman_token_part {
    plan skip_all => $why_not if $why_not;

    $res = $token->req('GET', '/v2/');
    is $res->header('WWW-Authenticate'),
        qq{Bearer realm="http://$TREG/token",service="e2e-registry"},
        'the token location challenges with its realm and service';

    build_image('tok') or return;
    my $AUTHFILE = "$TMP/home/podman-token-auth.json";
    my @AF = ('--authfile', $AUTHFILE);
    spew($AUTHFILE, qq({"auths":{}}\n));
    chown $SB->uid, $SB->gid, $AUTHFILE if defined $SB->uid;

    my ($rc, undef, $err) = $SB->run('podman', 'login', '--tls-verify=false', @AF, '-u', 'alice',
                                   '--password-stdin', $TREG, { stdin => "wrong\n" });
    isnt $rc, 0, 'token flow: podman login with a wrong password fails';
    like slurp($token->path('logs', 'token.log')), qr{^GET /token\S* 401 }m,
        'token flow: the issuer refused it';

    ($rc, undef, $err) = $SB->run('podman', 'push', '--tls-verify=false', @AF,
                                'localhost/e2e/tok:v1', "docker://$TREG/alice/tok:v1");
    isnt $rc, 0, 'token flow: an anonymous push fails (anonymous tokens only pull)';

    tool_ok('token flow: podman login -u alice', 'podman', 'login', '--tls-verify=false', @AF,
            '-u', 'alice', '-p', 'secret', $TREG) // return;
    my $tlog = slurp($token->path('logs', 'token.log'));
    like $tlog, qr{^GET /token\S* 200 alice }m, 'token flow: login got a token as alice';

    my $off = length access_log($token);
    tool_ok('token flow: podman push', 'podman', 'push', '--tls-verify=false', @AF,
            '--digestfile', "$TMP/tmp/tok.digest", 'localhost/e2e/tok:v1',
            "docker://$TREG/alice/tok:v1") // return;
    my $pushed = slurp("$TMP/tmp/tok.digest") =~ s/\s+\z//r;
    my $log = substr(access_log($token), $off);
    like $log, qr{^PUT /v2/alice/tok/manifests/v1 201 - push alice/tok }m,
        'access log: the manifest PUT, with a bearer token';
    like $log, qr{\AGET /v2/ 401 }, 'access log: the challenge came first';
    like substr(slurp($token->path('logs', 'token.log')), length $tlog),
        qr{^GET /token\?\S*scope=repository(?::|%3A)alice(?:/|%2F)tok(?::|%3A)\S* 200 alice }mi,
        'token flow: podman asked the issuer for alice/tok';

    ($rc, undef, $err) = $SB->run('podman', 'push', '--tls-verify=false', @AF,
                                'localhost/e2e/tok:v1', "docker://$TREG/bob/tok:v1");
    isnt $rc, 0, 'token flow: a push to bob/tok is refused (no grant)';
    like $err, qr/401|403|unauthorized|denied|authentication required/i, 'as unauthorized'
        or diag $SB->quiet($err);

    tool_ok('token flow: podman rmi', 'podman', 'rmi', '-f', 'localhost/e2e/tok:v1');
    tool_ok('token flow: podman pull', 'podman', 'pull', '--tls-verify=false', @AF,
            "$TREG/alice/tok:v1") // return;
    my $info = inspect_image("$TREG/alice/tok:v1");
    is $info->{Digest}, $pushed, 'token flow: the pulled digest equals the pushed one';
    is $info->{Id}, $IMG{tok}{id}, 'token flow: same image ID as built';

    tool_ok('token flow: podman logout', 'podman', 'logout', @AF, $TREG);
    tool_ok('token flow: podman rmi again', 'podman', 'rmi', '-f', "$TREG/alice/tok:v1");
    tool_ok('token flow: anonymous pull after logout', 'podman', 'pull', '--tls-verify=false',
            @AF, "$TREG/alice/tok:v1") // return;
    is inspect_image("$TREG/alice/tok:v1")->{Digest}, $pushed, 'token flow: the same digest';
}

subtest 'podman and buildah' => \&podman_part;
subtest 'podman through the token flow' => \&podman_token_part;
subtest 'skopeo instead of podman' => \&skopeo_part;

# --- the servers ----------------------------------------------------------------

stops_cleanly $_ for $open, $auth, $token;

note sprintf 'took %.1f s', time - $T0;
done_testing;

END {
    # rootless podman leaves a pause process (catatonit) holding its user
    # namespace; it is ours: stop it by its pid (OCI::Sandbox then removes
    # the scratch directory)
    for my $pidfile (glob("$TMP/tmp/pause.pid"), glob("$TMP/run/libpod/tmp/pause.pid")) {
        my ($pid) = slurp($pidfile) =~ /^(\d+)/ or next;
        kill 'TERM', $pid if slurp("/proc/$pid/cmdline") =~ /catatonit|podman/;
    }
}
