# Every example configuration of docs/examples.md, as written there.
#
# Each block marked `<!-- example: NAME -->` followed by a fenced ```nginx
# block is a conf.d file: it is put inside the http {} of a generated
# nginx.conf (load_module from TEST_NGINX_LOAD_MODULES, a fresh server
# root, temp paths there) and checked with `nginx -t`. Only the
# placeholders listed in the document are replaced:
#
#   /var/lib/nginx/oci              the example's storage (shared by the
#                                   two instances of the split example)
#   /etc/nginx/registry.htpasswd    a password file made here (alice, bob,
#                                   carol and dave, password "secret")
#   /etc/nginx/tls/registry.{crt,key}  a self-signed certificate made with
#                                   openssl req -x509
#   /etc/nginx/token/issuer.{key,crt}  a P-256 key that signs tokens, and
#                                   a certificate of it (openssl)
#   https://registry.example.com/   in a token realm: https://127.0.0.1:
#                                   <the free port of the example's 443>/
#   /var/log/nginx/                 the server root's logs/
#   unix:/run/redis/redis.sock      a private redis-server (OCI::Redis)
#   listen [addr:]PORT ...          listen 127.0.0.1:<free port> ..., the
#   127.0.0.1:PORT elsewhere        same free port for the same PORT
#
# Any other absolute path left in an example fails the test (it would be a
# path the test does not control). Then the examples run, each in its own
# nginx, and are driven with real requests: the 401 of auth_basic, the
# auth_request service of docs/examples/auth-service.pl, TLS and HTTP/2
# with curl, the per-repository rules, the rate limits, the read-only
# mirror, pulls and pushes on two instances sharing storage and Redis, the
# JSON access log, immutable tags beside a port without them, and Docker
# token authentication with the issuer in the same nginx (followed as
# docker and podman follow it: the 401 and its Bearer challenge, a token
# from the realm with or without a password, the request again with the
# token), alone and with satisfy any and allow. Whoever edits an example
# into something broken breaks this test.
#
# The nginx blocks of README.md, docs/access.md, docs/referrers.md,
# docs/directives.md and every nginx block of docs/auth.md and
# docs/mirrors.md are found and checked with `nginx -t` as well. In
# docs/mirrors.md, /var/lib/nginx-oci/mirror is the storage and Docker
# Hub (registry-1.docker.io, which nginx would have to resolve at start)
# stands for 127.0.0.1:9443, a free port where docker-registry 2.8.2
# serves HTTPS as the upstream. Its mirror of Docker Hub then runs, in a
# server on port 8080 (the host "mirror" of its client examples): the
# requests containerd sends (`?ns=docker.io`, another `ns`), a
# one-component name asked as library/..., the hosts.toml and the
# registries.conf read by a minimal TOML reader, and podman pulling
# docker.io/library/... with that registries.conf, through the mirror.

BEGIN { push @INC, 't/lib' }
use strict;
use warnings;
use OCI::Server;
use OCI::Client;
use OCI::Redis;
use OCI::Test;
use OCI::Distribution;
use OCI::Sandbox;
use Test::More;
use File::Path qw(make_path);
use File::Copy qw(copy);
use File::Spec;
use File::Temp qw(tempdir);
use IO::Socket::INET;
use JSON::XS qw(decode_json);
use MIME::Base64 qw(encode_base64);
use URI::Escape qw(uri_escape);
use POSIX qw(WNOHANG);
use Time::HiRes qw(time sleep);

package DocServer {
    # An OCI::Server whose nginx.conf is the text we give it.
    our @ISA = ('OCI::Server');
    sub nginx_conf { $_[0]{conf_text} }
}

my $T0 = time;
$SIG{PIPE} = 'IGNORE';          # a client that gave up early is a failed test, not a dead one
my $NGINX = $ENV{TEST_NGINX_BINARY} || '/usr/sbin/nginx';
my $TMP = tempdir('oci-docs-XXXXXX', TMPDIR => 1, CLEANUP => 1);

# --- the documents --------------------------------------------------------------

my $DOC = slurp('docs/examples.md');
ok length $DOC, 'docs/examples.md is there';

# name => text of every marked example
my (%EX, @ORDER);
while ($DOC =~ /<!--\s*example:\s*([\w-]+)\s*-->\s*\n```nginx[^\n]*\n(.*?)^```/msg) {
    my ($name, $text) = ($1, $2);
    ok !exists $EX{$name}, "example $name is marked once";
    $EX{$name} = $text;
    push @ORDER, $name;
}
my @markers = $DOC =~ /<!--\s*example:\s*([\w-]+)\s*-->/g;
is_deeply \@ORDER, \@markers, 'every example marker is followed by an ```nginx block';
my @fences = $DOC =~ /^```nginx/mg;
is scalar @fences, scalar @ORDER, 'every ```nginx block is a marked example';

my @WANT = qw(auth-basic auth-request tls-http2 per-repository limit-req mirror
              split-pull split-push access-log immutable-tags token token-internal);
for my $name (@WANT) {
    ok exists $EX{$name}, "docs/examples.md has the $name example";
}

# --- shared fixtures: passwords, certificate, Redis, ports -------------------------

my $HTPASSWD = "$TMP/registry.htpasswd";
my %USERS = map { $_ => 'secret' } qw(alice bob carol dave);
{
    my @lines;
    for my $u (sort keys %USERS) {
        my ($rc, $out, $err) = which('htpasswd')
            ? run_cmd([ 'htpasswd', '-nbB', $u, $USERS{$u} ])
            : (0, "$u:{PLAIN}$USERS{$u}\n", '');      # auth_basic reads {PLAIN} too
        die "htpasswd: $err" if $rc;
        push @lines, $out =~ s/\s+\z//r;
    }
    spew($HTPASSWD, join("\n", @lines) . "\n");
}
diag 'no htpasswd (apache2-utils): {PLAIN} passwords, and the auth_request service '
   . 'cannot check them' unless which('htpasswd');

make_path("$TMP/tls");

# docs/mirrors.md's upstream is verified against the system's bundle: the
# CA of the docker-registry standing in for Docker Hub goes there once
# that registry has made it
my $HUB_CA = "$TMP/tls/hub-ca.crt";
copy('/etc/ssl/certs/ca-certificates.crt', $HUB_CA)
    or die "copy /etc/ssl/certs/ca-certificates.crt: $!\n";
{
    my ($rc, undef, $err) = run_cmd([ 'openssl', 'req', '-x509', '-newkey', 'rsa:2048', '-nodes',
        '-days', '2', '-subj', '/CN=registry.example.com',
        '-addext', 'subjectAltName=DNS:registry.example.com,IP:127.0.0.1',
        '-keyout', "$TMP/tls/registry.key", '-out', "$TMP/tls/registry.crt" ]);
    die "openssl req: $err" if $rc;
}

# the token examples' signing key, and the certificate the registry is
# given, made as docs/examples.md says
make_path("$TMP/token");
for my $cmd ([ 'genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256',
               '-out', "$TMP/token/issuer.key" ],
             [ 'req', '-x509', '-new', '-key', "$TMP/token/issuer.key", '-subj', '/CN=issuer',
               '-days', '2', '-out', "$TMP/token/issuer.crt" ]) {
    my ($rc, undef, $err) = run_cmd([ 'openssl', @$cmd ]);
    die "openssl $cmd->[0]: $err" if $rc;
}

my $REDIS = OCI::Redis->start;
diag 'no redis-server: oci_redis points at a socket nobody listens on' unless $REDIS;
my $REDIS_SOCK = $REDIS ? $REDIS->socket : "$TMP/no-redis.sock";

# Ports: each example (the two halves of the split one together, and the
# variants the tests make of an example) gets free ports of its own for
# the ports it names, so that one example left running cannot disturb the
# next.
my %PORT;             # "group:port in the document" => free port on 127.0.0.1
sub group_of {
    my ($name) = @_;
    $name =~ s/^split-.*/split/;
    $name =~ s/--.*//;                   # variants: mirror--if, ...
    return $name;
}
sub port_for {
    my ($group, $p) = @_;
    return $PORT{"$group:$p"} if $PORT{"$group:$p"};
    my $free;
    for (1 .. 50) {
        $free = OCI::Server::free_port();
        last unless grep { $_ == $free } values %PORT;
    }
    return $PORT{"$group:$p"} = $free;
}

