# SPDX-License-Identifier: MPL-2.0
# The two commands of the README: `make run` and `make test`. Everything else helps them.
.PHONY: all deps build build-test build-asan run test asan fuzz bench deb clean

BUILD      ?= build
TEST_BUILD ?= build-test
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
FUZZ_SECONDS ?= 300
DEB_DIR    ?= build-deb

all: build

deps:
	@./scripts/deps.sh

# Production build: no test hooks.
build: deps
	@[ -f $(BUILD)/build.ninja ] || meson setup $(BUILD) -Dtest_hooks=false >/dev/null
	@ninja -C $(BUILD) --quiet

build-test: deps
	@[ -f $(TEST_BUILD)/build.ninja ] || meson setup $(TEST_BUILD) -Dtest_hooks=true >/dev/null
	@ninja -C $(TEST_BUILD) --quiet

build-asan: deps
	@[ -f $(ASAN_BUILD)/build.ninja ] || meson setup $(ASAN_BUILD) -Dtest_hooks=true \
		-Db_sanitize=address,undefined -Db_lundef=false -Dbuildtype=debug >/dev/null
	@ninja -C $(ASAN_BUILD) --quiet

run: build
	@./scripts/web-build.sh
	@./scripts/run-dev.sh $(BUILD)

# Every C test twice (an optimised build and an ASan+UBSan build), then the web client's tests.
# Ends with the total: `N passed, N failed`.
# Test-only packages: sshd (the journal's SFTP tests), poppler-utils (reading PDFs back) and the
# PostgreSQL server the PostgreSQL engine's tests start (tests/support/pg_server.c).
TEST_PACKAGES = openssh-server poppler-utils postgresql-15

test: build-test build-asan
	@WAKKS_EXTRA_PACKAGES="$(TEST_PACKAGES)" ./scripts/deps.sh
	@./scripts/test-all.sh $(TEST_BUILD) $(ASAN_BUILD)

asan: build-asan
	@WAKKS_EXTRA_PACKAGES="$(TEST_PACKAGES)" ./scripts/deps.sh
	@./scripts/run-tests.sh $(ASAN_BUILD)

# libFuzzer under ASan/UBSan for FUZZ_SECONDS per target, seeded from the committed corpora.
fuzz: deps
	@[ -f $(FUZZ_BUILD)/build.ninja ] || CC=clang meson setup $(FUZZ_BUILD) -Dfuzzing=true \
		-Dtest_hooks=true -Db_sanitize=address,undefined -Db_lundef=false >/dev/null
	@ninja -C $(FUZZ_BUILD) --quiet
	@./scripts/fuzz.sh $(FUZZ_BUILD) $(FUZZ_SECONDS)

bench: build
	@./scripts/bench.sh $(BUILD)

# The Debian package (debian/), into $(DEB_DIR): dpkg-buildpackage -b -us -uc with the
# packaging tools installed first (scripts/deps.sh, packaging set).
deb:
	@./scripts/build-deb.sh $(DEB_DIR)

clean:
	rm -rf $(BUILD) $(TEST_BUILD) $(ASAN_BUILD) $(FUZZ_BUILD)
