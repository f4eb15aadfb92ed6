# The two commands of the quick start are `make run` and `make test`; the rest
# are for developers. Every target installs missing dependencies first.
BUILD    ?= build
JOBS     ?= 2
CMAKE_BUILD_TYPE ?= RelWithDebInfo
# Warnings are errors in CI (CI=true is set by the CI runner).
WERROR   ?= $(if $(filter true,$(CI)),ON,OFF)
GPUENV   := $(BUILD)/gpuenv

.PHONY: all deps configure build run test bench fuzz format format-check clean

all: build

deps:
	@scripts/install-deps

$(BUILD)/build.ninja: CMakeLists.txt | deps
	cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=$(CMAKE_BUILD_TYPE) -DGPUENV_WERROR=$(WERROR)

configure: deps $(BUILD)/build.ninja

build: configure
	cmake --build $(BUILD) -j$(JOBS)

# The main job on the default environment ($$CONDA_PREFIX, $$VIRTUAL_ENV, or python3's prefix).
# `check` exits 1 when it has findings to show: that is its result, not a failure of `make run`.
run: build
	$(GPUENV) check || [ $$? -eq 1 ]

test: build
	cd $(BUILD) && ctest --output-on-failure -j$(JOBS)

bench: build
	bench/run.sh $(BUILD)

# Fuzzes each parser for FUZZ_SECONDS with libFuzzer (clang); new inputs go to build-fuzz/,
# crashes to fuzz-out/ (copy them to fuzz/regressions/<target>/ so ctest replays them).
FUZZ_SECONDS ?= 60
FUZZ_TARGETS := json_cursor conda_record core_metadata direct_url conda_version version_spec match_spec pep440 specifier requirement environment_yml record_paths dist_record history env_vars gpuenv_lock explicit_lock conda_lock requirements_lock list_json visibility hostlist policy torch_version probe_output python_source
fuzz: deps
	cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++ \
	  -DGPUENV_FUZZ=ON -DGPUENV_TESTS=OFF -DGPUENV_BENCH=OFF
	cmake --build build-fuzz -j$(JOBS) --target $(addsuffix _fuzz,$(FUZZ_TARGETS))
	mkdir -p fuzz-out
	set -e; for t in $(FUZZ_TARGETS); do \
	  mkdir -p build-fuzz/corpus/$$t; \
	  build-fuzz/fuzz/$${t}_fuzz -max_total_time=$(FUZZ_SECONDS) -max_len=65536 -timeout=10 \
	    -artifact_prefix=fuzz-out/$$t- build-fuzz/corpus/$$t fuzz/corpus/$$t; \
	done

format:
	find src tests bench fuzz -name '*.[ch]pp' | xargs clang-format -i

format-check:
	find src tests bench fuzz -name '*.[ch]pp' | xargs clang-format --dry-run --Werror

clean:
	rm -rf $(BUILD)
