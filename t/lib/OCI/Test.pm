package OCI::Test;

=head1 NAME

OCI::Test - the helpers every suite shares: digests, files, commands,
error bodies, manifests, pushes, upload sessions, the storage layout and
oci-admin

=head1 SYNOPSIS

    BEGIN { push @INC, 't/lib' }
    use Test::More;
    use OCI::Harness;
    use OCI::Test;

    my $srv = OCI::Harness->start(config => registry_conf('oci_delete on;'));
    my $layer = push_blob($srv, 'lib/app', random_bytes(1000));      # a descriptor
    my $m = new_image($srv, 'lib/app');                              # config + layer pushed
    my $json = enc($m);
    is_created put_manifest($srv, 'lib/app', 'v1', $json, OCI_MANIFEST),
        'lib/app', sha256($json), 'PUT by tag';
    is_served $srv, 'lib/app', 'v1', $json, OCI_MANIFEST, sha256($json), 'by tag';
    is_error $srv->req('GET', '/v2/lib/app/blobs/sha256:xyz'), 400, 'DIGEST_INVALID', 'bad digest';
    ok -f blob_path($srv, $layer->{digest}), 'content under blobs/';

=head1 DESCRIPTION

One definition, one signature, for each helper the suites need; a suite
keeps only its cases (and helpers that serve no other suite). Everything
listed here is exported.

Wherever a helper takes C<$srv>, anything with a C<req($method, $path,
%opt)> method that returns an L<HTTP::Response> will do (L<OCI::Harness>);
wherever it takes C<$storage>, either a storage directory or such a server
(its C<storage>) will do. Helpers that assert add exactly the tests their
documentation says, named after the C<$what> given.

=head2 Media types and digests

Constants C<OCI_MANIFEST OCI_INDEX OCI_CONFIG OCI_LAYER OCI_EMPTY
DOCKER_MANIFEST DOCKER_LIST DOCKER_CONFIG DOCKER_LAYER DOCKER_SCHEMA1
EMPTY_DIGEST> (the digest of C<{}>). C<sha256($bytes)>, C<sha512($bytes)>:
C<"alg:hex"> digests. C<random_bytes($n)>, C<unique()> (a string no other
call of this run returns), C<enc($data)> (canonical UTF-8 JSON) and
C<dec($text)> (decoded JSON, undef when it is not).

=head2 Files and commands

C<spew($file, $bytes)> (creates the directory), C<slurp($file)> ('' when
unreadable), C<files_under($dir)> (the regular files below it, relative,
sorted), C<which($program)>, C<run_cmd(\@command, stdin =E<gt> ..., env
=E<gt> {...}, timeout =E<gt> 60)> returning C<(exit status, stdout,
stderr)> (status -1 on a timeout). C<doc_block($file, $start_re)>: the
indented (4 spaces) block of a markdown file that starts at the first
indented line matching C<$start_re>, up to the next line that is neither
indented nor blank, unindented (how suites test documented
configurations as written).

=head2 Responses

C<dump_res($res)> (text for diag), C<error_json($res)> (the first entry of
C<errors>, {} if none), C<error_code($res_or_body)> ('' if none),
C<is_error($res, $status, $code, $what)> (one test: status, JSON content
type and error code), C<is_status($res, $status, $what)> (one test).
C<same_answer($res_a, $res_b, $what)> (one test): the same status, the
same header fields with the same values, and the same body, apart from C<Date> and upload session ids (32 hex digits) - two
answers a client cannot tell apart.

=cut

use strict;
use warnings;
use Digest::SHA qw(sha256_hex sha512_hex);
use Exporter 'import';
use File::Path qw(make_path);
use Fcntl ();
use File::Spec;
use IPC::Run ();
use POSIX ();
use Time::HiRes ();
use JSON::XS ();
use Test::More ();
use OCI::Client;
use OCI::Server;

use constant {
    OCI_MANIFEST    => 'application/vnd.oci.image.manifest.v1+json',
    OCI_INDEX       => 'application/vnd.oci.image.index.v1+json',
    OCI_CONFIG      => 'application/vnd.oci.image.config.v1+json',
    OCI_LAYER       => 'application/vnd.oci.image.layer.v1.tar+gzip',
    OCI_EMPTY       => 'application/vnd.oci.empty.v1+json',
    DOCKER_MANIFEST => 'application/vnd.docker.distribution.manifest.v2+json',
    DOCKER_LIST     => 'application/vnd.docker.distribution.manifest.list.v2+json',
    DOCKER_CONFIG   => 'application/vnd.docker.container.image.v1+json',
    DOCKER_LAYER    => 'application/vnd.docker.image.rootfs.diff.tar.gzip',
    DOCKER_SCHEMA1  => 'application/vnd.docker.distribution.manifest.v1+prettyjws',
    EMPTY_DIGEST    => 'sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a',
    TYPE_XATTR      => 'user.oci.type',
};

