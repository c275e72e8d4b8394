package OCI::Client;

=head1 NAME

OCI::Client - a raw-socket HTTP/1.1 client for the test suites

=head1 SYNOPSIS

    use OCI::Client;
    my $bytes = OCI::Client::build_request('PUT', '/x',
        headers => [ 'X-Foo' => 'bar' ], body => 'abcd');
    my $c = OCI::Client->new(port => 1984, timeout => 10);
    $c->send($bytes);                       # or $c->send_pieces([...], 0.1)
    my $res = $c->read_response('PUT');     # an HTTP::Response
    $res = $c->request('PATCH', '/y', chunked => ['ab', 'cd']);   # keepalive
    $c->close;

=head1 DESCRIPTION

Requests are written verbatim, so tests can send chunked bodies, lying
headers or several pipelined requests. Responses are framed by the usual
rules (HEAD, 1xx, 204 and 304 have no body; chunked; Content-Length; else
until the server closes), de-chunked, and returned as L<HTTP::Response>.
Interim 1xx responses (100 Continue) are skipped.

Every read has a deadline (C<timeout>, default 10 s). A response that cannot
be read -- timeout, connection closed or reset early, garbage -- comes back
as a synthetic response with code 599 and a C<Client-Error> header saying
why; its content is whatever bytes were received. A failed write (the server
closed early, e.g. after a 413) does not stop reading: the response the
server sent is still returned.

=cut

use strict;
use warnings;
use Errno qw(EAGAIN EINTR EWOULDBLOCK);
use HTTP::Response;
use IO::Select;
use IO::Socket::INET;
use Socket qw(IPPROTO_TCP TCP_NODELAY);
use Time::HiRes qw(sleep time);

sub new {
    my ($class, %o) = @_;
    my $self = bless { host => '127.0.0.1', timeout => 10, buf => '', %o }, $class;
    $self->{sock} = IO::Socket::INET->new(
        PeerAddr => $self->{host}, PeerPort => $self->{port},
        Proto => 'tcp', Timeout => $self->{timeout},
    );
    $self->{connect_error} = "connect to $self->{host}:$self->{port}: $!" unless $self->{sock};
    if ($self->{sock}) {
        $self->{sock}->blocking(0);
        setsockopt($self->{sock}, IPPROTO_TCP, TCP_NODELAY, 1);
    }
    return $self;
}

=head2 build_request($method, $path, %opt) / request_parts(...)

Bytes of one request. Options: C<headers> (array ref of name/value pairs,
sent in order), C<body> (string, or array ref of pieces), C<chunked> (array
ref of chunks: sent with C<Transfer-Encoding: chunked>), C<host> (default
localhost), C<proto> (default HTTP/1.1), C<keepalive> (default: send
C<Connection: close>). C<Host>, C<Connection> and C<Content-Length> are only
added when not in C<headers>; C<Content-Length> is added when there is a
body or the method is POST, PUT or PATCH. C<request_parts> returns the head
and the list of body pieces (each chunk encoded, then the last chunk)
instead of one string.

=cut

sub build_request { return join '', request_parts(@_) }

