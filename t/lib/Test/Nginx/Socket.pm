package Test::Nginx::Socket;

=head1 NAME

Test::Nginx::Socket - our stand-in runner for the Test::Nginx data-section format

=head1 SYNOPSIS

    BEGIN { push @INC, 't/lib' }   # appended: an installed Test::Nginx wins
    use Test::Nginx::Socket 'no_plan';

    repeat_each(2);
    no_shuffle();
    run_tests();

    __DATA__

    === TEST 1: hello
    --- config
        location /t { return 200 "hello\n"; }
    --- request
    GET /t
    --- response_body
    hello

=head1 DESCRIPTION

The real Test::Nginx (OpenResty) is not packaged in Debian. This is our own
implementation of the subset of its format that our suites use, built on
Test::Base, so a suite runs unchanged under either. Servers are started and
stopped by L<OCI::Server>, requests go through L<OCI::Client>.

Each block gets a freshly prepared server root (empty html dir) and its own
nginx start; with C<repeat_each(N)> the block's requests run N times against
that same nginx. Blocks run in random order unless C<no_shuffle()> or
C<TEST_NGINX_NO_SHUFFLE> is set. Server root is C<t/servroot/SUITE> and the
port is random (checked free) per suite, so C<prove -j> is safe.

=head2 Environment

C<TEST_NGINX_BINARY>, C<TEST_NGINX_LOAD_MODULES>, C<TEST_NGINX_SERVER_PORT>,
C<TEST_NGINX_SERVROOT>, C<TEST_NGINX_USE_VALGRIND>, C<TEST_NGINX_NO_CLEAN>
(see L<OCI::Server>), and C<TEST_NGINX_NO_SHUFFLE>. For example:

    TEST_NGINX_LOAD_MODULES=$PWD/build/ngx_oci_module.so prove -r t/

=head2 Functions

C<run_tests>, C<run_test($block)>, C<repeat_each(N)>, C<no_shuffle>,
C<no_long_string>, C<log_level('info')> (default debug), C<master_on> (the
default here), C<master_off>, C<workers(N)> (default 1),
C<worker_connections(N)> (default 64), C<no_root_location> (otherwise a
C<location /> serving the html dir is appended), C<add_block_preprocessor(sub
{ my $block = shift; ... })>, C<env_to_nginx(NAME, ...)>, C<server_port>,
C<server_root>, C<html_dir>; plus all Test::Base / Test::More exports
(C<blocks>, C<plan>, C<is>, ...). C<$Test::Nginx::Socket::RepeatEach> too.

=head2 Sections

=over

=item main_config, http_config, config

Put at top level, in C<http {}>, and in C<server { listen 127.0.0.1:PORT; }>.
C<$TEST_NGINX_SERVER_PORT>, C<$TEST_NGINX_HTML_DIR>, C<$TEST_NGINX_SERVER_ROOT>
and any C<$TEST_NGINX_FOO> in C<%ENV> are substituted (also in requests).

=item request

C<METHOD URI [HTTP/x.y]> on the first line (HTTP/1.1 by default); the rest is
the body (one trailing newline dropped unless the section is C<eval>). We add
C<Host: localhost>, C<Connection: close> and C<Content-Length> (when there is
a body, or for POST/PUT/PATCH) unless C<more_headers> has them; with a
C<Transfer-Encoding> header in C<more_headers> the body is sent as given.
C<request eval> may return an array ref: several requests, each on its own
connection.

=item pipelined_requests eval

Array ref of requests, all written at once on one keepalive connection (the
last one says C<Connection: close>).

=item raw_request

Sent verbatim. With C<eval> it may be an array ref of pieces, written with a
pause of C<raw_request_middle_delay> seconds (default 0.1) between them.

=item more_headers

One C<Name: value> per line.

=item error_code, response_headers, response_headers_like, response_body, response_body_like

For several responses each may be an array ref (from C<eval>), one entry per
response; a plain value applies to every response. The status is always
checked (200 when no C<error_code>). C<response_headers>: C<Name: value> is
exact, C<!Name> means absent, C<Name:> means absent or empty.
C<response_headers_like>: the value is a regex anchored at both ends.
C<response_body> is compared after de-chunking (HEAD has no body);
C<response_body_like> is an unanchored regex (with /s), or a C<qr//> from eval.

=item error_log, no_error_log

