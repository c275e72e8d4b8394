package OCI::Harness;

=head1 NAME

OCI::Harness - scripted multi-step HTTP flow tests against a test nginx

=head1 SYNOPSIS

    use lib 't/lib';
    use Test::More;
    use OCI::Harness;

    my $srv = OCI::Harness->start(
        config      => 'location /v2/ { oci_storage $TEST_NGINX_STORAGE; }',
        http_config => '',          # optional, inside http {}
        main_config => '',          # optional, top level
        workers     => 2,           # default 1
    );
    my $res = $srv->req('POST', '/v2/foo/blobs/uploads/');     # an HTTP::Response
    my $loc = $res->header('Location');
    $res = $srv->req('PATCH', $loc, headers => [ 'Content-Range' => '0-3' ], body => 'abcd');
    $res = $srv->req('PATCH', $loc, chunked => ['ab', 'cd'], pause => 0.05);
    my @res = $srv->raw("GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n",
                        responses => 2);
    my $c = $srv->connect;                  # keepalive connection, an OCI::Client
    $res = $c->request('GET', '/v2/');

    $srv->url('/v2/');  $srv->port;  $srv->storage;  $srv->servroot;
    ok $srv->reload(config => $new_location_text), 'reloaded' or diag $srv->error;
    my $off = $srv->log_size; ...; like $srv->error_log_since($off), qr/.../;
    is $srv->crash_lines, '', 'no worker crashed';
    $srv->stop;  $srv->start;               # restart: same server root and storage
    done_testing;

=head1 DESCRIPTION

A subclass of L<OCI::Server> (the same layout, config generation, start,
reload and stop as the data-section runner), plus request helpers built on
L<OCI::Client>.

C<< OCI::Harness->start(%opt) >> prepares a fresh server root
C<t/servroot/SUITE.N> (N counts servers in this script) with an empty
C<storage/> directory, starts nginx and dies with nginx's output if it does
not come up. C<< OCI::Harness->launch(%opt) >> does the same but returns the
object either way: check C<< $srv->alive >> and C<< $srv->error >> (for
configs that must be rejected). Options are those of L<OCI::Server>:
C<config>, C<http_config>, C<main_config>, C<workers>, C<log_level>,
C<master>, C<root_location> (default on), C<env>, C<vars>. In the config
texts C<$TEST_NGINX_STORAGE> is the storage directory, besides the usual
C<$TEST_NGINX_*> variables.

C<< $srv->req($method, $path, %opt) >> sends one request on a new connection
(with C<Connection: close>) and returns an L<HTTP::Response>; options are
those of C<OCI::Client::build_request> (C<headers>, C<body> string or array
ref of pieces, C<chunked>, C<host>, C<proto>, C<keepalive>) plus C<pause>
(seconds between body pieces, default 0) and C<timeout> (default 10 s).
C<< $res->request >> records method and URL. If no valid response arrives,
the response has code 599 and a C<Client-Error> header.

C<< $srv->raw($bytes_or_pieces, %opt) >> writes raw bytes (an array ref is
written piece by piece, C<pause> apart, default 0.05 s) and reads
C<responses> responses (default 1; C<methods> gives each one's method, for
HEAD). Returns the list of responses (the first one in scalar context).

When the object goes away, or at the latest when the script ends, nginx is
stopped and the server root removed if all tests so far passed
(C<TEST_NGINX_NO_CLEAN> keeps it).

=cut

use strict;
use warnings;
use Carp qw(croak);
use File::Path qw(make_path);
use Scalar::Util qw(weaken);
use OCI::Client;
use parent 'OCI::Server';

my $Count = 0;
my @Made;          # weak: every server launched, for the END block

sub launch {
    my ($class, %o) = @_;
    my $self = $class->new(label => OCI::Server::suite_label() . '.' . ++$Count, %o);
    push @Made, $self;
    weaken($Made[-1]);
    $self->{vars}{TEST_NGINX_STORAGE} = $self->storage;
    $self->prepare;
    make_path($self->storage);
    $self->_spawn;
    return $self;
}

# Class method: a new server (dies if it does not start).
# Instance method: start this (stopped) server again, keeping its files.
sub start {
    my ($self, %o) = @_;
    if (ref $self) {
        return 1 if $self->{pid};
        $self->_spawn or croak "nginx did not start:\n" . $self->error;
        return 1;
    }
    my $srv = $self->launch(%o);
    croak "nginx did not start:\n" . $srv->error unless $srv->{pid};
    return $srv;
}

sub storage { $_[0]->path('storage') }
sub url     { my ($self, $path) = @_; "http://127.0.0.1:$self->{port}" . ($path // '/') }

sub connect {
    my ($self, %o) = @_;
    return OCI::Client->new(port => $self->{port}, timeout => 10, %o);
}

sub req {
    my ($self, $method, $path, %o) = @_;
    return OCI::Client::request_once($self->{port}, $method, $path, %o);
}

sub raw {
    my ($self, $data, %o) = @_;
    my $c = $self->connect(timeout => $o{timeout} // 10);
    if (ref $data) { $c->send_pieces($data, $o{pause} // 0.05) }
    else           { $c->send($data) }
    my @methods = @{ $o{methods} || [] };
    if (!@methods) {
        my ($first) = (ref $data ? join('', @$data) : $data) =~ /\A\s*(\S+)/;
        @methods = (($first // 'GET'), ('GET') x (($o{responses} // 1) - 1));
    }
    my @res = map { $c->read_response($_) } @methods;
    $c->close;
    return wantarray ? @res : $res[0];
}

sub DESTROY {
    my ($self) = @_;
    local ($?, $@);
    eval { $self->cleanup };
}

# A server still referenced when the script ends (by a named sub, say) is
# cleaned up here, while Test::Builder can still tell whether all passed:
# in global destruction it cannot, and the server root would stay.
END {
    local ($?, $@);
    eval { $_->cleanup } for grep { defined } @Made;
}

1;