sub request_parts {
    my ($method, $path, %o) = @_;
    my @h = @{ $o{headers} || [] };
    my %have;
    for (my $i = 0; $i < @h; $i += 2) { $have{ lc $h[$i] } = 1 }
    my @body = ref $o{body} ? @{ $o{body} } : ($o{body} // '');
    if ($o{chunked}) {
        push @h, 'Transfer-Encoding' => 'chunked' unless $have{'transfer-encoding'};
        @body = ((map { sprintf("%x\r\n%s\r\n", length, $_) } grep { length } @{ $o{chunked} }),
                 "0\r\n\r\n");
        $have{'content-length'} = 1;
    }
    my $len = length join '', @body;
    unshift @h, Host => $o{host} // 'localhost' unless $have{host};
    push @h, Connection => ($o{keepalive} ? 'keep-alive' : 'close') unless $have{connection};
    push @h, 'Content-Length' => $len
        if !$have{'content-length'} && !$have{'transfer-encoding'}
           && ($len || $method =~ /^(?:POST|PUT|PATCH)$/);
    my $head = "$method $path " . ($o{proto} // 'HTTP/1.1') . "\r\n";
    for (my $i = 0; $i < @h; $i += 2) { $head .= "$h[$i]: $h[$i + 1]\r\n" }
    return ("$head\r\n", grep { length } @body);
}

=head2 request($method, $path, %opt)

On this connection: send the request (options as for C<build_request>,
C<keepalive> defaults to on here; body pieces and chunks are written
separately, C<pause> seconds apart, default 0) and read its response.

=cut

sub request {
    my ($self, $method, $path, %o) = @_;
    my ($head, @pieces) = request_parts($method, $path, keepalive => 1, %o);
    $self->send($head) && $self->send_pieces(\@pieces, $o{pause} // 0);
    return $self->read_response($method);
}

=head2 request_once($port, $method, $path, %opt)

One request on a new connection to 127.0.0.1:$port, with C<Connection:
close> (options as for C<request>, plus C<timeout>, default 10 s). The
response's C<request> records method and URL.

=cut

sub request_once {
    my ($port, $method, $path, %o) = @_;
    my $c = OCI::Client->new(port => $port, timeout => delete $o{timeout} // 10);
    my $res = $c->request($method, $path, keepalive => 0, %o);
    $c->close;
    require HTTP::Request;
    $res->request(HTTP::Request->new($method, "http://127.0.0.1:$port$path"));
    return $res;
}

sub connected { $_[0]{sock} ? 1 : 0 }

=head2 send($bytes) / send_pieces(\@pieces, $pause)

Write everything (bounded by the timeout). Returns false if the connection
broke; C<write_error> then says why. C<send_pieces> writes each piece
separately, sleeping C<$pause> seconds (default 0.05) in between.

=cut

sub send {
    my ($self, $data) = @_;
    my $sock = $self->{sock} or return 0;
    local $SIG{PIPE} = 'IGNORE';
    my $deadline = time + $self->{timeout};
    my $sel = IO::Select->new($sock);
    while (length $data) {
        my $left = $deadline - time;
        return $self->_werr('write timed out') if $left <= 0;
        next unless $sel->can_write($left);
        my $n = syswrite($sock, $data);
        if (!defined $n) {
            next if $! == EAGAIN || $! == EWOULDBLOCK || $! == EINTR;
            return $self->_werr("write: $!");
        }
        substr($data, 0, $n, '');
    }
    return 1;
}

sub _werr { my ($self, $e) = @_; $self->{write_error} = $e; return 0 }
sub write_error { $_[0]{write_error} }

sub send_pieces {
    my ($self, $pieces, $pause) = @_;
    my $i = 0;
    for my $p (@$pieces) {
        sleep($pause // 0.05) if $i++ && ($pause // 0.05) > 0;
        $self->send($p) or return 0;
    }
    return 1;
}

=head2 read_response($method)

Reads one response (C<$method> only matters for HEAD). See DESCRIPTION.

=cut

sub read_response {
    my ($self, $method) = @_;
    return _error("$self->{connect_error}", '') unless $self->{sock};
    my $deadline = time + $self->{timeout};
    while (1) {
        my ($res, $err) = $self->_parse($method // 'GET');
        return $res if $res;
        return _error($err, $self->{buf}) if $err;
        if ($self->{eof}) {
            my $why = length $self->{buf} ? 'connection closed in mid-response'
                                          : 'connection closed before any response';
            $why .= " ($self->{eof})" if $self->{eof} ne '1';
            return _error($why, substr($self->{buf}, 0, length $self->{buf}, ''));
        }
        my $left = $deadline - time;
        return _error("timed out after $self->{timeout} s", $self->{buf}) if $left <= 0;
        $self->_fill($left);
    }
}

sub _fill {
    my ($self, $wait) = @_;
    return unless IO::Select->new($self->{sock})->can_read($wait);
    my $n = sysread($self->{sock}, my $chunk, 65536);
    if (!defined $n) {
        return if $! == EAGAIN || $! == EWOULDBLOCK || $! == EINTR;
        $self->{eof} = "$!";
        return;
    }
    $self->{eof} = 1 if $n == 0;
    $self->{buf} .= $chunk;
}

# Returns (response) when a full one is buffered, (undef, error) on garbage,
# () when more bytes are needed.
sub _parse {
    my ($self, $method) = @_;
    my $buf = \$self->{buf};
    return if $$buf !~ /\r?\n\r?\n/;
    my $head_end = $+[0];
    my $head = substr($$buf, 0, $head_end);
    my ($status, @lines) = split /\r?\n/, $head;
    return (undef, 'not an HTTP response')
        unless $status =~ m{^(HTTP/\d\.\d) (\d{3})(?: (.*))?$};
    my ($proto, $code, $msg) = ($1, $2, $3 // '');
    my $res = HTTP::Response->new($code, $msg);
    $res->protocol($proto);
    for (@lines) {
        my ($n, $v) = /^([^:\s]+):[ \t]*(.*?)[ \t]*$/ or return (undef, "bad header line: $_");
        $res->push_header($n => $v);
    }
    if ($code =~ /^1/ && $code != 101) {        # interim: drop it, parse on
        substr($$buf, 0, $head_end, '');
        return $self->_parse($method);
    }
    my ($body, $used);
    if ($method eq 'HEAD' || $code =~ /^(?:1|204|304)/) {
        ($body, $used) = ('', 0);
    }
    elsif (($res->header('Transfer-Encoding') // '') =~ /chunked/i) {
        ($body, $used) = _dechunk($buf, $head_end) or return;
        return (undef, $body) if !defined $used;
    }
    elsif (defined(my $len = $res->header('Content-Length'))) {
        return (undef, "bad Content-Length: $len") if $len !~ /^\d+$/;
        return if length($$buf) - $head_end < $len;
        ($body, $used) = (substr($$buf, $head_end, $len), $len);
    }
    else {
        return unless $self->{eof};
        ($body, $used) = (substr($$buf, $head_end), length($$buf) - $head_end);
    }
    substr($$buf, 0, $head_end + $used, '');
    $res->content($body);
    return $res;
}

# (body, bytes used) when complete; () when more is needed; (error, undef) on garbage.
sub _dechunk {
    my ($buf, $pos) = @_;
    my ($body, $p) = ('', $pos);
    while (1) {
        my $eol = index($$buf, "\r\n", $p);
        return if $eol < 0;
        my $line = substr($$buf, $p, $eol - $p);
        return ("bad chunk size line: $line", undef) unless $line =~ /^([0-9a-fA-F]+)/;
        my $size = hex $1;
        $p = $eol + 2;
        if ($size == 0) {                        # trailers, then an empty line
            while (1) {
                my $e = index($$buf, "\r\n", $p);
                return if $e < 0;
                my $empty = $e == $p;
                $p = $e + 2;
                return ($body, $p - $pos) if $empty;
            }
        }
        return if length($$buf) < $p + $size + 2;
        $body .= substr($$buf, $p, $size);
        $p += $size + 2;
    }
}

sub _error {
    my ($why, $got) = @_;
    my $res = HTTP::Response->new(599, 'Client Error');
    $res->header('Client-Error' => $why);
    $res->content($got // '');
    return $res;
}

=head2 leftover

Bytes received but not consumed by read_response (e.g. an unexpected extra
response).

=cut

sub leftover { $_[0]{buf} }

sub close {
    my ($self) = @_;
    CORE::close(delete $self->{sock}) if $self->{sock};
}

=head2 dump_response($res, $max)

Text of a response for diagnostics: status line, headers, the body
(printable, cut to C<$max> bytes, default 2048).

=cut

sub dump_response {
    my ($res, $max) = @_;
    $max //= 2048;
    if (my $why = $res->header('Client-Error')) {
        return "no valid response: $why\nreceived: "
            . _printable(substr($res->content, 0, $max)) . "\n";
    }
    my $body = $res->content // '';
    my $cut = length($body) > $max ? '... (' . length($body) . ' bytes)' : '';
    return ($res->protocol // '') . ' ' . $res->code . ' ' . ($res->message // '') . "\n"
        . $res->headers->as_string . "\n" . _printable(substr($body, 0, $max)) . $cut . "\n";
}

sub _printable {
    my ($s) = @_;
    $s =~ s/([^\x20-\x7e\n\t])/sprintf('\\x%02x', ord $1)/ge;
    return $s;
}

1;
