# Unit tests, fuzzers and the SHA-2 benchmark of the nginx-independent core
# (src/ngx_oci_sha2.c, src/ngx_oci_grammar.c, src/ngx_oci_manifest_check.c,
# src/ngx_oci_route.c, src/ngx_oci_layout.c, src/ngx_oci_link.c,
# src/ngx_oci_upload_state.c, src/ngx_oci_jwt.c, src/ngx_oci_jwt_keys.c,
# src/ngx_oci_jwt_sign.c, src/ngx_oci_event.c, src/ngx_oci_challenge.c).
#
# Included by the top Makefile, or used alone from the repository root:
#
#     make -f t/unit/unit.mk unit        # build $(BUILD)/unit/test_*
#     prove t/unit.t                     # run them
#     make -f t/unit/unit.mk fuzz        # build $(BUILD)/fuzz/fuzz_* (clang)
#     make -f t/unit/unit.mk fuzz-run FUZZ_TIME=60
#     make -f t/unit/unit.mk bench-sha2  # build and run the benchmark

BUILD ?= build

# the repository root, wherever make runs from
OCI_UNIT_ROOT := $(abspath $(dir $(lastword $(MAKEFILE_LIST)))/../..)

UNIT_CC ?= cc
UNIT_CFLAGS ?= -O2 -Wall -Wextra -Werror -std=gnu99 -D_FILE_OFFSET_BITS=64
UNIT_LIBS = $(shell pkg-config --cflags --libs jansson) -lcrypto

FUZZ_CC ?= clang
FUZZ_CFLAGS ?= -g -O1 -std=gnu99 -D_FILE_OFFSET_BITS=64 \
    -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
FUZZ_TIME ?= 60

UNIT_SRC = $(OCI_UNIT_ROOT)/src
UNIT_INC = -I$(UNIT_SRC) -I$(OCI_UNIT_ROOT)/t/unit

UNIT_CORE_SRCS = $(UNIT_SRC)/ngx_oci_sha2.c \
                 $(UNIT_SRC)/ngx_oci_grammar.c \
                 $(UNIT_SRC)/ngx_oci_manifest_check.c \
                 $(UNIT_SRC)/ngx_oci_route.c \
                 $(UNIT_SRC)/ngx_oci_layout.c \
                 $(UNIT_SRC)/ngx_oci_link.c \
                 $(UNIT_SRC)/ngx_oci_upload_state.c \
                 $(UNIT_SRC)/ngx_oci_query.c \
                 $(UNIT_SRC)/ngx_oci_jwt.c \
                 $(UNIT_SRC)/ngx_oci_jwt_keys.c \
                 $(UNIT_SRC)/ngx_oci_jwt_sign.c \
                 $(UNIT_SRC)/ngx_oci_event.c \
                 $(UNIT_SRC)/ngx_oci_challenge.c
UNIT_CORE_DEPS = $(UNIT_CORE_SRCS) \
                 $(UNIT_SRC)/ngx_oci_sha2.h \
                 $(UNIT_SRC)/ngx_oci_grammar.h \
                 $(UNIT_SRC)/ngx_oci_manifest_check.h \
                 $(UNIT_SRC)/ngx_oci_route.h \
                 $(UNIT_SRC)/ngx_oci_layout.h \
                 $(UNIT_SRC)/ngx_oci_link.h \
                 $(UNIT_SRC)/ngx_oci_index_page.c \
                 $(UNIT_SRC)/ngx_oci_index_page.h \
                 $(UNIT_SRC)/ngx_oci_upload_state.h \
                 $(UNIT_SRC)/ngx_oci_query.h \
                 $(UNIT_SRC)/ngx_oci_redis_slot.h \
                 $(UNIT_SRC)/ngx_oci_jwt.h \
                 $(UNIT_SRC)/ngx_oci_event.h \
                 $(UNIT_SRC)/ngx_oci_challenge.h \
                 $(OCI_UNIT_ROOT)/t/unit/tap.h

UNIT_TESTS = $(BUILD)/unit/test_sha2 \
             $(BUILD)/unit/test_sha2_portable \
             $(BUILD)/unit/test_grammar \
             $(BUILD)/unit/test_manifest \
             $(BUILD)/unit/test_route \
             $(BUILD)/unit/test_layout \
             $(BUILD)/unit/test_link \
             $(BUILD)/unit/test_index_page \
             $(BUILD)/unit/test_upload_state \
             $(BUILD)/unit/test_query \
             $(BUILD)/unit/test_redis_slot \
             $(BUILD)/unit/test_jwt \
             $(BUILD)/unit/test_event \
             $(BUILD)/unit/test_challenge

