# Self-test of the data-section runner (t/lib/Test/Nginx/Socket.pm) against
# plain nginx: no ngx_oci_module needed. Written in Test::Nginx's format;
# the per-response arrays for pipelined requests (TEST 7) may be stricter
# here than in the real Test::Nginx.

BEGIN { push @INC, 't/lib' }   # appended: an installed Test::Nginx wins
use Test::Nginx::Socket 'no_plan';

repeat_each(2);

$ENV{TEST_NGINX_GREETING} = 'howdy';

# Blocks without a request get a default one.
add_block_preprocessor(sub {
    my $block = shift;
    if (!defined $block->request && !defined $block->raw_request
        && !defined $block->pipelined_requests && !defined $block->must_die)
    {
        $block->set_value(request => "GET /t\n");
    }
});

run_tests();

__DATA__

=== TEST 1: plain return
--- config
    location = /t {
        return 200 "hello\n";
    }
--- request
GET /t
--- response_body
hello
--- error_code: 200
--- response_headers
Content-Type: text/plain
Content-Length: 6
--- no_error_log
[error]
[alert]



=== TEST 2: add_header, absent and regex headers; default request from the preprocessor
--- config
    location = /t {
        add_header X-Test "yes" always;
        add_header X-Empty "" always;
        return 200 "ok\n";
    }
--- response_headers
X-Test: yes
!X-Nope
X-Empty:
--- response_headers_like
Server: nginx(/[\d.]+)?
Content-Length: \d+
--- response_body
ok



=== TEST 3: 404 from the (empty) html dir, with the error logged
--- request
GET /missing
--- error_code: 404
--- response_body_like: 404 Not Found
--- error_log
[error]
/missing" failed (2: No such file or directory)



=== TEST 4: more_headers reach nginx
--- config
    location = /t {
        return 200 "foo=$http_x_foo bar=$http_x_bar\n";
    }
--- more_headers
X-Foo: hello
X-Bar: world
--- response_body
foo=hello bar=world



=== TEST 5: chunked request body (more_headers + request eval), echoed back via proxy
--- config
    location = /echo {
        client_body_buffer_size 64k;
        proxy_set_header X-Body $request_body;
        proxy_set_header X-TE $http_transfer_encoding;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/back;
    }
    location = /back {
        return 200 "body=[$http_x_body] te=$http_x_te\n";
    }
--- more_headers
Transfer-Encoding: chunked
--- request eval
"PUT /echo\n" . "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"
--- response_body
body=[hello world] te=chunked



=== TEST 6: body after the request line (trailing newline dropped), Content-Length added
--- config
    location = /echo {
        proxy_set_header X-Body $request_body;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/back;
    }
    location = /back {
        return 200 "body=[$http_x_body] len=$http_content_length\n";
    }
--- request
PUT /echo
hello there
--- response_body
body=[hello there] len=11



=== TEST 7: pipelined requests on one keepalive connection, HEAD included
--- config
    location = /a { return 200 "a\n"; }
    location = /b { return 201 "bb\n"; }
--- pipelined_requests eval
["GET /a", "HEAD /b", "GET /b"]
--- error_code eval
[200, 201, 201]
--- response_body eval
["a\n", "", "bb\n"]
--- response_headers eval
["Connection: keep-alive", "Content-Length: 3", "Connection: close"]



=== TEST 8: must_die on a bad directive, the emerg text checked
--- config
    location = /t {
        bogus_directive on;
    }
--- must_die
--- error_log
[emerg]
unknown directive "bogus_directive"



=== TEST 9: raw_request in pieces
--- config
    location = /a { return 200 "a=$request_method $server_protocol\n"; }
--- raw_request eval
["GET /a HTTP/1.0\r\n", "Host: localhost\r\n", "\r\n"]
--- response_body
a=GET HTTP/1.0



=== TEST 10: user_files under the html dir, served by the root location
--- user_files
>>> index.html
<h1>hi</h1>
>>> sub/f.txt
file contents
--- request eval
["GET /", "GET /sub/f.txt"]
--- response_body eval
["<h1>hi</h1>\n", "file contents\n"]



=== TEST 11: $TEST_NGINX_* substitution and error_log eval with qr//
--- config
    location = /t {
        return 200
            "$TEST_NGINX_GREETING port=$TEST_NGINX_SERVER_PORT root=$TEST_NGINX_SERVER_ROOT\n";
    }
--- response_body_like eval
qr{^howdy port=\d+ root=/\S+/servroot/\S+\n\z}
--- error_log eval
qr/\[debug\] \d+#\d+: \*\d+ http request line: "GET \/t HTTP\/1.1"/
--- no_error_log eval
[qr/\[(?:error|alert|crit|emerg)\]/, "exited on signal"]



=== TEST 12: chunked response is de-chunked
--- config
    location = /t {
        default_type text/html;
        sub_filter 'a' 'b';
        sub_filter_once off;
        return 200 "aaa\n";
    }
--- response_headers
Transfer-Encoding: chunked
!Content-Length
--- response_body
bbb



=== TEST 13: HEAD has no body
--- config
    location = /t { return 200 "hello\n"; }
--- request
HEAD /t
--- response_headers
Content-Length: 6
--- response_body
