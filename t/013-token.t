# Bearer token authentication, the resource server: oci_token_realm,
# _service, _issuer, _key, _leeway. Keys are made with openssl at the
# start (RSA as a public key, P-256 as a self-signed certificate the way
# docker-registry's rootcertbundle holds it, Ed25519 in a JWKS), tokens
# are signed here in docker-registry's format (libtrust kid, "access"
# entries with type, name, actions). Checked: the scope each route and
# method needs and the challenge that names it, insufficient scope, every
# way a token can be bad (each a 401, nginx still up), the leeway,
# $oci_token_subject, satisfy any with allow/deny, a reload that rotates
# the key, and the configurations nginx refuses.

BEGIN { push @INC, 't/lib' }
use strict;
use warnings;
use OCI::Harness;
use OCI::Test;
use Test::More;
use MIME::Base64 qw(encode_base64);
use Digest::SHA qw(hmac_sha256);
use File::Spec;

my $TMP = File::Spec->rel2abs("t/servroot/013-token.keys.$$");
END { system('rm', '-rf', $TMP) if $TMP && Test::More->builder->is_passing }

my $rsa = token_key($TMP, 'rsa', 'rsa');
my $ec  = token_key($TMP, 'ec', 'p256');
my $ed  = token_key($TMP, 'ed', 'ed25519');
my $other = token_key($TMP, 'other', 'rsa');    # a key nginx does not know

# P-256 as a certificate, as in docker-registry's rootcertbundle
my ($rc, $out, $err) = run_cmd([ qw(openssl req -x509 -new -days 2 -subj /CN=token),
                                 '-key', $ec->{key}, '-out', "$TMP/ec.crt" ]);
is $rc, 0, 'a certificate for the P-256 key' or diag $err;

# Ed25519 as a JWK with its own kid
($rc, $out) = run_cmd([ qw(openssl pkey -pubin -outform DER -in), $ed->{pub} ]);
$ed->{kid} = 'ed-key-1';
spew("$TMP/keys.jwks", enc({ keys => [ { kty => 'OKP', crv => 'Ed25519', use => 'sig',
                                         kid => 'ed-key-1',
                                         x => b64url(substr($out, -32)) } ] }));

my $REALM = 'https://auth.test/token';
my $SERVICE = 'registry.test';
my $ISSUER = 'test-issuer';

sub location {
    my (@more) = @_;
    return registry_conf(qq{oci_token_realm "$REALM";},
                         "oci_token_service $SERVICE;",
                         "oci_token_issuer other-issuer;",
                         "oci_token_issuer $ISSUER;",
                         "oci_token_key $TMP/rsa.pub;",
                         "oci_token_key $TMP/ec.crt;",
                         "oci_token_key $TMP/keys.jwks;",
                         'add_header X-Token-Subject "$oci_token_subject" always;',
                         @more);
}

# room for a token over the verifier's limit of 8192 bytes
my $srv = OCI::Harness->start(config => location(),
                              http_config => 'large_client_header_buffers 4 16k;');

# a token in docker-registry's format, signed with $key
sub token {
    my ($key, %c) = @_;
    my $now = time;
    my %claims = (iss => $ISSUER, sub => 'alice', aud => $SERVICE,
                  exp => $now + 300, nbf => $now - 10, iat => $now - 10,
                  jti => unique(), access => [], %c);
    delete @claims{ grep { !defined $claims{$_} } keys %claims };
    return jwt_sign($key, \%claims, %{ $c{_opt} || {} });
}

