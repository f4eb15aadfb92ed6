# Warnings and sanitizers live on an INTERFACE target that each gpuenv target links,
# so third-party code is never built with them.
add_library(gpuenv_warnings INTERFACE)
target_compile_options(gpuenv_warnings INTERFACE -Wall -Wextra -Wpedantic -Wshadow
                       -Wnon-virtual-dtor -Wold-style-cast -Wcast-align -Wunused
                       -Woverloaded-virtual)
if(GPUENV_WERROR)
  target_compile_options(gpuenv_warnings INTERFACE -Werror)
endif()
if(GPUENV_SANITIZE)
  target_compile_options(gpuenv_warnings INTERFACE -fsanitize=address,undefined -fno-omit-frame-pointer)
  target_link_options(gpuenv_warnings INTERFACE -fsanitize=address,undefined)
endif()
if(GPUENV_FUZZ)
  # Coverage instrumentation for libFuzzer on gpuenv's own code only (make fuzz).
  target_compile_options(gpuenv_warnings INTERFACE -fsanitize=fuzzer-no-link,address,undefined
                         -fno-omit-frame-pointer)
  target_link_options(gpuenv_warnings INTERFACE -fsanitize=address,undefined)
endif()
