# Thin wrapper over CMake.  `make` builds everything into build/;
# `make run` starts kfkd on :9092 with data in ./data; `make test` runs
# the whole suite, interop scenarios against kfkd and Apache Kafka side by
# side.  Each target first installs what is missing: Debian packages, and
# for the tests the pinned peers (scripts/peers.sh: Apache Kafka, today's
# clients), cached under .peers/.

BUILD    ?= build
JOBS     ?= $(shell nproc)
CMAKE    ?= cmake
CTEST    ?= ctest
CONFIG   ?= config/server.properties
CMAKE_FLAGS ?=
# Long tests are labelled stress, and the tests of an open defect
# quarantine (docs/interop.md, Known problems); `make stress` runs both.
CTEST_ARGS ?= -LE 'stress|quarantine'

.PHONY: all deps test-deps peers build run cluster cluster-stop test stress unit asan tsan fuzz bench bench-quick \
        gen format format-check clean install

all: build

deps:
	@scripts/deps.sh build

test-deps:
	@scripts/deps.sh test

peers:
	@scripts/peers.sh all

build: deps
	@test -f $(BUILD)/Makefile || $(CMAKE) -S . -B $(BUILD) $(CMAKE_FLAGS)
	$(CMAKE) --build $(BUILD) -j $(JOBS)

run: build
	@mkdir -p data
	$(BUILD)/bin/kfkd $(CONFIG)

# The seed's three brokers, localhost:9092-9094, and an etcd, in the
# background; data under data/cluster (docs/cluster.md).
cluster: test-deps build
	@scripts/cluster.sh start data/cluster 9092

cluster-stop:
	@scripts/cluster.sh stop data/cluster

test: test-deps build
	cd $(BUILD) && $(CTEST) --output-on-failure -j $(JOBS) $(CTEST_ARGS)

stress: test-deps build
	cd $(BUILD) && $(CTEST) --output-on-failure -L 'stress|quarantine'

unit: build
	cd $(BUILD) && $(CTEST) --output-on-failure -L 'unit|proto' -j $(JOBS)

# Under the sanitizers the interop and cluster tests run against kfkd only: the Apache
# Kafka side of each differential scenario does not depend on how kfkd was
# built, and `make test` runs it.  libkfk's tests against Kafka (label
# kafka) still run: they exercise libkfk's own code.
SAN_ENV = KFK_INTEROP_BROKERS=kfkd KFK_CLUSTER_BROKERS=kfkd

asan: test-deps
	$(CMAKE) -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug \
	    -DCMAKE_C_COMPILER=clang -DKFK_SANITIZER=address,undefined
	$(CMAKE) --build build-asan -j $(JOBS)
	cd build-asan && $(SAN_ENV) $(CTEST) --output-on-failure -j $(JOBS) $(CTEST_ARGS)

tsan: test-deps
	$(CMAKE) -S . -B build-tsan -DCMAKE_BUILD_TYPE=Debug \
	    -DCMAKE_C_COMPILER=clang -DKFK_SANITIZER=thread
	$(CMAKE) --build build-tsan -j $(JOBS)
	cd build-tsan && $(SAN_ENV) $(CTEST) --output-on-failure -j $(JOBS) $(CTEST_ARGS)

FUZZ_SECONDS ?= 60
fuzz: deps
	$(CMAKE) -S . -B build-fuzz -DCMAKE_BUILD_TYPE=Debug \
	    -DCMAKE_C_COMPILER=clang -DKFK_FUZZ=ON \
	    -DKFK_SANITIZER=address,undefined
	$(CMAKE) --build build-fuzz -j $(JOBS)
	scripts/fuzz.sh build-fuzz $(FUZZ_SECONDS)

bench: test-deps build
	bench/run.sh

bench-quick: test-deps build
	bench/run.sh --quick

gen:
	python3 scripts/gen_protocol.py src/protocol/messages.def src/protocol/gen

format:
	clang-format -i $$(git ls-files '*.c' '*.h' | grep -v /gen/)

format-check:
	clang-format --dry-run --Werror $$(git ls-files '*.c' '*.h' | grep -v /gen/)

# `make install [PREFIX=/usr/local] [DESTDIR=/staging]`: kfkd and kfk in
# bin, libkfk in lib (lib64 where the platform says so), the headers in
# include/kfk, libkfk.pc, the CMake package in lib/cmake/kfk, the man
# pages (cmake/KfkInstall.cmake has the list).
PREFIX  ?= /usr/local
DESTDIR ?=
install: build
	DESTDIR="$(DESTDIR)" $(CMAKE) --install $(BUILD) --prefix "$(PREFIX)"

clean:
	rm -rf $(BUILD) build-asan build-tsan build-fuzz