our @EXPORT = qw(
    OCI_MANIFEST OCI_INDEX OCI_CONFIG OCI_LAYER OCI_EMPTY DOCKER_MANIFEST DOCKER_LIST
    DOCKER_CONFIG DOCKER_LAYER DOCKER_SCHEMA1 EMPTY_DIGEST
    sha256 sha512 random_bytes unique enc dec
    spew slurp files_under which run_cmd doc_block
    dump_res error_json error_code is_error is_status same_answer
    with_keys image_manifest index_manifest docker_manifest docker_list desc_of empty_desc
    registry_conf data_config default_config push_blob new_image new_docker_image put_manifest push_manifest
    is_created is_served is_unknown tags_of
    start_upload patch_chunk close_upload upload_chunks session_id big_upload
    session_files status_range blob_is upload_closes
    blob_path link_path fill_path fill_files store_blob store_manifest store_tag store_link hold_tag_lock
    tag_lock_path TYPE_XATTR type_attr set_type_attr xattrs_work
    admin_command oci_admin oci_admin_json need_admin
    stops_cleanly latencies_during job_steps is_stepped eventually
    b64url token_key libtrust_kid jwt_sign jwt_parts
);

my $JSON = JSON::XS->new->utf8->canonical;

# --- digests, bytes, JSON --------------------------------------------------------

sub sha256 { 'sha256:' . sha256_hex($_[0]) }
sub sha512 { 'sha512:' . sha512_hex($_[0]) }

sub random_bytes {
    my ($n) = @_;
    my $s = pack 'N*', map { int rand 4294967296 } 1 .. int($n / 4) + 1;
    return substr $s, 0, $n;
}

my $Unique = 0;
sub unique { join '-', $$, ++$Unique, int rand 1e9 }

sub enc { $JSON->encode($_[0]) }
sub dec { my $d = eval { JSON::XS::decode_json($_[0]) }; return $d }

# --- files and commands ----------------------------------------------------------

sub spew  { OCI::Server::spew(@_) }
sub slurp { OCI::Server::slurp(@_) }

sub files_under {
    my ($top) = @_;
    my @out;
    my @dirs = ($top);
    while (defined(my $d = shift @dirs)) {
        opendir my $dh, $d or next;
        for (sort grep { !/^\.\.?$/ } readdir $dh) {
            my $p = "$d/$_";
            if (-d $p) { push @dirs, $p }
            elsif (-f $p) { push @out, substr($p, length($top) + 1) }
        }
    }
    return sort @out;
}

sub which {
    my ($prog) = @_;
    for my $dir (split /:/, $ENV{PATH} // '/usr/bin:/bin') {
        return "$dir/$prog" if -x "$dir/$prog";
    }
    return undef;
}

