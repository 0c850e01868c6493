# Two commands set up everything on a fresh Debian 12 machine:
#   make run    install missing packages, build Release, start the example node
#   make test   build and run every test (plain, ASan+UBSan, TSan, and 60 s of fuzzing)
# Also: make build | make bench SUITE=core | make format | make clean

JOBS ?= $(shell nproc)
SUITE ?= core
CONFIG ?= examples/chat/config

.PHONY: deps build run test test-release test-asan test-tsan test-fuzz bench format clean
FUZZ_SECONDS ?= 60

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
	@cmake --build --preset tsan -j $(JOBS)
	ctest --preset tsan -j $(JOBS)

# libFuzzer on the skynet.unpack decoder, for a bounded time, from the seed corpus.
test-fuzz: deps
	@cmake --preset fuzz >/dev/null
	@cmake --build --preset fuzz --target lua_unpack_fuzz netpack_fuzz -j $(JOBS)
	@mkdir -p build/fuzz/corpus/unpack build/fuzz/corpus/netpack
	@echo "fuzzing skynet.unpack for $(FUZZ_SECONDS) s (log: build/fuzz/unpack.log)"
	@./build/fuzz/tests/fuzz/lua_unpack_fuzz -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
	  build/fuzz/corpus/unpack tests/fuzz/corpus/unpack >build/fuzz/unpack.log 2>&1 \
	  || (tail -n 60 build/fuzz/unpack.log; exit 1)
	@grep -E "^Done|stat::number_of_executed_units|stat::peak_rss_mb" build/fuzz/unpack.log
	@echo "fuzzing the length framing and skynet.netpack for $$(( $(FUZZ_SECONDS) / 2 )) s (log: build/fuzz/netpack.log)"
	@./build/fuzz/tests/fuzz/netpack_fuzz -max_total_time=$$(( $(FUZZ_SECONDS) / 2 )) -print_final_stats=1 \
	  build/fuzz/corpus/netpack tests/fuzz/corpus/netpack >build/fuzz/netpack.log 2>&1 \
	  || (tail -n 60 build/fuzz/netpack.log; exit 1)
	@grep -E "^Done|stat::number_of_executed_units|stat::peak_rss_mb" build/fuzz/netpack.log

bench: build
	@bash bench/run.sh $(SUITE)

format:
	@clang-format -i $$(git ls-files '*.cpp' '*.hpp' '*.h')

clean:
	rm -rf build
