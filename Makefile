# Two commands set up everything on a fresh Debian 12 machine:
#   make run    install missing packages, build Release, start the example node
#   make test   build and run every test (plain, ASan+UBSan, TSan)
# Also: make build | make bench SUITE=core | make format | make clean

JOBS ?= $(shell nproc)
SUITE ?= core
CONFIG ?= examples/config

.PHONY: deps build run test test-release test-asan test-tsan bench format clean

deps:
	@bash scripts/install-deps.sh

build: deps
	@cmake --preset release >/dev/null
	@cmake --build --preset release -j $(JOBS)

run: build
	@echo "tern: starting the example node ($(CONFIG)); it logs to this terminal; Ctrl-C stops it."
	./build/release/tern $(CONFIG)

test: test-release test-asan test-tsan
	@echo "tern: all test suites passed"

test-release: build
	ctest --preset release -j $(JOBS)

test-asan: deps
	@cmake --preset asan >/dev/null
	@cmake --build --preset asan -j $(JOBS)
	ctest --preset asan -j $(JOBS)

test-tsan: deps
	@cmake --preset tsan >/dev/null
	@cmake --build --preset tsan -j $(JOBS)
	ctest --preset tsan -j $(JOBS)

bench: build
	@bash bench/run.sh $(SUITE)

format:
	@clang-format -i $$(git ls-files '*.cpp' '*.hpp' '*.h')

clean:
	rm -rf build