One substring per line, or with C<eval> a string, C<qr//> or array ref of
them, that must (or must not) appear in error.log during this block's
requests (for the last repetition the window includes nginx's shutdown).

=item must_die

nginx must fail to start; C<error_log> is then matched against nginx's
stderr plus error.log (where the C<[emerg]> message is).

=item user_files

C<< >>> path >> lines, each followed by the file's contents, created under
the html dir (C<eval>: array ref of C<[path, contents]>).

=item timeout

Seconds to wait for each response (default 10).

=item ONLY, SKIP, LAST

Handled by Test::Base.

=back

Besides the tests that sections ask for, a block fails if a worker or
master crashed ("exited on signal" in error.log), if nginx did not exit
cleanly on QUIT, or (under C<TEST_NGINX_USE_VALGRIND>) if valgrind reported
errors; these checks add a test only when they fail.

=head2 Not implemented

Everything else of the real module: stream/TLS/HTTP2 sections, C<grep_error_log>,
C<response_body_json>, C<wait>, C<abort>, C<shutdown>, C<skip_nginx>,
C<no_error_log> defaults, user file timestamps, C<TEST_NGINX_NO_CLEAN> here
only keeps the server root (the real one leaves nginx running).

=cut

use strict;
use warnings;
BEGIN {
    (my $lib = __FILE__) =~ s{Test/Nginx/Socket\.pm$}{};
    push @INC, $lib if length $lib && !grep { $_ eq $lib } @INC;
}
use Test::Base -base;
use List::Util qw(shuffle);
use Test::LongString ();
use Time::HiRes qw(sleep);
use OCI::Client;
use OCI::Server;

our @EXPORT = qw(
    run_tests run_test repeat_each no_shuffle no_long_string log_level
    master_on master_off workers worker_connections no_root_location
    add_block_preprocessor env_to_nginx server_port server_root html_dir
);

our $RepeatEach = 1;
my %Conf = (log_level => 'debug', master => 1, workers => 1,
            worker_connections => 64, root_location => 1, env => []);
my ($NoShuffle, $NoLongString, @Preprocessors, $Server);

sub repeat_each        { $RepeatEach = shift if @_; $RepeatEach }
sub no_shuffle         { $NoShuffle = 1 }
sub no_long_string     { $NoLongString = 1 }
sub log_level          { $Conf{log_level} = shift if @_; $Conf{log_level} }
sub master_on          { $Conf{master} = 1 }
sub master_off         { $Conf{master} = 0 }
sub workers            { $Conf{workers} = shift if @_; $Conf{workers} }
sub worker_connections { $Conf{worker_connections} = shift if @_; $Conf{worker_connections} }
sub no_root_location   { $Conf{root_location} = 0 }
sub add_block_preprocessor { push @Preprocessors, @_ }
sub env_to_nginx       { push @{ $Conf{env} }, @_ }
sub server_port        { _server()->port }
sub server_root        { _server()->servroot }
sub html_dir           { _server()->html_dir }

sub _server {
    return $Server ||= OCI::Server->new(label => OCI::Server::suite_label());
}

sub run_tests {
    filters_delay(1);            # filter per block: a bad eval fails one block
    my @blocks = blocks();
    @blocks = shuffle(@blocks) unless $NoShuffle || $ENV{TEST_NGINX_NO_SHUFFLE};
    run_test($_) for @blocks;
    _server()->cleanup;
}

sub run_test {
    my ($block) = @_;
    my $name = $block->name;
    my $srv = _server();
    my $ok = eval {
        $block->run_filters unless $block->is_filtered;
        $_->($block) for @Preprocessors;
        $srv->prepare(%Conf, valgrind => $ENV{TEST_NGINX_USE_VALGRIND},
                      map { $_ => _val($block, $_) // '' } qw(main_config http_config config));
        _write_user_files($srv, $block);
        1;
    };
    return fail("$name - preparing the block") || diag($@) if !$ok;
    return _run_must_die($block, $srv) if defined _val($block, 'must_die');
    if (!$srv->start) {
        fail("$name - nginx started");
        return diag($srv->error);
    }
    return if eval { _run_repeats($block, $srv); 1 };
    fail("$name - running the block");
    diag($@);
    $srv->stop;
}

sub _run_repeats {
    my ($block, $srv) = @_;
    for my $rep (1 .. $RepeatEach) {
        my $last = $rep == $RepeatEach;
        my $tag = $rep > 1 ? " (rep $rep)" : '';
        my $off = $srv->log_size;
        _run_requests($block, $srv, $tag, $off);
        if ($last) { _stop($block, $srv) }
        elsif (grep { defined _val($block, $_) } qw(error_log no_error_log)) {
            sleep 0.1;          # let late log lines land in this repetition's window
        }
        _check_logs($block, $srv->error_log_since($off), $tag);
    }
}

sub _stop {
    my ($block, $srv) = @_;
    my $name = $block->name;
    my $status = $srv->stop;
    fail("$name - nginx exits cleanly on QUIT")
        || diag("master: $srv->{exit_text}\n" . $srv->error_log_tail(20))
        if !defined $status || $status != 0;
    my $vg = $srv->valgrind_errors;
    fail("$name - valgrind reports no errors") || diag($vg) if length $vg;
}

sub _run_must_die {
    my ($block, $srv) = @_;
    my $name = $block->name;
    if ($srv->start) {
        fail("$name - nginx should have failed to start");
        $srv->stop;
    }
    else {
        pass("$name - nginx failed to start as expected");
    }
    _check_logs($block, $srv->stderr . $srv->error_log, '');
}

sub _is_eval {
    my ($block, $sec) = @_;
    return (($block->_section_map || {})->{$sec}{filters} // q()) =~ /\beval\b/;
}

sub _pick { my ($v, $i) = @_; ref $v eq 'ARRAY' ? $v->[$i] : $v }

# A section's value (first value in scalar context; undef when absent).
sub _val { my ($block, $sec) = @_; my $v = $block->$sec; return $v }

sub _write_user_files {
    my ($srv, $block) = @_;
    my $spec = _val($block, 'user_files') // return;
    my @files = ref $spec ? @$spec
        : map { /\A(\S+)[^\n]*\n(.*)\z/s ? [$1, $2] : [$_, ''] } grep { length }
          split /^>>> /m, $spec;
    for my $f (@files) {
        my ($path, $data) = @$f;
        OCI::Server::spew($srv->html_dir . "/$path", $srv->expand($data));
    }
}

# --- requests ----------------------------------------------------------------

sub _more_headers {
    my ($srv, $text) = @_;
    return () unless defined $text;
    my @h;
    for my $line (split /\n/, $srv->expand($text)) {
        next unless $line =~ /^\s*([^:\s]+)\s*:\s*(.*?)\s*$/;
        push @h, $1, $2;
    }
    return @h;
}

# (method, bytes) for one request in the "--- request" notation.
sub _build {
    my ($srv, $text, $more, $is_eval, $keepalive) = @_;
    $text = $srv->expand($text);
    $text =~ s/\A\s+//;
    my ($line, $body) = split /\n/, $text, 2;
    $body //= '';
    $body =~ s/\n\z// unless $is_eval;
    $line =~ m{^(\S+)\s+(.*?)(?:\s+(HTTP/\d\.\d))?\s*$}
        or die "bad request line: '$line'\n";
    my ($meth, $uri, $proto) = ($1, $2, $3);
    return ($meth, OCI::Client::build_request($meth, $uri, body => $body,
        proto => $proto, keepalive => $keepalive,
        headers => [ _more_headers($srv, $more) ]));
}

# The block's requests as jobs, one per connection:
# { data => bytes or [pieces], methods => [one per expected response] }.
sub _jobs {
    my ($block, $srv) = @_;
    my $more = _val($block, 'more_headers');
    my $eval = _is_eval($block, 'request');
    if (defined(my $p = _val($block, 'pipelined_requests'))) {
        die "pipelined_requests must be an array ref (use eval)\n" unless ref $p eq 'ARRAY';
        my (@m, $data);
        for my $i (0 .. $#$p) {
            my ($meth, $bytes) = _build($srv, $p->[$i], _pick($more, $i), 1, $i < $#$p);
            push @m, $meth;
            $data .= $bytes;
        }
        return +{ data => $data, methods => \@m };
    }
    if (defined(my $r = _val($block, 'request'))) {
        my @reqs = ref $r eq 'ARRAY' ? @$r : ($r);
        return map {
            my ($meth, $bytes) = _build($srv, $reqs[$_], _pick($more, $_), $eval, 0);
            +{ data => $bytes, methods => [$meth] };
        } 0 .. $#reqs;
    }
    if (defined(my $raw = _val($block, 'raw_request'))) {
        my $first = ref $raw ? join('', @$raw) : $raw;
        my ($meth) = $first =~ /\A\s*(\S+)/;
        return +{ data => ref $raw ? $raw : $srv->expand($raw), methods => [$meth // 'GET'] };
    }
    return;
}

sub _send_job {
    my ($srv, $job, $timeout, $pause) = @_;
    my $c = OCI::Client->new(port => $srv->port, timeout => $timeout);
    if (ref $job->{data}) { $c->send_pieces($job->{data}, $pause) }
    else                  { $c->send($job->{data}) }
    my @res = map { $c->read_response($_) } @{ $job->{methods} };
    $c->close;
    return @res;
}

sub _run_requests {
    my ($block, $srv, $tag, $off) = @_;
    my $name = $block->name;
    my @jobs = eval { _jobs($block, $srv) };
    return fail("$name - building the request$tag") || diag($@) if $@;
    return unless @jobs;
    my $timeout = _val($block, 'timeout') || 10;
    my $pause = _val($block, 'raw_request_middle_delay') // 0.1;
    my @res = map { _send_job($srv, $_, $timeout, $pause) } @jobs;
    for my $i (0 .. $#res) {
        my $t = (@res > 1 ? " (req $i)" : '') . $tag;
        my $fails = _check_response($block, $res[$i], $i, $t);
        next unless $fails;
        diag("response$t:\n" . OCI::Client::dump_response($res[$i])
             . "error.log, non-debug lines (tail; server root " . $srv->servroot . "):\n"
             . $srv->error_log_tail(20, $srv->error_log_since($off)));
    }
}

# --- checks ------------------------------------------------------------------

sub _check_response {
    my ($block, $res, $i, $t) = @_;
    my $name = $block->name;
    my $fails = 0;
    my $code = _pick(_val($block, 'error_code'), $i) // 200;
    $code =~ s/^\s+|\s+$//g;
    is($res->code, $code, "$name - status code ok$t") or $fails++;
    $fails += _check_headers($block, $res, $i, $t);
    if (defined(my $exp = _pick(_val($block, 'response_body'), $i))) {
        my $got = $res->content;
        my $label = "$name - response_body - response is expected$t";
        ($NoLongString ? is($got, $exp, $label)
                       : Test::LongString::is_string($got, $exp, $label)) or $fails++;
    }
    if (defined(my $pat = _pick(_val($block, 'response_body_like'), $i))) {
        chomp $pat unless ref $pat || _is_eval($block, 'response_body_like');
        my $re = ref $pat eq 'Regexp' ? $pat : qr/$pat/s;
        like($res->content, $re, "$name - response_body_like - response is expected$t")
            or $fails++;
    }
    return $fails;
}

sub _header_lines {
    my ($text) = @_;
    return () unless defined $text;
    return grep { /\S/ } split /\n/, $text;
}

sub _check_headers {
    my ($block, $res, $i, $t) = @_;
    my $name = $block->name;
    my $fails = 0;
    for my $line (_header_lines(_pick(_val($block, 'response_headers'), $i))) {
        if ($line =~ /^\s*!\s*([^:\s]+)\s*$/) {
            ok(!defined $res->header($1), "$name - header $1 absent$t") or $fails++;
            next;
        }
        my ($h, $v) = $line =~ /^\s*([^:\s]+)\s*:\s*(.*?)\s*$/ or die "bad header line '$line'\n";
        my $got = $res->header($h);
        if ($v eq '') {
            ok(!defined $got || $got eq '', "$name - header $h absent or empty$t")
                or do { $fails++; diag("got: $got") };
        }
        else {
            is($got, $v, "$name - header $h ok$t") or $fails++;
        }
    }
    for my $line (_header_lines(_pick(_val($block, 'response_headers_like'), $i))) {
        my ($h, $re) = $line =~ /^\s*([^:\s]+)\s*:\s*(.*?)\s*$/ or die "bad header line '$line'\n";
        like($res->header($h) // '', qr/^(?:$re)$/, "$name - header $h like /$re/$t")
            or $fails++;
    }
    return $fails;
}

sub _patterns {
    my ($block, $sec) = @_;
    my $v = _val($block, $sec);
    return () unless defined $v;
    return ref $v eq 'ARRAY' ? @$v : ($v) if _is_eval($block, $sec);
    return grep { length } split /\n/, $v;
}

sub _matches {
    my ($log, $pat) = @_;
    return grep { ref $pat ? $_ =~ $pat : index($_, $pat) >= 0 } split /^/m, $log;
}

sub _check_logs {
    my ($block, $log, $tag) = @_;
    my $name = $block->name;
    for my $pat (_patterns($block, 'error_log')) {
        ok(scalar(_matches($log, $pat)),
           "$name - pattern \"$pat\" matches a line in error.log$tag")
            or diag("error.log, non-debug lines of this request (tail):\n"
                    . OCI::Server->error_log_tail(20, $log));
    }
    for my $pat (_patterns($block, 'no_error_log')) {
        my @hits = _matches($log, $pat);
        ok(!@hits, "$name - pattern \"$pat\" should not match any line in error.log$tag")
            or diag("matching lines:\n" . join '', @hits[0 .. ($#hits < 9 ? $#hits : 9)]);
    }
    my $crash = OCI::Server->crash_lines($log);
    fail("$name - no nginx process crashed$tag") || diag($crash) if length $crash;
}

# Test::Base looks up "<our class>::Filter" for section filters. Same filters,
# except that an "eval" section with a Perl error fails its block instead of
# silently becoming the error text.
package Test::Nginx::Socket::Filter;
use Test::Base::Filter ();
our @ISA = ('Test::Base::Filter');

sub eval {
    my ($self, $code) = @_;
    my @r = CORE::eval("package Test::Base::Filter;\n#line 1 \"eval section\"\n$code");
    die "section eval failed: $@" if $@;
    return @r;
}

1;
