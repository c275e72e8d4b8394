# Tokens between the module and docker-registry 2.8.2 (distribution), side
# by side on 127.0.0.1 with the same realm, service, issuer and certificate
# bundle (its "auth: token:" section). The module's issuer signs with the
# key of the first certificate; tokens in docker-registry's own format are
# signed here with the key of the second (P-256, libtrust kid). Every
# token, good or bad, is sent with the same requests to both: the same
# decision (let in, or 401), and the same challenge (realm, service,
# scope, error), actions compared as sets since docker-registry's order
# is a Go map's.

BEGIN { push @INC, 't/lib' }
use strict;
use warnings;
use OCI::Harness;
use OCI::Server;
use OCI::Client;
use OCI::Test;
use Test::More;
use File::Spec;
use MIME::Base64 qw(encode_base64);
use Time::HiRes qw(sleep);

my $REGISTRY = which('docker-registry')
    or plan skip_all => 'docker-registry is not installed (make test installs it)';

my $TMP = File::Spec->rel2abs("t/servroot/015-token-interop.$$");
END { system('rm', '-rf', $TMP) if $TMP && Test::More->builder->is_passing }

my $rsa = token_key($TMP, 'rsa', 'rsa');
my $ec = token_key($TMP, 'ec', 'p256');
for my $k ($rsa, $ec) {
    my ($rc, undef, $err) = run_cmd([ qw(openssl req -x509 -new -days 2 -subj /CN=token-signer),
                                      '-key', $k->{key}, '-out', "$k->{key}.crt" ]);
    die "openssl req: $err" if $rc;
}
spew("$TMP/bundle.crt", slurp("$rsa->{key}.crt") . slurp("$ec->{key}.crt"));
spew("$TMP/htpasswd", "alice:{PLAIN}secret\nbob:{PLAIN}secret\n");

my $SERVICE = 'registry.test';
my $ISSUER = 'nginx-issuer';
my $NGINX_PORT = OCI::Server::free_port();
my $REALM = "http://127.0.0.1:$NGINX_PORT/token";

my $srv = OCI::Harness->start(
    port => $NGINX_PORT,
    http_config => <<'HTTP',
    map $http_authorization $token_auth {
        ""      off;
        default "registry";
    }
    map "$remote_user:$oci_token_scope_name" $token_grant {
        default          "";
        "~^:"            "pull";
        "~^alice:"       "*";
        "bob:lib/app"    "pull";
    }
HTTP
    config => registry_conf(qq{oci_token_realm "$REALM";}, "oci_token_service $SERVICE;",
                            "oci_token_issuer $ISSUER;", "oci_token_key $TMP/bundle.crt;")
            . <<"LOC");
    location = /token {
        auth_basic \$token_auth;
        auth_basic_user_file $TMP/htpasswd;
        oci_token_issue $ISSUER;
        oci_token_service $SERVICE;
        oci_token_signing_key $rsa->{key};
        oci_token_grant \$token_grant;
    }
LOC

# --- docker-registry with the same auth section ------------------------------------

my $REG_PORT = OCI::Server::free_port();
make_dir("$TMP/distribution");
spew("$TMP/distribution/config.yml", <<"YML");
version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $TMP/distribution/storage
  delete:
    enabled: true
http:
  addr: 127.0.0.1:$REG_PORT
auth:
  token:
    realm: $REALM
    service: $SERVICE
    issuer: $ISSUER
    rootcertbundle: $TMP/bundle.crt
YML

sub make_dir { my ($d) = @_; system('mkdir', '-p', $d) == 0 or die "mkdir $d\n" }

my $reg_pid = fork // die "fork: $!\n";
if (!$reg_pid) {
    open STDOUT, '>', "$TMP/distribution/registry.log";
    open STDERR, '>&', \*STDOUT;
    exec $REGISTRY, 'serve', "$TMP/distribution/config.yml";
    exit 127;
}
END { if ($reg_pid) { kill 'TERM', $reg_pid; waitpid($reg_pid, 0) } }

my $deadline = Time::HiRes::time() + 20;
my $up;
while (Time::HiRes::time() < $deadline) {
    last if waitpid($reg_pid, 1) == $reg_pid;    # WNOHANG
    my $res = OCI::Client::request_once($REG_PORT, 'GET', '/v2/', timeout => 2);
    if ($res->code == 401) { $up = 1; last }
    sleep 0.1;
}
ok $up, 'docker-registry is up, asking for tokens'
    or BAIL_OUT('docker-registry did not start: ' . slurp("$TMP/distribution/registry.log"));

