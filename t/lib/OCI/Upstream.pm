package OCI::Upstream;

=head1 NAME

OCI::Upstream - what the mirror suites put around an upstream: a token
issuer for docker-registry's C<auth: token>, a corrupting proxy, and the
mirror's configuration

=head1 SYNOPSIS

    BEGIN { push @INC, 't/lib' }
    use OCI::Distribution;
    use OCI::Upstream;

    my $up = OCI::Distribution->start;          # docker-registry
    my $iss = OCI::Upstream::Issuer->start(users => { alice => 'secret' },
                                            anonymous => 'pull');
    my $tup = OCI::Distribution->start(token => $iss);  # auth: token
    $iss->requests('alice');                    # token requests by alice

    my $bad = OCI::Upstream::Corrupting->start($up);   # flips a bit
    $bad->port;  $bad->corrupted;               # blob bodies changed

    my $conf = mirror_conf([ [ $up, 'up.test', 'default' ] ],
                           'oci_proxy_tag_ttl 2s;');
    my $mirror = OCI::Harness->start(config => $conf);

=head1 DESCRIPTION

docker-registry itself is L<OCI::Distribution>.

C<< OCI::Upstream::Issuer->start(users =E<gt> { name =E<gt> password },
anonymous =E<gt> 'pull' or '') >> is an nginx with this module's token
issuer (C<oci_token_issue>) at C</token>, signing with an RSA key whose
certificate is the bundle docker-registry trusts. Users are granted
C<pull>; anonymous requests get C<anonymous> (with C<''>, auth_basic
refuses them). A user C<pusher> (the pushes of
L<OCI::Distribution/req>) gets everything. C<realm>, C<service>,
C<name>, C<bundle>, C<token($user, @scopes)> (kept until 30 s before it
expires), C<requests($user)> (the token requests of that user, C<''>
for anonymous ones, as a list of the request lines, C<pusher>'s left
out, read once the log has stopped growing), C<srv> (its OCI::Harness).

C<< OCI::Upstream::Corrupting->start($up) >> is a small HTTP server
(HTTP::Daemon, one process per connection) that forwards every request
to C<$up> (anything with a C<port>) and passes the answer back, except
that in the body of a C<200> answer to C<GET .../blobs/...> it flips one
bit of the middle byte (same length, same headers). C<port>, C<host>,
C<corrupted> (how many bodies it changed), C<stop>.

