# The token issuer (oci_token_issue, _signing_key, _grant, _expires) in
# the same nginx as the registry that checks its tokens: auth_basic
# guards the token location only when credentials are sent (anonymous
# pull), a map of user and scope decides the grant. Checked: the answer's
# fields and the token's claims, what is granted to whom (anonymous pull,
# a pull-only user, a wrong password), the whole flow against the
# registry (a push with pull only is insufficient_scope), every key type
# signing and verifying, scopes that are malformed or too many, and
# configurations refused.

BEGIN { push @INC, 't/lib' }
use strict;
use warnings;
use OCI::Harness;
use OCI::Test;
use Test::More;
use File::Spec;
use MIME::Base64 qw(encode_base64);

my $TMP = File::Spec->rel2abs("t/servroot/014-token-issuer.keys.$$");
END { system('rm', '-rf', $TMP) if $TMP && Test::More->builder->is_passing }

my %key = map { $_ => token_key($TMP, $_, $_) } qw(rsa p256 p384 ed25519);
spew("$TMP/htpasswd", "alice:{PLAIN}secret\nbob:{PLAIN}secret\n");

my $SERVICE = 'registry.test';

my $HTTP = <<'HTTP';
    # no credentials: no auth_basic, an anonymous token
    map $http_authorization $token_auth {
        ""      off;
        default "registry";
    }

    map "$remote_user:$oci_token_scope_type:$oci_token_scope_name" $token_grant {
        default                  "";
        "~^:repository:"         "pull";
        "~^alice:repository:"    "pull,push,delete";
        "bob:repository:lib/app" "pull";
        "alice:registry:catalog" "*";
    }

    large_client_header_buffers 4 16k;
HTTP

sub conf {
    my ($type, @more) = @_;
    return registry_conf(q{oci_token_realm "http://127.0.0.1:$TEST_NGINX_SERVER_PORT/token";},
                         "oci_token_service $SERVICE;",
                         'oci_token_issuer nginx-issuer;',
                         "oci_token_key $key{$type}{pub};",
                         'add_header X-Token-Subject "$oci_token_subject" always;')
         . <<"LOC";
    location = /token {
        auth_basic \$token_auth;
        auth_basic_user_file $TMP/htpasswd;
        oci_token_issue nginx-issuer;
        oci_token_service $SERVICE;
        oci_token_signing_key $key{$type}{key};
        oci_token_grant \$token_grant;
@{[ join '', map { "        $_\n" } @more ]}    }
LOC
}

my $srv = OCI::Harness->start(config => conf('rsa'), http_config => $HTTP);

my %basic = (alice => 'Basic ' . encode_base64('alice:secret', ''),
             bob   => 'Basic ' . encode_base64('bob:secret', ''),
             wrong => 'Basic ' . encode_base64('alice:nope', ''));

sub get_token {
    my ($who, @scopes) = @_;
    my $q = join '&', "service=$SERVICE", map { 'scope=' . ($_ =~ s/([^A-Za-z0-9_.~\/-])/sprintf '%%%02X', ord $1/ger) } @scopes;
    return $srv->req('GET', "/token?$q",
                     headers => [ $who ? (Authorization => $basic{$who}) : () ]);
}

sub token_of {
    my ($res) = @_;
    my $j = dec($res->content) // {};
    return $j->{token};
}

# --- the answer and the claims --------------------------------------------------

my $res = get_token('alice', 'repository:lib/app:pull,push');
is_status $res, 200, 'alice gets a token';
like $res->header('Content-Type'), qr{^application/json}, 'as JSON';
my $j = dec($res->content) // {};
ok $j->{token}, 'token';
is $j->{access_token}, $j->{token}, 'access_token is the same token';
is $j->{expires_in}, 300, 'expires_in: the default 300 s';
like $j->{issued_at}, qr/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\z/, 'issued_at in RFC 3339';
my ($h, $c) = jwt_parts($j->{token});
is_deeply $h, { typ => 'JWT', alg => 'RS256', kid => $key{rsa}{kid} },
    'header: RS256 and the libtrust kid of the key';
is $c->{iss}, 'nginx-issuer', 'iss';
is $c->{sub}, 'alice', 'sub: the user';
is $c->{aud}, $SERVICE, 'aud: the service';
ok $c->{exp} - $c->{iat} == 300 && abs($c->{iat} - time) < 60, 'iat and exp';
is $c->{nbf}, $c->{iat}, 'nbf';
like $c->{jti}, qr/^[0-9a-f]{32}\z/, 'a random jti';
is_deeply $c->{access}, [ { type => 'repository', name => 'lib/app', actions => [ 'pull', 'push' ] } ],
    'access: what was asked and is allowed';

# --- who gets what --------------------------------------------------------------

sub access_of { my ($r) = @_; my $t = token_of($r); return $t ? (jwt_parts($t))[1]{access} : undef }

is_deeply access_of(get_token(undef, 'repository:lib/app:pull,push')),
    [ { type => 'repository', name => 'lib/app', actions => [ 'pull' ] } ], 'anonymous: pull only';
is ((jwt_parts(token_of(get_token(undef, 'repository:lib/app:pull'))))[1]{sub}, '', 'anonymous: sub is empty');
is_deeply access_of(get_token('bob', 'repository:lib/app:pull,push', 'repository:lib/other:pull')),
    [ { type => 'repository', name => 'lib/app', actions => [ 'pull' ] } ],
    'bob: pull on lib/app, nothing on lib/other';
