package OCI::Distribution;

=head1 NAME

OCI::Distribution - Debian's docker-registry (CNCF distribution 2.8.2) on
127.0.0.1, the upstream of a mirror in tests and benchmarks

=head1 SYNOPSIS

    use OCI::Distribution;
    my $up = OCI::Distribution->start or plan skip_all => $OCI::Distribution::WHY;
    my $blob = $up->push_blob('lib/app', random_bytes(1000));   # a descriptor
    my $img = $up->push_image('lib/app', 'v1', files => { 'hello.txt' => "hi\n" });
    $up->host;                   # 127.0.0.1:PORT
    $up->req('GET', '/v2/');     # an HTTP::Response (plain HTTP only)
    $up->gets(qr{/blobs/});      # the GETs its access log shows, matching
    $up->requests('GET', "/v2/lib/app/blobs/$blob->{digest}");  # a count
    my $idx = $up->push_index('lib/multi', 'v1');   # amd64 and arm64
    $up->stop;  $up->start_again;  $up->restart;     # same port, storage, log
    my $tls = OCI::Distribution->start(tls => 1, storage => $up->storage);
    $tls->ca;                    # the certificate it serves, to trust
    my $tok = OCI::Distribution->start(token => $issuer);  # auth: token

=head1 DESCRIPTION

C<start(%opt)> runs C<docker-registry serve> on a free port of 127.0.0.1
with filesystem storage in a scratch directory (or C<storage>, shared
with another instance), deletes enabled, its access log on, and returns
once C<GET /v2/> answers; undef (and C<$WHY>) when docker-registry is not
installed or did not come up in 20 seconds. C<port> chooses its port.
C<tls =E<gt> 1> serves HTTPS with a certificate made by openssl for
127.0.0.1 (C<ca>: its file), as an IP address and as a DNS name: nginx
1.22 checks an upstream's certificate against its DNS names only.
C<token =E<gt> $issuer> gives it an C<auth: token> section naming the
realm, service, issuer name and certificate bundle of an
L<OCI::Upstream::Issuer> (C<GET /v2/> then answers 401), and C<req>
sends the issuer's token for the pushing user of the repository of its
path. C<stop>, then C<start_again> (true when it answers again) or
C<restart> (dies when it does not): the same port, storage and log.
C<alive>.

C<push_blob($repo, $bytes [, $media_type])>: a blob pushed as
distribution takes it (C<POST>, then C<PUT ?digest=> with the body; it
refuses a monolithic C<POST>), dies unless C<201>; returns the
descriptor. C<put_manifest($repo, $ref, $bytes, $type)> dies unless
C<201>. C<push_image($repo, $tag, files =E<gt> {...}, arch =E<gt> ...)>:
an image a real client can unpack: one uncompressed tar layer of those
files (by default a file of content unique to the call), a config whose
C<diff_ids> name it, the architecture given or this machine's; tagged,
or pushed by digest when C<$tag> is undef; returns { manifest, digest,
layer (descriptor), config (descriptor), blobs =E<gt> { digest =E<gt>
bytes } }. C<push_index($repo, $tag)>: two such images, amd64 and
arm64, by digest, and an index of them; returns { manifest, digest,
images }. These talk plain HTTP: push to a plain instance, serve over
TLS from another on the same storage.

