package OCI::Sandbox;

=head1 NAME

OCI::Sandbox - a scratch directory where the container clients (skopeo,
podman, buildah) run without touching the machine's own state

=head1 SYNOPSIS

    use OCI::Sandbox;
    my $sb = OCI::Sandbox->new('oci-e2e');
    $sb->dir;                                   # the scratch directory
    $sb->env(CONTAINERS_CONF => $sb->dir . '/containers.conf');   # one more variable
    $sb->give_away;                             # chown it to the user the clients run as
    my ($rc, $out, $err) = $sb->run('skopeo', 'inspect', ...);
    my $stdout = $sb->run_ok('skopeo inspect', 'skopeo', 'inspect', ...);   # one test
    $sb->run('podman', 'login', ..., { stdin => "secret\n" });

=head1 DESCRIPTION

The clients keep caches and state under HOME and XDG_* when rootless, but
as root in /var/lib/containers and /run/containers whatever HOME says. So
when the test runs as root they run as C<nobody> (through C<setpriv>), with
HOME, XDG_*, TMPDIR, the auth file (C<auth.json>) and an empty
C<registries.conf> all inside the scratch directory (created under /tmp,
which nobody can reach). C<give_away> hands everything in it to that user;
call it after writing files there.

C<run($program, @args [, \%opt])>: runs the program as that user with that
environment (options of L<OCI::Test/run_cmd>: C<stdin>, C<timeout>); skopeo
gets C<--insecure-policy --tmpdir DIR/tmp>, and C<< $sb->prefix(podman
=E<gt> [...]) >> sets what other programs get before their arguments.
C<run_ok($what, $program, @args [, \%opt])>: the same as one test that the
exit status is 0 (stderr, without the rootless tools' warnings about
subordinate IDs, as diagnostics); returns stdout, or undef on failure.
C<quiet($stderr)>: stderr without those warnings.

C<containers>: podman and buildah keep their images in the directory
too (C<root/>, C<runroot/>, the vfs driver, a C<policy.json> that accepts
anything, no events log), each run given C<--root>, C<--runroot> and
C<--storage-driver> (podman also C<--tmpdir>). C<podman_why_not>: undef
when C<podman images> runs there, else why not (no user namespaces for
a rootless podman, say).

When the script ends, the pause process that rootless podman leaves
behind in a sandbox set up with C<containers> is stopped (by its pid),
and the directory is removed if every test passed, and
kept (and named in a diagnostic) otherwise or with C<TEST_NGINX_NO_CLEAN>.

=cut

use strict;
use warnings;
use File::Find ();
use File::Path qw(make_path remove_tree);
use File::Temp qw(tempdir);
use Test::More ();
use OCI::Test qw(which run_cmd spew);

my @ALL;

sub new {
    my ($class, $name) = @_;
    my $self = bless { as_user => [], prefix => {} }, $class;
    if ($> == 0) {
        my @pw = getpwnam('nobody');
        if (@pw && which('setpriv')) {
            @$self{qw(uid gid)} = @pw[2, 3];
            $self->{as_user} = [ 'setpriv', "--reuid=$pw[2]", "--regid=$pw[3]",
                                 '--clear-groups', '--' ];
        }
        else {
            Test::More::diag('running the clients as root: their caches are in /var/lib/containers');
        }
    }
    my $dir = $self->{dir} = defined $self->{uid}
        ? tempdir("$name-XXXXXX", DIR => '/tmp') : tempdir("$name-XXXXXX", TMPDIR => 1);
    make_path(map { "$dir/$_" } qw(home run config/containers data cache tmp));
    chmod 0700, "$dir/run";
    spew("$dir/auth.json", qq({"auths":{}}\n));
    spew("$dir/registries.conf", "# private, empty: no mirrors, no search registries\n");
    $self->{env} = {
        HOME                       => "$dir/home",
        XDG_RUNTIME_DIR            => "$dir/run",
        XDG_CONFIG_HOME            => "$dir/config",
        XDG_DATA_HOME              => "$dir/data",
        XDG_CACHE_HOME             => "$dir/cache",
        TMPDIR                     => "$dir/tmp",
        REGISTRY_AUTH_FILE         => "$dir/auth.json",
        CONTAINERS_REGISTRIES_CONF => "$dir/registries.conf",
    };
    $self->{prefix}{skopeo} = [ '--insecure-policy', '--tmpdir', "$dir/tmp" ];
    push @ALL, $self;
    return $self;
}

