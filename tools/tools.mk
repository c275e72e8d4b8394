# oci-admin, the operations tool (tools/*.c), linked with the module's
# nginx-independent core.
#
# Included by the top Makefile, or used alone from the repository root:
#
#     make -f tools/tools.mk BUILD=build     # build $(BUILD)/oci-admin
#     make -f tools/tools.mk tools-style     # 80 columns, no tabs

BUILD ?= build

# included by another makefile, this file must not become its default goal
OCI_TOOLS_INCLUDED := $(filter-out 1,$(words $(MAKEFILE_LIST)))
OCI_TOOLS_GOAL := $(.DEFAULT_GOAL)

# the repository root, wherever make runs from
OCI_TOOLS_ROOT := $(abspath $(dir $(lastword $(MAKEFILE_LIST)))/..)

TOOLS_CC ?= cc
TOOLS_CFLAGS ?= -O2 -Wall -Wextra -Werror -std=gnu99 -D_FILE_OFFSET_BITS=64
TOOLS_LIBS = $(shell pkg-config --cflags --libs jansson hiredis) -lcrypto

TOOLS_SRC = $(OCI_TOOLS_ROOT)/src
TOOLS_DIR = $(OCI_TOOLS_ROOT)/tools

OCI_ADMIN = $(BUILD)/oci-admin

# the module's pure files the tool is linked with, each with its header
OCI_ADMIN_CORE = sha2 grammar manifest_check index_schema layout

OCI_ADMIN_SRCS = $(wildcard $(TOOLS_DIR)/*.c) \
                 $(OCI_ADMIN_CORE:%=$(TOOLS_SRC)/ngx_oci_%.c)

OCI_ADMIN_DEPS = $(OCI_ADMIN_SRCS) $(wildcard $(TOOLS_DIR)/*.h) \
                 $(OCI_ADMIN_CORE:%=$(TOOLS_SRC)/ngx_oci_%.h)

.PHONY: tools tools-style

tools: $(OCI_ADMIN)

$(OCI_ADMIN): $(OCI_ADMIN_DEPS)
	@mkdir -p $(dir $@)
	$(TOOLS_CC) $(TOOLS_CFLAGS) -I$(TOOLS_SRC) -I$(TOOLS_DIR) -o $@ \
	    $(OCI_ADMIN_SRCS) $(TOOLS_LIBS)

tools-style:
	@! grep -nE '.{81,}' $(TOOLS_DIR)/*.[ch] \
	    && ! grep -nP '\t| +$$' $(TOOLS_DIR)/*.[ch] && echo "tools style ok"

ifneq ($(OCI_TOOLS_INCLUDED),)
.DEFAULT_GOAL := $(OCI_TOOLS_GOAL)
endif