C<mirror_conf(\@upstreams, @directives)>: a registry location for
L<OCI::Harness> that is a mirror, plus the internal location of each
upstream and C</_follow>, as docs/mirrors.md writes them for Docker Hub
(read from the document: its C</_hub/> location, with C<proxy_pass> to
the upstream's port of 127.0.0.1 over HTTP, and its C</_follow>). Each
upstream is C<[ $server, $host, @flags ]>: C<$server> has a C<port>
(an C<OCI::Distribution>, a Corrupting one, an C<OCI::Harness>), C<$host>
is the registry name of C<oci_proxy>, C<@flags> its other parameters
(C<default>, C<library>, C<credentials=...>). C<@directives> go into the
registry location.

Everything started is stopped when the object goes away or the script
ends (only by the process that started it).

=cut

use strict;
use warnings;
use Carp qw(croak);
use Cwd qw(getcwd);
use Exporter 'import';
use File::Path qw(make_path remove_tree);
use MIME::Base64 qw(encode_base64);
use POSIX qw(WNOHANG _exit);
use Scalar::Util qw(weaken);
use Test::More ();
use Time::HiRes qw(sleep time);
use OCI::Client;
use OCI::Server;
use OCI::Test qw(spew slurp);

our @EXPORT = qw(mirror_conf);

my $OWNER = $$;
my $Count = 0;
my @Made;

sub _scratch {
    my ($what) = @_;
    my $dir = join '/', getcwd(), 't', 'servroot',
        OCI::Server::suite_label() . ".$what." . ++$Count . ".$$";
    remove_tree($dir);
    make_path($dir);
    return $dir;
}

# A count read again until the file it comes from has not grown for 0.3 s
# (at most 5 s): a log line is written after the answer has left.
sub _settled {
    my ($count, $size) = @_;
    my ($last, $since, $end) = ($size->(), time, time + 5);
    while (time < $end && time - $since < 0.3) {
        sleep 0.05;
        my $now = $size->();
        ($last, $since) = ($now, time) if $now != $last;
    }
    return $count->();
}

END {
    local ($?, $@);
    eval { $_->cleanup } for grep { defined } @Made;
}

# --- the mirror's configuration ------------------------------------------------------

sub mirror_conf {
    my ($ups, @directives) = @_;
    my $doc = OCI::Test::doc_block('docs/mirrors.md', qr/^\s*location \/v2\/ \{/);
    my ($upstream) = $doc =~ m{^(location /_hub/ \{.*?^\})}ms;
    my ($follow) = $doc =~ m{^(location = /_follow \{.*?^\})}ms;
    croak "docs/mirrors.md: no upstream location /_hub/ and /_follow in:\n$doc"
        unless $upstream && $follow && $upstream =~ m{^\s*proxy_pass https://\S+/;$}m;
    my ($i, @proxy, $locations) = (0);
    for my $u (@$ups) {
        my ($srv, $host, @flags) = @$u;
        my $uri = '/_up' . ++$i . '/';
        push @proxy, join(' ', 'oci_proxy', $host, $uri, @flags) . ';';
        (my $loc = $upstream) =~ s{^location /_hub/}{location $uri};
        $loc =~ s{^(\s*)proxy_pass https://\S+/;$}{$1proxy_pass http://127.0.0.1:${\ $srv->port }/;}m;
        $locations .= $loc =~ s/^/    /mgr . "\n";
    }
    return OCI::Test::registry_conf(@proxy, 'oci_proxy_follow /_follow;', @directives)
         . $locations . ($follow =~ s/^/    /mgr) . "\n";
}

# --- the token issuer -----------------------------------------------------------------

package OCI::Upstream::Issuer;

use strict;
use warnings;
use MIME::Base64 qw(encode_base64);
use OCI::Harness;
use OCI::Test qw(spew slurp dec run_cmd token_key);

my $Issuers = 0;

sub start {
    my ($class, %o) = @_;
    my $dir = OCI::Upstream::_scratch('issuer');
    my $key = token_key($dir, 'rsa', 'rsa');
    chmod 0644, $key->{key};
    my ($rc, undef, $err) = run_cmd([ qw(openssl req -x509 -new -days 2 -subj /CN=upstream-issuer),
                                      '-key', $key->{key}, '-out', "$dir/bundle.crt" ]);
    die "openssl req: $err" if $rc;
    my %users = (%{ $o{users} || {} }, pusher => 'pusher-' . $$);
    spew("$dir/htpasswd", join '', map { "$_:{PLAIN}$users{$_}\n" } sort keys %users);
    my $anon = $o{anonymous} // 'pull';
    my $self = bless { dir => $dir, key => $key, users => \%users, tokens => {},
                       service => 'upstream.test', name => 'upstream-issuer-' . ++$Issuers },
                     $class;
    push @Made, $self;
    Scalar::Util::weaken($Made[-1]);
    # without an anonymous grant, auth_basic refuses requests that carry
    # no credentials; with one, they get it
    my $auth_map = length $anon ? qq{"" off;\n        default "upstream";}
                                : qq{default "upstream";};
    my $user_grants = join '', map { qq{        "$_:repository" "pull";\n} }
        grep { $_ ne 'pusher' } sort keys %users;
    $self->{srv} = OCI::Harness->start(
        http_config => <<"HTTP",
    map \$http_authorization \$upstream_token_auth {
        $auth_map
    }
    map "\$remote_user:\$oci_token_scope_type" \$upstream_token_grant {
        default "";
        ":repository" "$anon";
        "pusher:repository" "*";
$user_grants    }
    log_format upstream_token '\$request_method \$request_uri \$status "\$remote_user"';
HTTP
        config => <<"CONF");
    location = /token {
        auth_basic \$upstream_token_auth;
        auth_basic_user_file $dir/htpasswd;
        oci_token_issue $self->{name};
        oci_token_service $self->{service};
        oci_token_signing_key $key->{key};
        oci_token_grant \$upstream_token_grant;
        access_log logs/token.log upstream_token;
    }
CONF
    return $self;
}

sub srv     { $_[0]{srv} }
sub port    { $_[0]{srv}->port }
sub realm   { 'http://127.0.0.1:' . $_[0]->port . '/token' }
sub service { $_[0]{service} }
sub name    { $_[0]{name} }
sub bundle  { "$_[0]{dir}/bundle.crt" }

sub token {
    my ($self, $user, @scopes) = @_;
    my $key = join ' ', $user // '', @scopes;
    my $t = $self->{tokens}{$key};
    return $t->[0] if $t && $t->[1] > time + 30;
    my $q = join '&', "service=$self->{service}", map { "scope=$_" } @scopes;
    my @h = defined $user
        ? (Authorization => 'Basic ' . encode_base64("$user:$self->{users}{$user}", '')) : ();
    my $res = $self->{srv}->req('GET', "/token?$q", headers => \@h);
    my $j = dec($res->content) || {};
    die "issuer: no token for $key:\n" . OCI::Client::dump_response($res, 600)
        unless $res->code == 200 && $j->{token};
    $self->{tokens}{$key} = [ $j->{token}, time + ($j->{expires_in} // 60) ];
    return $j->{token};
}

sub requests {
    my ($self, $user) = @_;
    my $file = $self->{srv}->path('logs', 'token.log');
    my @lines = split /\n/, OCI::Upstream::_settled(sub { slurp($file) }, sub { -s $file // 0 });
    return grep {
        my ($who) = /"(.*)"$/;
        $who = '' if ($who // '-') eq '-';
        $who ne 'pusher' && (!defined $user || $who eq $user);
    } @lines;
}

sub cleanup {
    my ($self) = @_;
    return if $$ != $OWNER;
    $self->{srv}->cleanup if $self->{srv};
    File::Path::remove_tree($self->{dir})
        if !$ENV{TEST_NGINX_NO_CLEAN} && Test::More->builder->is_passing;
}

# --- the corrupting proxy ---------------------------------------------------------------

package OCI::Upstream::Corrupting;

use strict;
use warnings;
use POSIX qw(WNOHANG _exit);
use Time::HiRes qw(sleep time);
use OCI::Client;
use OCI::Test qw(slurp);

sub start {
    my ($class, $up) = @_;
    require HTTP::Daemon;
    my $dir = OCI::Upstream::_scratch('corrupting');
    my $d = HTTP::Daemon->new(LocalAddr => '127.0.0.1', LocalPort => 0, ReuseAddr => 1,
                              Listen => 64)
        or die "HTTP::Daemon: $!\n";
    my $self = bless { dir => $dir, port => $d->sockport, target => $up->port }, $class;
    my $pid = fork // die "fork: $!\n";
    if (!$pid) {
        $SIG{CHLD} = 'IGNORE';
        $SIG{TERM} = sub { _exit(0) };
        while (my $c = $d->accept) {
            my $kid = fork;
            if (defined $kid && !$kid) {
                $self->_serve($c);
                _exit(0);
            }
            close $c;
        }
        _exit(0);
    }
    close $d;
    $self->{pid} = $pid;
    return $self;
}

sub port { $_[0]{port} }
sub host { "127.0.0.1:$_[0]{port}" }

# One request per connection: forwarded, its answer read whole, a blob
# body changed in its middle byte, the answer written back.
sub _serve {
    my ($self, $c) = @_;
    my $r = $c->get_request or return;
    my @h;
    $r->headers->scan(sub {
        push @h, @_ unless $_[0] =~ /^(?:Host|Connection|Content-Length|Transfer-Encoding)$/i;
    });
    my $res = OCI::Client::request_once($self->{target}, $r->method, $r->uri->path_query,
                                        headers => \@h, body => $r->content, timeout => 60);
    my $body = $res->content // '';
    if ($r->method eq 'GET' && $res->code == 200 && $r->uri->path =~ m{/blobs/[^/]+$}
        && length $body)
    {
        my $i = int(length($body) / 2);
        substr($body, $i, 1) = chr(ord(substr($body, $i, 1)) ^ 0x01);
        open my $fh, '>>', "$self->{dir}/corrupted" or die;
        print {$fh} $r->uri->path, "\n";
        close $fh;
    }
    my $head = sprintf "HTTP/1.1 %d %s\r\n", $res->code, $res->message // '';
    my $len = $res->header('Content-Length');
    $res->headers->scan(sub {
        $head .= "$_[0]: $_[1]\r\n"
            unless $_[0] =~ /^(?:Connection|Content-Length|Transfer-Encoding|Client-.*)$/i;
    });
    $len = length $body unless $r->method eq 'HEAD' && defined $len;
    $head .= "Content-Length: $len\r\nConnection: close\r\n\r\n";
    print {$c} $head, ($r->method eq 'HEAD' ? '' : $body);
    close $c;
}

sub corrupted {
    my ($self) = @_;
    my $file = "$self->{dir}/corrupted";
    return scalar(() = OCI::Upstream::_settled(sub { slurp($file) }, sub { -s $file // 0 })
                       =~ /\n/g);
}

sub stop {
    my ($self) = @_;
    my $pid = delete $self->{pid} or return;
    return if $$ != $OWNER;
    kill 'TERM', $pid;
    waitpid $pid, 0;
}

sub DESTROY {
    my ($self) = @_;
    local ($?, $@);
    $self->stop;
    File::Path::remove_tree($self->{dir})
        if $$ == $OWNER && !$ENV{TEST_NGINX_NO_CLEAN} && Test::More->builder->is_passing;
}

1;