sub dir     { $_[0]{dir} }
sub uid     { $_[0]{uid} }
sub gid     { $_[0]{gid} }
sub as_user { @{ $_[0]{as_user} } }

sub env {
    my ($self, %more) = @_;
    @{ $self->{env} }{ keys %more } = values %more;
    return $self->{env};
}

sub prefix {
    my ($self, $program, $args) = @_;
    $self->{prefix}{$program} = $args;
}

sub containers {
    my ($self) = @_;
    my $dir = $self->{dir};
    make_path(map { "$dir/$_" } qw(root runroot));
    spew("$dir/storage.conf", <<"CONF");
[storage]
driver = "vfs"
graphroot = "$dir/root"
runroot = "$dir/runroot"
CONF
    spew("$dir/containers.conf", qq{[engine]\nevents_logger = "none"\n});
    spew("$dir/config/containers/policy.json",
         qq({"default":[{"type":"insecureAcceptAnything"}]}\n));
    $self->env(CONTAINERS_STORAGE_CONF => "$dir/storage.conf",
               CONTAINERS_CONF         => "$dir/containers.conf");
    my @store = ('--root', "$dir/root", '--runroot', "$dir/runroot", '--storage-driver', 'vfs');
    $self->prefix(podman => [ @store, '--tmpdir', "$dir/tmp" ]);
    $self->prefix(buildah => \@store);
    $self->{containers} = 1;
    return $self;
}

sub podman_why_not {
    my ($self) = @_;
    return 'podman is not installed (make test installs it)' unless which('podman');
    $self->give_away;
    my ($rc, undef, $err) = $self->run('podman', 'images');
    return undef unless $rc;
    my $why = "podman cannot open its storage here (exit $rc): " . $self->quiet($err);
    my ($urc, undef, $uerr) = $self->run('unshare', '--user', '--map-root-user', 'true');
    $why .= "; unshare --user fails too (exit $urc): $uerr" if $urc;
    return $why;
}

sub give_away {
    my ($self) = @_;
    return unless defined $self->{uid};
    my ($uid, $gid) = @$self{qw(uid gid)};
    File::Find::find({ no_chdir => 1, wanted => sub { chown $uid, $gid, $_ } }, $self->{dir});
}

sub run {
    my ($self, $program, @args) = @_;
    my %o = ref $args[-1] eq 'HASH' ? %{ pop @args } : ();
    return run_cmd([ $self->as_user, $program, @{ $self->{prefix}{$program} || [] }, @args ],
                   env => $self->{env}, %o);
}

sub quiet {
    my ($self, $err) = @_;
    return join '', grep { !/level=warning|level=error msg="cannot find UID\/GID/ }
        split /^/m, $err // '';
}

sub run_ok {
    my ($self, $what, $program, @args) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    my ($rc, $out, $err) = $self->run($program, @args);
    Test::More::ok($rc == 0, $what)
        or Test::More::diag("$program @{[ grep { !ref } @args ]}\nexit $rc\n" . $self->quiet($err));
    return $rc == 0 ? $out // '' : undef;
}

# rootless podman leaves a pause process (catatonit) holding its user
# namespace: ours, stopped by its pid
sub _stop_pause {
    my ($self) = @_;
    for my $pidfile (glob("$self->{dir}/tmp/pause.pid"),
                     glob("$self->{dir}/run/libpod/tmp/pause.pid")) {
        open my $fh, '<', $pidfile or next;
        my ($pid) = (<$fh> // '') =~ /^(\d+)/ or next;
        open my $cf, '<', "/proc/$pid/cmdline" or next;
        kill 'TERM', $pid if (<$cf> // '') =~ /catatonit|podman/;
    }
}

END {
    for my $self (@ALL) {
        $self->_stop_pause if $self->{containers};
        next unless -d $self->{dir};
        if ($ENV{TEST_NGINX_NO_CLEAN} || !Test::More->builder->is_passing) {
            Test::More::diag("scratch directory kept: $self->{dir}");
        }
        else {
            remove_tree($self->{dir});
        }
    }
}

1;