FUZZERS = $(BUILD)/fuzz/fuzz_manifest \
          $(BUILD)/fuzz/fuzz_grammar \
          $(BUILD)/fuzz/fuzz_sha2 \
          $(BUILD)/fuzz/fuzz_route \
          $(BUILD)/fuzz/fuzz_link \
          $(BUILD)/fuzz/fuzz_redis_reply \
          $(BUILD)/fuzz/fuzz_upload_state \
          $(BUILD)/fuzz/fuzz_query \
          $(BUILD)/fuzz/fuzz_precondition \
          $(BUILD)/fuzz/fuzz_jwt \
          $(BUILD)/fuzz/fuzz_event \
          $(BUILD)/fuzz/fuzz_challenge

.PHONY: unit fuzz fuzz-run bench-sha2

unit: $(UNIT_TESTS)

$(BUILD)/unit/test_sha2: $(OCI_UNIT_ROOT)/t/unit/test_sha2.c $(UNIT_CORE_DEPS)
	@mkdir -p $(dir $@)
	$(UNIT_CC) $(UNIT_CFLAGS) $(UNIT_INC) -o $@ $< \
	    $(UNIT_SRC)/ngx_oci_sha2.c $(UNIT_LIBS)

# the same test with the SHA-NI code compiled out, as on other CPUs
$(BUILD)/unit/test_sha2_portable: $(OCI_UNIT_ROOT)/t/unit/test_sha2.c \
                                  $(UNIT_CORE_DEPS)
	@mkdir -p $(dir $@)
	$(UNIT_CC) $(UNIT_CFLAGS) -DNGX_OCI_SHA2_NO_SHANI $(UNIT_INC) -o $@ $< \
	    $(UNIT_SRC)/ngx_oci_sha2.c $(UNIT_LIBS)

$(BUILD)/unit/test_grammar: $(OCI_UNIT_ROOT)/t/unit/test_grammar.c \
                            $(UNIT_CORE_DEPS)
	@mkdir -p $(dir $@)
	$(UNIT_CC) $(UNIT_CFLAGS) $(UNIT_INC) -o $@ $< \
	    $(UNIT_SRC)/ngx_oci_grammar.c $(UNIT_LIBS)

$(BUILD)/unit/test_manifest: $(OCI_UNIT_ROOT)/t/unit/test_manifest.c \
                             $(UNIT_CORE_DEPS)
	@mkdir -p $(dir $@)
	$(UNIT_CC) $(UNIT_CFLAGS) $(UNIT_INC) -o $@ $< $(UNIT_CORE_SRCS) \
	    $(UNIT_LIBS)

$(BUILD)/unit/test_route: $(OCI_UNIT_ROOT)/t/unit/test_route.c \
                          $(UNIT_CORE_DEPS)
	@mkdir -p $(dir $@)
	$(UNIT_CC) $(UNIT_CFLAGS) $(UNIT_INC) -o $@ $< \
	    $(UNIT_SRC)/ngx_oci_route.c $(UNIT_SRC)/ngx_oci_grammar.c \
	    $(UNIT_LIBS)

$(BUILD)/unit/test_layout: $(OCI_UNIT_ROOT)/t/unit/test_layout.c \
                           $(UNIT_CORE_DEPS)
	@mkdir -p $(dir $@)
	$(UNIT_CC) $(UNIT_CFLAGS) $(UNIT_INC) -o $@ $< \
	    $(UNIT_SRC)/ngx_oci_layout.c $(UNIT_SRC)/ngx_oci_grammar.c \
	    $(UNIT_SRC)/ngx_oci_sha2.c $(UNIT_LIBS)

$(BUILD)/unit/test_link: $(OCI_UNIT_ROOT)/t/unit/test_link.c \
                         $(UNIT_CORE_DEPS)
	@mkdir -p $(dir $@)
	$(UNIT_CC) $(UNIT_CFLAGS) $(UNIT_INC) -o $@ $< \
	    $(UNIT_SRC)/ngx_oci_link.c $(UNIT_LIBS)

$(BUILD)/unit/test_index_page: $(OCI_UNIT_ROOT)/t/unit/test_index_page.c \
                               $(UNIT_CORE_DEPS)
	@mkdir -p $(dir $@)
	$(UNIT_CC) $(UNIT_CFLAGS) $(UNIT_INC) -o $@ $< \
	    $(UNIT_SRC)/ngx_oci_index_page.c $(UNIT_SRC)/ngx_oci_grammar.c \
	    $(UNIT_LIBS) -lhiredis