C<pid>: its process. C<gets($re)>: the request lines (C<GET /v2/...>, C<HEAD ...>) of its access
log whose path matches C<$re>, to tell what reached the upstream.
C<requests($method, $path)>: how many requests of that method (undef:
any) and path (a string: exactly, query left out; a C<qr//>: matching)
the access log holds once it has stopped growing (docker-registry writes
a line after its answer has left); C<access_log_requests($file, $method,
$path)> the same for any access log in the combined format (nginx's).
C<log_text>: its whole log. C<stop> ends it (also when the object goes).

=cut

use strict;
use warnings;
use Archive::Tar;
use File::Path qw(make_path);
use File::Temp qw(tempdir);
use POSIX qw(WNOHANG);
use Time::HiRes qw(time sleep);
use OCI::Client;
use OCI::Server;
use OCI::Test qw(which spew slurp run_cmd sha256 enc unique OCI_MANIFEST OCI_INDEX OCI_CONFIG);
use Exporter 'import';

our @EXPORT_OK = qw(access_log_requests);

our $WHY = '';

sub binary { which('docker-registry') }

sub start {
    my ($class, %o) = @_;
    my $bin = binary() or do {
        $WHY = 'docker-registry is not installed (make test installs it)';
        return undef;
    };
    my $dir = tempdir('oci-distribution-XXXXXX', TMPDIR => 1, CLEANUP => 1);
    my $self = bless { dir => $dir, port => $o{port} // OCI::Server::free_port(),
                       storage => $o{storage} // "$dir/storage", tls => $o{tls},
                       issuer => $o{token}, bin => $bin }, $class;
    make_path($self->{storage});
    my $tls = '';
    if ($o{tls}) {
        my ($rc, undef, $err) = run_cmd([ 'openssl', 'req', '-x509', '-newkey', 'rsa:2048',
            '-nodes', '-days', '2', '-subj', '/CN=upstream', '-addext',
            'subjectAltName=IP:127.0.0.1,DNS:127.0.0.1', '-keyout', "$dir/tls.key", '-out', "$dir/tls.crt" ]);
        die "openssl req: $err" if $rc;
        $tls = "  tls:\n    certificate: $dir/tls.crt\n    key: $dir/tls.key\n";
    }
    my $auth = '';
    if (my $iss = $self->{issuer}) {
        $auth = "auth:\n  token:\n    realm: " . $iss->realm . "\n"
              . '    service: ' . $iss->service . "\n"
              . '    issuer: ' . $iss->name . "\n"
              . '    rootcertbundle: ' . $iss->bundle . "\n";
    }
    spew("$dir/config.yml", <<"YML" . $auth);
version: 0.1
log:
  level: info
  formatter: text
storage:
  filesystem:
    rootdirectory: $self->{storage}
  delete:
    enabled: true
http:
  addr: 127.0.0.1:$self->{port}
$tls
YML
    return $self if $self->start_again;
    $WHY = "docker-registry did not come up: " . slurp("$dir/registry.log");
    return undef;
}

# the same configuration, port and storage; the log goes on
sub start_again {
    my ($self) = @_;
    return 1 if $self->{pid};
    my $dir = $self->{dir};
    my $pid = fork // die "fork: $!\n";
    if (!$pid) {
        open STDIN, '<', '/dev/null';
        open STDOUT, '>>', "$dir/registry.log";
        open STDERR, '>&', \*STDOUT;
        exec $self->{bin}, 'serve', "$dir/config.yml" or POSIX::_exit(127);
    }
    $self->{pid} = $pid;
    my $deadline = time + 20;
    while (time < $deadline) {
        if (waitpid($pid, WNOHANG) == $pid) {
            delete $self->{pid};
            last;
        }
        return 1 if $self->_answers;
        sleep 0.1;
    }
    $self->stop;
    return 0;
}

sub restart {
    my ($self) = @_;
    $self->stop;
    $self->start_again or die "docker-registry did not come up again:\n" . $self->log_text;
}

sub alive { $_[0]{pid} && kill(0, $_[0]{pid}) ? 1 : 0 }

sub _answers {
    my ($self) = @_;
    if ($self->{tls}) {
        my ($rc, $out) = run_cmd([ 'curl', '-sk', '--max-time', '2', '-o', '/dev/null',
                                   '-w', '%{http_code}', $self->url('/v2/') ]);
        return ($out // '') eq '200';
    }
    my $res = eval { OCI::Client::request_once($self->{port}, 'GET', '/v2/', timeout => 2) };
    return $res && $res->code == ($self->{issuer} ? 401 : 200);
}

sub port    { $_[0]{port} }
sub pid     { $_[0]{pid} }
sub dir     { $_[0]{dir} }
sub storage { $_[0]{storage} }
sub host    { "127.0.0.1:$_[0]{port}" }
sub ca      { "$_[0]{dir}/tls.crt" }
sub log_text { slurp("$_[0]{dir}/registry.log") }

sub url {
    my ($self, $path) = @_;
    return ($self->{tls} ? 'https' : 'http') . "://127.0.0.1:$self->{port}" . ($path // '');
}

sub req {
    my ($self, $method, $path, %o) = @_;
    die "OCI::Distribution: req() talks plain HTTP only\n" if $self->{tls};
    my @h = @{ $o{headers} || [] };
    if ($self->{issuer} && $path =~ m{^/v2/(.+?)/(?:blobs|manifests|tags)/}) {
        my $token = $self->{issuer}->token('pusher', "repository:$1:pull,push,delete");
        push @h, Authorization => "Bearer $token";
    }
    return OCI::Client::request_once($self->{port}, $method, $path, timeout => 120, %o,
                                     headers => \@h);
}

sub gets {
    my ($self, $re) = @_;
    return grep { $_->[1] =~ $re }
        map { [ /"(GET|HEAD) (\S+) HTTP/ ] } grep { /"(?:GET|HEAD) \S+ HTTP/ } split /\n/, $self->log_text;
}

sub requests {
    my ($self, $method, $path) = @_;
    return access_log_requests("$self->{dir}/registry.log", $method, $path);
}

sub access_log_requests {
    my ($file, $method, $path) = @_;
    my $count = sub {
        my $n = 0;
        for (split /\n/, slurp($file)) {
            next unless m{^\S+ \S+ \S+ \[[^\]]*\] "(\S+) (\S+) HTTP/[\d.]+"};
            next if defined $method && $1 ne $method;
            my $p = $2 =~ s/\?.*//r;
            $n++ if ref $path ? $p =~ $path : $p eq $path;
        }
        return $n;
    };
    # read again until the file has not grown for 0.3 s (at most 5 s)
    my ($last, $since, $end) = (-s $file // 0, time, time + 5);
    while (time < $end && time - $since < 0.3) {
        sleep 0.05;
        my $now = -s $file // 0;
        ($last, $since) = ($now, time) if $now != $last;
    }
    return $count->();
}

sub push_blob {
    my ($self, $repo, $bytes, $type) = @_;
    my $d = sha256($bytes);
    my $res = $self->req('POST', "/v2/$repo/blobs/uploads/");
    die "POST to docker-registry: " . $res->status_line . "\n" unless $res->code == 202;
    my $loc = $res->header('Location') // '';
    $loc =~ s{^https?://[^/]+}{};
    $res = $self->req('PUT', $loc . ($loc =~ /\?/ ? '&' : '?') . "digest=$d", body => $bytes,
                      headers => [ 'Content-Type' => 'application/octet-stream' ]);
    die "PUT to docker-registry: " . $res->status_line . "\n" . $res->content unless $res->code == 201;
    return { mediaType => $type // 'application/vnd.oci.image.layer.v1.tar', digest => $d,
             size => length $bytes };
}

sub put_manifest {
    my ($self, $repo, $ref, $bytes, $type) = @_;
    my $res = $self->req('PUT', "/v2/$repo/manifests/$ref", body => $bytes,
                         headers => [ 'Content-Type' => $type // OCI_MANIFEST ]);
    die "manifest PUT to docker-registry: " . $res->status_line . "\n" . $res->content
        unless $res->code == 201;
    return $res;
}

# the GOARCH of this machine, as an image config names it
sub arch {
    my %go = (x86_64 => 'amd64', aarch64 => 'arm64', armv7l => 'arm', i686 => '386',
              ppc64le => 'ppc64le', s390x => 's390x', riscv64 => 'riscv64');
    my $m = (POSIX::uname())[4];
    return $go{$m} // $m;
}

sub push_image {
    my ($self, $repo, $tag, %o) = @_;
    my $tar = Archive::Tar->new;
    my $files = $o{files} || { 'hello.txt' => 'hello ' . unique() . "\n" };
    $tar->add_data($_, $files->{$_}, { mode => 0644, mtime => 0 }) for sort keys %$files;
    my $tarball = $tar->write;
    my $layer = $self->push_blob($repo, $tarball);
    my $cbytes = enc({
        architecture => $o{arch} // arch(), os => 'linux', config => {},
        rootfs => { type => 'layers', diff_ids => [ $layer->{digest} ] } });
    my $config = $self->push_blob($repo, $cbytes, OCI_CONFIG);
    my $m = enc({ schemaVersion => 2, mediaType => OCI_MANIFEST, config => $config,
                  layers => [ $layer ] });
    $self->put_manifest($repo, $tag // sha256($m), $m, OCI_MANIFEST);
    return { manifest => $m, digest => sha256($m), layer => $layer, config => $config,
             blobs => { $layer->{digest} => $tarball, $config->{digest} => $cbytes } };
}

sub push_index {
    my ($self, $repo, $tag) = @_;
    my @arch = qw(amd64 arm64);
    my @images = map { $self->push_image($repo, undef, arch => $_) } @arch;
    my $m = enc({ schemaVersion => 2, mediaType => OCI_INDEX, manifests => [ map {
        { mediaType => OCI_MANIFEST, digest => $images[$_]{digest},
          size => length $images[$_]{manifest},
          platform => { os => 'linux', architecture => $arch[$_] } }
    } 0 .. $#images ] });
    $self->put_manifest($repo, $tag // sha256($m), $m, OCI_INDEX);
    return { manifest => $m, digest => sha256($m), images => \@images };
}

sub stop {
    my ($self) = @_;
    my $pid = delete $self->{pid} or return;
    kill 'TERM', $pid;
    my $deadline = time + 10;
    while (time < $deadline) {
        return if waitpid($pid, WNOHANG) == $pid;
        sleep 0.05;
    }
    kill 'KILL', $pid;
    waitpid($pid, 0);
}

sub DESTROY { local ($?, $@); $_[0]->stop }

1;