is_deeply access_of(get_token('alice', 'repository:lib/app:pull,pull,*,push')),
    [ { type => 'repository', name => 'lib/app', actions => [ 'pull', 'push' ] } ],
    'each action once; "*" is not granted by a list of actions';
is_deeply access_of(get_token('alice', 'registry:catalog:*')),
    [ { type => 'registry', name => 'catalog', actions => [ '*' ] } ], 'a grant of "*" grants "*"';
is_deeply access_of(get_token('alice', 'repository:Bad:pull', 'plugin:x:pull')), [],
    'invalid names and unknown types: nothing';
is_deeply access_of($srv->req('GET', "/token?service=$SERVICE&scope=repository%3Aa%3Apull+repository%3Ab%3Apull",
                              headers => [ Authorization => $basic{alice} ])),
    [ { type => 'repository', name => 'a', actions => [ 'pull' ] },
      { type => 'repository', name => 'b', actions => [ 'pull' ] } ],
    'two scopes in one argument, "+" for the space';
is_deeply access_of(get_token('alice')), [], 'no scope: a token for login';
is_status get_token('wrong', 'repository:lib/app:pull'), 401, 'a wrong password: 401';
is_status $srv->req('GET', "/token?service=other&scope=repository:a:pull"), 400,
    'another service: 400';
is_status get_token('alice', 'nocolon'), 400, 'a scope that is not type:name:actions: 400';
is_status get_token('alice', map { "repository:r$_:pull" } 1 .. 17), 400, 'more than 16 scopes: 400';
is_status $srv->req('POST', '/token', body => 'grant_type=password'), 405, 'POST: 405';

# --- the flow against the registry ----------------------------------------------

sub bearer { my ($t) = @_; return (headers => [ Authorization => "Bearer $t" ]) }

$res = $srv->req('GET', '/v2/');
is $res->code, 401, 'anonymous /v2/: 401';
like $res->header('WWW-Authenticate'), qr{^Bearer realm="http://127\.0\.0\.1:\d+/token",service="registry\.test"\z},
    'the realm is the issuer';

my $anon = token_of(get_token(undef, 'repository:lib/app:pull,push'));
is_status $srv->req('GET', '/v2/', bearer($anon)), 200, 'an anonymous token opens /v2/';
$res = $srv->req('POST', '/v2/lib/app/blobs/uploads/', bearer($anon));
is $res->code, 401, 'an anonymous push: 401';
is $res->header('WWW-Authenticate'),
    qq{Bearer realm="http://127.0.0.1:@{[ $srv->port ]}/token",service="$SERVICE",scope="repository:lib/app:pull,push",error="insufficient_scope"},
    'insufficient_scope, with the scope';

my $bob = token_of(get_token('bob', 'repository:lib/app:pull,push'));
is $srv->req('POST', '/v2/lib/app/blobs/uploads/', bearer($bob))->code, 401,
    'bob, granted pull only, cannot push';

my $alice = token_of(get_token('alice', 'repository:lib/app:pull,push'));
my $blob = 'pushed with an issued token';
my $d = sha256($blob);
is_status $srv->req('POST', "/v2/lib/app/blobs/uploads/?digest=$d", bearer($alice), body => $blob),
    201, 'alice pushes';
$res = $srv->req('GET', "/v2/lib/app/blobs/$d", bearer($anon));
is_status $res, 200, 'anonymous pulls';
is $res->content, $blob, 'the blob';
is $srv->req('GET', "/v2/lib/app/blobs/$d", bearer($bob))->header('X-Token-Subject'), 'bob',
    '$oci_token_subject';

# --- every key type, and the expiry ---------------------------------------------

for my $type (qw(p256 p384 ed25519)) {
    ok $srv->reload(config => conf($type, 'oci_token_expires 1h;')), "reloaded with $type"
        or diag $srv->error;
    $j = dec(get_token('alice', 'repository:lib/app:pull')->content) // {};
    is $j->{expires_in}, 3600, "$type: oci_token_expires 1h";
    is ((jwt_parts($j->{token} // ''))[0]{alg}, $key{$type}{alg}, "$type: signed $key{$type}{alg}");
    is_status $srv->req('GET', "/v2/lib/app/blobs/$d", bearer($j->{token} // '')), 200,
        "$type: the registry accepts it";
}

# --- configurations refused -------------------------------------------------------

for my $case (
    [ 'no signing key', qr/needs "oci_token_signing_key"/,
      "location = /t { oci_token_issue i; oci_token_service s; }" ],
    [ 'no service', qr/needs "oci_token_service"/,
      "location = /t { oci_token_issue i; oci_token_signing_key $key{rsa}{key}; }" ],
    [ 'a public key to sign', qr/oci_token_signing_key.*private key/,
      "location = /t { oci_token_issue i; oci_token_service s; oci_token_signing_key $key{rsa}{pub}; }" ],
    [ 'expires too long', qr/from 1s to 1d/,
      "location = /t { oci_token_expires 2d; }" ],
) {
    my ($what, $log, $conf) = @$case;
    ok !$srv->reload(config => $conf), "refused: $what";
    like $srv->error // '', $log, "$what: nginx says why";
}

ok $srv->alive, 'nginx is up';
is $srv->crash_lines, '', 'no worker crashed';

done_testing;