$(BUILD)/unit/test_upload_state: $(OCI_UNIT_ROOT)/t/unit/test_upload_state.c \
                                 $(UNIT_CORE_DEPS)
	@mkdir -p $(dir $@)
	$(UNIT_CC) $(UNIT_CFLAGS) $(UNIT_INC) -o $@ $< \
	    $(UNIT_SRC)/ngx_oci_upload_state.c $(UNIT_SRC)/ngx_oci_sha2.c \
	    $(UNIT_SRC)/ngx_oci_grammar.c $(UNIT_LIBS)

$(BUILD)/unit/test_query: $(OCI_UNIT_ROOT)/t/unit/test_query.c \
                          $(UNIT_CORE_DEPS)
	@mkdir -p $(dir $@)
	$(UNIT_CC) $(UNIT_CFLAGS) $(UNIT_INC) -o $@ $< \
	    $(UNIT_SRC)/ngx_oci_query.c $(UNIT_LIBS)

$(BUILD)/unit/test_redis_slot: $(OCI_UNIT_ROOT)/t/unit/test_redis_slot.c \
                               $(UNIT_CORE_DEPS)
	@mkdir -p $(dir $@)
	$(UNIT_CC) $(UNIT_CFLAGS) $(UNIT_INC) -o $@ $< \
	    $(UNIT_SRC)/ngx_oci_redis_slot.c $(UNIT_LIBS)

$(BUILD)/unit/test_jwt: $(OCI_UNIT_ROOT)/t/unit/test_jwt.c $(UNIT_CORE_DEPS)
	@mkdir -p $(dir $@)
	$(UNIT_CC) $(UNIT_CFLAGS) $(UNIT_INC) -o $@ $< \
	    $(UNIT_SRC)/ngx_oci_jwt.c $(UNIT_SRC)/ngx_oci_jwt_keys.c \
	    $(UNIT_SRC)/ngx_oci_jwt_sign.c $(UNIT_LIBS)

$(BUILD)/unit/test_event: $(OCI_UNIT_ROOT)/t/unit/test_event.c \
                          $(UNIT_CORE_DEPS)
	@mkdir -p $(dir $@)
	$(UNIT_CC) $(UNIT_CFLAGS) $(UNIT_INC) -o $@ $< \
	    $(UNIT_SRC)/ngx_oci_event.c $(UNIT_LIBS)

$(BUILD)/unit/test_challenge: $(OCI_UNIT_ROOT)/t/unit/test_challenge.c \
                              $(UNIT_CORE_DEPS)
	@mkdir -p $(dir $@)
	$(UNIT_CC) $(UNIT_CFLAGS) $(UNIT_INC) -o $@ $< \
	    $(UNIT_SRC)/ngx_oci_challenge.c $(UNIT_LIBS)

fuzz: $(FUZZERS)

$(BUILD)/fuzz/fuzz_%: $(OCI_UNIT_ROOT)/fuzz/fuzz_%.c $(UNIT_CORE_DEPS)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) $(UNIT_INC) -o $@ $< $(UNIT_CORE_SRCS) \
	    $(UNIT_LIBS)

# hiredis' reply parser, then the referrers page built from the reply
$(BUILD)/fuzz/fuzz_redis_reply: $(OCI_UNIT_ROOT)/fuzz/fuzz_redis_reply.c \
                                $(UNIT_CORE_DEPS)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) $(UNIT_INC) -o $@ $< \
	    $(UNIT_SRC)/ngx_oci_index_page.c $(UNIT_SRC)/ngx_oci_grammar.c \
	    $(UNIT_LIBS) -lhiredis

# new inputs go to $(BUILD)/fuzz/corpus-*, the seeds stay untouched
fuzz-run: $(FUZZERS)
	@set -e; for f in manifest grammar sha2 route link redis_reply \
	         upload_state query precondition jwt event challenge; do \
	    mkdir -p $(BUILD)/fuzz/corpus-$$f; \
	    echo "fuzz_$$f: $(FUZZ_TIME) s"; \
	    $(BUILD)/fuzz/fuzz_$$f -max_total_time=$(FUZZ_TIME) \
	        -print_final_stats=1 $(BUILD)/fuzz/corpus-$$f \
	        $(OCI_UNIT_ROOT)/fuzz/corpus/$$f; \
	done

$(BUILD)/bench/sha2_bench: $(OCI_UNIT_ROOT)/bench/sha2_bench.c \
                           $(UNIT_CORE_DEPS)
	@mkdir -p $(dir $@)
	$(UNIT_CC) $(UNIT_CFLAGS) $(UNIT_INC) -o $@ $< \
	    $(UNIT_SRC)/ngx_oci_sha2.c $(UNIT_LIBS)

bench-sha2: $(BUILD)/bench/sha2_bench
	$(BUILD)/bench/sha2_bench
