package OCI::Server;

=head1 NAME

OCI::Server - start, reload and stop a throw-away nginx for the test suites

=head1 SYNOPSIS

    use OCI::Server;
    my $srv = OCI::Server->new(label => 'my-suite', config => 'location /t { return 200; }');
    $srv->prepare;                 # fresh server root, conf/nginx.conf written
    $srv->start or die $srv->error;
    my $off = $srv->log_size;      # ... send requests (see OCI::Client) ...
    print $srv->error_log_since($off);
    $srv->reload(config => '...') or die $srv->error;
    $srv->stop;

=head1 DESCRIPTION

The one place that knows how a test nginx is laid out, configured, started
and stopped. Both the data-section runner (L<Test::Nginx::Socket> in t/lib)
and the flow-test helper (L<OCI::Harness>) use it.

Server root: C<t/servroot/LABEL> (or C<$TEST_NGINX_SERVROOT>), holding
C<conf/ logs/ html/ tmp/>; while another process holds it (a lock on
C<LABEL.lock>), C<LABEL.PID> is used instead. C<prepare> wipes it. It is
removed again by C<cleanup> when every test so far has passed, unless
C<TEST_NGINX_NO_CLEAN> is set.

nginx runs in the foreground (C<daemon off>) as our direct child with
C<-p SERVROOT -c conf/nginx.conf>; stdout and stderr go to C<logs/stderr.log>.

Environment: C<TEST_NGINX_BINARY> (default /usr/sbin/nginx),
C<TEST_NGINX_LOAD_MODULES> (space-separated .so paths, each becomes a
C<load_module> line), C<TEST_NGINX_SERVER_PORT> (fixed port instead of a free
random one), C<OCI_SANITIZER_REPORTS> (the directory where the sanitizers of C<make
test-asan> write their reports, ASAN_OPTIONS/UBSAN_OPTIONS C<log_path>: the
script fails when one appeared while it ran, see C<sanitizer_reports>),
C<TEST_NGINX_USE_VALGRIND> (run under valgrind memcheck with
C<master_process off>; reports land in C<logs/valgrind.PID.log>, see
C<valgrind_errors>; suppressions from C<t/valgrind.suppress> if present).

Text given as config is expanded by C<expand>: C<$TEST_NGINX_SERVER_PORT>,
C<$TEST_NGINX_HTML_DIR>, C<$TEST_NGINX_SERVER_ROOT>, any C<$TEST_NGINX_FOO>
from C<%ENV>, plus whatever the caller put in C<< vars => {} >>.

Every started nginx is stopped by an END block (only in the process that
started it), also when the test script dies.

=cut

use strict;
use warnings;
use Cwd qw(abs_path getcwd);
use File::Path qw(make_path remove_tree);
use Fcntl qw(:flock);
use File::Spec;
use IO::Socket::INET;
use POSIX qw(WNOHANG _exit);
use Time::HiRes qw(sleep time);

my %LIVE;          # pid => server object, for END
my $OWNER = $$;    # only this process may stop what it started
my %SAN_BEFORE = map { $_ => 1 } _sanitizer_files();   # from earlier suites

sub new {
    my ($class, %o) = @_;
    my $self = bless {
        label        => 'default',
        workers      => 1,
        master       => 1,
        log_level    => 'debug',
        worker_connections => 64,
        root_location => 1,
        env          => [],
        main_config  => '',
        http_config  => '',
        config       => '',
        vars         => {},
        %o,
    }, $class;
    $self->{binary} ||= $ENV{TEST_NGINX_BINARY} || '/usr/sbin/nginx';
    $self->{valgrind} //= $ENV{TEST_NGINX_USE_VALGRIND};
    $self->{master} = 0 if $self->{valgrind};
    $self->{servroot} ||= $ENV{TEST_NGINX_SERVROOT}
        || File::Spec->catdir(getcwd(), 't', 'servroot', $self->{label});
    $self->_claim_root(File::Spec->rel2abs($self->{servroot}));
    $self->{port} ||= $ENV{TEST_NGINX_SERVER_PORT} || free_port();
    return $self;
}

sub port     { $_[0]{port} }
sub pid      { $_[0]{pid} }
sub servroot { $_[0]{servroot} }
sub html_dir { "$_[0]{servroot}/html" }
sub error    { $_[0]{error} }
sub path     { my ($self, @p) = @_; File::Spec->catfile($self->{servroot}, @p) }

=head2 suite_label

A name for this test script (C<t/foo/001-bar.t> gives C<foo_001-bar>), used
for server roots.