# --- tokens ------------------------------------------------------------------------

sub issued {
    my ($user, @scopes) = @_;
    my $q = join '&', "service=$SERVICE", map { "scope=$_" } @scopes;
    my $res = $srv->req('GET', "/token?$q",
                        headers => [ $user ? (Authorization => 'Basic ' . encode_base64("$user:secret", '')) : () ]);
    is $res->code, 200, 'issued to ' . ($user // 'anonymous') or diag dump_res($res);
    return (dec($res->content) // {})->{token} // '';
}

# docker-registry's own format, signed with the P-256 key of the bundle
sub theirs {
    my (%c) = @_;
    my $now = time;
    my %claims = (iss => $ISSUER, sub => 'carol', aud => $SERVICE, exp => $now + 300,
                  nbf => $now - 5, iat => $now - 5, jti => unique(),
                  access => [ { type => 'repository', name => 'lib/app', actions => [ 'pull', 'push' ] } ],
                  %c);
    delete @claims{ grep { !defined $claims{$_} } keys %claims };
    return jwt_sign($ec, \%claims, %{ delete $claims{_opt} || {} });
}

my $other = token_key($TMP, 'other', 'p256');
my %tokens = (
    'none'                 => undef,
    'issued, alice'        => issued('alice', 'repository:lib/app:pull,push'),
    'issued, bob'          => issued('bob', 'repository:lib/app:pull,push'),
    'issued, anonymous'    => issued(undef, 'repository:lib/app:pull,push'),
    'issued, no scope'     => issued('alice'),
    'theirs, pull+push'    => theirs(),
    'theirs, pull'         => theirs(access => [ { type => 'repository', name => 'lib/app', actions => [ 'pull' ] } ]),
    'theirs, "*"'          => theirs(access => [ { type => 'repository', name => 'lib/app', actions => [ '*' ] } ]),
    'theirs, expired'      => theirs(exp => time - 600),
    'theirs, future nbf'   => theirs(nbf => time + 600),
    'theirs, other aud'    => theirs(aud => 'elsewhere'),
    'theirs, other iss'    => theirs(iss => 'mallory'),
    'theirs, unknown kid'  => jwt_sign($other, { iss => $ISSUER, aud => $SERVICE, exp => time + 300 }),
    'theirs, tampered'     => tampered(theirs()),
);

# the first character of the signature changed
sub tampered {
    my ($t) = @_;
    my $i = rindex($t, '.') + 1;
    substr($t, $i, 1) = substr($t, $i, 1) eq 'A' ? 'B' : 'A';
    return $t;
}

my $D = sha256('nothing');
my @requests = (
    [ 'GET', '/v2/' ],
    [ 'GET', '/v2/lib/app/tags/list' ],
    [ 'HEAD', "/v2/lib/app/blobs/$D" ],
    [ 'GET', '/v2/lib/other/manifests/v1' ],
    [ 'POST', '/v2/lib/app/blobs/uploads/' ],
    [ 'PUT', '/v2/lib/app/manifests/v1' ],
    [ 'DELETE', "/v2/lib/app/manifests/$D" ],
);

# the challenge with each scope's actions sorted
sub challenge {
    my ($res) = @_;
    my $h = $res->header('WWW-Authenticate') // '';
    $h =~ s{scope="([^"]*)"}{
        'scope="' . join(' ', sort map { my ($t, $n, $a) = /^([^:]+):(.*):([^:]*)\z/;
                                         "$t:$n:" . join ',', sort split /,/, $a } split / /, $1) . '"'
    }e;
    return $h;
}

for my $name (sort keys %tokens) {
    for my $rq (@requests) {
        my ($m, $p) = @$rq;
        my @h = defined $tokens{$name} ? (headers => [ Authorization => "Bearer $tokens{$name}" ]) : ();
        my $ours = $srv->req($m, $p, @h);
        my $theirs = OCI::Client::request_once($REG_PORT, $m, $p, @h);
        my $what = "$name, $m $p";
        is $ours->code == 401 ? 401 : 'in', $theirs->code == 401 ? 401 : 'in',
            "$what: the same decision" or diag dump_res($ours), dump_res($theirs);
        is challenge($ours), challenge($theirs), "$what: the same challenge"
            if $theirs->code == 401;
    }
}

ok $srv->alive, 'nginx is up';
is $srv->crash_lines, '', 'no worker crashed';

done_testing;
