# mk/version.mk - the library's release and the shared library's names.
#
# The release is written in one place only, include/ghost/common.h
# (GHOST_LIB_VERSION_MAJOR/MINOR/PATCH); this file reads it from there and
# never restates it. Variables only: no rules, nothing built.

GHOST_LIB_VERSION_PARTS := $(shell sed -n \
    's/^\#define GHOST_LIB_VERSION_\(MAJOR\|MINOR\|PATCH\)[[:space:]]\{1,\}\([0-9]\{1,\}\)[[:space:]]*$$/\2/p' \
    include/ghost/common.h)
ifneq ($(words $(GHOST_LIB_VERSION_PARTS)),3)
  $(error include/ghost/common.h must define GHOST_LIB_VERSION_MAJOR, _MINOR and _PATCH, in that order, as plain numbers)
endif
GHOST_LIB_MAJOR   := $(word 1,$(GHOST_LIB_VERSION_PARTS))
GHOST_LIB_MINOR   := $(word 2,$(GHOST_LIB_VERSION_PARTS))
GHOST_LIB_PATCH   := $(word 3,$(GHOST_LIB_VERSION_PARTS))
GHOST_LIB_VERSION := $(GHOST_LIB_MAJOR).$(GHOST_LIB_MINOR).$(GHOST_LIB_PATCH)
# The soname changes with MAJOR only: programs linked against 0.1 run on 0.2.
GHOST_LIB_SONAME  := libghost.so.$(GHOST_LIB_MAJOR)