=cut

sub suite_label {
    (my $label = $0) =~ s{^(?:\./)?t/}{};
    $label =~ s{\.t$}{};
    $label =~ s{[^\w.-]+}{_}g;
    return $label;
}

# Two runs of one suite in the same tree (say, two developers) must not
# share a server root: hold a lock on ROOT.lock, or fall back to ROOT.PID.
sub _claim_root {
    my ($self, $root) = @_;
    (my $parent = $root) =~ s{/[^/]+/?$}{};
    make_path($parent);
    for my $cand ($root, "$root.$$") {
        open my $fh, '>>', "$cand.lock" or next;
        next unless flock($fh, LOCK_EX | LOCK_NB);
        next unless (stat $fh)[1] == ((stat "$cand.lock")[1] // -1);   # not unlinked meanwhile
        @$self{qw(servroot lock)} = ($cand, $fh);
        return;
    }
    die "OCI::Server: cannot lock a server root at $root\n";
}

=head2 free_port

A random port in 20000..29999 that nothing listens on right now.

=cut

sub free_port {
    for (1 .. 200) {
        my $port = 20000 + int(rand(10000));
        my $s = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => $port,
                                      Listen => 1, ReuseAddr => 1, Proto => 'tcp');
        next unless $s;
        close $s;
        return $port;
    }
    die "OCI::Server: no free port found\n";
}

=head2 expand($text)

Substitutes C<$TEST_NGINX_*> variables; dies on an unknown one.

=cut

sub expand {
    my ($self, $text) = @_;
    return $text unless defined $text && !ref $text;
    my %v = (
        TEST_NGINX_SERVER_PORT => $self->{port},
        TEST_NGINX_HTML_DIR    => $self->html_dir,
        TEST_NGINX_SERVER_ROOT => $self->{servroot},
        %{ $self->{vars} },
    );
    $text =~ s{\$(TEST_NGINX_[A-Z0-9_]+)}{
        my $n = $1;
        defined $v{$n} ? $v{$n}
          : defined $ENV{$n} ? $ENV{$n}
          : die "OCI::Server: \$$n is not defined (set it in %ENV)\n";
    }ge;
    return $text;
}

=head2 load_module_lines

A C<load_module> line for each module in C<TEST_NGINX_LOAD_MODULES>.

=cut

