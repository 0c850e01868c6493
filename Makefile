# Two commands set up everything on a fresh Debian 12 machine:
#   make run    install missing packages, build Release, start the example node
#   make test   build and run every test (plain, ASan+UBSan, TSan, and 2 minutes of fuzzing)
# Also: make build | make bench SUITE=core | make format | make clean

JOBS ?= $(shell nproc)
SUITE ?= core
CONFIG ?= examples/chat/config

.PHONY: deps build run test test-release test-asan test-tsan test-fuzz bench format clean
FUZZ_SECONDS ?= 30

deps:
	@bash scripts/install-deps.sh

build: deps
	@cmake --preset release >/dev/null
	@cmake --build --preset release -j $(JOBS)

run: build
	@echo "tern: starting the example node ($(CONFIG)); it logs to this terminal; Ctrl-C stops it."
	./build/release/tern $(CONFIG)

test: test-release test-asan test-tsan test-fuzz
	@echo "tern: all test suites passed"

test-release: build
	ctest --preset release -j $(JOBS)

test-asan: deps
	@cmake --preset asan >/dev/null
	@cmake --build --preset asan -j $(JOBS)
	ctest --preset asan -j $(JOBS)

test-tsan: deps
	@cmake --preset tsan >/dev/null
	@# Only what the TSan filter (CMakePresets.json) runs: the threaded unit tests,
	@# the Server tests (they fork tern_echo_server) and the node for node_cli.
	@cmake --build --preset tsan --target tern tern_unit_tests tern_server_tests tern_echo_server -j $(JOBS)
	ctest --preset tsan -j $(JOBS)

# libFuzzer targets, each for a bounded time, from their seed corpora.
test-fuzz: deps
	@cmake --preset fuzz >/dev/null
	@cmake --build --preset fuzz --target lua_unpack_fuzz netpack_fuzz websocket_fuzz http_parser_fuzz cluster_fuzz -j $(JOBS)
	@bash scripts/fuzz.sh lua_unpack_fuzz unpack $(FUZZ_SECONDS) "skynet.unpack"
	@bash scripts/fuzz.sh netpack_fuzz netpack $(FUZZ_SECONDS) "the length framing and skynet.netpack"
	@bash scripts/fuzz.sh websocket_fuzz websocket 20 "the WebSocket frame decoder"
	@bash scripts/fuzz.sh http_parser_fuzz http 20 "the HTTP request parser"
	@bash scripts/fuzz.sh cluster_fuzz cluster 20 "the cluster link decoder"

bench: build
	@bash bench/run.sh $(SUITE)

format:
	@clang-format -i $$(git ls-files '*.cpp' '*.hpp' '*.h')

clean:
	rm -rf build