sub access { [ map { { type => 'repository', name => $_->[0], actions => [ @$_[1 .. $#$_] ] } } @_ ] }

sub with_token {
    my ($method, $path, $token, %o) = @_;
    return $srv->req($method, $path, %o,
                     headers => [ ($token ? (Authorization => "Bearer $token") : ()),
                                  @{ $o{headers} || [] } ]);
}

sub challenge_is {
    my ($res, $scope, $error, $what) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    my $want = qq{Bearer realm="$REALM",service="$SERVICE"}
             . (defined $scope ? qq{,scope="$scope"} : '')
             . (defined $error ? qq{,error="$error"} : '');
    if (($res->request ? $res->request->method : '') eq 'HEAD') {
        is_status $res, 401, "$what: 401";
    } else {
        is_error $res, 401, 'UNAUTHORIZED', "$what: 401 UNAUTHORIZED";
    }
    is $res->header('WWW-Authenticate'), $want, "$what: the challenge"
        or diag dump_res($res);
}

# --- what each request needs ------------------------------------------------------

my $res = with_token('GET', '/v2/');
challenge_is $res, undef, undef, 'anonymous GET /v2/';
is_deeply error_json($res)->{detail}, [], 'the base needs no scope';

$res = with_token('GET', '/v2/', token($rsa));
is_status $res, 200, 'GET /v2/ with a valid token granting nothing';
is $res->header('X-Token-Subject'), 'alice', '$oci_token_subject is the token\'s sub';

challenge_is with_token('GET', '/v2/lib/app/manifests/v1'), 'repository:lib/app:pull',
    undef, 'anonymous GET of a manifest';
challenge_is with_token('HEAD', '/v2/lib/app/blobs/' . sha256('x')),
    'repository:lib/app:pull', undef, 'anonymous HEAD of a blob';
challenge_is with_token('GET', '/v2/lib/app/tags/list'), 'repository:lib/app:pull',
    undef, 'anonymous tag list';
challenge_is with_token('POST', '/v2/lib/app/blobs/uploads/'), 'repository:lib/app:pull,push',
    undef, 'anonymous upload';
challenge_is with_token('PUT', '/v2/lib/app/manifests/v1'), 'repository:lib/app:pull,push',
    undef, 'anonymous manifest PUT';
challenge_is with_token('DELETE', '/v2/lib/app/manifests/' . sha256('m')),
    'repository:lib/app:delete', undef, 'anonymous DELETE';
challenge_is with_token('GET', '/v2/lib/app/blobs/uploads/0123'),
    'repository:lib/app:pull,push', undef, 'an upload session, even by GET,';
$res = with_token('POST', '/v2/lib/app/blobs/uploads/?mount=' . sha256('x') . '&from=lib/base');
challenge_is $res, 'repository:lib/app:pull,push repository:lib/base:pull', undef,
    'anonymous mount';
is_deeply error_json($res)->{detail},
    [ { Type => 'repository', Class => '', Name => 'lib/app', Action => 'pull' },
      { Type => 'repository', Class => '', Name => 'lib/app', Action => 'push' },
      { Type => 'repository', Class => '', Name => 'lib/base', Action => 'pull' } ],
    'the detail lists what the mount needs';

is_error with_token('GET', '/v2/Bad/manifests/v1'), 400, 'NAME_INVALID',
    'an invalid name is refused as such, before any token';

# --- granted, or not enough ----------------------------------------------------------

my $pull = token($rsa, access => access([ 'lib/app', 'pull' ]));
is_error with_token('GET', '/v2/lib/app/manifests/v1', $pull), 404, 'MANIFEST_UNKNOWN',
    'pull granted: the request goes through';
challenge_is with_token('GET', '/v2/lib/other/manifests/v1', $pull),
    'repository:lib/other:pull', 'insufficient_scope', 'pull on another repository';
challenge_is with_token('POST', '/v2/lib/app/blobs/uploads/', $pull),
    'repository:lib/app:pull,push', 'insufficient_scope', 'push with only pull';
challenge_is with_token('DELETE', '/v2/lib/app/manifests/' . sha256('m'), $pull),
    'repository:lib/app:delete', 'insufficient_scope', 'delete with only pull';

my $push_only = token($rsa, access => access([ 'lib/app', 'push' ]));
challenge_is with_token('POST', '/v2/lib/app/blobs/uploads/', $push_only),
    'repository:lib/app:pull,push', 'insufficient_scope', 'push without pull';

my $pp = token($rsa, access => access([ 'lib/app', 'pull', 'push' ]));
my $blob = 'a layer behind a token';
my $d = sha256($blob);
is_status with_token('POST', "/v2/lib/app/blobs/uploads/?digest=$d", $pp, body => $blob,
                     headers => [ 'Content-Type' => 'application/octet-stream' ]),
    201, 'pull,push: a monolithic upload';
is_status with_token('GET', "/v2/lib/app/blobs/$d", $pull), 200, 'pull: the blob';

my $star = token($rsa, access => access([ 'lib/app', '*' ]));
is_status with_token('HEAD', "/v2/lib/app/blobs/$d", $star), 200, '"*" grants pull';

my $mount = "/v2/lib/copy/blobs/uploads/?mount=$d&from=lib/app";
challenge_is with_token('POST', $mount, token($rsa, access => access([ 'lib/copy', 'pull', 'push' ]))),
    'repository:lib/copy:pull,push repository:lib/app:pull', 'insufficient_scope',
    'a mount without pull on its source';
is_status with_token('POST', $mount,
                     token($rsa, access => access([ 'lib/copy', 'pull', 'push' ], [ 'lib/app', 'pull' ]))),
    201, 'a mount with pull on its source';

is_status with_token('GET', '/v2/lib/app/tags/list', token($ec, access => access([ 'lib/app', 'pull' ]))),
    200, 'ES256, its key from a certificate';
is_status with_token('GET', '/v2/lib/app/tags/list', token($ed, access => access([ 'lib/app', 'pull' ]))),
    200, 'EdDSA, its key from a JWKS';
is_status with_token('GET', '/v2/', token($rsa, iss => 'other-issuer')), 200, 'the second issuer';
is_status with_token('GET', '/v2/', token($rsa, aud => [ 'x', $SERVICE ])), 200, 'aud as an array';
is_status with_token('GET', '/v2/', token($rsa, exp => time - 30)), 200,
    'expired 30 s ago, within the default leeway of 60 s';
is_status with_token('GET', '/v2/', token($rsa, sub => undef)), 200, 'no sub';
$res = with_token('GET', '/v2/', token($rsa, _opt => { alg => 'RS512' }));
is_status $res, 200, 'RS512 with the RSA key';
is $res->header('X-Token-Subject'), 'alice', 'the subject';

# --- bad tokens: each a 401 invalid_token -------------------------------------------

my $good = token($rsa);
my ($h64, $p64, $s64) = split /\./, $good;
my $now = time;
my $json_dup = qq({"iss":"$ISSUER","aud":"$SERVICE","exp":@{[ $now + 300 ]},"aud":"x"});
my $hs = do {
    my $in = b64url(enc({ alg => 'HS256', typ => 'JWT' })) . '.' . b64url(enc({ iss => $ISSUER,
             aud => $SERVICE, exp => $now + 300 }));
    $in . '.' . b64url(hmac_sha256($in, slurp($rsa->{pub})));
};
my %bad = (
    'expired'              => token($rsa, exp => $now - 120),
    'no exp'               => token($rsa, exp => undef),
    'not yet valid'        => token($rsa, nbf => $now + 120),
    'issued in the future' => token($rsa, iat => $now + 120),
    'wrong audience'       => token($rsa, aud => 'elsewhere'),
    'wrong issuer'         => token($rsa, iss => 'mallory'),
    'unknown kid'          => token($other),
    'unknown key, no kid'  => token($other, _opt => { header => { kid => undef } }),
    'kid of another key'   => token($other, _opt => { header => { kid => $rsa->{kid} } }),
    'alg none'             => b64url(enc({ alg => 'none', typ => 'JWT' })) . ".$p64.",
    'alg none, signed'     => b64url(enc({ alg => 'none', typ => 'JWT' })) . ".$p64.$s64",
    'HS256 with the public key' => $hs,
    'truncated'            => substr($good, 0, length($good) - 10),
    'no signature'         => "$h64.$p64",
    'oversized'            => "$h64." . b64url('{"a":"' . ('x' x 9000) . '"}') . ".$s64",
    'not base64url'        => "$h64.$p64.$s64=",
    'base64 alphabet'      => "$h64.$p64." . ($s64 =~ tr/-_/+\//r) . '+/',
    'duplicate JSON keys'  => jwt_sign($rsa, $json_dup),
    'payload changed'      => "$h64." . b64url(enc({ iss => $ISSUER, aud => $SERVICE,
                                                     exp => $now + 300, access =>
                                                     access([ 'lib/app', '*' ]) })) . ".$s64",
    'five parts'           => "$good.$s64.$s64",
    'garbage'              => "\x01\x02",
);
for my $what (sort keys %bad) {
    challenge_is with_token('GET', '/v2/lib/app/tags/list', $bad{$what}),
        'repository:lib/app:pull', 'invalid_token', $what;
}
$res = $srv->req('GET', '/v2/', headers => [ Authorization => 'Basic YWxpY2U6c2VjcmV0' ]);
challenge_is $res, undef, undef, 'Basic credentials are no token';
$res = with_token('GET', '/v2/', ' ');
challenge_is $res, undef, 'invalid_token', 'an empty token';
ok $srv->alive, 'nginx is still up';
is $srv->crash_lines, '', 'no worker crashed';

# --- satisfy any, allow and deny ---------------------------------------------------

ok $srv->reload(config => location('satisfy any;', 'allow 127.0.0.1;', 'deny all;')),
    'reloaded with satisfy any and allow' or diag $srv->error;
$res = with_token('GET', '/v2/lib/app/tags/list');
is_status $res, 200, 'satisfy any: the address lets an anonymous pull in';
is $res->header('WWW-Authenticate'), undef, 'with no challenge';

ok $srv->reload(config => location('satisfy any;', 'deny all;')), 'satisfy any, deny all'
    or diag $srv->error;
is_status with_token('GET', '/v2/lib/app/tags/list', $pull), 200,
    'satisfy any: the token lets the request in';
challenge_is with_token('GET', '/v2/lib/app/tags/list'), 'repository:lib/app:pull', undef,
    'satisfy any: neither';

ok $srv->reload(config => location('deny all;')), 'satisfy all, deny all' or diag $srv->error;
is_error with_token('GET', '/v2/lib/app/tags/list', $pull), 403, 'DENIED',
    'satisfy all: a good token does not lift a deny';

ok $srv->reload(config => location("location /v2/open/ {\n    oci_token_realm off;\n}")),
    'the realm off in a nested location' or diag $srv->error;
is_error with_token('GET', '/v2/open/tags/list'), 404, 'NAME_UNKNOWN',
    'oci_token_realm off: no token asked for';
challenge_is with_token('GET', '/v2/lib/app/tags/list'), 'repository:lib/app:pull', undef,
    'the enclosing location still asks';

# --- leeway and key rotation ----------------------------------------------------

ok $srv->reload(config => location('oci_token_leeway 0;')), 'leeway 0' or diag $srv->error;
challenge_is with_token('GET', '/v2/', token($rsa, exp => time - 30)), undef, 'invalid_token',
    'expired 30 s ago, no leeway';

my $old = token($rsa);
my $next = token_key("$TMP/next", 'rsa', 'rsa');
system('cp', $next->{pub}, "$TMP/rsa.pub") == 0 or die;
ok $srv->reload(config => location()), 'reloaded after the key file was replaced'
    or diag $srv->error;
challenge_is with_token('GET', '/v2/', $old), undef, 'invalid_token', 'the old key\'s token';
is_status with_token('GET', '/v2/', token($next)), 200, 'the new key\'s token';

# --- configurations nginx refuses ------------------------------------------------

for my $case (
    [ 'no service', qr/"oci_token_service" is not/,
      registry_conf(qq{oci_token_realm "$REALM";}, "oci_token_issuer i;",
                    "oci_token_key $TMP/rsa.pub;") ],
    [ 'no issuer', qr/"oci_token_issuer" is not/,
      registry_conf(qq{oci_token_realm "$REALM";}, "oci_token_service s;",
                    "oci_token_key $TMP/rsa.pub;") ],
    [ 'no key', qr/"oci_token_key" is not/,
      registry_conf(qq{oci_token_realm "$REALM";}, "oci_token_service s;",
                    "oci_token_issuer i;") ],
    [ 'a private key', qr/oci_token_key.*rsa\.key/,
      registry_conf("oci_token_key $TMP/rsa.key;") ],
    [ 'a missing key file', qr/open.*nonexistent/,
      registry_conf("oci_token_key $TMP/nonexistent;") ],
    [ 'a leeway too long', qr/from 0 to 600s/, registry_conf('oci_token_leeway 11m;') ],
) {
    my ($what, $log, $conf) = @$case;
    ok !$srv->reload(config => $conf), "refused: $what";
    like $srv->error // '', $log, "$what: nginx says why";
}
ok $srv->alive, 'the last good configuration still runs';
is_status with_token('GET', '/v2/', token($next)), 200, 'and still checks tokens';

done_testing;