sub load_module_lines {
    my @mods = split ' ', ($ENV{TEST_NGINX_LOAD_MODULES} // '');
    return join '', map { 'load_module ' . File::Spec->rel2abs($_) . ";\n" } @mods;
}

=head2 nginx_conf

The generated nginx.conf text for the current settings.

=cut

sub nginx_conf {
    my ($self) = @_;
    my $root_loc = !$self->{root_location} ? '' : <<'LOC';
        location / {
            root html;
            index index.html index.htm;
        }
LOC
    my $user = $> == 0 ? "user root;\n" : '';
    my $env = join '', map { "env $_;\n" } @{ $self->{env} };
    my $master = $self->{master} ? 'on' : 'off';
    my ($main, $http, $conf) = map { $self->expand($self->{$_}) // '' }
        qw(main_config http_config config);
    return load_module_lines() . <<"CONF";
# generated by t/lib/OCI/Server.pm
daemon off;
master_process $master;
worker_processes $self->{workers};
${user}pid logs/nginx.pid;
error_log logs/error.log $self->{log_level};
$env
$main

events {
    worker_connections $self->{worker_connections};
}

http {
    access_log logs/access.log;
    default_type text/plain;
    keepalive_timeout 68;
    client_body_temp_path tmp/client_body;
    proxy_temp_path tmp/proxy;
    fastcgi_temp_path tmp/fastcgi;
    uwsgi_temp_path tmp/uwsgi;
    scgi_temp_path tmp/scgi;

$http

    server {
        listen 127.0.0.1:$self->{port};
        server_name localhost;

$conf
$root_loc    }
}
CONF
}

=head2 prepare(%settings)

Updates settings (config, http_config, ...), wipes the server root, creates
its directories and writes conf/nginx.conf. Dies if the config cannot be
expanded.

=cut

sub prepare {
    my ($self, %o) = @_;
    die "OCI::Server: prepare while nginx is running\n" if $self->{pid};
    @$self{ keys %o } = values %o;
    $self->{master} = 0 if $self->{valgrind};
    my $root = $self->{servroot};
    _kill_stale($root);
    remove_tree($root);
    make_path(map { "$root/$_" } qw(conf logs html tmp));
    $self->write_config;
    return $self;
}

sub write_config {
    my ($self) = @_;
    spew($self->path('conf', 'nginx.conf'), $self->nginx_conf);
}

=head2 spew($file, $bytes) / slurp($file)

Write a file as raw bytes (creating its directory), read one ('' when it
cannot be read). The test library (L<OCI::Test>) exports both.

=cut

sub spew {
    my ($file, $data) = @_;
    (my $dir = $file) =~ s{/[^/]*$}{};
    make_path($dir) if length $dir && !-d $dir;
    open my $fh, '>', $file or die "cannot write $file: $!\n";
    binmode $fh;
    print {$fh} $data;
    close $fh or die "cannot write $file: $!\n";
}

sub slurp {
    my ($file) = @_;
    open my $fh, '<', $file or return '';
    binmode $fh;
    local $/;
    my $d = <$fh>;
    return $d // '';
}

# An nginx left over from a killed run on this same server root: ours, stop it.
sub _kill_stale {
    my ($root) = @_;
    my $pid = slurp("$root/logs/nginx.pid");
    return unless $pid =~ /^(\d+)\s*$/;
    $pid = $1;
    my $cmd = slurp("/proc/$pid/cmdline");
    return unless index($cmd, $root) >= 0;
    kill 'KILL', $pid, _children($pid);
    sleep 0.2;
}

sub _children {
    my ($ppid) = @_;
    my @kids;
    for my $stat (glob '/proc/[0-9]*/stat') {
        my $s = slurp($stat);
        next unless $s =~ /^(\d+) \(.*\) \S+ (\d+)/s;
        push @kids, $1 if $2 == $ppid;
    }
    return @kids;
}

=head2 worker_pids

PIDs of the master's current children (workers).

=cut

sub worker_pids { my ($self) = @_; $self->{pid} ? _children($self->{pid}) : () }

sub _command {
    my ($self) = @_;
    my @nginx = ($self->{binary}, '-p', "$self->{servroot}/", '-c', 'conf/nginx.conf');
    return @nginx unless $self->{valgrind};
    my @vg = ('valgrind', '-q', '--tool=memcheck', '--leak-check=full',
              '--show-possibly-lost=no', '--num-callers=30',
              '--log-file=' . $self->path('logs', 'valgrind.%p.log'));
    push @vg, '--suppressions=' . $self->_core_suppressions;
    push @vg, '--suppressions=' . abs_path('t/valgrind.suppress') if -f 't/valgrind.suppress';
    return (@vg, @nginx);
}

# nginx core never frees these in single-process mode; not our leaks. The
# frames are anchored on the nginx binary, so a module's leaks still show.
sub _core_suppressions {
    my ($self) = @_;
    my $file = $self->path('conf', 'valgrind-core.supp');
    spew($file, <<'SUPP');
{
   nginx-core-set-environment
   Memcheck:Leak
   fun:malloc
   fun:ngx_alloc
   fun:ngx_set_environment
}
{
   nginx-core-event-process-init
   Memcheck:Leak
   fun:malloc
   fun:ngx_alloc
   obj:*nginx
   fun:ngx_single_process_cycle
}
{
   nginx-core-pcre2-compile-context
   Memcheck:Leak
   fun:malloc
   fun:ngx_alloc
   obj:*libpcre2*
   fun:pcre2_compile_context_create_8
   fun:ngx_regex_compile
}
SUPP
    return $file;
}

=head2 start

Starts nginx and waits (5 s, 60 s under valgrind) until it has written its
pid file (which it does after binding its listening sockets). Returns true,
or false with C<error> set (exit status, stderr and the error.log tail) --
that is also how a C<must_die> test sees the failure.

=cut

sub start { my ($self) = @_; return $self->_spawn }

sub _spawn {
    my ($self) = @_;
    delete $self->{error};
    my @cmd = $self->_command;
    my $pid = fork // die "fork: $!\n";
    if (!$pid) {
        $SIG{$_} = 'DEFAULT' for qw(PIPE INT TERM HUP QUIT CHLD);
        open STDIN, '<', '/dev/null';
        open STDOUT, '>>', $self->path('logs', 'stderr.log');
        open STDERR, '>&', \*STDOUT;
        exec { $cmd[0] } @cmd or print STDERR "exec $cmd[0]: $!\n";
        _exit(127);
    }
    $self->{pid} = $pid;
    $LIVE{$pid} = $self;
    my $deadline = time + ($self->{valgrind} ? 60 : 5);
    while (time < $deadline) {
        if (waitpid($pid, WNOHANG) == $pid) {
            $self->_reaped($?);
            return $self->_fail("nginx exited during startup ($self->{exit_text})");
        }
        return 1 if $self->_ready;
        sleep 0.02;
    }
    $self->stop;
    return $self->_fail('nginx did not start accepting connections in time');
}

sub _ready {
    my ($self) = @_;
    # nginx writes its pid file only after it has bound the listening
    # sockets, so no probe connection (which would show up in error.log).
    my $p = slurp($self->path('logs', 'nginx.pid'));
    return $p =~ /^(\d+)\n/ && $1 == $self->{pid} ? 1 : 0;
}

sub _reaped {
    my ($self, $status) = @_;
    delete $LIVE{ $self->{pid} };
    delete $self->{pid};
    $self->{exit_status} = $status;
    $self->{exit_text} = $status & 127 ? 'killed by signal ' . ($status & 127)
                                        : 'exit code ' . ($status >> 8);
}

sub _fail {
    my ($self, $msg) = @_;
    $self->{error} = "$msg\n--- stderr:\n" . $self->stderr
        . "--- error.log tail:\n" . $self->error_log_tail(30);
    return 0;
}

sub alive { my ($self) = @_; $self->{pid} && kill(0, $self->{pid}) ? 1 : 0 }

=head2 stop

QUIT, then TERM, then KILL (master and workers), each with a bounded wait.
Returns the master's wait status (0 = clean exit).

=cut

sub stop {
    my ($self) = @_;
    my $pid = $self->{pid} or return $self->{exit_status};
    return if $$ != $OWNER;
    my $slow = $self->{valgrind} ? 6 : 1;
    for my $step (['QUIT', 10 * $slow], ['TERM', 5 * $slow], ['KILL', 5]) {
        my ($sig, $wait) = @$step;
        kill 'KILL', $self->worker_pids if $sig eq 'KILL';
        kill $sig, $pid;
        my $deadline = time + $wait;
        while (time < $deadline) {
            if (waitpid($pid, WNOHANG) == $pid) {
                $self->_reaped($?);
                return $self->{exit_status};
            }
            sleep 0.02;
        }
    }
    warn "OCI::Server: nginx $pid would not die\n";
    return;
}

=head2 reload(%settings)

Applies new settings (if any), rewrites nginx.conf, sends HUP and waits up
to 10 s until the old workers are gone and new ones run. Returns false
(with C<error>) if nginx logged an emerg: the old config stays in force,
and the old settings and nginx.conf are restored. Without a master process
(valgrind) this is a stop and start instead, as nginx's single-process
reconfiguration is not reliable.

=cut

sub reload {
    my ($self, %o) = @_;
    my $pid = $self->{pid} or return $self->_fail('reload: nginx is not running');
    my %before = map { $_ => $self->{$_} } keys %o;
    @$self{ keys %o } = values %o;
    $self->write_config;
    my $ok = $self->{master} ? $self->_hup_and_wait($pid) : $self->_restart;
    if (!$ok) {                 # keep nginx.conf in line with what still runs
        my $err = $self->{error};
        @$self{ keys %before } = values %before;
        $self->write_config;
        $self->_spawn if !$self->{pid};
        $self->{error} = $err;
    }
    return $ok;
}

# Without a master (valgrind), nginx's in-place reconfiguration is not
# reliable: restart instead.
sub _restart {
    my ($self) = @_;
    $self->stop;
    return $self->_spawn;
}

sub _hup_and_wait {
    my ($self, $pid) = @_;
    my $off = $self->log_size;
    my %old = map { $_ => 1 } $self->worker_pids;
    kill 'HUP', $pid;
    my $deadline = time + ($self->{valgrind} ? 60 : 10);
    while (time < $deadline) {
        my $log = $self->error_log_since($off);
        return $self->_fail("reload failed:\n" . join '', grep { /\[emerg\]/ } split /^/m, $log)
            if $log =~ /\[emerg\]/;
        my @w = $self->worker_pids;
        return 1 if @w >= $self->{workers} && !grep { $old{$_} } @w;
        sleep 0.02;
    }
    return $self->_fail('reload: new workers did not take over in time');
}

=head2 Logs

C<error_log> (whole file), C<log_size> (an offset), C<error_log_since($off)>,
C<error_log_tail($n [, $text])> (last n non-debug lines), C<stderr>,
C<crash_lines([$text])> (the "exited on signal" lines: a worker crashed),
C<valgrind_errors> (text of valgrind's report, empty when clean or not
under valgrind).

=cut

sub error_log  { slurp($_[0]->path('logs', 'error.log')) }
sub stderr     { slurp($_[0]->path('logs', 'stderr.log')) }
sub log_size   { -s $_[0]->path('logs', 'error.log') || 0 }

sub error_log_since {
    my ($self, $off) = @_;
    my $log = $self->error_log;
    return length($log) > ($off // 0) ? substr($log, $off // 0) : '';
}

# Last $n lines of the log (or of $text), leaving out [debug] entries
# (including their continuation lines): for diagnostics.
sub error_log_tail {
    my ($self, $n, $text) = @_;
    my ($debug, @lines) = (0);
    for (split /^/m, $text // $self->error_log) {
        $debug = $1 eq 'debug' if m{^\d{4}/\d\d/\d\d \d\d:\d\d:\d\d \[(\w+)\]};
        push @lines, $_ unless $debug;
    }
    splice @lines, 0, @lines - $n if @lines > $n;
    return join '', @lines;
}

sub crash_lines { join '', grep { /exited on signal/ } split /^/m, $_[1] // $_[0]->error_log }

sub valgrind_errors {
    my ($self) = @_;
    return '' unless $self->{valgrind};
    my @logs = glob $self->path('logs', 'valgrind.*.log');
    return join '', grep { /^==\d+==/ } map { split /^/m, slurp($_) } @logs;
}

=head2 cleanup

Stops nginx and removes the server root if all tests so far passed (and
C<TEST_NGINX_NO_CLEAN> is not set).

=cut

sub cleanup {
    my ($self) = @_;
    return if $$ != $OWNER;
    $self->stop;
    return if $ENV{TEST_NGINX_NO_CLEAN};
    require Test::Builder;
    return unless Test::Builder->new->is_passing;
    remove_tree($self->{servroot});
    unlink "$self->{servroot}.lock";
    (my $parent = $self->{servroot}) =~ s{/[^/]+/?$}{};
    rmdir $parent;              # t/servroot, if nothing else is left in it
}

sub DESTROY { my ($self) = @_; local ($?, $@); $self->stop if $self->{pid} }

=head2 sanitizer_reports

The text of the sanitizer reports (C<make test-asan>) written since this
script loaded OCI::Server, by any process it started (nginx, oci-admin,
the unit tests); empty when there are none or no C<OCI_SANITIZER_REPORTS>.
The END block prints them and makes the script fail. Leak reports of an
nginx that never got to serve are removed, not counted.

=cut

sub _sanitizer_files {
    my $dir = $ENV{OCI_SANITIZER_REPORTS} or return;
    return glob "$dir/*";
}

# An nginx that never got to serve (nginx -t, a configuration refused)
# returns from main() with what it built still allocated, and LeakSanitizer
# reports it: nginx's way of ending, not a finding. Such a report (leaks
# only, each allocated on a stack that reaches main() without a process
# cycle or the module) is removed. A stack LeakSanitizer could not follow
# to main() counts.
sub _startup_leaks_only {
    my ($text) = @_;
    my @errors = $text =~ /^==\d+==ERROR: (\w+)/mg;
    return 0 if !@errors || grep { $_ ne 'LeakSanitizer' } @errors;
    return 0 if $text =~ /runtime error/;
    my @leaks = split /^(?=(?:Direct|Indirect) leak of )/m, $text;
    shift @leaks;
    return 0 if !@leaks;
    return !grep { !/ in main / || /ngx_oci_|_process_cycle / } @leaks;
}

sub sanitizer_reports {
    my @reports;
    for my $file (grep { !$SAN_BEFORE{$_} } _sanitizer_files()) {
        my $text = slurp($file);
        if (_startup_leaks_only($text)) {
            unlink $file;
            next;
        }
        push @reports, "=== $file\n$text";
    }
    return join '', @reports;
}

END {
    if ($$ == $OWNER) {
        { local $?; $_->stop for values %LIVE; }
        my $reports = sanitizer_reports();
        if (length $reports) {
            print STDERR "# sanitizer reports:\n", $reports =~ s/^/# /mgr;
            $? ||= 1;
        }
    }
}

# Let the END block run on Ctrl-C / kill, so no nginx is left behind.
for my $sig (qw(INT TERM HUP)) {
    $SIG{$sig} = sub { exit 128 } if !$SIG{$sig} || $SIG{$sig} eq 'DEFAULT';
}

1;