sub run_cmd {
    my ($cmd, %o) = @_;
    my ($out, $err, $in) = ('', '', $o{stdin});
    local @ENV{ keys %{ $o{env} || {} } } = values %{ $o{env} || {} };
    my $ok = eval {
        IPC::Run::run($cmd, \$in, \$out, \$err, IPC::Run::timeout($o{timeout} // 60));
        1;
    };
    return (-1, $out, "$err\n$@") unless $ok;
    return ($? >> 8, $out, $err);
}

sub doc_block {
    my ($file, $start) = @_;
    my ($block, $in) = ('', 0);
    for my $line (split /^/m, slurp($file)) {
        if (!$in) {
            next unless $line =~ /^    / && $line =~ $start;
            $in = 1;
        } elsif ($line !~ /^(?:    |\s*$)/) {
            last;
        }
        $block .= $line;
    }
    $block =~ s/^    //mg;
    $block =~ s/\s+\z/\n/;
    return $block;
}

# --- responses -----------------------------------------------------------------

sub dump_res { OCI::Client::dump_response($_[0], 600) }

sub error_json {
    my ($res) = @_;
    my $j = dec(ref $res ? $res->content : $res);
    return ref $j eq 'HASH' && ref $j->{errors} eq 'ARRAY' && ref $j->{errors}[0] eq 'HASH'
         ? $j->{errors}[0] : {};
}

sub error_code { error_json($_[0])->{code} // '' }

sub is_error {
    my ($res, $status, $code, $what) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    my $ok = $res->code == $status
          && ($res->header('Content-Type') // '') =~ m{^application/json}
          && error_code($res) eq $code;
    Test::More::ok($ok, "$what: $status $code") or Test::More::diag(dump_res($res));
    return $ok;
}

sub is_status {
    my ($res, $status, $what) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    return Test::More::is($res->code, $status, "$what: $status")
        || Test::More::diag(dump_res($res));
}

sub same_answer {
    my ($a, $b, $what) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    my $text = sub {
        my ($res) = @_;
        my @h;
        $res->headers->scan(sub { push @h, "$_[0]: $_[1]" unless lc $_[0] eq 'date' });
        return join "\n", $res->code, @h, '', $res->content // '';
    };
    my ($ta, $tb) = map { $text->($_) =~ s/\b[0-9a-f]{32}\b/<session>/gr } $a, $b;
    return Test::More::is($ta, $tb, "$what: the same answer");
}

=head2 Manifests

C<with_keys($hash, %changes)> changes keys in place (C<< key =E<gt> undef >>
drops one) and returns the hash. C<image_manifest(config =E<gt> $desc,
layers =E<gt> [...], %more)>, C<index_manifest(manifests =E<gt> [...],
%more)>, C<docker_manifest(...)>, C<docker_list(...)>: the documents as
hashes (C<%more> as for C<with_keys>, so C<< mediaType =E<gt> undef >>
leaves it out). C<desc_of($bytes, $media_type, %more)>: the descriptor of
those bytes. C<empty_desc()>: the empty descriptor, with its C<data>.

=cut

sub with_keys {
    my ($base, %extra) = @_;
    for my $k (keys %extra) {
        if (defined $extra{$k}) { $base->{$k} = $extra{$k} }
        else                    { delete $base->{$k} }
    }
    return $base;
}

sub image_manifest {
    my (%o) = @_;
    my ($config, $layers) = delete @o{qw(config layers)};
    return with_keys({ schemaVersion => 2, mediaType => OCI_MANIFEST,
                       config => $config, layers => $layers }, %o);
}

sub index_manifest {
    my (%o) = @_;
    my $m = delete $o{manifests};
    return with_keys({ schemaVersion => 2, mediaType => OCI_INDEX, manifests => $m }, %o);
}

sub docker_manifest { image_manifest(mediaType => DOCKER_MANIFEST, @_) }
sub docker_list     { index_manifest(mediaType => DOCKER_LIST, @_) }

sub desc_of {
    my ($bytes, $media_type, %extra) = @_;
    return { mediaType => $media_type, digest => sha256($bytes), size => length $bytes, %extra };
}

sub empty_desc { { mediaType => OCI_EMPTY, digest => EMPTY_DIGEST, size => 2, data => 'e30=' } }

=head2 The registry over HTTP

C<registry_conf(@directives)>: a C<location /v2/> for L<OCI::Harness>
(C<oci_registry on>, storage C<$TEST_NGINX_STORAGE>,
C<client_max_body_size 0>) plus the given directives or nested blocks.
C<data_config(@directives)>: the same for a data-section block, its
storage in the html directory (C<$TEST_NGINX_HTML_DIR/storage>).
C<default_config(@directives)>: a block preprocessor (for
C<add_block_preprocessor>) that gives every block without a C<config>
section that C<data_config>.

C<push_blob($srv, $repo, $bytes [, $media_type])>: a monolithic upload;
one test (201); returns the descriptor (media type default C<OCI_LAYER>).
C<new_image($srv, $repo, %more)>: an OCI image manifest (a hash) whose
config and layer, of content unique to the call, were pushed to C<$repo>
(two tests); C<new_docker_image($srv, $repo)> likewise with two layers.

C<put_manifest($srv, $repo, $ref, $body, $content_type, headers =E<gt>
[...], req =E<gt> {...})>: the PUT's response; C<$body> is bytes, or a hash
that is encoded (its C<mediaType> is then the default content type);
C<req> holds more options for C<req> (C<chunked>, C<timeout>).
C<push_manifest($srv, $repo, $ref, $doc [, $content_type])>: the same for a
hash, returning C<($res, $descriptor)>.

C<is_created($res, $repo, $digest, $what)>: 201, Location and
Docker-Content-Digest (up to three tests). C<is_served($srv, $repo, $ref,
$json, $type, $digest, $what)>: GET and HEAD serve the exact bytes with
their headers, If-None-Match gives 304 (up to 17 tests).
C<is_unknown($srv, $repo, $ref, $what)>: GET is 404 MANIFEST_UNKNOWN (one
test). C<tags_of($srv, $repo)>: the tag list ([] on 404).

=cut

sub _location {
    my ($storage, @more) = @_;
    my $more = join '', map { s/^/        /mgr =~ s/\s*\z/\n/r } grep { length } @more;
    return "    location /v2/ {\n        oci_registry on;\n"
         . "        oci_storage $storage;\n        client_max_body_size 0;\n"
         . "$more    }\n";
}

sub registry_conf  { _location('$TEST_NGINX_STORAGE', @_) }
sub data_config    { _location('$TEST_NGINX_HTML_DIR/storage', @_) }

sub default_config {
    my (@more) = @_;
    my $conf = data_config(@more);
    return sub {
        my ($block) = @_;
        $block->set_value(config => $conf) unless defined $block->config;
    };
}

sub push_blob {
    my ($srv, $repo, $bytes, $media_type) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    my $d = sha256($bytes);
    my $res = $srv->req('POST', "/v2/$repo/blobs/uploads/?digest=$d", body => $bytes);
    Test::More::is($res->code, 201, 'blob of ' . length($bytes) . " bytes pushed to $repo")
        or Test::More::diag(dump_res($res));
    return { mediaType => $media_type // OCI_LAYER, digest => $d, size => length $bytes };
}

sub new_image {
    my ($srv, $repo, %extra) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    my $u = unique();
    my $config = push_blob($srv, $repo, qq({"architecture":"amd64","os":"linux","u":"$u"}),
                           OCI_CONFIG);
    my $layer = push_blob($srv, $repo, "layer $u " . ('x' x 100));
    return image_manifest(config => $config, layers => [$layer], %extra);
}

sub new_docker_image {
    my ($srv, $repo) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    my $u = unique();
    my $config = push_blob($srv, $repo, qq({"architecture":"arm64","os":"linux","u":"$u"}),
                           DOCKER_CONFIG);
    my @layers = map { push_blob($srv, $repo, "docker layer $_ $u", DOCKER_LAYER) } 1, 2;
    return docker_manifest(config => $config, layers => \@layers);
}

sub put_manifest {
    my ($srv, $repo, $ref, $body, $content_type, %o) = @_;
    if (ref $body) {
        $content_type //= $body->{mediaType};
        $body = enc($body);
    }
    my @h = defined $content_type ? ('Content-Type' => $content_type) : ();
    return $srv->req('PUT', "/v2/$repo/manifests/$ref",
                     headers => [ @h, @{ $o{headers} || [] } ], body => $body,
                     %{ $o{req} || {} });
}

sub push_manifest {
    my ($srv, $repo, $ref, $doc, $content_type) = @_;
    my $bytes = enc($doc);
    $content_type //= $doc->{mediaType};
    my $res = put_manifest($srv, $repo, $ref, $bytes, $content_type);
    return ($res, desc_of($bytes, $content_type));
}

sub is_created {
    my ($res, $repo, $digest, $what) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    my $ok = Test::More::is($res->code, 201, "$what: 201");
    $ok &&= Test::More::is($res->header('Location'), "/v2/$repo/manifests/$digest",
                           "$what: Location");
    $ok &&= Test::More::is($res->header('Docker-Content-Digest'), $digest,
                           "$what: Docker-Content-Digest");
    Test::More::diag(dump_res($res)) unless $ok;
    return $ok;
}

sub is_served {
    my ($srv, $repo, $ref, $json, $type, $digest, $what) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    $digest //= sha256($json);
    my $path = "/v2/$repo/manifests/$ref";

    for my $m ('GET', 'HEAD') {
        my $res = $srv->req($m, $path);
        my $pre = $m eq 'GET' ? "$what:" : "$what: HEAD";
        my $ok = Test::More::is($res->code, 200, "$what: $m 200");
        $ok &&= $m eq 'GET'
            ? Test::More::ok($res->content eq $json, "$what: GET returns the exact bytes")
            : Test::More::is($res->content, '', "$what: HEAD has no body");
        $ok &&= Test::More::is($res->header('Content-Type'), $type, "$pre Content-Type");
        $ok &&= Test::More::is($res->header('Docker-Content-Digest'), $digest,
                               "$pre Docker-Content-Digest");
        $ok &&= Test::More::is($res->header('ETag'), qq{"$digest"}, "$pre ETag");
        $ok &&= Test::More::is($res->header('Content-Length'), length($json),
                               "$pre Content-Length");
        Test::More::diag(dump_res($res)) unless $ok;
    }
    for my $m ('GET', 'HEAD') {
        my $res = $srv->req($m, $path, headers => [ 'If-None-Match' => qq{"$digest"} ]);
        my $ok = Test::More::is($res->code, 304, "$what: $m with If-None-Match: 304");
        $ok &&= Test::More::is($res->content, '', "$what: $m 304 has no body");
        Test::More::diag(dump_res($res)) unless $ok;
    }
    my $res = $srv->req('GET', $path,
                        headers => [ 'If-None-Match' => '"sha256:' . ('0' x 64) . '"' ]);
    Test::More::is($res->code, 200, "$what: If-None-Match with another digest: 200")
        or Test::More::diag(dump_res($res));
}

sub is_unknown {
    my ($srv, $repo, $ref, $what) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    is_error($srv->req('GET', "/v2/$repo/manifests/$ref"), 404, 'MANIFEST_UNKNOWN', $what);
}

sub tags_of {
    my ($srv, $repo) = @_;
    my $res = $srv->req('GET', "/v2/$repo/tags/list");
    return [] if $res->code == 404;
    return (dec($res->content) || {})->{tags} || [];
}

=head2 Upload sessions

C<start_upload($srv, $repo [, $query])>: POST that opens a session (one
test, 202); its Location (in list context: Location and response).
C<big_upload($srv, $repo, $mib)>: a session of C<$mib> MiB, PATCHed a MiB
at a time (the same random MiB each time, the same in every call of a
script, so two calls upload the same content), left open; returns its
Location and the content's sha256 and sha512 digests, or nothing when a
PATCH failed.
C<patch_chunk($srv, $loc, $bytes, $start, headers =E<gt> [...])>: PATCH with
C<Content-Range: start-end>. C<close_upload($srv, $loc, $digest, %req)>: the
closing PUT with C<?digest=>. C<upload_chunks($srv, $loc, $bytes, @sizes)>:
the PATCH responses of the bytes sent in chunks of those sizes.
C<session_id($loc)>, C<session_files($srv,
$loc)> (its C<.data> and C<.state> in the storage), C<status_range($srv,
$loc)> (the Range a status GET reports, or C<status N>). C<blob_is($srv,
$repo, $digest, $bytes, $what)>: GET gives exactly those bytes (one test).
C<upload_closes($srv, $loc, $repo, $bytes, $what)>: the closing PUT with
the digest of those bytes is 201, and the blob is then those bytes (two
tests).

=cut

sub start_upload {
    my ($srv, $repo, $query) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    my $res = $srv->req('POST', "/v2/$repo/blobs/uploads/" . ($query ? "?$query" : ''));
    Test::More::is($res->code, 202, "POST /v2/$repo/blobs/uploads/ opens a session")
        or Test::More::diag(dump_res($res));
    return wantarray ? ($res->header('Location'), $res) : $res->header('Location');
}

sub patch_chunk {
    my ($srv, $loc, $data, $start, %o) = @_;
    my $end = $start + length($data) - 1;
    return $srv->req('PATCH', $loc,
        headers => [ 'Content-Range' => "$start-$end", @{ $o{headers} || [] } ],
        body => $data);
}

sub with_query { my ($loc, $q) = @_; $loc . ($loc =~ /\?/ ? '&' : '?') . $q }

sub close_upload {
    my ($srv, $loc, $digest, %o) = @_;
    return $srv->req('PUT', with_query($loc, "digest=$digest"), %o);
}

my $BIG_BLOCK;

sub big_upload {
    my ($srv, $repo, $mib) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    $BIG_BLOCK //= random_bytes(1 << 20);
    my $loc = start_upload($srv, $repo);
    my ($s256, $s512) = (Digest::SHA->new(256), Digest::SHA->new(512));
    for my $i (0 .. $mib - 1) {
        my $res = patch_chunk($srv, $loc, $BIG_BLOCK, $i << 20);
        return unless $res->code == 202;
        $loc = $res->header('Location');
        $s256->add($BIG_BLOCK);
        $s512->add($BIG_BLOCK);
    }
    return ($loc, 'sha256:' . $s256->hexdigest, 'sha512:' . $s512->hexdigest);
}

sub upload_chunks {
    my ($srv, $loc, $data, @sizes) = @_;
    my ($pos, @res) = (0);
    for my $n (@sizes) {
        push @res, patch_chunk($srv, $loc, substr($data, $pos, $n), $pos);
        $pos += $n;
    }
    return @res;
}

sub session_id { my ($loc) = @_; ($loc // '') =~ m{/blobs/uploads/([^/?]+)} ? $1 : '' }

sub session_files {
    my ($srv, $loc) = @_;
    my $id = session_id($loc);
    return map { $srv->storage . "/_uploads/$id.$_" } qw(data state);
}

sub status_range {
    my ($srv, $loc) = @_;
    my $res = $srv->req('GET', $loc);
    return $res->code == 204 ? $res->header('Range') // '(none)' : 'status ' . $res->code;
}

sub blob_is {
    my ($srv, $repo, $digest, $data, $what) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    my $res = $srv->req('GET', "/v2/$repo/blobs/$digest");
    my $ok = $res->code == 200 && $res->content eq $data;
    Test::More::ok($ok, "$what: GET returns the " . length($data) . ' bytes pushed')
        or Test::More::diag('got ' . $res->code . ', ' . length($res->content) . ' bytes');
    return $ok;
}

sub upload_closes {
    my ($srv, $loc, $repo, $data, $what) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    is_status(close_upload($srv, $loc, sha256($data)), 201, 'closing PUT');
    blob_is($srv, $repo, sha256($data), $data, $what);
}

=head2 The storage layout (docs/storage.md)

C<blob_path($storage, $digest)>: the content file under C<blobs/>.
C<link_path($storage, $repo, $dir, $digest)>: its link in the repository's
C<$dir> (C<_blobs> or C<_manifests>). C<fill_path($storage, $digest)>:
the fill file of a blob a mirror is fetching (also its fill lock);
C<fill_files($storage)>: the fill files there are now.

Building a storage by hand, as a push would leave it:
C<store_blob($storage, $repo, $bytes [, $type])> (content, and a hard link
in C<_blobs/> unless C<$repo> is undef), C<store_manifest($storage, $repo,
$json, type =E<gt> ..., digest =E<gt> ..., alg =E<gt> 'sha512', no_type =E<gt>
1)> (content, hard link and C<.type> in C<_manifests/>; the type defaults to
an index when the JSON has C<"manifests">, the digest to that of the
bytes), both returning the descriptor; C<store_tag($storage, $repo, $tag,
$digest)>. C<store_link($storage, $path, $target)>: a symbolic link to
C<$target> at C<$path> (relative to the storage root), in place of
whatever was there, its directory created.

A manifest's media type kept with its content, the extended attribute
C<TYPE_XATTR> (C<user.oci.type>) of the C<blobs/> file:
C<type_attr($storage, $digest)> its value (undef when there is none),
C<set_type_attr($storage, $digest, $value)> (undef removes it; dies when
that fails), C<xattrs_work($dir)>: whether the file system of C<$dir> keeps
C<user.*> attributes.

=cut

sub _root { ref $_[0] ? $_[0]->storage : $_[0] }

sub blob_path {
    my ($storage, $digest) = @_;
    my ($alg, $hex) = split /:/, $digest, 2;
    return _root($storage) . "/blobs/$alg/" . substr($hex, 0, 2) . "/$hex";
}

sub link_path {
    my ($storage, $repo, $dir, $digest) = @_;
    my ($alg, $hex) = split /:/, $digest, 2;
    return _root($storage) . "/repositories/$repo/$dir/$alg/$hex";
}

sub fill_path {
    my ($storage, $digest) = @_;
    return _root($storage) . "/_tmp/fill-$digest";
}

sub fill_files { grep { m{^fill-} } files_under(_root($_[0]) . '/_tmp') }

sub _store {
    my ($storage, $repo, $dir, $digest, $bytes) = @_;
    my $blob = blob_path($storage, $digest);
    spew($blob, $bytes) unless -e $blob;
    return unless defined $repo;
    my $link = link_path($storage, $repo, $dir, $digest);
    (my $parent = $link) =~ s{/[^/]+$}{};
    make_path($parent);
    link $blob, $link or die "link $link: $!" unless -e $link;
    return $link;
}

sub store_blob {
    my ($storage, $repo, $bytes, $type) = @_;
    _store($storage, $repo, '_blobs', sha256($bytes), $bytes);
    return { mediaType => $type // OCI_LAYER, digest => sha256($bytes), size => length $bytes };
}

sub store_manifest {
    my ($storage, $repo, $json, %o) = @_;
    my $type = $o{type} // ($json =~ /"manifests"/ ? OCI_INDEX : OCI_MANIFEST);
    my $digest = $o{digest} // (($o{alg} // '') eq 'sha512' ? sha512($json) : sha256($json));
    my $link = _store($storage, $repo, '_manifests', $digest, $json);
    spew("$link.type", $type) unless $o{no_type};
    return { mediaType => $type, digest => $digest, size => length $json };
}

sub store_tag {
    my ($storage, $repo, $tag, $digest) = @_;
    spew(_root($storage) . "/repositories/$repo/_tags/$tag", $digest);
}

# the system calls themselves (sys/syscall.ph comes with perl): the attr
# tools are not needed. syscall() takes writable strings: every argument
# is a lexical of its own
sub _sys {
    my ($call) = @_;
    { package main; require 'syscall.ph'; }
    no strict 'refs';
    return &{"main::SYS_$call"}();
}

sub type_attr {
    my ($storage, $digest) = @_;
    my ($path, $name, $buf) = (blob_path($storage, $digest), TYPE_XATTR, "\0" x 1024);
    my $n = syscall(_sys('getxattr'), $path, $name, $buf, length $buf);
    return substr($buf, 0, $n) if $n >= 0;
    return undef if $!{ENODATA};
    die "getxattr $path: $!\n";
}

sub set_type_attr {
    my ($storage, $digest, $value) = @_;
    my ($path, $name) = (blob_path($storage, $digest), TYPE_XATTR);
    my $rc = defined $value
        ? syscall(_sys('setxattr'), $path, $name, $value, length $value, 0)
        : syscall(_sys('removexattr'), $path, $name);
    $rc == 0 or die "setting $name of $path: $!\n";
}

sub xattrs_work {
    my ($dir) = @_;
    my ($f, $name, $value) = ("$dir/.xattr-probe-$$", 'user.probe', 'x');
    spew($f, '');
    my $ok = syscall(_sys('setxattr'), $f, $name, $value, 1, 0) == 0;
    unlink $f;
    return $ok;
}

sub store_link {
    my ($storage, $path, $target) = @_;
    my $link = _root($storage) . "/$path";
    (my $parent = $link) =~ s{/[^/]+$}{};
    make_path($parent);
    File::Path::remove_tree($link) if -d $link && !-l $link;
    unlink $link;
    symlink $target, $link or die "symlink $link: $!";
    return $link;
}

=head2 The tag lock

C<hold_tag_lock($storage, $repo, $tag [, $seconds])>: creates the tag's
lock file, C<_tags/.E<lt>tagE<gt>.lock>, as a request of another worker or
front would, and holds it for that many seconds (by default until
released); returns a function that releases it (early, if still held).
C<tag_lock_path($storage, $repo, $tag)>: where that file is.

=cut

sub tag_lock_path {
    my ($storage, $repo, $tag) = @_;
    return _root($storage) . "/repositories/$repo/_tags/.$tag.lock";
}

sub hold_tag_lock {
    my ($storage, $repo, $tag, $seconds) = @_;
    my $lock = tag_lock_path($storage, $repo, $tag);
    (my $dir = $lock) =~ s{/[^/]+$}{};
    make_path($dir);
    sysopen my $fh, $lock, Fcntl::O_WRONLY() | Fcntl::O_CREAT() | Fcntl::O_EXCL()
        or die "hold_tag_lock: $lock: $!\n";
    close $fh;
    return sub { unlink $lock } unless defined $seconds;
    pipe my $go_r, my $go_w or die "pipe: $!";
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        close $go_w;
        my $rin = '';
        vec($rin, fileno($go_r), 1) = 1;
        select(my $rout = $rin, undef, undef, $seconds);
        unlink $lock;
        POSIX::_exit(0);
    }
    close $go_r;
    # a byte, not EOF: children forked meanwhile hold the write end too
    return sub {
        local $SIG{PIPE} = 'IGNORE';     # the hold may be over already
        syswrite $go_w, "1";
        close $go_w;
        waitpid $pid, 0;
    };
}

=head2 Servers

C<stops_cleanly($srv [, $what])>: no worker crashed, nothing at crit,
alert or emerg in error.log, and nginx exits cleanly on QUIT (three
tests), and when it ran under valgrind, valgrind reported nothing (a
fourth). For the end of a script, or of a server's part in it.

=cut

sub stops_cleanly {
    my ($srv, $what) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    my $p = defined $what ? "$what: " : '';
    Test::More::is($srv->crash_lines, '', "${p}no worker crashed");
    my @bad = grep { /\[(?:crit|alert|emerg)\]/ } split /^/m, $srv->error_log;
    Test::More::is_deeply(\@bad, [], "${p}no crit/alert/emerg in error.log")
        or Test::More::diag(@bad);
    Test::More::is($srv->stop, 0, "${p}nginx exits cleanly")
        or Test::More::diag($srv->error_log_tail(30));
    Test::More::is($srv->valgrind_errors, '', "${p}valgrind reports no errors")
        if $srv->{valgrind};
}

=head2 Waiting for a state

C<eventually($code [, $seconds])>: calls C<$code> until it returns true,
every 50 ms, for at most C<$seconds> (default 10); returns its last
value. For what a server does after its answer has left (a mirror
publishes a blob when the subrequest that fetched it ends, after the
client may have got every byte), never to measure time.

=cut

sub eventually {
    my ($code, $seconds) = @_;
    my $end = Time::HiRes::time() + ($seconds // 10);
    while (1) {
        my $v = $code->();
        return $v if $v || Time::HiRes::time() >= $end;
        Time::HiRes::sleep(0.05);
    }
}

=head2 Stalls

C<latencies_during($srv, $code [, $limit])>: runs C<$code> in a child
process (its return value, true or false, becomes the child's success)
and meanwhile sends C<GET /v2/> to the server, one at a time, until the
child ends or C<$limit> seconds (default 60) have passed. Returns C<($ok,
\@seconds)>: whether the child succeeded, and how long each probe took.
With one worker, the longest probe is the longest the event loop stalled.

=cut

sub latencies_during {
    my ($srv, $code, $limit) = @_;
    $limit //= 60;
    my $pid = fork // die "fork: $!";
    if (!$pid) {
        my $ok = eval { $code->() };
        POSIX::_exit($ok ? 0 : 1);
    }
    my @lat;
    my $end = Time::HiRes::time() + $limit;
    my $status;
    while (1) {
        my $t = Time::HiRes::time();
        my $res = $srv->req('GET', '/v2/', timeout => 10);
        push @lat, Time::HiRes::time() - $t;
        push @lat, 10 if $res->code != 200;
        if (waitpid($pid, POSIX::WNOHANG()) == $pid) {
            $status = $?;
            last;
        }
        if (Time::HiRes::time() > $end) {
            kill 'KILL', $pid;
            waitpid $pid, 0;
            $status = -1;
            last;
        }
        Time::HiRes::sleep(0.005);
    }
    return ($status == 0, \@lat);
}

=head2 Work cut in steps

Long storage work (a re-hash, the freeing of a big file, the tags of a
deleted manifest) runs as a job, one step per turn of the event loop or
all on a thread, and the module logs each step at debug level (the test
servers log at debug). C<job_steps($srv, $log_offset)>: how many steps
ran since that offset of error.log, C<($in_event_loop, $on_a_thread)>.
C<is_stepped($srv, $log_offset, $pool, $min, $what)>: one test that, on
a thread pool, the work ran on a thread and no step in the event loop,
or else that it took at least C<$min> steps in the event loop: done in
one turn, it would take one. This is what the tests check instead of
how long requests wait.

=cut

sub job_steps {
    my ($srv, $from) = @_;
    my $log = $srv->error_log_since($from);
    my $loop = () = $log =~ /oci job step in the event loop/g;
    my $thread = () = $log =~ /oci job step on a thread/g;
    return ($loop, $thread);
}

sub is_stepped {
    my ($srv, $from, $pool, $min, $what) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    my ($loop, $thread) = job_steps($srv, $from);
    return Test::More::ok($thread >= 1 && $loop == 0,
                          "$what: on a thread ($thread steps), none in the event loop")
        if $pool;
    return Test::More::ok($loop >= $min,
                          "$what: $loop steps in the event loop, at least $min");
}

=head2 oci-admin

C<need_admin()>: the path of the built tool (C<$OCI_BUILD/oci-admin>, default
C<build/>); when it is missing, one failing test and the script ends.
C<admin_command(@args)>: the command line (under valgrind when
C<OCI_VALGRIND=1>, so that any error fails). C<oci_admin(@args)>: runs it,
returns C<(exit status, stdout, stderr)>. C<oci_admin_json(@args)>: the
same with C<--json> added, returning C<(exit status, decoded stdout,
stderr)> and one test that stdout is a JSON object.

=cut

sub _admin_binary {
    my $build = $ENV{OCI_BUILD} // 'build';
    return File::Spec->rel2abs($build) . '/oci-admin';
}

sub need_admin {
    my $admin = _admin_binary();
    return $admin if -x $admin;
    Test::More::fail("$admin exists");
    Test::More::diag('build it first: make tools');
    Test::More::done_testing();
    exit;
}

sub admin_command {
    my @wrap = $ENV{OCI_VALGRIND}
        ? qw(valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite)
        : ();
    return (@wrap, _admin_binary(), @_);
}

sub oci_admin { run_cmd([ admin_command(@_) ], timeout => 120) }

sub oci_admin_json {
    my (@args) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    my ($rc, $out, $err) = oci_admin(@args, '--json');
    my $j = dec($out);
    Test::More::ok(ref $j eq 'HASH', "$args[0] --json prints a JSON object")
        or Test::More::diag("stdout: $out\nstderr: $err");
    return ($rc, ref $j eq 'HASH' ? $j : {}, $err);
}

=head2 Bearer tokens

C<b64url($bytes)>: base64url without padding. C<token_key($dir, $name,
$type)>: a private key made with C<openssl> (C<$type>: C<rsa> of 2048
bits, C<p256>, C<p384>, C<ed25519>), returned as C<{ key =E<gt> private
PEM file, pub =E<gt> public PEM file, kid =E<gt> its libtrust key id,
alg =E<gt> the JWS algorithm it signs with }>. C<libtrust_kid($pub_pem)>:
the key id docker-registry gives a public key. C<jwt_sign($key,
\%claims, %opt)>: a compact JWS signed with that key; its header has
C<typ>, C<alg> and C<kid> (C<header =E<gt> {...}> adds fields or, with
undef, removes them; C<alg =E<gt> 'RS384'> signs with another hash).
C<jwt_parts($token)>: its decoded header and payload.

=cut

my %TOKEN_ALG = (rsa => 'RS256', p256 => 'ES256', p384 => 'ES384', ed25519 => 'EdDSA');

sub b64url {
    my ($b) = @_;
    require MIME::Base64;
    my $s = MIME::Base64::encode_base64($b, '');
    $s =~ tr{+/}{-_};
    $s =~ s/=+\z//;
    return $s;
}

sub _openssl {
    my ($args, $in) = @_;
    my ($rc, $out, $err) = run_cmd([ 'openssl', @$args ], stdin => $in // '');
    die "openssl @$args: $err" if $rc != 0;
    return $out;
}

sub token_key {
    my ($dir, $name, $type) = @_;
    my @gen = $type eq 'rsa'     ? (qw(genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048))
            : $type eq 'p256'    ? (qw(genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256))
            : $type eq 'p384'    ? (qw(genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-384))
            : $type eq 'ed25519' ? (qw(genpkey -algorithm ED25519))
            : die "token_key: no type $type\n";
    make_path($dir);
    my %k = (key => "$dir/$name.key", pub => "$dir/$name.pub", alg => $TOKEN_ALG{$type},
             type => $type);
    _openssl([ @gen, '-out', $k{key} ]);
    _openssl([ 'pkey', '-in', $k{key}, '-pubout', '-out', $k{pub} ]);
    $k{kid} = libtrust_kid($k{pub});
    return \%k;
}

sub libtrust_kid {
    my ($pub) = @_;
    my $der = _openssl([ 'pkey', '-pubin', '-in', $pub, '-outform', 'DER' ]);
    my $bits = unpack 'B*', substr(Digest::SHA::sha256($der), 0, 30);
    my @a = ('A' .. 'Z', '2' .. '7');
    my $b32 = join '', map { $a[ oct "0b$_" ] } $bits =~ /(.{5})/g;
    return join ':', $b32 =~ /(.{4})/g;
}

# an ECDSA signature from DER (SEQUENCE of two INTEGERs) to R || S
sub _ecdsa_raw {
    my ($der, $size) = @_;
    my $p = 2;
    $p++ if vec($der, 1, 8) & 0x80;
    my @rs;
    for (1, 2) {
        my $len = vec($der, $p + 1, 8);
        my $int = substr($der, $p + 2, $len);
        $int =~ s/\A\x00+//;
        push @rs, ("\x00" x ($size - length $int)) . $int;
        $p += 2 + $len;
    }
    return join '', @rs;
}

sub jwt_sign {
    my ($key, $claims, %opt) = @_;
    my $alg = $opt{alg} // $key->{alg};
    my %h = (typ => 'JWT', alg => $alg, kid => $key->{kid}, %{ $opt{header} || {} });
    delete @h{ grep { !defined $h{$_} } keys %h };
    my $input = b64url($JSON->encode(\%h)) . '.'
              . b64url(ref $claims ? $JSON->encode($claims) : $claims);
    my $sig;
    if ($key->{alg} eq 'EdDSA') {
        my $in = "$key->{key}.in";
        spew($in, $input);
        $sig = _openssl([ qw(pkeyutl -sign -rawin -inkey), $key->{key}, '-in', $in ]);
    } else {
        my ($bits) = $alg =~ /(\d+)\z/;
        $sig = _openssl([ 'dgst', "-sha$bits", '-sign', $key->{key} ], $input);
        $sig = _ecdsa_raw($sig, $key->{alg} eq 'ES384' ? 48 : 32) if $key->{alg} =~ /^ES/;
    }
    return $input . '.' . b64url($sig);
}

sub jwt_parts {
    my ($token) = @_;
    require MIME::Base64;
    my @p = map { tr{-_}{+/}r } split /\./, $token;
    return map { dec(MIME::Base64::decode_base64($_)) } @p[0, 1];
}

1;