# The example text with placeholders replaced; dies on an absolute path
# that is not a placeholder.
sub localize {
    my ($text, %o) = @_;
    my $storage = $o{storage} or die;
    $text =~ s{/var/lib/nginx/oci\b}{$storage}g;
    $text =~ s{/etc/nginx/registry\.htpasswd\b}{$HTPASSWD}g;
    $text =~ s{/etc/nginx/tls/}{$TMP/tls/}g;
    $text =~ s{/etc/nginx/token/}{$TMP/token/}g;
    $text =~ s{/var/log/nginx/}{$o{logs}/}g;
    $text =~ s{unix:/run/redis/redis\.sock\b}{unix:$REDIS_SOCK}g;
    # ports: every listen (whatever its address) becomes 127.0.0.1:<free>,
    # and 127.0.0.1:PORT elsewhere (proxy_pass) the same free port
    my @lines = split /^/m, $text;
    for (@lines) {
        if (/^\s*listen\s/) {
            s{^(\s*listen\s+)(?:\S*:)?(\d+)(?=[\s;])}{$1 . '127.0.0.1:' . port_for($o{group}, $2)}e
                or die "cannot rewrite: $_";
        } else {
            s{\b127\.0\.0\.1:(\d+)\b}{'127.0.0.1:' . port_for($o{group}, $1)}ge;
        }
    }
    $text = join '', @lines;
    # a token realm: the port of the example's 443 (after the ports above,
    # which would take it for a port of the document)
    $text =~ s{\bhttps://registry\.example\.com/}{'https://127.0.0.1:' . port_for($o{group}, 443) . '/'}ge;
    (my $check = $text) =~ s/#.*$//mg;
    my @left = $check =~ m{(?<![\w.\-/])(/(?:etc|var|run|usr|srv|opt|home|tmp)/[^\s;]*)}g;
    @left = grep { my $p = $_; !grep { index($p, $_) == 0 } $TMP, $o{root}, $storage, $REDIS_SOCK }
        @left;
    die "unknown absolute path(s) in the example: @left\n" if @left;
    return $text;
}

# A whole nginx.conf around an http-level snippet.
sub wrap_http {
    my ($root, $snippet, %o) = @_;
    my $user = $> == 0 ? "user root;\n" : '';
    my $workers = $o{workers} // 1;
    return OCI::Server::load_module_lines() . <<"CONF";
# generated by t/090-docs-examples.t
daemon off;
master_process on;
worker_processes $workers;
${user}pid logs/nginx.pid;
error_log logs/error.log info;

events {
    worker_connections 256;
}

http {
    default_type application/octet-stream;
    access_log logs/access.log;
    client_body_temp_path tmp/client_body;
    proxy_temp_path tmp/proxy;
    fastcgi_temp_path tmp/fastcgi;
    uwsgi_temp_path tmp/uwsgi;
    scgi_temp_path tmp/scgi;

$snippet
}
CONF
}

# A server for one example (not started): nginx.conf written, storage
# directory given or in its own root.
my ($N, @ALL) = (0);
sub doc_server {
    my ($name, $text, %o) = @_;
    my $srv = DocServer->new(label => OCI::Server::suite_label() . '.' . ++$N . "-$name",
                             valgrind => 0);
    my $root = $srv->servroot;
    my $storage = $o{storage} // "$root/storage";
    my $conf = eval {
        my $snippet = localize($text, storage => $storage, logs => "$root/logs", root => $root,
                               group => group_of($name));
        $o{raw} ? $o{raw}->($snippet) : wrap_http($root, $snippet, %o);
    };
    if (!defined $conf) {
        fail "$name: placeholders replaced";
        diag $@;
        return;
    }
    $srv->prepare(conf_text => $conf);
    push @ALL, $srv;
    return $srv;
}

sub nginx_t {
    my ($srv, $what) = @_;
    my ($rc, $out, $err) = run_cmd([ $NGINX, '-t', '-p', $srv->servroot . '/', '-c', 'conf/nginx.conf' ]);
    ok $rc == 0 && $err =~ /test is successful/, "$what: nginx -t"
        or diag "$err\n--- nginx.conf:\n" . slurp($srv->path('conf', 'nginx.conf'));
    return $rc == 0;
}

sub start_ok {
    my ($srv, $what) = @_;
    ok $srv->start, "$what: nginx starts" or diag $srv->error;
    return $srv->alive;
}

# --- requests -----------------------------------------------------------------------

sub basic { my ($u, $p) = @_; return ('Authorization' => 'Basic ' . encode_base64("$u:" . ($p // $USERS{$u}), '')) }

# One plain-HTTP request on a new connection: an HTTP::Response.
sub req { OCI::Client::request_once(@_) }

# One request with curl (HTTPS, HTTP/2): { code, version, headers (lower-
# case names), body }.
sub curl {
    my ($url, %o) = @_;
    my $hdr = "$TMP/curl.headers";
    unlink $hdr;
    my @cmd = ('curl', '-sS', '-k', '--max-time', '20', '-D', $hdr, '-o', "$TMP/curl.body",
               '-w', '%{http_version} %{http_code}', '-X', $o{method} // 'GET');
    push @cmd, ($o{http2} // 1) ? '--http2' : '--http1.1';
    push @cmd, '-u', $o{user} if $o{user};
    push @cmd, '-H', $_ for @{ $o{headers} || [] };
    push @cmd, '--data-binary', '@-' if defined $o{body} && !$o{stream};
    push @cmd, '-T', '-' if $o{stream};       # no Content-Length: streamed
    push @cmd, '-I' if ($o{method} // '') eq 'HEAD';
    my ($rc, $out, $err) = run_cmd([ @cmd, $url ], stdin => $o{body});
    my %h;
    for (split /\r?\n/, slurp($hdr)) {
        $h{ lc $1 } = $2 if /^([\w-]+):\s*(.*?)\s*$/;
    }
    my ($version, $code) = split ' ', $out // '';
    return { rc => $rc, err => $err, version => $version // '', code => $code // 0,
             headers => \%h, body => slurp("$TMP/curl.body") };
}

# Content to push: one blob, an image manifest referring to it.
sub content {
    my $layer = random_bytes(5000 + int rand 5000);
    my $config = enc({ architecture => 'amd64', os => 'linux',
                       rootfs => { type => 'layers', diff_ids => [] } });
    my %c = (layer => $layer, layer_digest => sha256($layer),
             config => $config, config_digest => sha256($config));
    $c{manifest} = enc(image_manifest(config => desc_of($config, OCI_CONFIG),
        layers => [ desc_of($layer, 'application/vnd.oci.image.layer.v1.tar') ]));
    $c{manifest_digest} = sha256($c{manifest});
    return \%c;
}

# Pushes a content set over plain HTTP (monolithic blob uploads); returns
# the list of status codes (blob, blob, manifest).
sub push_plain {
    my ($port, $repo, $c, $tag, @auth) = @_;
    my @codes;
    for my $b ([ $c->{config}, $c->{config_digest} ], [ $c->{layer}, $c->{layer_digest} ]) {
        push @codes, req($port, 'POST', "/v2/$repo/blobs/uploads/?digest=$b->[1]", body => $b->[0],
                         headers => [ 'Content-Type' => 'application/octet-stream', @auth ])->code;
    }
    push @codes, req($port, 'PUT', "/v2/$repo/manifests/$tag", body => $c->{manifest},
                     headers => [ 'Content-Type' => OCI_MANIFEST, @auth ])->code;
    return @codes;
}

# --- 1. every block passes nginx -t -----------------------------------------------------

my %SRV;
for my $name (@ORDER) {
    my %o;
    $o{storage} = "$TMP/split-storage" if $name =~ /^split-/;
    $o{workers} = 2 if $name eq 'split-pull';
    my $srv = doc_server($name, $EX{$name}, %o) or next;
    nginx_t($srv, "examples.md $name") and $SRV{$name} = $srv;
}

# the other documents' blocks
{
    my $readme = doc_block('README.md', qr/^\s*load_module\b/);
    like $readme, qr/location \/v2\/ \{.*oci_registry on;/s, 'README.md has its configuration block';
    # its certificates are a comment: put some in, and an events block
    my $cert = "ssl_certificate /etc/nginx/tls/registry.crt;\n"
             . "ssl_certificate_key /etc/nginx/tls/registry.key;";
    (my $text = $readme) =~ s/^(\s*)#\s*\.\.\. your certificates \.\.\.\s*$/$1$cert/m;
    $text =~ s/^\s*load_module\s+\S+;\s*$//m;
    my $srv = doc_server('readme', $text, raw => sub {
        my ($t) = @_;
        my $user = $> == 0 ? "user root;\n" : '';
        $t =~ s/^(\s*http\s*\{)/$1\n    client_body_temp_path tmp\/client_body;\n    proxy_temp_path tmp\/proxy;\n    fastcgi_temp_path tmp\/fastcgi;\n    uwsgi_temp_path tmp\/uwsgi;\n    scgi_temp_path tmp\/scgi;/m;
        return OCI::Server::load_module_lines() . "${user}pid logs/nginx.pid;\nerror_log logs/error.log;\n"
             . "events { }\n" . $t;
    });
    nginx_t($srv, 'README.md configuration') if $srv;

    my $access = doc_block('docs/access.md', qr/^\s*map "\$remote_user/);
    like $access, qr/server \{.*oci_registry on;/s, 'docs/access.md has its example';
    $srv = doc_server('access-md', $access);
    $SRV{'access-md'} = $srv if $srv && nginx_t($srv, 'docs/access.md example');

    my $refs = doc_block('docs/referrers.md', qr/^\s*location \/v2\/ \{/);
    like $refs, qr/oci_redis /, 'docs/referrers.md has its configuration block';
    $srv = doc_server('referrers-md', "server {\n    listen 5000;\n$refs}\n");
    nginx_t($srv, 'docs/referrers.md configuration') if $srv;

    my $logf = doc_block('docs/directives.md', qr/^\s*log_format oci /);
    like $logf, qr/access_log /, 'docs/directives.md has its log format';
    $srv = doc_server('directives-md', $logf);
    nginx_t($srv, 'docs/directives.md log format') if $srv;

    # every nginx block of docs/auth.md: a location goes into a server, a
    # server gets a port
    my @auth = nginx_blocks('docs/auth.md');
    cmp_ok scalar @auth, '>=', 2, 'docs/auth.md has its configuration blocks (' . @auth . ')';
    my $i = 0;
    for my $block (@auth) {
        $i++;
        my $text = $block =~ /^server \{/m ? $block =~ s/^(server \{\n)/$1    listen 5000;\n/mr
                 : $block =~ /^location /m ? "server {\n    listen 5000;\n"
                                             . ($block =~ s/^(?=.)/    /mgr) . "}\n"
                 : $block;
        my ($first) = grep { !/^\s*(?:#|$)/ } split /\n/, $block;
        $srv = doc_server("auth-md-$i", $text);
        nginx_t($srv, "docs/auth.md block $i ($first)") if $srv;
    }

    # every nginx block of docs/mirrors.md, the same way; the first is
    # its mirror of Docker Hub, run below
    my @mirrors = nginx_blocks('docs/mirrors.md');
    cmp_ok scalar @mirrors, '>=', 1, 'docs/mirrors.md has its configuration blocks (' . @mirrors . ')';
    like $mirrors[0] // '', qr/oci_proxy docker\.io /, 'the first is the mirror of Docker Hub';
    $i = 0;
    for my $block (@mirrors) {
        $i++;
        my $text = mirror_text($block);
        my ($first) = grep { !/^\s*(?:#|$)/ } split /\n/, $block;
        my $name = $i == 1 ? 'mirrors-md' : "mirrors-md-$i";
        $srv = doc_server($name, $text);
        nginx_t($srv, "docs/mirrors.md block $i ($first)") and $SRV{$name} = $srv;
    }
}

# A block of docs/mirrors.md as a conf.d file: its storage, Docker Hub on
# a port of 127.0.0.1, a location put in a server on port 8080.
sub mirror_text {
    my ($block) = @_;
    $block =~ s{/var/lib/nginx-oci/mirror\b}{/var/lib/nginx/oci}g;
    $block =~ s{\bregistry-1\.docker\.io\b}{127.0.0.1:9443}g;
    $block =~ s{/etc/ssl/certs/ca-certificates\.crt\b}{$HUB_CA}g;
    # nginx keeps an upstream's last TLS session for reuse and never frees
    # it when a worker exits: LeakSanitizer (make test-asan) would report
    # nginx's, not the module's
    $block =~ s{^(\s*)(proxy_ssl_verify on;)$}{$1$2\n$1proxy_ssl_session_reuse off;}mg;
    return $block =~ /^server \{/m ? $block =~ s/^(server \{\n)/$1    listen 8080;\n/mr
         : $block =~ /^location /m ? "server {\n    listen 8080;\n" . ($block =~ s/^(?=.)/    /mgr) . "}\n"
         : $block;
}

# The indented blocks of a document that are nginx configuration: those
# with a directive ending in ";" that are not Syntax/Default/Context
# lines, shell commands or JSON.
sub nginx_blocks {
    my ($file) = @_;
    my (@blocks, $cur);
    for my $line (split(/^/m, slurp($file)), "\n") {
        if ($line =~ /^    / || (defined $cur && $line =~ /^\s*$/)) {
            $cur .= $line;
            next;
        }
        push @blocks, $cur if defined $cur;
        undef $cur;
    }
    my @conf;
    for my $b (@blocks) {
        $b =~ s/^    //mg;
        $b =~ s/\s+\z/\n/;
        next if $b =~ /^(?:Syntax|Default|Context):/m || $b =~ /^\s*[\[{]/ || $b =~ /^\$ /m;
        next unless $b =~ /^\s*[a-z_]+\s[^\n]*;\s*(?:#.*)?$/m;
        push @conf, $b;
    }
    return @conf;
}

# --- 2. running them --------------------------------------------------------------------

# The documented bodies, to compare with what the module answers.
my ($DOC_401) = $DOC =~ /^\s*(\{"errors":\[\{"code":"UNAUTHORIZED".*\})\s*$/m;
my ($DOC_429) = $DOC =~ /^\s*(\{"errors":\[\{"code":"TOOMANYREQUESTS".*\})\s*$/m;

# After each example: whatever it left running is stopped.
sub example {
    my ($name, $code) = @_;
    subtest $name => $code;
    $_->stop for @ALL;
}

sub server_ok {
    my ($name) = @_;
    my $srv = $SRV{$name};
    return unless $srv && start_ok($srv, $name);
    return $srv;
}

sub done_with {
    my ($srv, $name) = @_;
    stops_cleanly $srv, $name;
    $srv->cleanup;
}

example 'auth-basic' => sub {
    my $srv = server_ok('auth-basic') or return;
    my $p = port_for('auth-basic', 5000);
    my $res = req($p, 'GET', '/v2/');
    is $res->code, 401, 'anonymous /v2/: 401';
    is $res->header('WWW-Authenticate'), 'Basic realm="registry"', 'with the Basic challenge';
    is $res->header('Content-Type'), 'application/json', 'as JSON';
    is $res->header('Docker-Distribution-API-Version'), 'registry/2.0', 'API version header';
    is $res->content =~ s/\s+\z//r, $DOC_401, 'the body is the one the document shows';
    $res = req($p, 'GET', '/v2/', headers => [ basic('alice') ]);
    is $res->code, 200, 'alice: 200';
    is $res->content =~ s/\s+\z//r, '{}', 'with {}';
    is req($p, 'GET', '/v2/', headers => [ basic('alice', 'wrong') ])->code, 401,
        'a wrong password: 401';
    my $c = content();
    is_deeply [ push_plain($p, 'alice/app', $c, 'v1', basic('alice')) ], [ 201, 201, 201 ],
        'alice pushes two blobs and a manifest';
    is_deeply [ push_plain($p, 'alice/app', $c, 'v2') ], [ 401, 401, 401 ],
        'anonymous pushes: 401';
    $res = req($p, 'GET', '/v2/alice/app/manifests/v1', headers => [ basic('bob'), Accept => OCI_MANIFEST ]);
    is $res->code, 200, 'bob pulls the manifest';
    is $res->content, $c->{manifest}, 'byte for byte';
    done_with($srv, 'auth-basic');
};

example 'auth-request' => sub {
    plan skip_all => 'htpasswd not installed: the service checks bcrypt passwords'
        unless which('htpasswd');
    my $sp = port_for('auth-request', 9000);
    my $log = "$TMP/auth-service.log";
    my $pid = fork // die "fork: $!";
    if (!$pid) {
        open STDIN, '<', '/dev/null';
        open STDOUT, '>>', $log;
        open STDERR, '>&', \*STDOUT;
        exec($^X, 'docs/examples/auth-service.pl', '--listen', "127.0.0.1:$sp",
             '--htpasswd', $HTPASSWD, '--push-prefix', 'team/') or POSIX::_exit(127);
    }
    my $up;
    for (1 .. 100) {
        last if ($up = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$sp", Timeout => 1));
        last if waitpid($pid, WNOHANG) == $pid;
        sleep 0.05;
    }
    ok $up, 'docs/examples/auth-service.pl listens' or diag slurp($log);
    close $up if $up;
    my $guard = Guard->new(sub { kill 'TERM', $pid; waitpid $pid, 0 });

    my $srv = server_ok('auth-request') or return;
    my $p = port_for('auth-request', 5000);
    my $res = req($p, 'GET', '/v2/');
    is $res->code, 401, 'anonymous /v2/: 401 (from the service)';
    is $res->header('WWW-Authenticate'), 'Basic realm="registry"',
        "the service's WWW-Authenticate reaches the client";
    is error_code($res->content), 'UNAUTHORIZED', 'as the JSON error';
    is req($p, 'GET', '/v2/', headers => [ basic('alice') ])->code, 200, 'alice: /v2/ 200';
    is req($p, 'GET', '/v2/', headers => [ basic('alice', 'wrong') ])->code, 401,
        'a wrong password: 401';

    $res = req($p, 'GET', '/v2/team/app/tags/list');
    is error_code($res->content), 'NAME_UNKNOWN', 'anonymous pull: let through (404 NAME_UNKNOWN)';
    $res = req($p, 'POST', '/v2/team/app/blobs/uploads/');
    is $res->code, 401, 'anonymous push: 401';
    is $res->header('WWW-Authenticate'), 'Basic realm="registry"', 'with the challenge';

    # a chunked push as alice: POST, PATCH, PUT, each asked about
    my $blob = random_bytes(70_000);
    my $digest = sha256($blob);
    $res = req($p, 'POST', '/v2/team/app/blobs/uploads/', headers => [ basic('alice') ]);
    is $res->code, 202, 'alice may push to team/app: 202';
    my $loc = $res->header('Location') // '';
    $res = req($p, 'PATCH', $loc, headers => [ basic('alice'), 'Content-Range' => '0-' . (length($blob) - 1) ],
               body => $blob);
    is $res->code, 202, 'PATCH of 70000 bytes: 202 (no body went to the service)';
    $res = req($p, 'PUT', "$loc?digest=$digest", headers => [ basic('alice') ]);
    is $res->code, 201, 'PUT ?digest=: 201';
    $res = req($p, 'GET', "/v2/team/app/blobs/$digest");
    is $res->code, 200, 'anonymous pull of the blob';
    ok $res->content eq $blob, 'the same bytes';

    # a mount reads its source: the service says whether the user may
    my $secret = random_bytes(4000);
    my $sd = sha256($secret);
    is req($p, 'POST', "/v2/alice/private/lib/blobs/uploads/?digest=$sd", body => $secret,
           headers => [ basic('alice') ])->code, 201, 'alice pushes to alice/private/lib';
    is req($p, 'GET', "/v2/alice/private/lib/blobs/$sd", headers => [ basic('bob') ])->code, 403,
        'bob may not pull from it';
    my $mount = sub {
        my ($user, $into, $d, $from) = @_;
        return req($p, 'POST', "/v2/$into/blobs/uploads/?mount=$d&from=$from",
                   headers => [ basic($user) ]);
    };
    my $held = $mount->('bob', 'team/app', $sd, 'alice/private/lib');
    is $held->code, 202, 'bob mounts its blob into team/app: 202, an upload session';
    my $absent = $mount->('bob', 'team/app', sha256('held by nobody'), 'alice/private/lib');
    same_answer $held, $absent, 'a mount of a digest alice/private/lib holds and of one it does not';
    is req($p, 'HEAD', "/v2/team/app/blobs/$sd")->code, 404, 'nothing was linked into team/app';
    $res = $mount->('bob', 'bob/lib', $digest, 'team/app');
    is $res->code, 201, 'bob mounts from team/app, which he may pull: 201';
    is $res->header('Docker-Content-Digest'), $digest, 'the blob is mounted';
    is $mount->('alice', 'team/app', $sd, 'alice/private/lib')->code, 201,
        'alice mounts from her own private repository: 201';

    $res = req($p, 'POST', '/v2/other/app/blobs/uploads/', headers => [ basic('alice') ]);
    is $res->code, 403, 'alice may not push outside team/: 403';
    is error_code($res->content), 'DENIED', 'DENIED';
    $res = req($p, 'DELETE', "/v2/team/app/blobs/$digest", headers => [ basic('alice') ]);
    is $res->code, 403, 'nobody may delete: 403';

    # the service logs after it answered: give it a moment for the last one
    for (1 .. 40) { last if slurp($log) =~ /method=DELETE/; sleep 0.05 }
    my $slog = slurp($log);
    like $slog, qr{action= repository= user=- method=GET uri=/v2/ -> 401}, 'the service saw the /v2/ ping';
    like $slog, qr{action=pull repository=team/app user=- method=GET uri=/v2/team/app/tags/list -> 200},
        'the service saw the pull, with repository and action';
    like $slog, qr{action=push repository=team/app user=alice method=PATCH uri=/v2/team/app/blobs/uploads/[0-9a-f]+ -> 200},
        'and the PATCH of the upload as a push by alice';
    like $slog, qr{action=delete repository=team/app user=alice method=DELETE .* -> 403}, 'and the delete';
    like $slog, qr{user=bob method=POST .* -> 200 mount-from=alice/private/lib allowed=0},
        'the service saw the source of the mount ($oci_mount_from) and refused it';
    like $slog, qr{user=bob method=POST .* -> 200 mount-from=team/app allowed=1}, 'and allowed the other';

    # the example uses the variables inside location = /_auth: they must
    # describe the main request (checked by the service's log above)
    like $EX{'auth-request'}, qr/proxy_set_header\s+X-Repository\s+\$oci_repository;/,
        'the example passes $oci_repository to the service directly';

    # the service down: nginx answers 500, as the JSON error
    undef $guard;
    my $res5 = req($p, 'GET', '/v2/team/app/tags/list');
    is $res5->code, 500, 'the service is down: 500';
    is error_code($res5->content), 'UNKNOWN', 'UNKNOWN';
    done_with($srv, 'auth-request');
};

example 'access.md: mounts need pull rights on the source' => sub {
    my $srv = server_ok('access-md') or return;
    my $p = port_for('access-md', 5000);
    my $blob = random_bytes(3000);
    my $d = sha256($blob);
    for my $repo (qw(alice/private/lib alice/lib)) {
        is req($p, 'POST', "/v2/$repo/blobs/uploads/?digest=$d", body => $blob,
               headers => [ basic('alice') ])->code, 201, "alice pushes a blob to $repo";
    }
    is req($p, 'GET', "/v2/alice/private/lib/blobs/$d", headers => [ basic('bob') ])->code, 403,
        'bob may not pull from alice/private/lib';
    my $mount = sub {
        my ($d, $from) = @_;
        return req($p, 'POST', "/v2/bob/app/blobs/uploads/?mount=$d&from=$from",
                   headers => [ basic('bob') ]);
    };
    my $held = $mount->($d, 'alice/private/lib');
    is $held->code, 202, 'bob mounts it from alice/private/lib: 202';
    ok !defined $held->header('Docker-Content-Digest'), 'no digest: nothing mounted';
    same_answer $held, $mount->(sha256('held by nobody'), 'alice/private/lib'),
        'a mount of a digest alice/private/lib holds and of one it does not';
    is req($p, 'HEAD', "/v2/bob/app/blobs/$d", headers => [ basic('bob') ])->code, 404,
        'nothing was linked into bob/app';
    like slurp($srv->path('logs', 'error.log')), qr/not allowed by "oci_mount_allow"/,
        'the refusal is logged at info';
    my $res = $mount->($d, 'alice/lib');
    is $res->code, 201, 'a mount from alice/lib, which bob may pull: 201';
    is $res->header('Location'), "/v2/bob/app/blobs/$d", 'Location of the blob';
    is req($p, 'HEAD', "/v2/bob/app/blobs/$d", headers => [ basic('bob') ])->code, 200,
        'and bob/app has it';
    done_with($srv, 'access-md');
};

example 'tls-http2' => sub {
    my $srv = server_ok('tls-http2') or return;
    my $base = 'https://127.0.0.1:' . port_for('tls-http2', 443);
    my $r = curl("$base/v2/", user => 'alice:secret');
    is $r->{code}, 200, 'curl --http2 https://.../v2/ as alice: 200' or diag $r->{err};
    is $r->{version}, '2', 'over HTTP/2';
    $r = curl("$base/v2/");
    is $r->{code}, 401, 'anonymous: 401';
    is $r->{headers}{'www-authenticate'}, 'Basic realm="registry"', 'with the challenge';
    is error_code($r->{body}), 'UNAUTHORIZED', 'and the JSON error, over HTTP/2';
    $r = curl("$base/v2/", user => 'alice:secret', http2 => 0);
    is $r->{version}, '1.1', 'HTTP/1.1 clients are served too';

    # a chunked blob upload over HTTP/2, the last chunk without a length
    my $blob = random_bytes(300_000);
    my $digest = sha256($blob);
    $r = curl("$base/v2/team/app/blobs/uploads/", method => 'POST', user => 'alice:secret');
    is $r->{code}, 202, 'POST uploads/: 202';
    my $loc = $r->{headers}{location} // '';
    $r = curl("$base$loc", method => 'PATCH', user => 'alice:secret', body => substr($blob, 0, 100_000),
              headers => [ 'Content-Range: 0-99999', 'Content-Type: application/octet-stream' ]);
    is $r->{code}, 202, 'PATCH of 100000 bytes with Content-Range: 202';
    is $r->{headers}{range}, '0-99999', 'Range: 0-99999';
    $r = curl("$base$loc", method => 'PATCH', user => 'alice:secret', body => substr($blob, 100_000),
              stream => 1, headers => [ 'Content-Type: application/octet-stream' ]);
    is $r->{code}, 202, 'PATCH of the rest, streamed without Content-Length: 202';
    is $r->{headers}{range}, '0-299999', 'Range: 0-299999';
    $r = curl("$base$loc?digest=$digest", method => 'PUT', user => 'alice:secret');
    is $r->{code}, 201, 'PUT ?digest=: 201';
    $r = curl("$base/v2/team/app/blobs/$digest", user => 'alice:secret');
    is $r->{code}, 200, 'GET of the blob';
    ok $r->{body} eq $blob, 'the same bytes';
    is $r->{headers}{'docker-content-digest'}, $digest, 'Docker-Content-Digest';
    $r = curl("$base/v2/team/app/blobs/$digest", user => 'alice:secret', headers => [ 'Range: bytes=10-19' ]);
    is $r->{code}, 206, 'a range: 206';
    ok $r->{body} eq substr($blob, 10, 10), 'the right 10 bytes';

    # a whole image, monolithic uploads and the manifest, over HTTP/2
    my $c = content();
    for my $b ([ $c->{config}, $c->{config_digest} ], [ $c->{layer}, $c->{layer_digest} ]) {
        $r = curl("$base/v2/team/app/blobs/uploads/?digest=$b->[1]", method => 'POST',
                  user => 'alice:secret', body => $b->[0],
                  headers => [ 'Content-Type: application/octet-stream' ]);
        is $r->{code}, 201, "monolithic upload of $b->[1]: 201";
    }
    $r = curl("$base/v2/team/app/manifests/v1", method => 'PUT', user => 'alice:secret',
              body => $c->{manifest}, headers => [ 'Content-Type: ' . OCI_MANIFEST ]);
    is $r->{code}, 201, 'PUT manifest: 201';
    is $r->{headers}{'docker-content-digest'}, $c->{manifest_digest}, 'with its digest';
    $r = curl("$base/v2/team/app/manifests/v1", user => 'alice:secret', headers => [ 'Accept: ' . OCI_MANIFEST ]);
    is $r->{code}, 200, 'GET manifest: 200';
    is $r->{body}, $c->{manifest}, 'byte for byte';
    is $r->{version}, '2', 'over HTTP/2';
    like slurp($srv->path('logs', 'access.log')), qr{"PATCH /v2/team/app/blobs/uploads/[0-9a-f]+ HTTP/2\.0" 202 },
        'the access log shows the PATCHes as HTTP/2.0';
    done_with($srv, 'tls-http2');
};

example 'per-repository' => sub {
    my $srv = server_ok('per-repository') or return;
    my $p = port_for('per-repository', 5000);
    my $up = sub { req($p, 'POST', "/v2/$_[0]/blobs/uploads/", headers => [ @_[1 .. $#_] ])->code };
    is req($p, 'GET', '/v2/')->code, 401, 'anonymous /v2/: 401';
    is req($p, 'GET', '/v2/', headers => [ basic('dave') ])->code, 200, 'any user: /v2/ 200';
    is error_code(req($p, 'GET', '/v2/public/tool/tags/list')->content), 'NAME_UNKNOWN',
        'anonymous pull from public/: no password asked';
    is req($p, 'GET', '/v2/team-a/app/tags/list')->code, 401, 'anonymous pull from team-a/: 401';
    is error_code(req($p, 'GET', '/v2/team-a/app/tags/list', headers => [ basic('dave') ])->content),
        'NAME_UNKNOWN', 'any user pulls team-a/';
    is $up->('team-a/app'), 401, 'anonymous push: 401';
    is $up->('team-a/app', basic('alice')), 202, 'alice (team-a) pushes to team-a/app';
    is $up->('team-b/app', basic('alice')), 403, 'but not to team-b/app';
    is $up->('team-b/app', basic('bob')), 202, 'bob (team-b) pushes to team-b/app';
    is $up->('public/tool', basic('alice')), 403, 'alice may not push to public/';
    is $up->('public/tool', basic('carol')), 202, 'carol (admin) may';
    is $up->('team-a/app', basic('dave')), 403, 'dave (no team) pushes nothing';
    is $up->('team-a/app', basic('alice', 'wrong')), 401, 'alice with a wrong password: 401';
    my $res = req($p, 'DELETE', '/v2/team-a/app/manifests/latest', headers => [ basic('alice') ]);
    is $res->code, 403, 'alice may not delete';
    is error_code($res->content), 'DENIED', 'DENIED';
    $res = req($p, 'DELETE', '/v2/team-b/app/manifests/latest', headers => [ basic('carol') ]);
    is error_code($res->content), 'MANIFEST_UNKNOWN', 'carol (admin) may (404: there is no such tag)';
    done_with($srv, 'per-repository');
};

# Sends requests on one keepalive connection until the first 429 (or $max).
# Returns (requests accepted before it, the 429 response or undef).
sub until_429 {
    my ($port, $method, $path, $max, @o) = @_;
    my $c = OCI::Client->new(port => $port, timeout => 10);
    my ($n, $deadline) = (0, time + 20);
    while ($n < $max && time < $deadline) {
        my $res = $c->request($method, $path, keepalive => 1, @o);
        if ($res->code == 599) {                   # closed: go on with a new connection
            $c = OCI::Client->new(port => $port, timeout => 10);
            next;
        }
        return ($n, $res) if $res->code == 429;
        $n++;
    }
    return ($n, undef);
}

example 'limit-req' => sub {
    my $srv = server_ok('limit-req') or return;
    my $p = port_for('limit-req', 5000);
    my ($push_burst) = $EX{'limit-req'} =~ /zone=oci_pushes burst=(\d+)/;
    my ($pull_burst) = $EX{'limit-req'} =~ /zone=oci_pulls burst=(\d+)/;
    ok $push_burst && $pull_burst, "the example's bursts: pushes $push_burst, pulls $pull_burst";

    my ($n, $res) = until_429($p, 'POST', '/v2/team/app/blobs/uploads/', 10 * $push_burst);
    ok $res, "pushes to team/app are limited: 429 after $n";
    cmp_ok $n, '>=', $push_burst, 'not before the burst was used up';
    return unless $res;
    is $res->header('Retry-After'), '1', 'Retry-After: 1';
    is $res->header('Content-Type'), 'application/json', 'JSON';
    is $res->content =~ s/\s+\z//r, $DOC_429, 'the body is the one the document shows';
    is req($p, 'POST', '/v2/team/other/blobs/uploads/')->code, 202,
        'another repository still takes pushes';
    is error_code(req($p, 'GET', '/v2/team/app/tags/list')->content), 'NAME_UNKNOWN',
        'and team/app still takes pulls (another zone)';

    ($n, $res) = until_429($p, 'GET', '/v2/team/app/tags/list', 10 * $pull_burst);
    ok $res, "pulls from team/app are limited: 429 after $n";
    cmp_ok $n, '>=', $pull_burst, 'not before the burst was used up';
    ($n, $res) = until_429($p, 'GET', '/v2/', 300);
    ok !$res && $n == 300, '/v2/ is never limited (300 requests)';
    done_with($srv, 'limit-req');
};

example 'mirror' => sub {
    my $srv = server_ok('mirror') or return;
    my $local = port_for('mirror', 5001);
    my $base = 'https://127.0.0.1:' . port_for('mirror', 443);
    my $c = content();
    is_deeply [ push_plain($local, 'library/app', $c, 'v1') ], [ 201, 201, 201 ],
        'the local server takes a push';
    my $r = curl("$base/v2/library/app/manifests/v1", headers => [ 'Accept: ' . OCI_MANIFEST ]);
    is $r->{code}, 200, 'the public server serves the manifest';
    is $r->{body}, $c->{manifest}, 'byte for byte';
    $r = curl("$base/v2/library/app/blobs/$c->{layer_digest}", method => 'HEAD');
    is $r->{code}, 200, 'HEAD of a blob: 200';
    $r = curl("$base/v2/library/app/blobs/uploads/", method => 'POST');
    is $r->{code}, 403, 'POST of an upload: 403';
    is $r->{headers}{'content-type'}, 'application/json', 'JSON';
    is error_code($r->{body}), 'DENIED', 'DENIED';
    $r = curl("$base/v2/library/app/manifests/v2", method => 'PUT', body => $c->{manifest},
              headers => [ 'Content-Type: ' . OCI_MANIFEST ]);
    is $r->{code}, 403, 'PUT of a manifest: 403';
    $r = curl("$base/v2/library/app/manifests/$c->{manifest_digest}", method => 'DELETE');
    is $r->{code}, 403, 'DELETE: 403';
    is req($local, 'DELETE', '/v2/library/app/manifests/v1')->code, 202,
        'the local server deletes the tag';
    is curl("$base/v2/library/app/manifests/v1")->{code}, 404, 'and the mirror no longer has it';
    done_with($srv, 'mirror');

    # the variant the text gives: an if on $oci_action instead of limit_except
    my ($if) = $DOC =~ /without\s+`limit_except`:\s+`(if \(\$oci_action[^`]*)`/;
    ok $if, 'the text gives the variant with if ($oci_action ...)';
    my $variant = $EX{mirror} =~ s/limit_except GET HEAD \{.*?\}/$if/sr;
    isnt $variant, $EX{mirror}, 'which replaces limit_except';
    my $srv2 = doc_server('mirror--if', $variant);
    return unless $srv2 && nginx_t($srv2, 'mirror with the if') && start_ok($srv2, 'mirror with the if');
    is_deeply [ push_plain($local, 'library/app', $c, 'v1') ], [ 201, 201, 201 ],
        'the local server takes a push';
    is curl("$base/v2/library/app/manifests/v1", headers => [ 'Accept: ' . OCI_MANIFEST ])->{code}, 200,
        'the public server serves the manifest';
    for my $m ([ 'POST', '/v2/library/app/blobs/uploads/' ], [ 'PUT', '/v2/library/app/manifests/v2' ],
               [ 'PATCH', '/v2/library/app/blobs/uploads/0123456789abcdef0123456789abcdef' ],
               [ 'DELETE', "/v2/library/app/manifests/$c->{manifest_digest}" ]) {
        my $r = curl("$base$m->[1]", method => $m->[0], body => $m->[0] eq 'GET' ? undef : 'x');
        is_deeply [ $r->{code}, error_code($r->{body}) ], [ 403, 'DENIED' ], "$m->[0]: 403 DENIED";
    }
    done_with($srv2, 'mirror with the if');

    # a read-only location needs client_max_body_size all the same
    my $small = $EX{mirror} =~ s/^.*client_max_body_size 0;.*\n//mr;
    my $srv3 = doc_server('mirror--no-body-size', $small);
    my ($rc, undef, $err) = run_cmd([ $NGINX, '-t', '-p', $srv3->servroot . '/', '-c', 'conf/nginx.conf' ]);
    isnt $rc, 0, 'without client_max_body_size 0, nginx -t refuses the read-only location';
    like $err, qr/client_max_body_size/, 'naming client_max_body_size';
    $srv3->cleanup;
};

example 'split: pulls and pushes on two instances' => sub {
    plan skip_all => 'no redis-server' unless $REDIS;
    my $pull = server_ok('split-pull') or return;
    my $push = server_ok('split-push') or return;
    my ($pp, $wp) = (port_for('split', 5000), port_for('split', 5001));
    my @alice = basic('alice');

    my $c = content();
    is_deeply [ push_plain($wp, 'team/app', $c, 'v1') ], [ 401, 401, 401 ],
        'push instance: anonymous pushes get 401';
    is_deeply [ push_plain($wp, 'team/app', $c, 'v1', @alice) ], [ 201, 201, 201 ],
        'push instance: alice pushes an image';
    my $res = req($pp, 'GET', '/v2/team/app/manifests/v1', headers => [ Accept => OCI_MANIFEST ]);
    is $res->code, 200, 'pull instance: the manifest is there';
    is $res->content, $c->{manifest}, 'byte for byte';
    $res = req($pp, 'GET', "/v2/team/app/blobs/$c->{layer_digest}");
    ok $res->code == 200 && $res->content eq $c->{layer}, 'pull instance: the layer, byte for byte';

    # a signature-like referrer through the push side, listed by the pull side
    my $rc = req($wp, 'POST', "/v2/team/app/blobs/uploads/?digest=" . EMPTY_DIGEST, body => '{}',
                 headers => [ @alice ])->code;
    is $rc, 201, 'push instance: the empty config blob';
    my $art = enc({
        schemaVersion => 2, mediaType => OCI_MANIFEST, artifactType => 'application/example.signature',
        config => { mediaType => 'application/vnd.oci.empty.v1+json', digest => EMPTY_DIGEST, size => 2 },
        layers => [ { mediaType => 'application/vnd.oci.empty.v1+json', digest => EMPTY_DIGEST, size => 2 } ],
        subject => { mediaType => OCI_MANIFEST, digest => $c->{manifest_digest}, size => length $c->{manifest} },
    });
    my $art_digest = sha256($art);
    $res = req($wp, 'PUT', "/v2/team/app/manifests/$art_digest", body => $art,
               headers => [ 'Content-Type' => OCI_MANIFEST, @alice ]);
    is $res->code, 201, 'push instance: a manifest with a subject';
    is $res->header('OCI-Subject'), $c->{manifest_digest}, 'OCI-Subject (Redis is in use)';
    $res = req($pp, 'GET', "/v2/team/app/referrers/$c->{manifest_digest}");
    is $res->code, 200, 'pull instance: referrers of the image';
    my $list = eval { decode_json($res->content) } || {};
    is_deeply [ map { $_->{digest} } @{ $list->{manifests} || [] } ], [$art_digest],
        'list the manifest pushed through the other instance';

    $res = req($pp, 'POST', '/v2/team/app/blobs/uploads/', headers => [ @alice ]);
    is $res->code, 403, 'pull instance: pushes are refused (403)';
    is error_code($res->content), 'DENIED', 'DENIED';
    is req($pp, 'DELETE', '/v2/team/app/manifests/v1')->code, 403, 'pull instance: deletes too';

    # tags changed on one instance are seen by the other at once
    my $c2 = content();
    is_deeply [ push_plain($wp, 'team/app', $c2, 'v1', @alice) ], [ 201, 201, 201 ],
        'push instance: v1 moved to a new image';
    $res = req($pp, 'GET', '/v2/team/app/manifests/v1', headers => [ Accept => OCI_MANIFEST ]);
    is $res->header('Docker-Content-Digest'), $c2->{manifest_digest}, 'pull instance: v1 is the new image';
    is req($wp, 'DELETE', '/v2/team/app/manifests/v1', headers => [ @alice ])->code, 202,
        'push instance: v1 deleted';
    is req($pp, 'GET', '/v2/team/app/manifests/v1')->code, 404, 'pull instance: v1 is gone';
    $res = req($pp, 'GET', '/v2/team/app/tags/list');
    is_deeply eval { decode_json($res->content)->{tags} }, [], 'pull instance: no tags left';
    done_with($push, 'split-push');
    done_with($pull, 'split-pull');
};

example 'access-log' => sub {
    my $srv = server_ok('access-log') or return;
    my $p = port_for('access-log', 5000);
    my $c = content();
    is_deeply [ push_plain($p, 'team/app', $c, 'v1') ], [ 201, 201, 201 ], 'push an image';
    my $res = req($p, 'GET', "/v2/team/app/blobs/$c->{layer_digest}");
    is $res->code, 200, 'pull its layer';
    # a chunked upload: POST, PATCH, PUT
    my $blob = random_bytes(12345);
    my $bd = sha256($blob);
    my $loc = req($p, 'POST', '/v2/team/app/blobs/uploads/')->header('Location') // '';
    is req($p, 'PATCH', $loc, body => $blob, headers => [ 'Content-Range' => '0-12344' ])->code, 202,
        'a PATCH of 12345 bytes';
    is req($p, 'PUT', "$loc?digest=$bd")->code, 201, 'closed by PUT';
    req($p, 'GET', '/v2/team/app/manifests/nope');
    req($p, 'GET', '/v2/');
    my ($file) = $EX{'access-log'} =~ m{access_log\s+/var/log/nginx/(\S+)\s};

    # nginx logs a request after it has answered it: the last line may
    # come a moment after the client has read the answer
    my @lines;
    for (1 .. 100) {
        @lines = split /\n/, slurp($srv->path('logs', $file // 'none'));
        last if @lines >= 9;
        sleep 0.02;
    }
    is scalar @lines, 9, "nine lines in $file";
    my @recs = map { eval { decode_json($_) } } @lines;
    is scalar @recs, scalar @lines, 'each a JSON object';
    my ($put) = (grep({ $_->{method} eq 'PUT' && $_->{uri} =~ /manifests/ } @recs), {});
    is_deeply [ @$put{qw(status action repository reference digest received)} ],
              [ 201, 'push', 'team/app', 'v1', $c->{manifest_digest}, length $c->{manifest} ],
        'the manifest PUT: status, action, repository, tag, digest, bytes received';
    cmp_ok $put->{request_length}, '>', $put->{received}, 'request_length counts headers too';
    is $put->{sent}, 0, 'and sent no body';
    my ($mono) = (grep({ $_->{method} eq 'POST' && $_->{uri} =~ /\Q$c->{layer_digest}\E/ } @recs), {});
    is_deeply [ @$mono{qw(status action digest received)} ],
              [ 201, 'push', $c->{layer_digest}, length $c->{layer} ], 'the blob upload';
    my ($get) = (grep({ $_->{method} eq 'GET' && $_->{uri} =~ m{/blobs/} } @recs), {});
    is_deeply [ @$get{qw(status action repository reference digest sent received)} ],
              [ 200, 'pull', 'team/app', $c->{layer_digest}, $c->{layer_digest}, length $c->{layer}, 0 ],
        'the blob pull: digest and bytes sent';
    my ($patch) = (grep({ $_->{method} eq 'PATCH' } @recs), {});
    is_deeply [ @$patch{qw(status action digest received)} ], [ 202, 'push', '', 12345 ],
        'the PATCH: no digest yet, 12345 bytes received';
    cmp_ok $patch->{request_length}, '>', 12345, 'request_length counts the headers too';
    my ($close) = (grep({ $_->{method} eq 'PUT' && $_->{uri} =~ /uploads/ } @recs), {});
    is_deeply [ @$close{qw(status action digest received)} ], [ 201, 'push', $bd, 0 ],
        'the closing PUT: the blob digest, no bytes';
    my ($miss) = (grep({ $_->{uri} =~ /nope/ } @recs), {});
    is_deeply [ @$miss{qw(status reference digest)} ], [ 404, 'nope', '' ], 'a miss: no digest';
    my ($base) = (grep({ $_->{uri} eq '/v2/' } @recs), {});
    is_deeply [ @$base{qw(status action repository)} ], [ 200, '', '' ], '/v2/: no action, no repository';
    done_with($srv, 'access-log');
};

example 'immutable-tags' => sub {
    my $srv = server_ok('immutable-tags') or return;
    my ($p, $admin) = (port_for('immutable-tags', 5000), port_for('immutable-tags', 5001));
    my ($one, $two) = (content(), content());
    is_deeply [ push_plain($p, 'team/app', $one, 'v1.4.2') ], [ 201, 201, 201 ], 'push v1.4.2';
    is_deeply [ push_plain($p, 'team/app', $one, 'v1.4.2') ], [ 201, 201, 201 ],
        'the same image again: accepted';
    is_deeply [ push_plain($p, 'team/app', $two, 'latest') ], [ 201, 201, 201 ], 'push latest';
    my $res = req($p, 'PUT', '/v2/team/app/manifests/v1.4.2', body => $two->{manifest},
                  headers => [ 'Content-Type' => OCI_MANIFEST ]);
    is $res->code, 409, 'other content as v1.4.2: 409';
    is error_code($res->content), 'DENIED', 'DENIED';
    like error_json($res)->{message}, qr/tag "v1\.4\.2" is immutable and names \Q$one->{manifest_digest}\E/,
        'the message the page shows';
    is req($p, 'PUT', '/v2/team/app/manifests/latest', body => $one->{manifest},
           headers => [ 'Content-Type' => OCI_MANIFEST ])->code, 201, 'latest moves';
    is req($p, 'PUT', '/v2/team/app/manifests/dev-42', body => $two->{manifest},
           headers => [ 'Content-Type' => OCI_MANIFEST ])->code, 201, 'dev-42 is pushed';
    is req($p, 'PUT', '/v2/team/app/manifests/dev-42', body => $one->{manifest},
           headers => [ 'Content-Type' => OCI_MANIFEST ])->code, 201, 'and moves';
    is error_code(req($p, 'DELETE', '/v2/team/app/manifests/v1.4.2')->content), 'DENIED',
        'DELETE of v1.4.2: DENIED';
    is error_code(req($p, 'DELETE', "/v2/team/app/manifests/$one->{manifest_digest}")->content),
        'DENIED', 'DELETE by digest of what v1.4.2 names: DENIED';
    is req($p, 'DELETE', "/v2/team/app/manifests/$two->{manifest_digest}")->code, 202,
        'the other image, which no immutable tag names, goes';
    is req($admin, 'PUT', '/v2/team/app/manifests/v1.4.2', body => $two->{manifest},
           headers => [ 'Content-Type' => OCI_MANIFEST ])->code, 201,
        'port 5001 moves v1.4.2';
    is req($admin, 'DELETE', '/v2/team/app/manifests/v1.4.2')->code, 202, 'and deletes it';
    done_with($srv, 'immutable-tags');
};

# --- Docker token authentication -------------------------------------------------

# The parameters of a WWW-Authenticate challenge: (scheme, { name => value }).
sub challenge {
    my ($h) = @_;
    my ($scheme, $rest) = ($h // '') =~ /^(\w+)\s*(.*)\z/s or return ('', {});
    my %p;
    while ($rest =~ /\G\s*,?\s*([\w-]+)="((?:[^"\\]|\\.)*)"/gc) {
        $p{$1} = $2 =~ s/\\(.)/$1/gr;
    }
    return ($scheme, \%p);
}

# A token from the realm of a challenge, as docker and podman fetch it:
# GET realm?service=...&scope=... (one scope argument per scope), with
# Basic credentials when there is a user. (token, the curl answer).
sub fetch_token {
    my ($chal, $user, $password) = @_;
    my @q = ('service=' . uri_escape($chal->{service} // ''));
    push @q, map { 'scope=' . uri_escape($_) } split ' ', $chal->{scope} // '';
    my $r = curl(($chal->{realm} // '') . '?' . join('&', @q),
                 $user ? (user => "$user:" . ($password // $USERS{$user})) : ());
    my $j = dec($r->{body}) // {};
    return ($r->{code} == 200 ? $j->{token} : undef, $r);
}

# One registry request the way a client makes it: first without a token;
# on a 401 with a Bearer challenge, a token for the scope the challenge
# names (anonymous without a user), then the request again with it.
# Returns the last answer, with {first} (the first answer), {token} and
# {claims} (of the token used) added.
sub docker_request {
    my ($base, $method, $path, %o) = @_;
    my $user = delete $o{user};
    my $first = curl("$base$path", method => $method, %o);
    my ($scheme, $chal) = challenge($first->{headers}{'www-authenticate'});
    return { %$first, first => $first } unless $first->{code} == 401 && $scheme eq 'Bearer';
    my ($token) = fetch_token($chal, $user);
    return { %$first, first => $first } unless $token;
    my $r = curl("$base$path", method => $method, %o,
                 headers => [ @{ $o{headers} || [] }, "Authorization: Bearer $token" ]);
    return { %$r, first => $first, token => $token, claims => (jwt_parts($token))[1] };
}

# Pushes a content set with docker_request: (blob, blob, manifest) codes.
sub push_docker {
    my ($base, $repo, $c, $tag, $user) = @_;
    my @codes;
    for my $b ([ $c->{config}, $c->{config_digest} ], [ $c->{layer}, $c->{layer_digest} ]) {
        push @codes, docker_request($base, 'POST', "/v2/$repo/blobs/uploads/?digest=$b->[1]",
            user => $user, body => $b->[0],
            headers => [ 'Content-Type: application/octet-stream' ])->{code};
    }
    push @codes, docker_request($base, 'PUT', "/v2/$repo/manifests/$tag", user => $user,
        body => $c->{manifest}, headers => [ 'Content-Type: ' . OCI_MANIFEST ])->{code};
    return @codes;
}

# The scope an insufficient_scope answer asks for, or ''.
sub wants_scope {
    my ($r) = @_;
    my ($scheme, $chal) = challenge($r->{headers}{'www-authenticate'});
    return $scheme eq 'Bearer' && ($chal->{error} // '') eq 'insufficient_scope' ? $chal->{scope} : '';
}

example 'token' => sub {
    my $srv = server_ok('token') or return;
    my $base = 'https://127.0.0.1:' . port_for('token', 443);

    # docker login: the ping, its challenge, a token with the password
    my $r = curl("$base/v2/");
    is $r->{code}, 401, 'GET /v2/ without a token: 401' or diag $r->{err};
    is error_code($r->{body}), 'UNAUTHORIZED', 'UNAUTHORIZED';
    my ($scheme, $chal) = challenge($r->{headers}{'www-authenticate'});
    is $scheme, 'Bearer', 'a Bearer challenge';
    is_deeply $chal, { realm => "$base/token", service => 'registry.example.com' },
        'naming the realm and the service of the example, no scope';
    my ($token, $tr) = fetch_token($chal, 'alice');
    ok $token, 'alice gets a token from the realm' or diag "$tr->{code} $tr->{body}";
    is curl("$base/v2/", headers => [ 'Authorization: Bearer ' . ($token // '') ])->{code}, 200,
        'GET /v2/ with it: 200 (login succeeds)';
    is((fetch_token($chal, 'alice', 'wrong'))[1]{code}, 401, 'a wrong password: 401 from the realm');
    is((fetch_token($chal, 'nobody', 'secret'))[1]{code}, 401, 'an unknown user: 401');

    # alice pushes to alice/app
    my $c = content();
    is_deeply [ push_docker($base, 'alice/app', $c, 'v1', 'alice') ], [ 201, 201, 201 ],
        'alice pushes an image to alice/app';
    $r = docker_request($base, 'PUT', '/v2/alice/app/manifests/v2', user => 'alice',
                        body => $c->{manifest}, headers => [ 'Content-Type: ' . OCI_MANIFEST ]);
    is $r->{first}{code}, 401, 'without a token: 401';
    is((challenge($r->{first}{headers}{'www-authenticate'}))[1]{scope}, 'repository:alice/app:pull,push',
        'whose challenge names repository:alice/app:pull,push');
    is $r->{code}, 201, 'with the token: 201';
    is $r->{claims}{sub}, 'alice', 'a token for alice';
    is_deeply $r->{claims}{access}, [ { type => 'repository', name => 'alice/app',
                                        actions => [ 'pull', 'push' ] } ],
        'granting pull,push on alice/app (what was asked, of pull,push,delete)';

    # anonymous pulls: the client fetches an anonymous token by itself
    $r = docker_request($base, 'GET', '/v2/alice/app/manifests/v1', headers => [ 'Accept: ' . OCI_MANIFEST ]);
    is $r->{first}{code}, 401, 'an anonymous pull: 401 first';
    is $r->{code}, 200, 'then 200 with an anonymous token';
    is $r->{body}, $c->{manifest}, 'the manifest, byte for byte';
    is $r->{claims}{sub}, '', 'the token has no subject';
    $r = docker_request($base, 'GET', "/v2/alice/app/blobs/$c->{layer_digest}");
    ok $r->{code} == 200 && $r->{body} eq $c->{layer}, 'the layer, byte for byte';
    $r = docker_request($base, 'GET', '/v2/alice/app/tags/list', user => 'bob');
    is_deeply eval { decode_json($r->{body})->{tags} }, [ 'v1', 'v2' ], 'bob lists the tags';

    # pushes elsewhere
    my $c2 = content();
    $r = docker_request($base, 'POST', "/v2/alice/app/blobs/uploads/?digest=$c2->{layer_digest}",
                        user => 'bob', body => $c2->{layer});
    is $r->{code}, 401, 'bob pushes to alice/app: 401';
    is_deeply $r->{claims}{access}, [ { type => 'repository', name => 'alice/app', actions => [ 'pull' ] } ],
        'his token grants pull only';
    is wants_scope($r), 'repository:alice/app:pull,push', 'insufficient_scope, asking for pull,push';
    is error_code($r->{body}), 'UNAUTHORIZED', 'UNAUTHORIZED';
    $r = docker_request($base, 'POST', "/v2/alice/app/blobs/uploads/?digest=$c2->{layer_digest}",
                        body => $c2->{layer});
    is wants_scope($r), 'repository:alice/app:pull,push', 'anonymous push: insufficient_scope too';
    is_deeply [ push_docker($base, 'bob/app', $c2, 'v1', 'bob') ], [ 201, 201, 201 ],
        'bob pushes to bob/app';
    is_deeply [ push_docker($base, 'team/app', $c2, 'v1', 'carol') ], [ 201, 201, 201 ],
        'carol (administrator) pushes to team/app';
    is_deeply [ push_docker($base, 'team/app', $c2, 'v1', 'alice') ], [ 401, 401, 401 ],
        'alice may not';

    # deletes: the owner and the administrator
    $r = docker_request($base, 'DELETE', '/v2/alice/app/manifests/v2', user => 'bob');
    is wants_scope($r), 'repository:alice/app:delete', 'bob deletes in alice/app: insufficient_scope';
    $r = docker_request($base, 'DELETE', '/v2/alice/app/manifests/v2', user => 'alice');
    is $r->{code}, 202, 'alice deletes the tag v2 of alice/app: 202';
    is docker_request($base, 'DELETE', '/v2/bob/app/manifests/v1', user => 'carol')->{code}, 202,
        'carol deletes in bob/app';

    # the catalog (which needs oci_redis to be listed): the administrator's
    # "*" grants it
    my %cat = (%$chal, scope => 'registry:catalog:*');
    my ($ct) = fetch_token(\%cat, 'carol');
    is_deeply $ct && (jwt_parts($ct))[1]{access},
        [ { type => 'registry', name => 'catalog', actions => [ '*' ] } ], 'carol may read the catalog';
    ($ct) = fetch_token(\%cat, 'alice');
    is_deeply $ct && (jwt_parts($ct))[1]{access}, [], 'alice may not';
    $r = curl("$base/v2/_catalog", headers => [ "Authorization: Bearer $ct" ]);
    is wants_scope($r), 'registry:catalog:*', 'and her token gets insufficient_scope';
    done_with($srv, 'token');

    # the variant the text gives: no anonymous clients
    my ($ab) = $DOC =~ /To refuse anonymous clients,\s+write\s+`(auth_basic "[^"]*";)`\s+in the token location/;
    ok $ab, 'the text gives the variant without anonymous clients';
    my $closed = $EX{token} =~ s/auth_basic \$token_auth;/$ab/r;
    isnt $closed, $EX{token}, 'which replaces auth_basic $token_auth';
    my $srv2 = doc_server('token--closed', $closed);
    return unless $srv2 && nginx_t($srv2, 'token without anonymous clients')
               && start_ok($srv2, 'token without anonymous clients');
    my $c3 = content();
    is_deeply [ push_docker($base, 'alice/app', $c3, 'v3', 'alice') ], [ 201, 201, 201 ],
        'alice pushes';
    $r = docker_request($base, 'GET', '/v2/alice/app/manifests/v3', user => 'bob');
    is $r->{code}, 200, 'bob pulls';
    $r = curl("$base/v2/alice/app/manifests/v3");
    my ($ts, $tc) = challenge($r->{headers}{'www-authenticate'});
    my (undef, $anon) = fetch_token($tc);
    is $anon->{code}, 401, 'an anonymous token request: 401 from the realm';
    is $anon->{headers}{'www-authenticate'}, 'Basic realm="registry"', 'asking for a password';
    done_with($srv2, 'token without anonymous clients');
};

example 'token-internal' => sub {
    # the file is example 10's with the lines of satisfy, allow, deny and
    # limit_except added
    my $internal = $EX{'token-internal'};
    (my $less = $internal) =~ s/\n[^\n]*# a token, or an address.*?\n        \}\n//s;
    is $less, $EX{token}, "example 10's file with the lines of satisfy, allow, deny and limit_except";

    my $base = 'https://127.0.0.1:' . port_for('token-internal', 443);
    my $c = content();
    {
        my $srv = server_ok('token-internal') or return;
        my $r = curl("$base/v2/alice/app/tags/list");
        is $r->{code}, 401, 'as written, 127.0.0.1 is outside 10.0.0.0/8: an anonymous pull gets 401';
        my ($scheme, $chal) = challenge($r->{headers}{'www-authenticate'});
        is_deeply [ $scheme, $chal->{scope} ], [ 'Bearer', 'repository:alice/app:pull' ],
            'with the Bearer challenge (not the 403 of deny)';
        $r = docker_request($base, 'GET', '/v2/alice/app/tags/list');
        is error_code($r->{body}), 'NAME_UNKNOWN', 'with an anonymous token: let in (NAME_UNKNOWN)';
        is_deeply [ push_docker($base, 'alice/app', $c, 'v1', 'alice') ], [ 201, 201, 201 ],
            'alice pushes with tokens';
        is_deeply [ push_docker($base, 'alice/app', $c, 'v1', 'bob') ], [ 401, 401, 401 ],
            'bob may not';
        done_with($srv, 'token-internal');
    }

    # this machine in the internal network
    my $lan = $internal =~ s{allow 10\.0\.0\.0/8;}{allow 127.0.0.1;}r;
    isnt $lan, $internal, 'a variant where 127.0.0.1 is the internal network';
    my $srv = doc_server('token-internal--lan', $lan);
    return unless $srv && nginx_t($srv, 'token-internal, 127.0.0.1 allowed')
               && start_ok($srv, 'token-internal, 127.0.0.1 allowed');
    is_deeply [ push_docker($base, 'alice/app', $c, 'v1', 'alice') ], [ 201, 201, 201 ],
        'alice pushes with tokens';
    my $r = curl("$base/v2/alice/app/manifests/v1", headers => [ 'Accept: ' . OCI_MANIFEST ]);
    is $r->{code}, 200, 'a pull without a token: 200';
    is $r->{body}, $c->{manifest}, 'the manifest';
    ok !exists $r->{headers}{'www-authenticate'}, 'no challenge';
    is curl("$base/v2/alice/app/blobs/$c->{layer_digest}", method => 'HEAD')->{code}, 200,
        'HEAD of a blob without a token: 200';
    $r = curl("$base/v2/alice/app/blobs/uploads/", method => 'POST');
    is $r->{code}, 401, 'a push without a token: 401';
    my ($scheme, $chal) = challenge($r->{headers}{'www-authenticate'});
    is_deeply [ $scheme, $chal->{scope} ], [ 'Bearer', 'repository:alice/app:pull,push' ],
        'with the Bearer challenge';
    is curl("$base/v2/alice/app/manifests/v1", method => 'DELETE')->{code}, 401,
        'a delete without a token: 401';
    my $c2 = content();
    is_deeply [ push_docker($base, 'alice/app', $c2, 'v2', 'alice') ], [ 201, 201, 201 ],
        'alice pushes another image';
    $r = docker_request($base, 'POST', '/v2/alice/app/blobs/uploads/', user => 'bob');
    is wants_scope($r), 'repository:alice/app:pull,push', 'bob: insufficient_scope';
    is docker_request($base, 'DELETE', '/v2/alice/app/manifests/v2', user => 'alice')->{code}, 202,
        'alice deletes with a token';
    done_with($srv, 'token-internal, 127.0.0.1 allowed');
};

# --- docs/mirrors.md: a mirror of Docker Hub and its clients ---------------------

# A minimal TOML reader, enough for the two client files of
# docs/mirrors.md and strict about the rest: comments, blank lines,
# [table] and [[array of tables]] headers of bare or "quoted" dotted keys,
# key = value with basic strings, arrays of them, booleans and integers.
# Dies on anything else, or on a key given twice.
sub toml {
    my ($text) = @_;
    my $root = {};
    my $cur = $root;
    my $key = qr/[A-Za-z0-9_-]+|"(?:[^"\\\n]|\\.)*"/;
    my $unquote = sub {
        my ($k) = @_;
        return $k unless $k =~ s/^"(.*)"$/$1/s;
        $k =~ s/\\(["\\])/$1/g;
        die "toml: escape not handled in $k\n" if $k =~ /\\/;
        return $k;
    };
    my $keys = sub {
        my ($path) = @_;
        my @k;
        while ($path =~ /\G\s*($key)\s*(\.|\z)/gc) {
            push @k, $unquote->($1);
            last if $2 eq '';
        }
        die "toml: not a key: $path\n" unless @k && (pos($path) // 0) == length $path;
        return @k;
    };
    my $value;
    $value = sub {
        my ($v) = @_;
        return $unquote->($v) if $v =~ /^"(?:[^"\\\n]|\\.)*"$/;
        return JSON::XS::true if $v eq 'true';
        return JSON::XS::false if $v eq 'false';
        return 0 + $v if $v =~ /^[+-]?\d+$/;
        if ($v =~ /^\[\s*(.*?)\s*,?\s*\]$/s) {
            my ($list, @items) = ($1);
            while ($list =~ /\G\s*("(?:[^"\\\n]|\\.)*"|true|false|[+-]?\d+)\s*(,|\z)/gc) {
                push @items, $value->($1);
                last if $2 eq '';
            }
            die "toml: array not handled: $v\n" unless (pos($list) // 0) == length $list;
            return \@items;
        }
        die "toml: value not handled: $v\n";
    };
    my $walk = sub {        # the table a header names, made on the way
        my ($t, @k) = @_;
        for my $k (@k) {
            $t->{$k} //= {};
            $t = ref $t->{$k} eq 'ARRAY' ? $t->{$k}[-1] : $t->{$k};
            die "toml: $k is not a table\n" unless ref $t eq 'HASH';
        }
        return $t;
    };
    for my $line (split /\n/, $text) {
        next if $line =~ /^\s*(?:#.*)?$/;
        if ($line =~ /^\s*\[\[\s*(.+?)\s*\]\]\s*$/) {
            my @k = $keys->($1);
            my $last = pop @k;
            my $t = $walk->($root, @k);
            die "toml: $last is not an array of tables\n" if exists $t->{$last} && ref $t->{$last} ne 'ARRAY';
            push @{ $t->{$last} }, ($cur = {});
        } elsif ($line =~ /^\s*\[\s*([^\[\]].*?)\s*\]\s*$/) {
            $cur = $walk->($root, $keys->($1));
        } elsif ($line =~ /^\s*($key)\s*=\s*(.+?)\s*$/) {
            my $k = $unquote->($1);
            die "toml: $k given twice\n" if exists $cur->{$k};
            $cur->{$k} = $value->($2);
        } else {
            die "toml: not understood: $line\n";
        }
    }
    return $root;
}

example 'mirrors.md: a mirror of Docker Hub, containerd and podman as its clients' => sub {
    my $srv = $SRV{'mirrors-md'} or plan skip_all => 'its block did not pass nginx -t';
    my $up = OCI::Distribution->start or plan skip_all => $OCI::Distribution::WHY;
    my $hub = OCI::Distribution->start(tls => 1, storage => $up->storage,
                                       port => port_for('mirrors-md', 9443))
        or plan skip_all => $OCI::Distribution::WHY;
    copy($hub->ca, $HUB_CA) or die "copy " . $hub->ca . ": $!\n";
    start_ok($srv, 'the mirror of Docker Hub') or return;
    my $p = port_for('mirrors-md', 8080);
    my $img = $up->push_image('library/mirror-e2e', 'v1', files => { 'hello.txt' => "hello\n" });
    my $solo = $up->push_image('library/solo', 'v1', files => { 'solo.txt' => "solo\n" });
    my $asked = sub { my ($re) = @_; scalar grep { $_->[0] eq 'GET' } $hub->gets($re) };

    # what containerd asks, as the text shows it
    my $clients = slurp('docs/mirrors.md');
    like $clients, qr{^\s+GET /v2/library/alpine/manifests/3\.19\?ns=docker\.io$}m,
        'the text shows the ?ns= of containerd';
    my $r = req($p, 'GET', '/v2/library/mirror-e2e/manifests/v1?ns=docker.io',
                headers => [ Accept => OCI_MANIFEST ]);
    is $r->code, 200, 'a manifest with ?ns=docker.io: 200' or diag dump_res($r);
    is $r->content, $img->{manifest}, "Docker Hub's manifest, byte for byte";
    is $r->header('OCI-Namespace'), 'docker.io', 'OCI-Namespace: docker.io';
    my $layer = $img->{layer}{digest};
    $r = req($p, 'GET', "/v2/library/mirror-e2e/blobs/$layer?ns=docker.io");
    is $r->code, 200, 'its layer with ?ns=docker.io: 200' or diag dump_res($r);
    is sha256($r->content), $layer, 'the layer';
    is $asked->(qr/\Q$layer\E/), 1, 'fetched from Docker Hub once';
    is req($p, 'GET', "/v2/library/mirror-e2e/blobs/$layer?ns=docker.io")->code, 200, 'and again';
    is $asked->(qr/\Q$layer\E/), 1, 'from local storage';
    $r = req($p, 'GET', '/v2/library/solo/manifests/v1?ns=ghcr.io', headers => [ Accept => OCI_MANIFEST ]);
    is_error $r, 404, 'MANIFEST_UNKNOWN', 'an ns that names no upstream: local storage only';
    is $asked->(qr{/library/solo/}), 0, 'Docker Hub was not asked';

    # library: a one-component name
    $r = req($p, 'GET', '/v2/solo/manifests/v1', headers => [ Accept => OCI_MANIFEST ]);
    is $r->code, 200, 'solo (no ns): 200' or diag dump_res($r);
    is $r->content, $solo->{manifest}, 'the manifest of library/solo';
    is $asked->(qr{^/v2/library/solo/manifests/v1$}), 1, 'asked of Docker Hub as library/solo';

    # containerd's hosts.toml
    my $hosts = doc_block('docs/mirrors.md', qr{^\s*# /etc/containerd/certs\.d/docker\.io/hosts\.toml$});
    ok $hosts, 'docs/mirrors.md has the hosts.toml of docker.io';
    my $t = eval { toml($hosts) };
    is_deeply $t, { server => 'https://registry-1.docker.io',
                    host => { 'http://mirror:8080' => { capabilities => [ 'pull', 'resolve' ] } } },
        'hosts.toml is TOML: the server, the mirror with pull and resolve' or diag $@ // '';

    # podman's registries.conf
    my $rconf = doc_block('docs/mirrors.md', qr{^\s*# /etc/containers/registries\.conf\.d/});
    ok $rconf, 'docs/mirrors.md has the registries.conf entry';
    $t = eval { toml($rconf) };
    is_deeply $t, { registry => [ { prefix => 'docker.io', location => 'docker.io',
                                    mirror => [ { location => 'mirror:8080', insecure => JSON::XS::true } ] } ] },
        'registries.conf is TOML: docker.io, with the mirror, insecure' or diag $@ // '';

    my $sb = OCI::Sandbox->new('oci-docs-podman')->containers;
    my $why = $sb->podman_why_not;
    SKIP: {
        skip "podman: $why", 6 if $why;
        my $pod = $up->push_image('library/podman-e2e', 'v1', files => { 'p.txt' => random_bytes(70_000) });
        (my $conf = $rconf) =~ s/\bmirror:8080\b/127.0.0.1:$p/g;
        isnt $conf, $rconf, 'the mirror of the example on its test port';
        spew($sb->dir . '/registries.conf', $conf);
        $sb->give_away;
        $sb->run_ok('podman pull docker.io/library/podman-e2e:v1, the registries.conf of the text',
                    'podman', 'pull', 'docker.io/library/podman-e2e:v1', { timeout => 120 });
        my ($rc, $out) = $sb->run('podman', 'image', 'inspect', 'docker.io/library/podman-e2e:v1');
        my $info = (dec($out) || [])->[0] || {};
        is 'sha256:' . ($info->{Id} // ''), $pod->{config}{digest}, 'podman has the image, under its name';
        my $log = slurp($srv->path('logs', 'access.log'));
        like $log, qr{"GET /v2/library/podman-e2e/manifests/v1 HTTP/1\.1" 200 .*containers}m,
            "the mirror's access log: podman's manifest GET";
        like $log, qr{"GET /v2/library/podman-e2e/blobs/\Q$pod->{layer}{digest}\E HTTP/1\.1" 200 .*containers}m,
            "and its layer GET";
        is $asked->(qr/\Q$pod->{layer}{digest}\E/), 1, 'which the mirror fetched from Docker Hub';
    }
    done_with($srv, 'the mirror of Docker Hub');
};

$_->cleanup for @ALL;           # server roots go when everything passed
note sprintf 'took %.1f s', time - $T0;
done_testing;

package Guard {
    sub new { my ($class, $cb) = @_; bless { cb => $cb }, $class }
    sub DESTROY { local ($?, $@); $_[0]{cb}->() }
}
